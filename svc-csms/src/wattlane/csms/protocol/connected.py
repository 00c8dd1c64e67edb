"""The stations connected to this process, by identity (at most one connection each)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from wattlane.csms.protocol.connection import StationConnection
from wattlane.csms.protocol.errors import StationNotConnected


class ConnectionRegistry:
    """Maps each connected identity to its current connection."""

    def __init__(self) -> None:
        self._by_identity: dict[str, StationConnection] = {}

    def __len__(self) -> int:
        return len(self._by_identity)

    def __contains__(self, identity: object) -> bool:
        return identity in self._by_identity

    def __iter__(self) -> Iterator[StationConnection]:
        return iter(list(self._by_identity.values()))

    def get(self, identity: str) -> StationConnection | None:
        """The station's current connection, if it is connected here."""
        return self._by_identity.get(identity)

    def register(self, connection: StationConnection) -> StationConnection | None:
        """Make `connection` the station's current one; return the one it replaces, if any."""
        previous = self._by_identity.get(connection.identity)
        self._by_identity[connection.identity] = connection
        return previous

    def unregister(self, connection: StationConnection) -> bool:
        """Forget `connection`; False when a newer connection already replaced it."""
        if self._by_identity.get(connection.identity) is connection:
            del self._by_identity[connection.identity]
            return True
        return False

    def silent(self, max_silence: float, now: float | None = None) -> list[StationConnection]:
        """Connections that have sent nothing for longer than `max_silence` seconds."""
        now = time.monotonic() if now is None else now
        return [c for c in self._by_identity.values() if now - c.last_seen > max_silence]

    async def call(
        self,
        identity: str,
        action: str,
        payload: dict[str, Any],
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Call `action` on a connected station (see `StationConnection.call`)."""
        connection = self._by_identity.get(identity)
        if connection is None:
            raise StationNotConnected(identity)
        return await connection.call(action, payload, timeout)
