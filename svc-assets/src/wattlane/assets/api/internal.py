"""AssetsInternalService: only service tokens with the named scope may call it (the CSMS)."""

from __future__ import annotations

import grpc

from wattlane.api.assets.v1 import internal_pb2, internal_pb2_grpc
from wattlane.assets import credentials
from wattlane.assets.api import messages
from wattlane.assets.local_lists import local_authorizations
from wattlane.assets.runtime import Runtime
from wattlane.contracts import scopes
from wattlane.core.caller import current_caller


class AssetsInternalServicer(internal_pb2_grpc.AssetsInternalServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def GetStationCredential(
        self, request: internal_pb2.GetStationCredentialRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.StationCredential:
        """The verifier (salt + HMAC digest) of a station's AuthorizationKey (`assets.stations`)."""
        current_caller().require_service_scope(scopes.ASSETS_STATIONS)
        return messages.station_credential(await credentials.station_credential(self.rt.db, request.identity))

    async def DecideAccess(
        self, request: internal_pb2.DecideAccessRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.AccessDecision:
        """Whether a card may charge at a station, who pays and why (`assets.access`)."""
        current_caller().require_service_scope(scopes.ASSETS_ACCESS)
        return messages.access_decision(await self.rt.decider.decide(request.identity, request.id_token))

    async def ListLocalAuthorizations(
        self, request: internal_pb2.ListLocalAuthorizationsRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.LocalAuthorizationList:
        """The cards a charging point may accept offline, for SendLocalList (`assets.access`)."""
        current_caller().require_service_scope(scopes.ASSETS_ACCESS)
        local_list = await local_authorizations(self.rt.db, request.identity, request.max_entries)
        return messages.local_authorization_list(local_list)
