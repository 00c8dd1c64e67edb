"""Sealing the charge record of a completed transaction, exactly once (RecordCharge).

A repeated delivery finds the sealed record before asking anyone anything. Otherwise the
transaction is read from the CSMS, the owner's and the card owner's paths from identity (the
path copies the record is scoped by), the tariff version in force at its start from our own
versions (a deleted tariff's too), and the record is priced and inserted; of two concurrent
deliveries the second insert loses on the unique (transaction, revision) and returns the first's
record."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from wattlane.billing import catalog, charge_records
from wattlane.billing.catalog import TariffVersion
from wattlane.billing.models import ChargeRecordRow
from wattlane.billing.runtime import Runtime
from wattlane.billing.transactions import CompletedTransaction
from wattlane.core.clients.directory import Owner
from wattlane.core.errors import InvalidArgument, NotFound
from wattlane.core.names import parse_name
from wattlane.core.scope import EffectiveScope


class Recorder:
    """RecordCharge's work; see the module docstring."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def record(self, transaction_id: int, workflow_id: str = "") -> tuple[ChargeRecordRow, bool]:
        """The sealed record of the transaction and whether this call created it."""
        async with self.rt.db.reader() as session:
            existing = await charge_records.of_transaction(session, transaction_id)
        if existing is not None:
            return existing, False
        tx = await self.rt.transactions.get(transaction_id)
        owner = await self._owner("tenants", tx.owner_id)
        card_owner = await self._owner("tenants", tx.card_owner_id)
        version = await self.version_of(tx)
        row = charge_records.build(
            tx,
            version,
            owner_path=owner.path if owner else "",
            card_owner_path=card_owner.path if card_owner else "",
            workflow_id=workflow_id,
            # A point of an employee's home sub-organization: the employer reimburses its energy.
            home_charging_compensation=bool(owner and owner.home_of),
        )
        try:
            async with self.rt.db.transaction() as session:
                session.add(row)
                await session.flush()
                await self.rt.audit.record(
                    session,
                    resource=charge_records.record_name(row.id),
                    tenant_path=row.owner_path,
                    changes={"transaction": f"transactions/{tx.id}", "total_excl_vat": row.total_excl_vat},
                )
        except IntegrityError:
            async with self.rt.db.reader() as session:
                existing = await charge_records.of_transaction(session, transaction_id)
            if existing is None:
                raise
            return existing, False
        return row, True

    async def version_of(self, tx: CompletedTransaction) -> TariffVersion | None:
        """The version of the transaction's tariff in force at its start; None when it names no
        tariff of ours (no rate plan, or a reference from before tariffs existed)."""
        if not tx.rate_plan.startswith("tariffs/"):
            return None
        try:
            tariff_id = parse_name(tx.rate_plan, "tariffs")
        except InvalidArgument:
            return None
        try:
            async with self.rt.db.reader() as session:
                return await catalog.version_at(session, tariff_id, tx.start)
        except NotFound:
            return None

    async def correction_inputs(
        self, scope: EffectiveScope, user_id: str, record_id: str, tariff_id: str | None
    ) -> tuple[CompletedTransaction, TariffVersion | None]:
        """What a correction of a record is priced from: the transaction as the CSMS has it now and
        the version in force at its start of `tariff_id` (the caller must be able to read it) or
        of the transaction's own tariff. `billing.manage` on the record's station owner."""
        async with self.rt.db.reader() as session:
            original = await charge_records.get_in_scope(session, scope, record_id, user_id)
            scope.require("billing.manage", original.owner_path, charge_records.record_name(record_id))
            if tariff_id is not None:
                await catalog.get_in_scope(session, scope, tariff_id)
        tx = await self.rt.transactions.get(original.transaction_id)
        if tariff_id is None:
            return tx, await self.version_of(tx)
        async with self.rt.db.reader() as session:
            return tx, await catalog.version_at(session, tariff_id, tx.start)

    async def _owner(self, collection: str, resource_id: str) -> Owner | None:
        if not resource_id:
            return None
        try:
            return await self.rt.directory.owner(f"{collection}/{resource_id}")
        except NotFound:
            return None  # a tenant deleted since: the record stays visible to the cardholder only
