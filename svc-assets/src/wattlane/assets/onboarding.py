"""Connected onboarding: the platform confirms an OCPP identity is really trying to connect by
asking the CSMS, which records connection attempts of identities no charging point claims.

`CsmsLink` is the small interface assets needs; `GrpcCsmsLink` talks to the CSMS's internal API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import grpc

from wattlane.api.csms.v1 import internal_pb2, internal_pb2_grpc
from wattlane.core.client import channel
from wattlane.core.errors import FailedPrecondition, Unavailable
from wattlane.core.timestamps import from_timestamp


@dataclass(frozen=True)
class ConnectionAttempt:
    identity: str
    first_attempt_time: dt.datetime
    last_attempt_time: dt.datetime
    attempts: int


class CsmsLink(Protocol):
    async def unclaimed_connection(self, identity: str) -> ConnectionAttempt | None:
        """The CSMS's record of `identity` trying to connect, or None when it never tried."""


class GrpcCsmsLink:
    """CsmsLink over CsmsInternalService with assets' service token."""

    def __init__(self, target: str, token: Callable[[], Awaitable[str]], *, timeout: float = 5.0) -> None:
        self._channel = channel(target, token=token, timeout=timeout, max_attempts=3)
        self._stub = internal_pb2_grpc.CsmsInternalServiceStub(self._channel)

    async def unclaimed_connection(self, identity: str) -> ConnectionAttempt | None:
        """The CSMS's record of `identity` trying to connect, or None (NOT_FOUND there)."""
        try:
            reply = await self._stub.GetUnclaimedConnection(
                internal_pb2.GetUnclaimedConnectionRequest(identity=identity)
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise Unavailable(
                f"the CSMS did not answer: {error.code().name}", reason="CSMS_UNAVAILABLE"
            ) from None
        return ConnectionAttempt(
            reply.identity,
            from_timestamp(reply.first_attempt_time),
            from_timestamp(reply.last_attempt_time),
            reply.attempts,
        )

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close(None)


async def confirm_connecting(link: CsmsLink | None, identity: str) -> ConnectionAttempt:
    """The attempt that proves `identity` is online; FAILED_PRECONDITION when there is none."""
    if link is None:
        raise FailedPrecondition(
            "connected onboarding needs the CSMS, which is not configured; add the station pre-approved",
            reason="CSMS_NOT_CONFIGURED",
        )
    attempt = await link.unclaimed_connection(identity)
    if attempt is None:
        raise FailedPrecondition(
            f"no station with OCPP identity {identity!r} has tried to connect; check its backend URL "
            "and identity, or add it pre-approved",
            reason="STATION_NOT_CONNECTING",
        )
    return attempt
