"""Retention: expired revoked tokens, ended sign-in throttles and old idempotency keys go; live
rows stay."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from wattlane.core.clock import utcnow
from wattlane.identity import housekeeping
from wattlane.identity.main import IdentityService
from wattlane.identity.models import IDEMPOTENCY, LoginThrottle, RevokedToken
from wattlane.identity.testing import unique


async def test_purge_removes_only_what_has_outlived_its_use(identity: IdentityService) -> None:
    rt = identity.rt
    assert rt is not None
    now = utcnow()
    old, live = unique("old"), unique("live")
    async with rt.db.transaction() as session:
        session.add(RevokedToken(token_id=old, user_id="u", expire_time=now - dt.timedelta(minutes=1)))
        session.add(RevokedToken(token_id=live, user_id="u", expire_time=now + dt.timedelta(minutes=10)))
        session.add(
            LoginThrottle(email=old, failures=3, window_start=now - dt.timedelta(days=1), locked_until=None)
        )
        session.add(  # still locked: must stay even though its window is old
            LoginThrottle(
                email=live,
                failures=5,
                window_start=now - dt.timedelta(days=1),
                locked_until=now + dt.timedelta(minutes=5),
            )
        )
        for key, age in ((old, dt.timedelta(days=30)), (live, dt.timedelta(minutes=1))):
            await session.execute(
                IDEMPOTENCY.insert().values(
                    caller="test",
                    method="/x",
                    request_id=key,
                    request_hash="h",
                    response=b"",
                    create_time=now - age,
                )
            )
    removed = await housekeeping.purge_once(rt)
    assert removed["revoked_tokens"] >= 1 and removed["login_throttles"] >= 1
    assert removed["idempotency_keys"] >= 1
    async with rt.db.reader() as session:
        tokens = set((await session.execute(select(RevokedToken.token_id))).scalars())
        throttles = set((await session.execute(select(LoginThrottle.email))).scalars())
        keys = set((await session.execute(select(IDEMPOTENCY.c.request_id))).scalars())
    assert live in tokens and old not in tokens
    assert live in throttles and old not in throttles
    assert live in keys and old not in keys
