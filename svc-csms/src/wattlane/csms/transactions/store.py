"""Transactions in the database, committed before the station hears back (group commit).

Every transaction message waits for its commit (nothing acknowledged is ever lost), but not for
a commit of its own: `record` queues the change and one writer task commits whatever is waiting
in one database transaction, then wakes every caller. Under load a commit carries hundreds of
messages, so the reply waits a few milliseconds while the database does one commit for them all.
When a batch fails, its changes are retried one by one, so one bad change fails alone (its
station gets an InternalError CALLERROR and resends) and the others still commit.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from wattlane.core.clock import utcnow
from wattlane.core.db import Database
from wattlane.csms.protocol import meter
from wattlane.csms.providers.interfaces import (
    MeterSample,
    ProviderUnavailable,
    SessionToPrice,
    StationCredentials,
    StationOwner,
    TransactionChange,
    TransactionStart,
)
from wattlane.csms.transactions import repository

logger = logging.getLogger(__name__)

_NO_OWNER = StationOwner("", "")


def _strip(name: str, collection: str) -> str:
    return name.removeprefix(collection + "/")


def start_row(start: TransactionStart, owner: StationOwner) -> dict[str, Any]:
    """The transactions row for a start, with its tenancy and payer."""
    decision = start.decision
    now = utcnow()
    return {
        "identity": start.identity,
        "protocol": start.version.value,
        "start_key": start.key[:200],
        "station_transaction_id": start.station_transaction_id,
        "evse_id": start.evse_id,
        "connector_id": start.connector_id,
        "id_token": start.id_token[:36],
        "token_type": start.token_type[:20],
        "authorization_status": decision.status.value,
        "start_time": start.at,
        "meter_start_wh": start.meter_start_wh,
        "stop_reason": "",
        "owner_id": owner.owner_id,
        "owner_path": owner.owner_path,
        "location_id": owner.location_id,
        "charging_point_id": owner.charging_point_id,
        "card_id": _strip(decision.card, "cards"),
        "card_owner_id": _strip(decision.card_owner, "tenants"),
        "card_owner_path": decision.card_owner_path,
        "cardholder_id": _strip(decision.cardholder, "users"),
        "payer": decision.payer,
        "rate_plan": decision.rate_plan[:128],
        "time_zone": decision.time_zone[:64],
        "create_time": now,
        "update_time": now,
    }


_Item = tuple[TransactionChange, StationOwner | None, "asyncio.Future[int | None]"]


class StoredTransactions:
    """The database `TransactionStore`."""

    def __init__(
        self,
        db: Database,
        credentials: StationCredentials,
        *,
        max_batch: int = 1000,
        on_completed: Any = None,
    ) -> None:
        self.db = db
        self._credentials = credentials
        self._max_batch = max_batch
        self._queue: collections.deque[_Item] = collections.deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # Called (no arguments) after a commit that completed transactions: kicks the relay.
        self.on_completed = on_completed
        self.commits = 0

    def start(self) -> None:
        """Start the writer task on the running loop."""
        if self._task is None:
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name="transactions-writer")

    async def close(self) -> None:
        """Commit what is queued, then stop the writer."""
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def record(self, change: TransactionChange) -> int | None:
        """Queue the change and wait for its commit (see `TransactionStore.record`)."""
        if self._task is None:
            raise ProviderUnavailable("the transaction store is not running")
        owner = None
        if change.start is not None:
            owner = await self._credentials.owner(change.identity) or _NO_OWNER
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._queue.append((change, owner, future))
        self._wake.set()
        return await future

    async def to_price(self, transaction_id: int) -> SessionToPrice | None:
        """The committed row, and its samples when it has a tariff (one snapshot)."""
        async with self.db.reader() as session:
            row = await repository.get_transaction(session, transaction_id)
            if row is None:
                return None
            values, states = [], []
            if row.rate_plan:
                values = (await repository.meter_values_of(session, [transaction_id]))[transaction_id]
                states = (await repository.charging_states_of(session, [transaction_id]))[transaction_id]
        return SessionToPrice(
            transaction_id=row.id,
            tariff=row.rate_plan,
            time_zone=row.time_zone,
            start_time=row.start_time,
            meter_start_wh=row.meter_start_wh,
            stop_time=row.stop_time,
            meter_stop_wh=row.meter_stop_wh,
            samples=tuple(
                MeterSample(v.time, v.energy_wh, v.power_w, v.current_a, v.soc_percent) for v in values
            ),
            charging_states=tuple((c.time, c.charging) for c in states),
        )

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._stopping:
                    return
                await self._wake.wait()
                self._wake.clear()
                continue
            batch = [self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))]
            await self._commit(batch)

    async def _commit(self, batch: list[_Item]) -> None:
        try:
            async with self.db.transaction() as session:
                results, completed = await apply(session, [(c, o) for c, o, _ in batch])
        except Exception:
            if len(batch) == 1:
                logger.exception("a transaction change could not be stored")
                _fail(batch[0][2])
                return
            logger.warning("a batch of %d transaction changes failed; one by one", len(batch), exc_info=True)
            for item in batch:
                await self._commit([item])
            return
        self.commits += 1
        for (_, _, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
        if completed and self.on_completed is not None:
            self.on_completed()


def _fail(future: asyncio.Future[int | None]) -> None:
    if not future.done():
        future.set_exception(ProviderUnavailable("the transaction could not be stored"))


async def apply(
    session: Any, items: Sequence[tuple[TransactionChange, StationOwner | None]]
) -> tuple[list[int | None], int]:
    """Apply changes in one database transaction; returns each one's transaction id (None for
    an unknown one) and how many transactions ended."""
    ids: list[int | None] = []
    for change, owner in items:
        if change.start is not None:
            row = start_row(change.start, owner or _NO_OWNER)
            ids.append(await repository.find_or_create(session, row))
        elif change.transaction_id is None and change.charging is not None:
            # 1.6 StatusNotification: the state of whatever is active on the connector.
            ids.append(await repository.active_on_evse(session, change.identity, change.charging.evse_id))
        else:
            ids.append(change.transaction_id)
    known = await repository.states(session, [i for i in ids if i is not None])
    results: list[int | None] = []
    samples: dict[tuple[int, Any], dict[str, Any]] = {}
    for (change, _), transaction_id in zip(items, ids, strict=True):
        state = known.get(transaction_id) if transaction_id is not None else None
        if transaction_id is None or state is None or state[0] != change.identity:
            results.append(None)  # another station's id, or none at all: nothing to store
            continue
        results.append(transaction_id)
        for s in change.samples:
            samples.setdefault(
                (transaction_id, s.at),
                {
                    "transaction_id": transaction_id,
                    "time": s.at,
                    "energy_wh": s.energy_wh,
                    "power_w": s.power_w,
                    "current_a": s.current_a,
                    "soc_percent": s.soc_percent,
                },
            )
    await repository.add_meter_values(session, list(samples.values()))
    for (change, _), transaction_id in zip(items, results, strict=True):
        # Only while active: a state reported after the end (1.6 Finishing) prices nothing.
        if change.charging is not None and transaction_id is not None and not known[transaction_id][1]:
            await repository.add_charging_state(
                session, transaction_id, change.charging.at, change.charging.charging
            )
    completed = 0
    now = utcnow()
    for (change, _), transaction_id in zip(items, results, strict=True):
        if change.end is None or transaction_id is None or known[transaction_id][1]:
            continue
        end = change.end
        meter_stop = end.meter_stop_wh
        if meter_stop is None:
            meter_stop = meter.last_energy(change.samples)
        if meter_stop is None:
            meter_stop = await repository.last_energy(session, transaction_id)
        meter_start = known[transaction_id][2]
        energy = meter_stop - meter_start if meter_stop is not None and meter_start is not None else None
        values = {
            "stop_time": end.at,
            "meter_stop_wh": meter_stop,
            "energy_wh": max(energy, 0) if energy is not None else None,
            "stop_reason": end.reason[:32],
            "update_time": now,
        }
        if await repository.end(session, transaction_id, values, now):
            completed += 1
            known[transaction_id] = (known[transaction_id][0], True, meter_start)
    return results, completed
