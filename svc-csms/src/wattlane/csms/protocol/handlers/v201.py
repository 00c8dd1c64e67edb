"""OCPP 2.0.1 station-initiated messages (blocks A, B, C, G, L, N and DataTransfer)."""

from __future__ import annotations

from typing import Any

from wattlane.core.clock import utcnow
from wattlane.csms.protocol import meter
from wattlane.csms.protocol.clock import ocpp_now, ocpp_time, parse_ocpp_time
from wattlane.csms.protocol.costs import CostDisplay, total_cost
from wattlane.csms.protocol.errors import OcppVersion
from wattlane.csms.protocol.handlers.context import (
    ACCESS_STATUS_OCPP,
    Handler,
    HandlerContext,
    Session,
    acknowledge,
    boot_reply,
    data_transfer,
    decide,
    notice,
    record,
)
from wattlane.csms.protocol.statuses import STATUS_201
from wattlane.csms.providers.interfaces import (
    AccessDecision,
    AccessStatus,
    BootInfo,
    ChargingChange,
    NoticeKind,
    StatusChange,
    TransactionChange,
    TransactionEnd,
    TransactionStart,
)

# TransactionEvent's chargingState: charging, or parked (connected, not charging; billed as
# parking time).
CHARGING_201 = {
    "Charging": True,
    "EVConnected": False,
    "SuspendedEV": False,
    "SuspendedEVSE": False,
    "Idle": False,
}


def id_token_info(decision: AccessDecision) -> dict[str, Any]:
    """The 2.0.1 IdTokenInfoType for a decision."""
    info: dict[str, Any] = {"status": ACCESS_STATUS_OCPP[decision.status]}
    if decision.expires_at is not None:
        # The station must not cache the token past the card's own expiry.
        info["cacheExpiryDateTime"] = ocpp_time(decision.expires_at)
    if decision.group_id is not None:
        info["groupIdToken"] = {"idToken": decision.group_id[:36], "type": "Central"}
    return info


async def _show_cost(
    costs: CostDisplay,
    reply: dict[str, Any],
    transaction_id: int,
    identity: str,
    event_type: str,
    station_transaction_id: str,
) -> None:
    """I02/I03: the running total in the reply to Updated, the final total in the one to Ended
    (after the commit; without `totalCost` when no price comes in time); running costs follow
    a session that has not ended."""
    if event_type == "Ended":
        costs.ended(transaction_id)
    else:
        costs.follow(transaction_id, identity, OcppVersion.V201, station_transaction_id)
        if event_type == "Started":
            return
    cost = await costs.price(transaction_id)
    if cost is not None:
        reply["totalCost"] = total_cost(cost)
        costs.shown(transaction_id)


