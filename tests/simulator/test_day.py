"""The demo's compressed day: seeded, random-ish sessions through the day with several cards,
valid transactions at a real CSMS in 1.6 and 2.0.1."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from wattlane.csms.providers.interfaces import AccessDecision, AccessStatus
from wattlane.csms.testing import DEFAULT_PASSWORD, eventually, running_csms
from wattlane.simulator import messages
from wattlane.simulator.day import Day, charge_through_the_day, mean_gap_hours
from wattlane.simulator.sessions import ConnectorRunner
from wattlane.simulator.station import SimStation

CARDS = ("CARD-A", "CARD-B", "CARD-C")


def test_a_day_is_seeded_per_station_and_varies() -> None:
    day = Day(CARDS, max_power_w=22_000, speed=60.0, seed=3)
    first = list(itertools.islice(day.sessions("ST-1"), 40))
    assert first == list(itertools.islice(day.sessions("ST-1"), 40))  # the same every run
    assert first != list(itertools.islice(day.sessions("ST-2"), 40))  # not every station alike
    assert first != list(itertools.islice(Day(CARDS, 22_000, 60.0, seed=4).sessions("ST-1"), 40))
    assert {plan.card for _, plan in first} == set(CARDS)
    assert len({plan.kwh for _, plan in first}) > 30 and len({round(gap) for gap, _ in first}) > 20
    for gap, plan in first:
        assert gap > 0 and 4.0 <= plan.kwh <= 40.0 and plan.parked_seconds > 0
        hours = plan.charging_seconds * 60 / 3600  # at speed 60, back to simulated hours
        assert plan.kwh / 22.0 <= hours <= plan.kwh / (22.0 * 0.6) + 1e-9  # at most the station's power


def test_drivers_come_more_often_at_rush_hour_than_at_night() -> None:
    assert mean_gap_hours(8) < mean_gap_hours(12) < mean_gap_hours(21) < mean_gap_hours(3)


@pytest.mark.parametrize("protocol", [messages.V16, messages.V201])
async def test_a_fast_day_charges_with_several_cards(protocol: str) -> None:
    async with running_csms(stations={"DAY-1": DEFAULT_PASSWORD}) as csms:
        for card in CARDS:
            csms.memory.access.set(card, AccessDecision(AccessStatus.ACCEPTED, payer="cardholder"))
        station = SimStation("DAY-1", csms.url, protocol=protocol, password=DEFAULT_PASSWORD)
        await station.connect()
        await station.boot()
        runner = ConnectorRunner(station).attach()
        # A day in about two seconds, a meter value every 20 ms.
        day = Day(CARDS, max_power_w=11_000, speed=60_000.0, seed=1, sample_seconds=0.02)
        task = asyncio.create_task(charge_through_the_day(runner, day))
        store = csms.memory.transactions
        await eventually(lambda: len(store.completed) >= 6, timeout=20, what="six sessions")
        task.cancel()
        await station.close()
    done = [store.by_id[i] for i in store.completed]
    assert len({t.start.id_token for t in done}) >= 2
    for transaction in done:
        assert transaction.end is not None and transaction.end.reason == "EVDisconnected"
        energy = [s.energy_wh for _, s in sorted(transaction.samples.items()) if s.energy_wh is not None]
        assert energy and energy[-1] > (transaction.start.meter_start_wh or 0)  # it charged
    assert runner.refused == 0
