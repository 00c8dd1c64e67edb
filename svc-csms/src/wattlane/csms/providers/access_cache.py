"""A short-lived cache in front of the `AccessDecider`.

Authorize is on the hot path: a decision is reused for `ttl` seconds. When the decider is down
(`ProviderUnavailable`, a timeout, any error), a decision up to `stale_ttl` old is served instead,
so a short outage of the provider does not stop known cards. A token with no decision at all
during an outage gets `ProviderUnavailable` — the handler answers InternalError rather than invent
an "Invalid" the station might cache.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from wattlane.csms.providers.interfaces import AccessDecider, AccessDecision, ProviderUnavailable

logger = logging.getLogger(__name__)


class CachingAccessDecider:
    """An `AccessDecider` that caches decisions and rides out short outages of the inner one."""

    def __init__(
        self,
        inner: AccessDecider,
        *,
        ttl: float = 60.0,
        stale_ttl: float = 900.0,
        timeout: float = 5.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._ttl = ttl
        self._stale_ttl = stale_ttl
        self._timeout = timeout
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str, str], tuple[float, AccessDecision]] = OrderedDict()

    async def decide(self, identity: str, id_token: str, token_type: str) -> AccessDecision:
        """Return a fresh cached decision, else ask the inner decider, else a stale one."""
        key = (identity, id_token, token_type)
        now = self._clock()
        cached = self._entries.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        try:
            async with asyncio.timeout(self._timeout):
                decision = await self._inner.decide(identity, id_token, token_type)
        except Exception as exc:
            if cached is not None and now - cached[0] < self._stale_ttl:
                logger.warning("access decider unavailable (%s); serving a cached decision", exc)
                return cached[1]
            raise ProviderUnavailable(f"access decider unavailable: {exc}") from exc
        self._entries[key] = (now, decision)
        self._entries.move_to_end(key)
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return decision

    def invalidate(self, id_token: str | None = None) -> None:
        """Forget cached decisions (all, or those of one token, e.g. after a card is blocked)."""
        if id_token is None:
            self._entries.clear()
            return
        for key in [k for k in self._entries if k[1] == id_token]:
            del self._entries[key]
