"""First-start and every-start housekeeping: the operator root, built-in roles, the first
operator admin, and service accounts from a file."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from sqlalchemy import func, select

from wattlane.core.ids import new_id
from wattlane.identity import auth, roles, users
from wattlane.identity.models import Tenant, User
from wattlane.identity.runtime import Runtime

log = logging.getLogger("wattlane.identity.bootstrap")


async def ensure_root(rt: Runtime) -> Tenant:
    """The operator node; created once."""
    async with rt.db.transaction() as session:
        root = (
            await session.execute(
                select(Tenant).where(Tenant.parent_id.is_(None), Tenant.delete_time.is_(None))
            )
        ).scalar_one_or_none()
        if root is None:
            root_id = new_id()
            root = Tenant(
                id=root_id,
                parent_id=None,
                kind="OPERATOR",
                display_name=rt.settings.operator_name,
                path=f"/{root_id}/",
                depth=0,
                time_zone="Europe/Amsterdam",
                locale="en",
                version=1,
            )
            session.add(root)
            log.info("created operator root tenant", extra={"tenant": root_id})
        await roles.sync_builtin_roles(session)
    return root


async def ensure_admin(rt: Runtime, root: Tenant) -> None:
    """Create the configured first operator admin when the platform has no users yet."""
    email, password = rt.settings.bootstrap_admin_email, rt.settings.bootstrap_admin_password
    if not email or not password:
        return
    async with rt.db.reader() as session:
        if await session.scalar(select(func.count()).select_from(User)):
            return
    password_hash = await rt.passwords.hash(password)
    async with rt.db.transaction() as session:
        if await session.scalar(select(func.count()).select_from(User)):
            return  # another replica got there first
        user = await users.create_unchecked(
            session, root, email=email, display_name="Operator admin", locale="en"
        )
        user.state, user.password_hash = "ACTIVE", password_hash
        await roles.bind(
            session,
            None,
            user_id=user.id,
            role_id="operator-admin",
            tenant_id=root.id,
            propagate=True,
            allowed_resources=[],
        )
        log.info("created the first operator admin", extra={"email": email})


async def ensure_service_accounts(rt: Runtime) -> None:
    """Upsert service accounts listed in the configured JSON file ([{service, secret, scopes}])."""
    if not rt.settings.service_accounts_file:
        return
    text = await asyncio.to_thread(Path(rt.settings.service_accounts_file).read_text)
    for entry in json.loads(text):
        await auth.create_service_account(rt, entry["service"], entry["scopes"], entry["secret"], upsert=True)


async def run(rt: Runtime) -> Tenant:
    root = await ensure_root(rt)
    await ensure_admin(rt, root)
    await ensure_service_accounts(rt)
    return root
