"""The worker's client of the CSMS's internal API, authenticated with its service token."""

from __future__ import annotations

from wattlane.api.csms.v1 import internal_pb2_grpc
from wattlane.core.client import channel
from wattlane.core.identity_link import IdentityLink


class CsmsInternal:
    """CsmsInternalService stub on a channel that sends the worker's service token."""

    def __init__(self, link: IdentityLink, target: str) -> None:
        self._channel = channel(target, token=link.service_token, max_attempts=4, timeout=15.0)
        self.stub = internal_pb2_grpc.CsmsInternalServiceStub(self._channel)

    async def close(self) -> None:
        await self._channel.close(None)
