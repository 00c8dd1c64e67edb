"""AssetsInternalService: only service tokens with the named scope may call it (the CSMS)."""

from __future__ import annotations

import grpc
from sqlalchemy import select

from wattlane.api.assets.v1 import internal_pb2, internal_pb2_grpc
from wattlane.assets.local_lists import local_authorizations
from wattlane.assets.models import ChargingPoint
from wattlane.assets.runtime import Runtime
from wattlane.contracts import scopes
from wattlane.core.caller import current_caller
from wattlane.core.errors import NotFound

_CREDENTIAL = select(
    ChargingPoint.id,
    ChargingPoint.location_id,
    ChargingPoint.owner_id,
    ChargingPoint.owner_path,
    ChargingPoint.key_salt,
    ChargingPoint.key_digest,
    ChargingPoint.certificate_subject,
    ChargingPoint.credential_version,
    ChargingPoint.ocpp_version,
)


class AssetsInternalServicer(internal_pb2_grpc.AssetsInternalServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def GetStationCredential(
        self, request: internal_pb2.GetStationCredentialRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.StationCredential:
        """The verifier (salt + HMAC digest) of a station's AuthorizationKey (`assets.stations`)."""
        current_caller().require_service_scope(scopes.ASSETS_STATIONS)
        async with self.rt.db.reader(snapshot=False) as session:
            row = (
                await session.execute(
                    _CREDENTIAL.where(
                        ChargingPoint.ocpp_identity == request.identity,
                        ChargingPoint.delete_time.is_(None),
                        ChargingPoint.state == "ACTIVE",
                    )
                )
            ).one_or_none()
        if row is None:
            raise NotFound(f"charging point with OCPP identity {request.identity[:64]!r}")
        return internal_pb2.StationCredential(
            identity=request.identity,
            charging_point=f"chargingPoints/{row.id}",
            location=f"locations/{row.location_id}",
            owner=f"tenants/{row.owner_id}",
            owner_path=row.owner_path,
            key_salt=row.key_salt or b"",
            key_digest=row.key_digest or b"",
            certificate_subject=row.certificate_subject,
            credential_version=row.credential_version,
            ocpp_version=row.ocpp_version,
        )

    async def DecideAccess(
        self, request: internal_pb2.DecideAccessRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.AccessDecision:
        """Whether a card may charge at a station, who pays and why (`assets.access`)."""
        current_caller().require_service_scope(scopes.ASSETS_ACCESS)
        return await self.rt.decider.decide(request.identity, request.id_token)

    async def ListLocalAuthorizations(
        self, request: internal_pb2.ListLocalAuthorizationsRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.LocalAuthorizationList:
        """The cards a charging point may accept offline, for SendLocalList (`assets.access`)."""
        current_caller().require_service_scope(scopes.ASSETS_ACCESS)
        return await local_authorizations(self.rt.db, request.identity, request.max_entries)
