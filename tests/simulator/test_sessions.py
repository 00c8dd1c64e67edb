"""The simulator's own charging sessions (the demo's) are valid OCPP at a real CSMS: one stored
transaction per session with its meter values, charging then parked, in 1.6 and 2.0.1."""

from __future__ import annotations

import pytest

from wattlane.csms.providers.interfaces import AccessDecision, AccessStatus
from wattlane.csms.testing import DEFAULT_PASSWORD, running_csms
from wattlane.simulator import messages
from wattlane.simulator.sessions import ConnectorRunner, SessionPlan
from wattlane.simulator.station import SimStation


@pytest.mark.parametrize("protocol", [messages.V16, messages.V201])
async def test_a_simulated_session_is_one_transaction_charging_then_parked(protocol: str) -> None:
    async with running_csms(stations={"SESS-1": DEFAULT_PASSWORD}) as csms:
        csms.memory.access.set("CARD1", AccessDecision(AccessStatus.ACCEPTED, payer="cardholder"))
        station = SimStation("SESS-1", csms.url, protocol=protocol, password=DEFAULT_PASSWORD)
        await station.connect()
        await station.boot()
        runner = ConnectorRunner(station, register_wh=1000)
        plan = SessionPlan("CARD1", kwh=2.0, charging_seconds=0.3, parked_seconds=0.1, sample_seconds=0.1)
        assert await runner.run(plan)
        assert await runner.run(plan)  # the register keeps counting
        await station.close()
    store = csms.memory.transactions
    assert len(store.completed) == 2
    first, second = (store.by_id[i] for i in store.completed)
    assert [s.energy_wh for s in first.samples.values() if s.energy_wh is not None][-1] == 3000
    assert [charging for _, charging in first.charging_states] == [True, False]
    assert second.start.meter_start_wh == 3000
    assert runner.register_wh == 5000
