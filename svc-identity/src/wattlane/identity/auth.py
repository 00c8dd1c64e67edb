"""Sign-in and tokens: user logins, logout, service accounts and their tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from wattlane.core.errors import AlreadyExists, InvalidArgument, NotFound, Unauthenticated
from wattlane.core.ids import new_id
from wattlane.core.orm import utcnow
from wattlane.core.tokens import Principal
from wattlane.identity.models import RevokedToken, ServiceAccount, User
from wattlane.identity.runtime import Runtime

_SERVICE = re.compile(r"^[a-z][a-z0-9-]{1,62}$")
_SCOPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: float


def issue_user_token(rt: Runtime, user: User) -> IssuedToken:
    token, expires_at, _ = rt.keys.sign(
        {"sub": user.id, "typ": "user", "tn": user.tenant_id, "tp": user.tenant_path, "ep": user.auth_epoch},
        rt.settings.access_token_ttl_seconds,
    )
    return IssuedToken(token, expires_at)


async def login(rt: Runtime, email: str, password: str) -> tuple[User, IssuedToken]:
    """Verify e-mail and password; the same answer for an unknown e-mail and a wrong password."""
    if not email or not password:
        raise InvalidArgument.field("email" if not email else "password", "is required")
    async with rt.db.reader() as session:
        user = (
            await session.execute(
                select(User).where(User.email == email.strip().lower(), User.delete_time.is_(None))
            )
        ).scalar_one_or_none()
    ok = await rt.passwords.verify(user.password_hash if user else None, password)
    if user is None or not ok:
        raise Unauthenticated("e-mail or password is wrong", reason="BAD_CREDENTIALS")
    if user.state != "ACTIVE":
        raise Unauthenticated(f"this user cannot sign in ({user.state.lower()})", reason="USER_NOT_ACTIVE")
    if user.password_hash and rt.passwords.needs_rehash(user.password_hash):
        new_hash = await rt.passwords.hash(password)
        async with rt.db.transaction() as session:
            row = await session.get(User, user.id)
            if row is not None:
                row.password_hash = new_hash
    return user, issue_user_token(rt, user)


async def logout(rt: Runtime, principal: Principal) -> None:
    """Revoke the presented token until it would have expired anyway."""
    async with rt.db.transaction() as session:
        if await session.get(RevokedToken, principal.token_id) is None:
            session.add(
                RevokedToken(
                    token_id=principal.token_id,
                    user_id=principal.subject,
                    expire_time=dt.datetime.fromtimestamp(principal.expires_at, dt.UTC),
                )
            )
    rt.verifier.forget(lambda p: p.token_id == principal.token_id)
    rt.scopes.invalidate(lambda subject: subject == principal.subject)


def secret_hash(secret: str) -> str:
    # Secrets are 256-bit random values, so a plain hash is enough (no password stretching).
    return hashlib.sha256(secret.encode()).hexdigest()


def validate_service_account(service: str, scopes: Sequence[str]) -> tuple[str, list[str]]:
    if not _SERVICE.match(service):
        raise InvalidArgument.field("service_account.service", "must be a lower-case name like 'assets'")
    if not scopes:
        raise InvalidArgument.field("service_account.scopes", "must name at least one internal scope")
    for i, scope in enumerate(scopes):
        if not _SCOPE.match(scope):
            raise InvalidArgument.field(
                f"service_account.scopes[{i}]", "must look like 'identity.datapoints'"
            )
    return service, sorted(set(scopes))


async def create_service_account(
    rt: Runtime, service: str, scopes: Sequence[str], secret: str | None = None, *, upsert: bool = False
) -> tuple[ServiceAccount, str]:
    """Create (or, with `upsert`, re-key) a service account; returns it and its secret."""
    service, scopes = validate_service_account(service, scopes)
    secret = secret or secrets.token_urlsafe(32)
    async with rt.db.transaction() as session:
        existing = (
            await session.execute(
                select(ServiceAccount).where(
                    ServiceAccount.service == service, ServiceAccount.delete_time.is_(None)
                )
            )
        ).scalar_one_or_none()
        if existing is not None and not upsert:
            raise AlreadyExists(f"a service account for {service!r} already exists")
        if existing is not None:
            existing.secret_hash, existing.scopes = secret_hash(secret), scopes
            return existing, secret
        account = ServiceAccount(
            id=new_id(), service=service, secret_hash=secret_hash(secret), scopes=scopes, create_time=utcnow()
        )
        session.add(account)
    return account, secret


async def issue_service_token(rt: Runtime, client_id: str, client_secret: str) -> IssuedToken:
    """A service token for valid credentials; the client id is `serviceAccounts/{id}` or the
    service name."""
    if client_id.startswith("serviceAccounts/"):
        match = ServiceAccount.id == client_id.removeprefix("serviceAccounts/")
    else:
        match = ServiceAccount.service == client_id
    async with rt.db.reader() as session:
        account = (
            await session.execute(select(ServiceAccount).where(match, ServiceAccount.delete_time.is_(None)))
        ).scalar_one_or_none()
    if account is None or not hmac.compare_digest(account.secret_hash, secret_hash(client_secret)):
        raise Unauthenticated("client id or secret is wrong", reason="BAD_CREDENTIALS")
    token, expires_at, _ = rt.keys.sign(
        {"sub": account.id, "typ": "service", "svc": account.service, "scp": list(account.scopes)},
        rt.settings.service_token_ttl_seconds,
    )
    return IssuedToken(token, expires_at)


async def delete_service_account(rt: Runtime, account_id: str) -> ServiceAccount:
    async with rt.db.transaction() as session:
        account = await session.get(ServiceAccount, account_id)
        if account is None or account.delete_time is not None:
            raise NotFound(f"serviceAccounts/{account_id}")
        account.delete_time = utcnow()
        return account
