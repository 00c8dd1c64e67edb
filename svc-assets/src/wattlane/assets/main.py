"""Wiring of the assets service: settings → database → migrations → identity link → server.

python -m wattlane.assets            # serve (migrates first unless told not to)
python -m wattlane.assets migrate    # only migrate
python -m wattlane.assets settings   # print the configuration in force (secrets redacted)
"""

from __future__ import annotations

from wattlane.api.assets.v1 import (
    access_pb2_grpc,
    cards_pb2_grpc,
    charging_points_pb2_grpc,
    internal_pb2_grpc,
    locations_pb2_grpc,
    settings_pb2_grpc,
)
from wattlane.api.common.v1 import audit_pb2_grpc
from wattlane.assets.access import AccessDecider
from wattlane.assets.api.access import AccessServicer
from wattlane.assets.api.cards import CardServicer
from wattlane.assets.api.charging_points import ChargingPointServicer
from wattlane.assets.api.internal import AssetsInternalServicer
from wattlane.assets.api.locations import LocationServicer
from wattlane.assets.api.settings import AssetSettingsServicer
from wattlane.assets.models import AUDIT, IDEMPOTENCY
from wattlane.assets.onboarding import CsmsLink, GrpcCsmsLink
from wattlane.assets.provisioning import Provisioning, StepHook
from wattlane.assets.runtime import Runtime
from wattlane.assets.schema import MIGRATIONS
from wattlane.assets.scoped import owner_visible
from wattlane.assets.settings import AssetsSettings
from wattlane.assets.tariffs import GrpcTariffLink, TariffLink
from wattlane.assets.upstream import IdentityUpstream
from wattlane.core.audit import AuditLog
from wattlane.core.audit_api import AuditServicer
from wattlane.core.caller import current_caller
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
        return (await owner_visible(self.rt.directory, scope, tenant_name)).path


class AssetsService(Service[AssetsSettings]):
    """svc-assets: locations, charging points, connectors, station keys, cards, access.

    `csms` replaces the CSMS link (tests serve a stub CSMS), `tariffs` the billing link;
    `step_hook` pauses between provisioning steps (tests stop identity half-way)."""

    name = "assets"
    settings_class = AssetsSettings
    migrations = MIGRATIONS

    rt: Runtime
    provisioning: Provisioning

    def __init__(
        self,
        settings: AssetsSettings,
        *,
        csms: CsmsLink | None = None,
        step_hook: StepHook | None = None,
        tariffs: TariffLink | None = None,
    ) -> None:
        super().__init__(settings)
        self._csms_override = csms
        self._step_hook = step_hook
        self._tariffs_override = tariffs

    async def setup(self) -> None:
        s = self.settings
        self.db = db = self.database(s.database_url)
        # Channels are made here, inside the running loop (gRPC binds them to it).
        link = self.identity_link(
            s.identity_address,
            client_id=s.client_id,
            client_secret=s.client_secret,
            scope_ttl=s.scope_cache_seconds,
        )
        upstream = IdentityUpstream(s.identity_address, link.service_token)
        self.on_stop(upstream.close)
        csms = self._csms_override
        if csms is None and s.csms_address:
            grpc_csms = GrpcCsmsLink(s.csms_address, link.service_token)
            self.on_stop(grpc_csms.close)
            csms = grpc_csms
        tariffs = self._tariffs_override
        if tariffs is None and s.billing_address:
            grpc_tariffs = GrpcTariffLink(s.billing_address, link.service_token)
            self.on_stop(grpc_tariffs.close)
            tariffs = grpc_tariffs
        self.rt = rt = Runtime(
            settings=s,
            db=db,
            audit=AuditLog(AUDIT),
            idempotency=Idempotency(db, IDEMPOTENCY),
            directory=upstream,
            quota=upstream,
            decider=AccessDecider(db),
            csms=csms,
            tariffs=tariffs,
        )
        self.provisioning = Provisioning(rt, self._step_hook)
        await link.start()
        # Finish half-done adds and removals (identity down, a process killed) now and then.
        self.every(
            "reconciler",
            lambda: self.provisioning.reconcile(s.reconcile_after_seconds),
            s.reconcile_seconds,
        )

        self.add_grpc(locations_pb2_grpc.add_LocationServiceServicer_to_server, LocationServicer(rt))
        self.add_grpc(
            charging_points_pb2_grpc.add_ChargingPointServiceServicer_to_server,
            ChargingPointServicer(rt, self.provisioning),
        )
        self.add_grpc(cards_pb2_grpc.add_CardServiceServicer_to_server, CardServicer(rt))
        self.add_grpc(settings_pb2_grpc.add_AssetSettingsServiceServicer_to_server, AssetSettingsServicer(rt))
        self.add_grpc(access_pb2_grpc.add_AccessServiceServicer_to_server, AccessServicer(rt))
        self.add_grpc(
            internal_pb2_grpc.add_AssetsInternalServiceServicer_to_server, AssetsInternalServicer(rt)
        )
        audit = AuditServicer(db, rt.audit, OwnerPaths(rt))
        self.add_grpc(audit_pb2_grpc.add_AuditServiceServicer_to_server, audit)
        self.serve_grpc(s.host, s.port, verifier=link.verifier, scopes=link.scopes)


def cli(argv: list[str] | None = None) -> None:
    """`wattlane-assets [serve|migrate|settings]`."""
    main(AssetsService, argv)


if __name__ == "__main__":
    cli()
