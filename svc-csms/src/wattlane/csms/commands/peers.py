"""The other CSMS processes, reached over internal gRPC: a command for a station whose socket is
held elsewhere is executed there (`CsmsInternalService.ExecuteCommand`)."""

from __future__ import annotations

import grpc

from wattlane.api.csms.v1 import internal_pb2, internal_pb2_grpc
from wattlane.core.client import TokenProvider, channel
from wattlane.core.errors import FailedPrecondition
from wattlane.csms.registry.leases import Owner


class Peers:
    """Internal gRPC clients of the other CSMS processes, by address (from the lease table)."""

    def __init__(self, token: TokenProvider | None, timeout: float) -> None:
        self._token = token
        self._timeout = timeout
        self._stubs: dict[str, tuple[grpc.aio.Channel, internal_pb2_grpc.CsmsInternalServiceAsyncStub]] = {}

    def stub(self, address: str) -> internal_pb2_grpc.CsmsInternalServiceAsyncStub:
        """The (cached) internal stub of the process at `address`."""
        if address not in self._stubs:
            ch = channel(address, token=self._token, timeout=self._timeout, max_attempts=1)
            self._stubs[address] = (ch, internal_pb2_grpc.CsmsInternalServiceStub(ch))  # type: ignore[assignment]
        return self._stubs[address][1]

    async def close(self) -> None:
        """Close every channel."""
        for ch, _ in self._stubs.values():
            await ch.close(None)
        self._stubs.clear()


async def forward(peers: Peers, owner: Owner, name: str) -> None:
    """Ask the owning process to execute the command `name`; FAILED_PRECONDITION when it says the
    station is not there, or cannot be reached (the caller then fails the command)."""
    try:
        await peers.stub(owner.grpc_address).ExecuteCommand(internal_pb2.ExecuteCommandRequest(name=name))
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
            raise FailedPrecondition(exc.details() or "station offline", reason="STATION_OFFLINE") from None
        raise PeerUnreachable(owner.process, f"{exc.code().name}: {exc.details()}") from None


class PeerUnreachable(Exception):
    """The owning process did not carry out a forwarded command."""

    def __init__(self, process: str, detail: str) -> None:
        super().__init__(f"CSMS process {process} did not take the command ({detail})")
        self.process = process
