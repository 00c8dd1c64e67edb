"""The revocation feed: every revoked user token, as other services need it to refuse the
token at once (they verify tokens locally and cache scopes; ListRevocations is what they poll).

A logout revokes one token; ending a user's sessions (removal, disable, password change) bumps
the user's auth epoch, which revokes every token issued before. Both are recorded here in the
transaction that makes them, so the feed never misses one."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.core.clock import utcnow
from wattlane.core.ids import new_id
from wattlane.identity.models import Revocation, User

# An epoch revocation is kept longer than any user token lives (its tokens are gone by then).
EPOCH_KEEP = dt.timedelta(days=1)
MAX_PAGE = 5000


def record_token(session: AsyncSession, user_id: str, token_id: str, expire_time: dt.datetime) -> None:
    """One token revoked (a logout), until it would have expired anyway."""
    session.add(
        Revocation(
            id=new_id(),
            user_id=user_id,
            token_id=token_id,
            epoch=None,
            revoke_time=utcnow(),
            expire_time=expire_time,
        )
    )


def end_sessions(session: AsyncSession, user: User) -> None:
    """Revoke every token `user` holds: bump the auth epoch and record it in the feed."""
    user.auth_epoch += 1
    now = utcnow()
    session.add(
        Revocation(
            id=new_id(),
            user_id=user.id,
            token_id=None,
            epoch=user.auth_epoch,
            revoke_time=now,
            expire_time=now + EPOCH_KEEP,
        )
    )


async def since(session: AsyncSession, when: dt.datetime | None) -> tuple[list[Revocation], bool]:
    """Revocations recorded at or after `when` (None: all still in force), oldest first, and
    whether there were more than one page holds."""
    query = select(Revocation).order_by(Revocation.revoke_time, Revocation.id).limit(MAX_PAGE + 1)
    if when is None:
        query = query.where(Revocation.expire_time > utcnow())
    else:
        query = query.where(Revocation.revoke_time >= when)
    rows = list((await session.execute(query)).scalars())
    return rows[:MAX_PAGE], len(rows) > MAX_PAGE
