"""Costs shown on stations, from billing's one pricing function (issue 11, "Costs on the station").

OCPP 2.0.1 (block I, TariffAndCost): the running total in the TransactionEventResponse to an
Updated event (I02) and the final total in the one to Ended (I03), both `totalCost`, plus a
`CostUpdated` call during the session every `cost_update_interval` seconds (I02), so a
station that sends few events still shows a cost that grows with time-based prices.

OCPP 1.6 has no cost messages: the OCA application note "OCPP & California Pricing Requirements"
defines DataTransfer messages of vendor `org.openchargealliance.costmsg` whose `data` is a JSON
text: `RunningCost` during the session (transactionId, timestamp, meterValue in Wh, cost, state,
chargingPrice) and `FinalCost` after StopTransaction (transactionId, cost, priceText). Only
stations that show prices get them: those whose identity matches `cost_display_pattern`, and
those whose own configuration key `CustomDisplayCostAndPrice` (the note's flag, read-only on the
station) is true — asked with GetConfiguration the first time a cost is due after each boot, never
in the boot storm itself.

Costs are best effort and never hold a transaction back: the transaction is committed first;
a price waits at most `pricing_timeout` (the reply goes out without `totalCost` otherwise), and
after a failure no price is asked for `pricing_backoff` seconds, so a billing outage costs the
stations' replies nothing. CSMS→station calls run in tasks of their own (a handler must never
wait for a call to its own station). A running cost is followed on the process holding the
station's connection; a station that moved is followed where its next message lands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from wattlane.core.clock import utcnow
from wattlane.csms.protocol.clock import ocpp_time
from wattlane.csms.protocol.errors import CallError, OcppError, OcppVersion, RemoteActionError
from wattlane.csms.protocol.options import CsmsOptions
from wattlane.csms.providers.interfaces import (
    Pricing,
    ProviderUnavailable,
    SessionCost,
    SessionToPrice,
    TransactionStore,
)

if TYPE_CHECKING:
    from wattlane.csms.protocol.connected import ConnectionRegistry

logger = logging.getLogger(__name__)
T = TypeVar("T")

COSTMSG_VENDOR = "org.openchargealliance.costmsg"
DISPLAY_KEY = "CustomDisplayCostAndPrice"
RUNNING_COST = "RunningCost"
FINAL_COST = "FinalCost"

# ISO 4217 currencies whose minor unit is not the cent; every other shows two decimals.
_DECIMALS = {
    **dict.fromkeys(
        (
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}
_UNIT_PRICE = Decimal("0.0001")
_MAX_CONCURRENT = 32  # prices asked at once by the running-cost loop


def shown_amount(cost: SessionCost) -> Decimal:
    """The total as a station shows it: rounded half up to the currency's minor unit."""
    return cost.total.quantize(Decimal(1).scaleb(-_DECIMALS.get(cost.currency, 2)), rounding=ROUND_HALF_UP)


def total_cost(cost: SessionCost) -> float:
    """`totalCost` / `cost` of the OCPP messages (a JSON number)."""
    return float(shown_amount(cost))


def running_cost_data(transaction_id: int, session: SessionToPrice, cost: SessionCost, at: Any) -> str:
    """The `data` text of a California pricing RunningCost DataTransfer."""
    price: dict[str, float] = {}
    for key, value in (
        ("kWhPrice", cost.kwh_price),
        ("hourPrice", cost.hour_price),
        ("flatFee", cost.flat_fee),
    ):
        if value is not None:
            price[key] = float(value.quantize(_UNIT_PRICE, rounding=ROUND_HALF_UP))
    readings = [(s.at, s.energy_wh) for s in session.samples if s.energy_wh is not None]
    register = max(readings)[1] if readings else session.meter_start_wh or 0
    data = {
        "transactionId": transaction_id,
        "timestamp": ocpp_time(at),
        "meterValue": register,
        "cost": total_cost(cost),
        "state": _state(session, at),
        "chargingPrice": price,
    }
    return orjson.dumps(data).decode()


def _state(session: SessionToPrice, at: Any) -> str:
    """California pricing's state: "Idle" while parked (connected, not charging)."""
    states = [charging for t, charging in session.charging_states if t <= at]
    return "Idle" if states and not states[-1] else "Charging"


