"""The same checks with an independent client: npm ocpp-rpc 2.2.1 in strict mode (node scripts).

Strict mode makes ocpp-rpc validate every reply of the CSMS against its own copy of the official
schemas; a violation surfaces as `strictValidationFailures` or a rejected call.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from wattlane.core.db import Database
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.csms.models import MeterValue, Transaction
from wattlane.csms.protocol.options import CsmsOptions
from wattlane.csms.providers.interfaces import AccessDecision, AccessStatus
from wattlane.csms.providers.memory import FlatTariff, InMemoryPricing, memory_providers
from wattlane.csms.storage import Storage
from wattlane.csms.testing import DEFAULT_PASSWORD, RunningCsms, eventually, running_csms
from wattlane.csms.transactions import repository as transaction_rows

NPM_DIR = Path(__file__).parent / "npm"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")
PROTOCOLS = ["ocpp1.6", "ocpp2.0.1"]


@pytest.fixture(scope="module", autouse=True)
def _installed() -> None:
    # `make install` runs `npm ci` here; a missing install is a setup error, not a skip.
    assert (NPM_DIR / "node_modules" / "ocpp-rpc").is_dir(), (
        "run `make install` (npm ci in svc-csms/tests/npm)"
    )


def _config(csms: RunningCsms, scenario: str, protocol: str, **extra: Any) -> dict[str, Any]:
    return {
        "endpoint": csms.url,
        "identity": "CS001",
        "password": DEFAULT_PASSWORD,
        "protocol": protocol,
        "scenario": scenario,
        **extra,
    }


async def _run(config: dict[str, Any]) -> dict[str, Any]:
    assert NODE is not None
    process = await asyncio.create_subprocess_exec(
        NODE,
        str(NPM_DIR / "client.js"),
        json.dumps(config),
        cwd=NPM_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        stdout, stderr = await process.communicate()
    result: dict[str, Any] = json.loads(stdout or b"{}")
    assert "crashed" not in result, (result, stderr.decode())
    return result


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_ocpp_rpc_strict_client_accepts_every_reply(csms: RunningCsms, protocol: str) -> None:
    out = await _run(_config(csms, "conformance", protocol))
    assert out["protocol"] == protocol
    assert out["strictValidationFailures"] == []
    assert out["boot"]["status"] == "Accepted"
    assert "currentTime" in out["heartbeat"]
    assert out["status"] == {}
    assert out["dataTransfer"] == {"status": "UnknownVendorId"}
    assert out["firmware"] == {}
    if protocol == "ocpp1.6":
        assert out["authorize"]["idTagInfo"]["status"] == "Invalid"
        assert isinstance(out["start"]["transactionId"], int)
    else:
        assert out["authorize"]["idTokenInfo"]["status"] == "Invalid"


MALFORMED: list[tuple[str, str, str, str]] = [
    # frame, expected id, 1.6 code, 2.0.1 code
    ("nonsense", "-1", "FormationViolation", "RpcFrameworkError"),
    ('[2, 5, "Heartbeat", {}]', "-1", "FormationViolation", "RpcFrameworkError"),
    ('[9, "m9", "Heartbeat", {}]', "m9", "FormationViolation", "MessageTypeNotSupported"),
    ('[2, "m1", "BrewCoffee", {}]', "m1", "NotImplemented", "NotImplemented"),
    ('[2, "m2", "Heartbeat", {"x": 1}]', "m2", "FormationViolation", "FormatViolation"),
    (
        '[2, "m3", "BootNotification", {}]',
        "m3",
        "OccurenceConstraintViolation",
        "OccurrenceConstraintViolation",
    ),
    (
        '[2, "m4", "DataTransfer", {"vendorId": 5}]',
        "m4",
        "TypeConstraintViolation",
        "TypeConstraintViolation",
    ),
]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_ocpp_rpc_sees_the_specified_callerrors(csms: RunningCsms, protocol: str) -> None:
    out = await _run(_config(csms, "malformed", protocol, frames=[m[0] for m in MALFORMED]))
    for (frame, message_id, code_16, code_201), answer in zip(MALFORMED, out["answers"], strict=True):
        assert answer["heartbeatOk"], frame
        expected = code_16 if protocol == "ocpp1.6" else code_201
        assert [m[:3] for m in answer["inbound"]] == [[4, message_id, expected]], frame


@pytest.mark.parametrize(
    ("identity", "password", "status"),
    [
        ("CS001", DEFAULT_PASSWORD, None),
        ("CS001", "wrong-password-000000", 401),
        ("CS404", DEFAULT_PASSWORD, 404),
    ],
)
async def test_ocpp_rpc_handshake(
    csms: RunningCsms, identity: str, password: str, status: int | None
) -> None:
    config = _config(csms, "handshake", "ocpp1.6", identity=identity, password=password)
    out = await _run(config)
    assert out["connected"] is (status is None)
    if status is not None:
        assert out["httpStatus"] == status


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_ocpp_rpc_answers_csms_calls(csms: RunningCsms, protocol: str) -> None:
    reset = {"type": "Soft"} if protocol == "ocpp1.6" else {"type": "Immediate"}
    task = asyncio.ensure_future(_run(_config(csms, "answerCalls", protocol, seconds=3)))
    await eventually(lambda: "CS001" in csms.csms.registry, timeout=10, what="ocpp-rpc connected")
    assert await csms.csms.registry.call("CS001", "Reset", reset) == {"status": "Accepted"}
    assert await csms.csms.registry.call("CS001", "ClearCache", {}) == {"status": "Rejected"}
    out = await task
    assert out["received"] == [["Reset", reset], ["ClearCache", {}]]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_ocpp_rpc_transactions_are_stored_once_and_every_repeat_is_answered(
    databases: DatabaseFactory, protocol: str
) -> None:
    db = Database(await databases.create("rpctx"))
    memory = memory_providers()
    memory.access.set("RPC-CARD", AccessDecision(AccessStatus.ACCEPTED))
    storage = Storage.build(db, memory.stations, memory.access, process="rpc")
    await storage.start()
    try:
        async with running_csms(memory=memory, storage=storage) as csms:
            out = await _run(_config(csms, "transactions", protocol))
    finally:
        await storage.close()
    assert out["strictValidationFailures"] == []
    answers = out["answers"]
    assert all(answers[i] == answers[i + 1] for i in range(0, len(answers), 2))  # repeats: same answer
    async with db.reader() as session:
        (row,) = (await session.execute(select(Transaction))).scalars().all()
        samples = (await session.execute(select(MeterValue).order_by(MeterValue.time))).scalars().all()
        assert await transaction_rows.count_rows(session, transaction_rows.OUTBOX) == 1
    await db.dispose()
    assert (row.meter_start_wh, row.meter_stop_wh, row.energy_wh, row.stop_reason) == (
        100,
        2600,
        2500,
        "Local",
    )
    if protocol == "ocpp1.6":
        assert row.id == out["transactionId"]
        assert [(s.energy_wh, s.power_w, s.current_a) for s in samples] == [(1500, 7400, 16.0)]
    else:
        assert row.station_transaction_id == "rpc-tx-1"
        assert [(s.energy_wh, s.soc_percent) for s in samples] == [(100, 80.0), (1500, 80.0), (2600, 80.0)]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_ocpp_rpc_strict_client_accepts_the_cost_messages(protocol: str) -> None:
    """CostUpdated, California pricing's GetConfiguration / DataTransfer and totalCost replies
    pass ocpp-rpc's own schema checks, and the station is shown 0.50 + 0.25 per kWh."""
    memory = memory_providers()
    memory.access.set("RPC-CARD", AccessDecision(AccessStatus.ACCEPTED, rate_plan="tariffs/rpc"))
    memory.pricing = InMemoryPricing({"tariffs/rpc": FlatTariff("EUR", Decimal("0.25"), Decimal("0.50"))})
    options = CsmsOptions(validate_responses=True, cost_update_interval=0.2, pricing_timeout=2.0)
    async with running_csms(memory=memory, options=options) as csms:
        out = await _run(_config(csms, "costs", protocol, runningCost=3.0))
    assert out["strictValidationFailures"] == []
    received = out["received"]
    if protocol == "ocpp1.6":
        assert received[0] == ["GetConfiguration", {"key": ["CustomDisplayCostAndPrice"]}]
        transfers = [p for a, p in received if a == "DataTransfer"]
        assert {p["vendorId"] for p in transfers} == {"org.openchargealliance.costmsg"}
        running = [p["data"] for p in transfers if p["messageId"] == "RunningCost"]
        final = [p["data"] for p in transfers if p["messageId"] == "FinalCost"]
        assert running[-1]["cost"] == 3.0 and running[-1]["transactionId"] == out["transactionId"]
        assert [f["cost"] for f in final] == [5.5]  # 0.50 + 20 kWh * 0.25
    else:
        started, updated, ended = out["answers"]
        assert "totalCost" not in started
        assert updated["totalCost"] == 3.0 and ended["totalCost"] == 5.5
        assert [a for a, _ in received] and {a for a, _ in received} == {"CostUpdated"}
        assert {"totalCost": 3.0, "transactionId": "rpc-cost-1"} in [p for _, p in received]
