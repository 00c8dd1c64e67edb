"""Wiring of the billing service: settings → database → migrations → identity and CSMS links →
server.

python -m wattlane.billing            # serve (migrates first unless told not to)
python -m wattlane.billing migrate    # only migrate
python -m wattlane.billing settings   # print the configuration in force (secrets redacted)
"""

from __future__ import annotations

from wattlane.api.billing.v1 import (
    charge_records_pb2_grpc,
    internal_pb2_grpc,
    invoices_pb2_grpc,
    tariffs_pb2_grpc,
)
from wattlane.api.common.v1 import audit_pb2_grpc
from wattlane.billing.api.charge_records import ChargeRecordServicer
from wattlane.billing.api.internal import BillingInternalServicer
from wattlane.billing.api.invoices import InvoiceServicer
from wattlane.billing.api.tariffs import TariffServicer
from wattlane.billing.models import AUDIT, IDEMPOTENCY
from wattlane.billing.recording import Recorder
from wattlane.billing.runtime import Runtime
from wattlane.billing.schema import MIGRATIONS
from wattlane.billing.settings import BillingSettings
from wattlane.billing.transactions import CsmsTransactions, TransactionSource
from wattlane.core.audit import AuditLog
from wattlane.core.audit_api import AuditServicer
from wattlane.core.caller import current_caller
from wattlane.core.clients.directory import IdentityDirectory
from wattlane.core.errors import NotFound
from wattlane.core.idempotency import Idempotency
from wattlane.core.names import parse_name
from wattlane.core.service import Service, main


class OwnerPaths:
    """Audit reads resolve `tenants/{id}` through identity (the path copies follow the tree)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def path_of(self, tenant_name: str) -> str:
        """The path of a tenant the caller can see (NOT_FOUND otherwise)."""
        parse_name(tenant_name, "tenants", "parent")
        scope = await current_caller().scope()
        owner = await self.rt.directory.owner(tenant_name)
        if not scope.visible(owner.path):
            raise NotFound(tenant_name)
        return owner.path


class BillingService(Service[BillingSettings]):
    """svc-billing: tariffs (versioned), pricing, sealed charge records, invoices and credit notes.

    `transactions` replaces the CSMS link (tests serve a fake CSMS or a source in memory)."""

    name = "billing"
    settings_class = BillingSettings
    migrations = MIGRATIONS

    rt: Runtime

    def __init__(self, settings: BillingSettings, *, transactions: TransactionSource | None = None) -> None:
        super().__init__(settings)
        self._transactions_override = transactions

    async def setup(self) -> None:
        s = self.settings
        db = self.database(s.database_url)
        # Channels are made here, inside the running loop (gRPC binds them to it).
        link = self.identity_link(
            s.identity_address,
            client_id=s.client_id,
            client_secret=s.client_secret,
            scope_ttl=s.scope_cache_seconds,
        )
        directory = IdentityDirectory(s.identity_address, link.service_token)
        self.on_stop(directory.close)
        transactions = self._transactions_override
        if transactions is None:
            csms = CsmsTransactions(s.csms_address, link.service_token)
            self.on_stop(csms.close)
            transactions = csms
        self.rt = rt = Runtime(
            settings=s,
            db=db,
            audit=AuditLog(AUDIT),
            idempotency=Idempotency(db, IDEMPOTENCY),
            directory=directory,
            transactions=transactions,
        )
        await link.start()
        self.add_grpc(tariffs_pb2_grpc.add_TariffServiceServicer_to_server, TariffServicer(rt))
        recorder = Recorder(rt)
        self.add_grpc(
            charge_records_pb2_grpc.add_ChargeRecordServiceServicer_to_server,
            ChargeRecordServicer(rt, recorder),
        )
        self.add_grpc(
            internal_pb2_grpc.add_BillingInternalServiceServicer_to_server,
            BillingInternalServicer(rt, recorder),
        )
        self.add_grpc(invoices_pb2_grpc.add_InvoiceServiceServicer_to_server, InvoiceServicer(rt))
        self.add_grpc(
            audit_pb2_grpc.add_AuditServiceServicer_to_server, AuditServicer(db, rt.audit, OwnerPaths(rt))
        )
        self.serve_grpc(s.host, s.port, verifier=link.verifier, scopes=link.scopes)


def cli(argv: list[str] | None = None) -> None:
    """`wattlane-billing [serve|migrate|settings]`."""
    main(BillingService, argv)


if __name__ == "__main__":
    cli()
