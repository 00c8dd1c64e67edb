"""The assets client: every assets API on one channel."""

from __future__ import annotations

from dataclasses import dataclass

from wattlane.api.assets.v1 import (
    access_pb2_grpc,
    cards_pb2_grpc,
    charging_points_pb2_grpc,
    internal_pb2_grpc,
    locations_pb2_grpc,
    settings_pb2_grpc,
)
from wattlane.api.common.v1 import audit_pb2_grpc
from wattlane.core.client import ApiClient


@dataclass
class AssetsClient(ApiClient):
    """Stubs of every assets API, sending `token` as the bearer."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.locations = locations_pb2_grpc.LocationServiceStub(self.channel)
        self.charging_points = charging_points_pb2_grpc.ChargingPointServiceStub(self.channel)
        self.cards = cards_pb2_grpc.CardServiceStub(self.channel)
        self.settings = settings_pb2_grpc.AssetSettingsServiceStub(self.channel)
        self.access = access_pb2_grpc.AccessServiceStub(self.channel)
        self.internal = internal_pb2_grpc.AssetsInternalServiceStub(self.channel)
        self.audit = audit_pb2_grpc.AuditServiceStub(self.channel)