def handlers(ctx: HandlerContext) -> dict[str, Handler]:
    """Build the 2.0.1 dispatch table."""
    events = ctx.providers.events
    options = ctx.options

    async def boot_notification(session: Session, p: dict[str, Any]) -> dict[str, Any]:
        """Record the boot; Accepted with the heartbeat interval, or Pending for an unclaimed station."""
        now = utcnow()
        station = p["chargingStation"]
        modem = station.get("modem") or {}
        await events.station_booted(
            BootInfo(
                identity=session.identity,
                version=OcppVersion.V201,
                at=now,
                vendor=station["vendorName"],
                model=station["model"],
                serial_number=station.get("serialNumber"),
                firmware_version=station.get("firmwareVersion"),
                reason=p["reason"],
                iccid=modem.get("iccid"),
                imsi=modem.get("imsi"),
                accepted=session.known,
            )
        )
        if ctx.costs is not None:
            ctx.costs.booted(session.identity)
        return boot_reply(session, now, options)

    async def heartbeat(session: Session, p: dict[str, Any]) -> dict[str, Any]:
        """Note the station's `last seen` (write-behind) and answer the current time."""
        await events.station_seen(session.identity, utcnow())
        return {"currentTime": ocpp_now()}

    async def status_notification(session: Session, p: dict[str, Any]) -> dict[str, Any]:
        """Map the connector status to the platform's and report it."""
        await events.status_changed(
            StatusChange(
                identity=session.identity,
                evse_id=p["evseId"],
                connector_id=p["connectorId"],
                status=STATUS_201[p["connectorStatus"]],
                ocpp_status=p["connectorStatus"],
                at=parse_ocpp_time(p["timestamp"], utcnow()),
            )
        )
        return {}

    async def authorize(session: Session, p: dict[str, Any]) -> dict[str, Any]:
        """Answer the (cached) access decision for the token."""
        token = p["idToken"]
        decision = await decide(ctx, session, token["idToken"], token["type"])
        return {"idTokenInfo": id_token_info(decision)}

    async def transaction_event(session: Session, p: dict[str, Any]) -> dict[str, Any]:
        """Store a Started / Updated / Ended event (a repeat changes nothing) after its commit.

        Every event names the station's transactionId, so any of them finds or creates the
        transaction: a station whose Started was lost still gets its session stored."""
        now = utcnow()
        at = parse_ocpp_time(p["timestamp"], now)
        info = p["transactionInfo"]
        evse = p.get("evse") or {}
        token = p.get("idToken")
        if token is not None and token.get("type") != "NoAuthorization":
            decision = await decide(ctx, session, token["idToken"], token["type"])
        else:
            decision = AccessDecision(AccessStatus.INVALID, reason="no token")
        found = meter.samples(p.get("meterValue"), v201=True, default_time=now)
        start = TransactionStart(
            identity=session.identity,
            version=OcppVersion.V201,
            key=info["transactionId"],
            evse_id=evse.get("id", 0),
            connector_id=evse.get("connectorId", 1 if evse else 0),
            id_token=token["idToken"] if token is not None else "",
            token_type=token["type"] if token is not None else "",
            at=at,
            meter_start_wh=meter.first_energy(found) if p["eventType"] == "Started" else None,
            decision=decision,
            station_transaction_id=info["transactionId"],
        )
        end = None
        if p["eventType"] == "Ended":
            end = TransactionEnd(at=at, meter_stop_wh=None, reason=info.get("stoppedReason", ""))
        charging = None
        if (state := CHARGING_201.get(info.get("chargingState", ""))) is not None:
            charging = ChargingChange(at=at, charging=state, evse_id=start.evse_id)
        change = TransactionChange(
            session.identity, start=start, samples=found, end=end, seq_no=p["seqNo"], charging=charging
        )
        transaction_id = await record(ctx, change)
        reply: dict[str, Any] = {} if token is None else {"idTokenInfo": id_token_info(decision)}
        costs = ctx.costs
        if costs is not None and transaction_id is not None:
            await _show_cost(
                costs, reply, transaction_id, session.identity, p["eventType"], info["transactionId"]
            )
        return reply

    async def transfer(session: Session, p: dict[str, Any]) -> dict[str, Any]:
        """Vendor-specific DataTransfer."""
        return await data_transfer(ctx, session, p)

    return {
        "BootNotification": boot_notification,
        "Heartbeat": heartbeat,
        "StatusNotification": status_notification,
        "Authorize": authorize,
        "FirmwareStatusNotification": notice(ctx, NoticeKind.FIRMWARE_STATUS, "status"),
        "LogStatusNotification": notice(ctx, NoticeKind.LOG_STATUS, "status"),
        "SecurityEventNotification": notice(ctx, NoticeKind.SECURITY_EVENT, "type"),
        "DataTransfer": transfer,
        # Meter values outside transactions and reports are stored by later issues; until then
        # they are acknowledged (their responses have no required field) so stations keep going.
        "TransactionEvent": transaction_event,
        "MeterValues": acknowledge,
        "NotifyEvent": acknowledge,
        "NotifyReport": acknowledge,
        "NotifyMonitoringReport": acknowledge,
    }
