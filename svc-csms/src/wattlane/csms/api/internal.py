"""CsmsInternalService: only service tokens holding the named scope may call it."""

from __future__ import annotations

import grpc

from wattlane.api.csms.v1 import internal_pb2, internal_pb2_grpc
from wattlane.core.caller import current_caller
from wattlane.core.db import Database
from wattlane.core.errors import NotFound
from wattlane.csms import repository
from wattlane.csms.api import convert
from wattlane.csms.names import parse_identity

UNCLAIMED_SCOPE = "csms.unclaimed"


class CsmsInternalServicer(internal_pb2_grpc.CsmsInternalServiceServicer):
    """Internal reads for other services."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def GetUnclaimedConnection(
        self, request: internal_pb2.GetUnclaimedConnectionRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.UnclaimedConnection:
        """An unknown identity's connection attempts (`csms.unclaimed`); NOT_FOUND if it never tried."""
        current_caller().require_service_scope(UNCLAIMED_SCOPE)
        identity = parse_identity(request.identity)
        async with self.db.reader(snapshot=False) as session:
            row = await repository.get_unclaimed(session, identity)
        if row is None:
            raise NotFound(f"unclaimedConnections/{identity}")
        return convert.unclaimed_internal(row)
