"""AccessService: support's "why doesn't the station accept my card?"."""

from __future__ import annotations

import dataclasses

import grpc

from wattlane.api.assets.v1 import access_pb2, access_pb2_grpc, internal_pb2
from wattlane.assets import charging_points
from wattlane.assets.access import CardRow, PointContext
from wattlane.assets.api import messages
from wattlane.assets.runtime import Runtime
from wattlane.core.caller import current_caller
from wattlane.core.names import parse_name


class AccessServicer(access_pb2_grpc.AccessServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def ExplainAccess(
        self, request: access_pb2.ExplainAccessRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.AccessDecision:
        """DecideAccess's answer for a card at a point the caller can read (`stations.read`);
        the card's details are left out unless the caller may read that card."""
        point_id = parse_name(request.charging_point, "chargingPoints", "charging_point")
        scope = await current_caller().scope()
        async with self.rt.db.reader() as session:
            await charging_points.get_in_scope(session, scope, point_id, "stations.read")

        def known(card: CardRow, point: PointContext) -> bool:
            # A card the caller may read, or one its organization's whitelist names; any other
            # reads exactly as an unknown UID (no oracle for UIDs skimmed elsewhere).
            return scope.can("cards.read", card.owner_path) or (
                card.whitelisted and scope.can("cards.read", point.owner_path)
            )

        decision = await self.rt.decider.explain(point_id, request.id_token, known)
        if decision.card is not None and not scope.can("cards.read", decision.card.owner_path):
            # Another branch's card on this organization's whitelist: not whose card it is.
            decision = dataclasses.replace(decision, card=None)
        return messages.access_decision(decision)
