"""A client of every assets API on one channel, for other services, the CLI and tests."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc

from wattlane.api.assets.v1 import (
    access_pb2_grpc,
    cards_pb2_grpc,
    charging_points_pb2_grpc,
    internal_pb2_grpc,
    locations_pb2_grpc,
    settings_pb2_grpc,
)
from wattlane.api.common.v1 import audit_pb2_grpc
from wattlane.core.client import channel


@dataclass
class AssetsClient:
    """Stubs of every assets API, sending `token` as the bearer."""

    target: str
    token: str = ""
    max_attempts: int = 1
    channel: grpc.aio.Channel = field(init=False)

    def __post_init__(self) -> None:
        self.channel = channel(self.target, token=lambda: self.token, max_attempts=self.max_attempts)
        self.locations = locations_pb2_grpc.LocationServiceStub(self.channel)
        self.charging_points = charging_points_pb2_grpc.ChargingPointServiceStub(self.channel)
        self.cards = cards_pb2_grpc.CardServiceStub(self.channel)
        self.settings = settings_pb2_grpc.AssetSettingsServiceStub(self.channel)
        self.access = access_pb2_grpc.AccessServiceStub(self.channel)
        self.internal = internal_pb2_grpc.AssetsInternalServiceStub(self.channel)
        self.audit = audit_pb2_grpc.AuditServiceStub(self.channel)

    async def close(self) -> None:
        """Close the channel."""
        await self.channel.close(None)
