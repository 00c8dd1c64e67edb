"""The access-decision cache, the batching message log and the in-memory station registry."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from wattlane.csms import settings as csms_settings
from wattlane.csms.providers.access_cache import CachingAccessDecider
from wattlane.csms.providers.interfaces import (
    AccessDecision,
    AccessStatus,
    Direction,
    LogEntry,
    ProviderUnavailable,
)
from wattlane.csms.providers.memory import InMemoryAccess, InMemoryStations, MemoryLogSink
from wattlane.csms.registry.messagelog import BatchingMessageLog
from wattlane.csms.testing import eventually


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_cache_serves_fresh_decisions_without_asking() -> None:
    inner, clock = InMemoryAccess(), Clock()
    inner.set("T", AccessDecision(AccessStatus.ACCEPTED))
    cache = CachingAccessDecider(inner, ttl=60, stale_ttl=600, clock=clock)
    assert (await cache.decide("CS1", "T", "")).status is AccessStatus.ACCEPTED
    inner.set("T", AccessDecision(AccessStatus.BLOCKED))
    clock.now += 59
    assert (await cache.decide("CS1", "T", "")).status is AccessStatus.ACCEPTED
    clock.now += 2
    assert (await cache.decide("CS1", "T", "")).status is AccessStatus.BLOCKED
    assert inner.calls == 2


async def test_cache_serves_stale_decisions_during_an_outage_only_for_a_while() -> None:
    inner, clock = InMemoryAccess(), Clock()
    inner.set("T", AccessDecision(AccessStatus.ACCEPTED))
    cache = CachingAccessDecider(inner, ttl=60, stale_ttl=600, clock=clock)
    await cache.decide("CS1", "T", "")
    inner.available = False
    clock.now += 300
    assert (await cache.decide("CS1", "T", "")).status is AccessStatus.ACCEPTED
    clock.now += 301
    with pytest.raises(ProviderUnavailable):
        await cache.decide("CS1", "T", "")
    with pytest.raises(ProviderUnavailable):
        await cache.decide("CS1", "unknown", "")


async def test_cache_times_out_a_hanging_decider() -> None:
    class Hanging:
        async def decide(self, identity: str, id_token: str, token_type: str) -> AccessDecision:
            await asyncio.sleep(10)
            raise AssertionError("unreachable")

    cache = CachingAccessDecider(Hanging(), timeout=0.05)
    with pytest.raises(ProviderUnavailable):
        await cache.decide("CS1", "T", "")


async def test_cache_invalidation_and_bound() -> None:
    inner = InMemoryAccess()
    cache = CachingAccessDecider(inner, max_entries=2)
    for token in ("A", "B", "C"):
        await cache.decide("CS1", token, "")
    await cache.decide("CS1", "A", "")  # evicted as the oldest: asked again
    assert inner.calls == 4
    cache.invalidate("A")
    await cache.decide("CS1", "A", "")
    assert inner.calls == 5


def _entry(n: int) -> LogEntry:
    return LogEntry(float(n), "CS1", Direction.IN, 2, str(n), "Heartbeat", {})


async def test_message_log_batches_in_the_background() -> None:
    sink = MemoryLogSink()
    log = BatchingMessageLog(sink, batch_size=10, flush_interval=10.0)
    log.start()
    for n in range(25):
        log.record(_entry(n))
    # A full batch wakes the writer at once, long before the flush interval.
    await eventually(lambda: len(sink.entries) >= 20, timeout=2, what="two batches")
    await log.close()
    assert [e.message_id for e in sink.entries] == [str(n) for n in range(25)]
    assert sink.batches == 3


async def test_message_log_drops_oldest_when_the_sink_lags() -> None:
    sink = MemoryLogSink()
    log = BatchingMessageLog(sink, batch_size=1000, max_pending=5)
    for n in range(8):
        log.record(_entry(n))
    assert log.dropped == 3
    await log.flush()
    assert [e.message_id for e in sink.entries] == ["3", "4", "5", "6", "7"]


async def test_message_log_survives_a_failing_sink() -> None:
    class Broken:
        async def write_batch(self, entries: Sequence[LogEntry]) -> None:
            raise RuntimeError("database down")

    log = BatchingMessageLog(Broken(), batch_size=2)
    for n in range(3):
        log.record(_entry(n))
    await log.flush()
    assert log.failed_batches == 2


async def test_in_memory_stations() -> None:
    stations = InMemoryStations(pattern=r"SIM-\d+", pattern_password="shared-password-123")
    stations.add("CS1", "key-0123456789abcdef")
    assert await stations.is_known("CS1")
    assert await stations.is_known("SIM-42")
    assert not await stations.is_known("SIM-x")
    assert await stations.verify_password("CS1", b"key-0123456789abcdef")
    assert not await stations.verify_password("CS1", b"key-0123456789abcdeF")
    assert await stations.verify_password("SIM-42", b"shared-password-123")
    assert not await stations.verify_password("NOPE", b"shared-password-123")
    assert await stations.verify_certificate("CS1", "CS1")
    assert not await stations.verify_certificate("CS1", "CS2")
    stations.remove("CS1")
    assert not await stations.is_known("CS1")


def test_settings_from_env() -> None:
    settings = csms_settings.load(
        {
            "WATTLANE_CSMS_PORT": "9100",
            "WATTLANE_CSMS_SECURITY_PROFILE": "2",
            "WATTLANE_CSMS_STATIONS": "CS1:pw1, CS2:pw:2",
            "WATTLANE_CSMS_ONBOARDING": "true",
        }
    )
    assert settings.port == 9100
    assert int(settings.security_profile) == 2
    assert settings.stations == (("CS1", "pw1"), ("CS2", "pw:2"))
    assert settings.onboarding
    assert settings.host == "127.0.0.1"
    assert csms_settings.load({}).port == 9000
    with pytest.raises(ValueError, match="PORT"):
        csms_settings.load({"WATTLANE_CSMS_PORT": "x"})
    with pytest.raises(ValueError, match="SECURITY_PROFILE"):
        csms_settings.load({"WATTLANE_CSMS_SECURITY_PROFILE": "4"})


def test_storage_and_api_settings_from_env() -> None:
    settings = csms_settings.load(
        {
            "WATTLANE_CSMS_DATABASE_URL": "sqlite:///x.db",
            "WATTLANE_CSMS_MIGRATE_ON_START": "false",
            "WATTLANE_CSMS_PROCESS_ID": "csms-0",
            "WATTLANE_CSMS_LOG_RETENTION_DAYS": "7",
            "WATTLANE_CSMS_GRPC_PORT": "-1",
            "WATTLANE_CSMS_ASSETS_ADDRESS": "assets:50071",
            "WATTLANE_CSMS_DEMO_OWNER_PATH": "/op/org/",
        }
    )
    assert (settings.database_url, settings.migrate_on_start, settings.process_id) == (
        "sqlite:///x.db",
        False,
        "csms-0",
    )
    assert (settings.log_retention_days, settings.grpc_port, settings.assets_address) == (
        7,
        -1,
        "assets:50071",
    )
    assert settings.demo_owner_path == "/op/org/"
    defaults = csms_settings.load({})
    assert defaults.database_url == "" and defaults.migrate_on_start and defaults.grpc_port == 50061
    assert defaults.process_id  # the host name
    with pytest.raises(ValueError, match="LOG_RETENTION_DAYS"):
        csms_settings.load({"WATTLANE_CSMS_LOG_RETENTION_DAYS": "a week"})
