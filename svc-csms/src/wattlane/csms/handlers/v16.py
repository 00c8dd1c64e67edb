"""OCPP 1.6 station-initiated messages (Core, Firmware Management, the security extension)."""

from __future__ import annotations

from typing import Any

from wattlane.csms.clock import ocpp_now, ocpp_time, parse_ocpp_time, utc_now
from wattlane.csms.errors import OcppVersion
from wattlane.csms.handlers.context import (
    ACCESS_STATUS_OCPP,
    Handler,
    HandlerContext,
    Session,
    acknowledge,
    data_transfer,
    decide,
    notice,
)
from wattlane.csms.providers import AccessDecision, BootInfo, NoticeKind, StatusChange
from wattlane.csms.statuses import STATUS_16


def id_tag_info(decision: AccessDecision) -> dict[str, Any]:
    """The 1.6 IdTagInfo for a decision."""
    info: dict[str, Any] = {"status": ACCESS_STATUS_OCPP[decision.status]}
    if decision.expires_at is not None:
        info["expiryDate"] = ocpp_time(decision.expires_at)
    if decision.group_id is not None:
        info["parentIdTag"] = decision.group_id[:20]
    return info


def handlers(ctx: HandlerContext) -> dict[str, Handler]:
    """Build the 1.6 dispatch table."""
    events = ctx.providers.events
    options = ctx.options

    async def boot_notification(session: Session, p: dict[str, Any]) -> dict[str, Any]:
        """Record the boot; Accepted with the heartbeat interval, or Pending for an unclaimed station."""
        now = utc_now()
        await events.station_booted(
            BootInfo(
                identity=session.identity,
                version=OcppVersion.V16,
                at=now,
                vendor=p["chargePointVendor"],
                model=p["chargePointModel"],
                serial_number=p.get("chargePointSerialNumber") or p.get("chargeBoxSerialNumber"),
                firmware_version=p.get("firmwareVersion"),
                iccid=p.get("iccid"),
                imsi=p.get("imsi"),
                accepted=session.known,
            )
        )
        if session.known:
            return {
                "status": "Accepted",
                "currentTime": ocpp_time(now),
                "interval": options.heartbeat_interval,
            }
        return {"status": "Pending", "currentTime": ocpp_time(now), "interval": options.pending_interval}

    async def heartbeat(session: Session, p: dict[str, Any]) -> dict[str, Any]:
        """Note the station's `last seen` (write-behind) and answer the current time."""
        await events.station_seen(session.identity, utc_now())
        return {"currentTime": ocpp_now()}

    async def status_notification(session: Session, p: dict[str, Any]) -> dict[str, Any]:
        """Map the connector status to the platform's and report it."""
        connector = p["connectorId"]
        error_code = p["errorCode"]
        await events.status_changed(
            StatusChange(
                identity=session.identity,
                # 1.6 connector N is 2.0.1 EVSE N with its one connector; 0 is the whole station.
                evse_id=connector,
                connector_id=1 if connector > 0 else 0,
                status=STATUS_16[p["status"]],
                ocpp_status=p["status"],
                at=parse_ocpp_time(p.get("timestamp"), utc_now()),
                error_code=None if error_code == "NoError" else error_code,
                info=p.get("info"),
            )
        )
        return {}

    async def authorize(session: Session, p: dict[str, Any]) -> dict[str, Any]:
        """Answer the (cached) access decision for the token."""
        decision = await decide(ctx, session, p["idTag"], "")
        return {"idTagInfo": id_tag_info(decision)}

    async def start_transaction(session: Session, p: dict[str, Any]) -> dict[str, Any]:
        """Authorize and hand out a transaction id (stored by a later issue)."""
        # Transactions are stored by a later issue; answer what the schema requires.
        decision = await decide(ctx, session, p["idTag"], "")
        transaction_id = await ctx.providers.transaction_ids.next_id(session.identity)
        return {"idTagInfo": id_tag_info(decision), "transactionId": transaction_id}

    async def transfer(session: Session, p: dict[str, Any]) -> dict[str, Any]:
        """Vendor-specific DataTransfer."""
        return await data_transfer(ctx, session, p)

    return {
        "BootNotification": boot_notification,
        "Heartbeat": heartbeat,
        "StatusNotification": status_notification,
        "Authorize": authorize,
        "FirmwareStatusNotification": notice(ctx, NoticeKind.FIRMWARE_STATUS, "status"),
        "SignedFirmwareStatusNotification": notice(ctx, NoticeKind.FIRMWARE_STATUS, "status"),
        "DiagnosticsStatusNotification": notice(ctx, NoticeKind.DIAGNOSTICS_STATUS, "status"),
        "LogStatusNotification": notice(ctx, NoticeKind.LOG_STATUS, "status"),
        "SecurityEventNotification": notice(ctx, NoticeKind.SECURITY_EVENT, "type"),
        "DataTransfer": transfer,
        "StartTransaction": start_transaction,
        "StopTransaction": acknowledge,
        "MeterValues": acknowledge,
    }
