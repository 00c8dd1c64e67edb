"""The CSMS client: the CSMS's gRPC APIs on one channel."""

from __future__ import annotations

from dataclasses import dataclass

from wattlane.api.common.v1 import audit_pb2_grpc
from wattlane.api.csms.v1 import (
    campaigns_pb2_grpc,
    commands_pb2_grpc,
    internal_pb2_grpc,
    stations_pb2_grpc,
    transactions_pb2_grpc,
)
from wattlane.core.client import ApiClient


@dataclass
class CsmsClient(ApiClient):
    """Stubs of the CSMS's gRPC APIs, sending `token` as the bearer."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.stations = stations_pb2_grpc.StationServiceStub(self.channel)
        self.transactions = transactions_pb2_grpc.TransactionServiceStub(self.channel)
        self.internal = internal_pb2_grpc.CsmsInternalServiceStub(self.channel)
        self.commands = commands_pb2_grpc.CommandServiceStub(self.channel)
        self.campaigns = campaigns_pb2_grpc.CampaignServiceStub(self.channel)
        self.audit = audit_pb2_grpc.AuditServiceStub(self.channel)
