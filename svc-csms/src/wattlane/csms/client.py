"""A client of the CSMS APIs on one channel, for other services, the CLI and tests."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc

from wattlane.api.csms.v1 import (
    commands_pb2_grpc,
    internal_pb2_grpc,
    stations_pb2_grpc,
    transactions_pb2_grpc,
)
from wattlane.core.client import channel


@dataclass
class CsmsClient:
    """Stubs of the CSMS's gRPC APIs, sending `token` as the bearer."""

    target: str
    token: str = ""
    max_attempts: int = 1
    channel: grpc.aio.Channel = field(init=False)

    def __post_init__(self) -> None:
        self.channel = channel(self.target, token=lambda: self.token, max_attempts=self.max_attempts)
        self.stations = stations_pb2_grpc.StationServiceStub(self.channel)
        self.transactions = transactions_pb2_grpc.TransactionServiceStub(self.channel)
        self.internal = internal_pb2_grpc.CsmsInternalServiceStub(self.channel)
        self.commands = commands_pb2_grpc.CommandServiceStub(self.channel)

    async def close(self) -> None:
        """Close the channel."""
        await self.channel.close(None)
