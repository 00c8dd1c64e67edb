"""A failing provider never breaks the socket: bookkeeping failures are logged, handler failures
become an InternalError CALLERROR, and the station keeps being served."""

from __future__ import annotations

from datetime import datetime

import pytest

from wattlane.csms.protocol.errors import OcppVersion
from wattlane.csms.providers.interfaces import StatusChange
from wattlane.csms.providers.memory import InMemoryEvents, memory_providers
from wattlane.csms.testing import DEFAULT_PASSWORD, running_csms
from wattlane.simulator.station import SimCallError, SimStation


class BrokenEvents(InMemoryEvents):
    """Events whose store is down for online notices and status changes."""

    async def station_online(
        self, identity: str, version: OcppVersion, remote_address: str, at: datetime
    ) -> None:
        raise RuntimeError("event store down")

    async def status_changed(self, change: StatusChange) -> None:
        raise RuntimeError("event store down")


async def test_event_store_outage_does_not_break_the_connection() -> None:
    memory = memory_providers(log_flush_interval=0.05)
    memory.events = BrokenEvents()
    async with running_csms(memory=memory) as csms:
        station = SimStation("CS001", csms.url, password=DEFAULT_PASSWORD)
        await station.connect()  # station_online failed: logged, connection goes on
        assert (await station.boot())["status"] == "Accepted"
        with pytest.raises(SimCallError) as caught:
            await station.status(1, "Available")
        assert caught.value.code == "InternalError"
        assert caught.value.description == "internal error"  # no exception text on the wire
        assert "currentTime" in await station.heartbeat()
        await station.close()