def final_cost_data(transaction_id: int, cost: SessionCost) -> str:
    """The `data` text of a California pricing FinalCost DataTransfer."""
    text = f"{cost.currency} {shown_amount(cost)} for {Decimal(cost.energy_wh) / 1000:.3f} kWh"
    return orjson.dumps(
        {"transactionId": transaction_id, "cost": total_cost(cost), "priceText": text}
    ).decode()


@dataclass(slots=True)
class _Running:
    """A priced transaction followed on this process for running costs."""

    identity: str
    version: OcppVersion
    ocpp_id: str | int  # what the station calls it: 2.0.1 its transactionId, 1.6 ours
    shown_at: float  # monotonic time the station last got a cost (or the following began)
    busy: bool = False


class CostDisplay:
    """Prices transactions for their stations and sends them running and final costs."""

    def __init__(
        self,
        pricing: Pricing,
        transactions: TransactionStore,
        registry: ConnectionRegistry,
        options: CsmsOptions,
    ) -> None:
        self._pricing = pricing
        self._transactions = transactions
        self._registry = registry
        self._options = options
        self._pattern = re.compile(options.cost_display_pattern) if options.cost_display_pattern else None
        self._running: dict[int, _Running] = {}
        self._displays: dict[str, bool] = {}  # 1.6 identity → shows costs (asked since its boot)
        self._unsupported: set[str] = set()  # 2.0.1 stations that answered CostUpdated NotImplemented
        self._paused_until = 0.0  # monotonic: no price is asked before this (after a failure)
        self._limit = asyncio.Semaphore(_MAX_CONCURRENT)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.Task[None] | None = None
        self.failures = 0

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the running-cost loop (when an interval is set) on the running event loop."""
        if self._loop is None and self._options.cost_update_interval > 0:
            self._loop = asyncio.get_running_loop().create_task(self._run(), name="csms-costs")

    async def close(self) -> None:
        """Stop the loop and the cost messages under way (a station never needs a late one)."""
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- what the handlers call ---------------------------------------------------------------

    async def price(self, transaction_id: int) -> SessionCost | None:
        """The transaction's cost so far (its final cost once ended); None when it has no tariff
        or no price came within `pricing_timeout`."""
        return (await self._price(transaction_id))[1]

    def follow(self, transaction_id: int, identity: str, version: OcppVersion, ocpp_id: str | int) -> None:
        """Send running costs for this transaction of a station connected here (a repeat is a
        no-op); the first one after `cost_update_interval`."""
        if self._options.cost_update_interval > 0 and transaction_id not in self._running:
            self._running[transaction_id] = _Running(identity, version, ocpp_id, time.monotonic())

    def shown(self, transaction_id: int) -> None:
        """The station just got the cost in a reply: the next running cost is an interval away."""
        running = self._running.get(transaction_id)
        if running is not None:
            running.shown_at = time.monotonic()

    def ended(self, transaction_id: int) -> None:
        """No more running costs for this transaction."""
        self._running.pop(transaction_id, None)

    def final_cost_16(self, transaction_id: int, identity: str) -> None:
        """After a 1.6 StopTransaction's reply: send FinalCost to a station that shows costs."""
        self.ended(transaction_id)
        self._spawn(self._final_16(transaction_id, identity))

    def booted(self, identity: str) -> None:
        """The station booted: its configuration or firmware may have changed, so what it shows
        is found out again when a cost is due."""
        self._displays.pop(identity, None)
        self._unsupported.discard(identity)

    @property
    def following(self) -> int:
        """How many transactions get running costs from this process."""
        return len(self._running)

    # -- internals ----------------------------------------------------------------------------

    async def _price(
        self, transaction_id: int, *, display: str | None = None
    ) -> tuple[SessionToPrice | None, SessionCost | None]:
        """The stored session and its cost, within `pricing_timeout`; (None, None) while paused.
        With `display` (a 1.6 identity) the station is first asked whether it shows costs —
        only for a priced session, and outside the time budget."""
        deadline = asyncio.get_running_loop().time() + self._options.pricing_timeout
        session = await self._bounded(
            transaction_id, deadline, lambda: self._transactions.to_price(transaction_id)
        )
        if session is None or not session.tariff:
            return session, None
        if display is not None:
            if not await self._shows_costs(display):
                return session, None
            deadline = asyncio.get_running_loop().time() + self._options.pricing_timeout
        until = session.stop_time or utcnow()
        return session, await self._bounded(
            transaction_id, deadline, lambda: self._pricing.price(session, until)
        )

    async def _bounded(
        self, transaction_id: int, deadline: float, step: Callable[[], Awaitable[T]]
    ) -> T | None:
        """`step()` by `deadline` (loop time); None without calling it while paused, and None with
        a pause of `pricing_backoff` when it fails or is late."""
        if time.monotonic() < self._paused_until:
            return None
        try:
            async with asyncio.timeout_at(deadline):
                return await step()
        except (TimeoutError, ProviderUnavailable) as exc:
            reason = "no answer in time" if isinstance(exc, TimeoutError) else str(exc)
        except Exception as exc:  # a cost is never worth failing a station's message
            logger.exception("pricing transaction %s failed", transaction_id)
            reason = type(exc).__name__
        self.failures += 1
        self._paused_until = time.monotonic() + self._options.pricing_backoff
        logger.warning(
            "no cost for transaction %s (%s); no prices for %.0f s",
            transaction_id,
            reason,
            self._options.pricing_backoff,
        )
        return None

    async def _shows_costs(self, identity: str) -> bool:
        """Whether a 1.6 station shows California pricing messages (asked once per boot)."""
        if self._pattern is not None and self._pattern.fullmatch(identity):
            return True
        known = self._displays.get(identity)
        if known is not None:
            return known
        try:
            answer = await self._registry.call(
                identity, "GetConfiguration", {"key": [DISPLAY_KEY]}, self._options.call_timeout
            )
        except RemoteActionError as exc:
            logger.info("%s: could not read %s (%s)", identity, DISPLAY_KEY, exc)
            return False  # asked again next time: the station may answer later
        shows = any(
            item.get("key") == DISPLAY_KEY and str(item.get("value", "")).strip().lower() == "true"
            for item in answer.get("configurationKey", ())
        )
        self._displays[identity] = shows
        return shows

    async def _run(self) -> None:
        interval = self._options.cost_update_interval
        tick = max(0.05, min(interval / 4, 5.0))
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            if now < self._paused_until:
                continue
            for transaction_id, running in list(self._running.items()):
                if running.busy or now - running.shown_at < interval:
                    continue
                if running.identity not in self._registry:
                    # Gone from here: its next message (here or elsewhere) follows it again.
                    del self._running[transaction_id]
                    continue
                running.busy = True
                self._spawn(self._running_cost(transaction_id, running))

    async def _running_cost(self, transaction_id: int, running: _Running) -> None:
        try:
            async with self._limit:
                if running.identity in self._unsupported:
                    return  # a 2.0.1 station without CostUpdated: costs only in the replies
                display = running.identity if running.version is OcppVersion.V16 else None
                session, cost = await self._price(transaction_id, display=display)
                if session is None or not session.tariff or session.stop_time is not None:
                    if time.monotonic() >= self._paused_until:  # known: nothing to follow
                        self.ended(transaction_id)
                    return
                if cost is None or transaction_id not in self._running:
                    return
                if running.version is OcppVersion.V16:
                    data = running_cost_data(transaction_id, session, cost, utcnow())
                    await self._send_16(running.identity, RUNNING_COST, data)
                else:
                    await self._call(
                        running.identity,
                        "CostUpdated",
                        {"totalCost": total_cost(cost), "transactionId": str(running.ocpp_id)},
                    )
        finally:
            running.busy = False
            running.shown_at = time.monotonic()

    async def _final_16(self, transaction_id: int, identity: str) -> None:
        async with self._limit:
            _, cost = await self._price(transaction_id, display=identity)
            if cost is not None:
                await self._send_16(identity, FINAL_COST, final_cost_data(transaction_id, cost))

    async def _send_16(self, identity: str, message_id: str, data: str) -> None:
        answer = await self._call(
            identity, "DataTransfer", {"vendorId": COSTMSG_VENDOR, "messageId": message_id, "data": data}
        )
        if answer is not None and answer.get("status") != "Accepted":
            logger.info("%s: %s answered %s", identity, message_id, answer.get("status"))

    async def _call(self, identity: str, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return await self._registry.call(identity, action, payload, self._options.call_timeout)
        except CallError as exc:
            if action == "CostUpdated" and exc.code in ("NotImplemented", "NotSupported"):
                self._unsupported.add(identity)
            logger.info("%s: %s refused (%s)", identity, action, exc)
        except RemoteActionError as exc:
            logger.info("%s: %s not delivered (%s)", identity, action, exc)
        except OcppError as exc:  # our payload broke the schema: a bug, never the station's fault
            logger.error("%s: %s not sent: %s", identity, action, exc.description)
        return None

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
