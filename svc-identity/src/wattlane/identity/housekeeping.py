"""Retention: rows that only matter for a while (revoked tokens until they expire, sign-in
throttles, spent one-time tokens, delivered user mails, idempotency keys) are purged in the
background so the tables stay the size of what is live."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import and_, delete, or_

from wattlane.core.clock import utcnow
from wattlane.identity.models import ActionToken, LoginThrottle, Revocation, RevokedToken, UserMail
from wattlane.identity.runtime import Runtime

log = logging.getLogger("wattlane.identity.housekeeping")

# Spent or expired one-time tokens and delivered mails stay this long for support questions.
_KEEP_SPENT = dt.timedelta(days=30)


async def purge_once(rt: Runtime) -> dict[str, int]:
    """Delete what has outlived its use; returns rows removed per table."""
    now = utcnow()
    window = dt.timedelta(seconds=rt.settings.login_failure_window_seconds)
    removed: dict[str, int] = {}
    async with rt.db.transaction() as session:
        statements = {
            "revoked_tokens": delete(RevokedToken).where(RevokedToken.expire_time < now),
            "revocations": delete(Revocation).where(Revocation.expire_time < now),
            "login_throttles": delete(LoginThrottle).where(
                LoginThrottle.window_start < now - window,
                or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now),
            ),
            "action_tokens": delete(ActionToken).where(
                or_(
                    ActionToken.expire_time < now - _KEEP_SPENT,
                    and_(ActionToken.use_time.is_not(None), ActionToken.use_time < now - _KEEP_SPENT),
                )
            ),
            "user_mails": delete(UserMail).where(
                UserMail.workflow_started.is_(True), UserMail.create_time < now - _KEEP_SPENT
            ),
        }
        for table, statement in statements.items():
            result = await session.execute(statement)
            removed[table] = int(result.rowcount or 0)  # type: ignore[attr-defined]
        removed["idempotency_keys"] = await rt.idempotency.purge(
            session, older_than_seconds=rt.settings.idempotency_retention_seconds
        )
    if any(removed.values()):
        log.info("purged %s", ", ".join(f"{n} {t}" for t, n in removed.items() if n))
    return removed
