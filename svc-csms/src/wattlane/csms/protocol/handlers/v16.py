"""OCPP 1.6 station-initiated messages (Core, Firmware Management, the security extension)."""

from __future__ import annotations

import logging
from typing import Any

from wattlane.core.clock import utcnow
from wattlane.csms.protocol import meter
from wattlane.csms.protocol.clock import ocpp_now, ocpp_time, parse_ocpp_time
from wattlane.csms.protocol.errors import OcppVersion
from wattlane.csms.protocol.handlers.context import (
    ACCESS_STATUS_OCPP,
    Handler,
    HandlerContext,
    Session,
    boot_reply,
    data_transfer,
    decide,
    notice,
    record,
)
from wattlane.csms.protocol.statuses import STATUS_16
from wattlane.csms.providers.interfaces import (
    AccessDecision,
    BootInfo,
    ChargingChange,
    NoticeKind,
    StatusChange,
    TransactionChange,
    TransactionEnd,
    TransactionStart,
)

logger = logging.getLogger(__name__)

# What a connector status says about its session: charging, or parked (connected, not charging;
# billed as parking time). Other statuses say nothing about a running session.
CHARGING_16 = {"Charging": True, "SuspendedEV": False, "SuspendedEVSE": False, "Finishing": False}


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
        now = utcnow()
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
        if ctx.costs is not None:
            ctx.costs.booted(session.identity)
        return boot_reply(session, now, options)

    async def heartbeat(session: Session, p: dict[str, Any]) -> dict[str, Any]:
        """Note the station's `last seen` (write-behind) and answer the current time."""
        await events.station_seen(session.identity, utcnow())
        return {"currentTime": ocpp_now()}

    async def status_notification(session: Session, p: dict[str, Any]) -> dict[str, Any]:
        """Map the connector status to the platform's and report it; a charging or parked
        status is stored on the connector's active transaction (waiting for the commit)."""
        connector = p["connectorId"]
        error_code = p["errorCode"]
        at = parse_ocpp_time(p.get("timestamp"), utcnow())
        await events.status_changed(
            StatusChange(
                identity=session.identity,
                # 1.6 connector N is 2.0.1 EVSE N with its one connector; 0 is the whole station.
                evse_id=connector,
                connector_id=1 if connector > 0 else 0,
                status=STATUS_16[p["status"]],
                ocpp_status=p["status"],
                at=at,
                error_code=None if error_code == "NoError" else error_code,
                info=p.get("info"),
            )
        )
        charging = CHARGING_16.get(p["status"])
        if charging is not None and connector > 0:
            change = ChargingChange(at=at, charging=charging, evse_id=connector)
            await record(ctx, TransactionChange(session.identity, charging=change))
        return {}

    async def authorize(session: Session, p: dict[str, Any]) -> dict[str, Any]:
        """Answer the (cached) access decision for the token."""
        decision = await decide(ctx, session, p["idTag"], "")
        return {"idTagInfo": id_tag_info(decision)}

    async def start_transaction(session: Session, p: dict[str, Any]) -> dict[str, Any]:
        """Authorize, store the transaction (a repeat finds the stored one) and answer its id."""
        decision = await decide(ctx, session, p["idTag"], "")
        connector = p["connectorId"]
        # 1.6 has no id of the station's own: a resent start repeats all of these.
        key = f"{connector}|{p['idTag']}|{p['timestamp']}|{p['meterStart']}"
        start = TransactionStart(
            identity=session.identity,
            version=OcppVersion.V16,
            key=key,
            evse_id=connector,
            connector_id=1 if connector > 0 else 0,
            id_token=p["idTag"],
            token_type="",
            at=parse_ocpp_time(p["timestamp"], utcnow()),
            meter_start_wh=p["meterStart"],
            decision=decision,
        )
        transaction_id = await record(ctx, TransactionChange(session.identity, start=start))
        if ctx.costs is not None and transaction_id is not None:
            ctx.costs.follow(transaction_id, session.identity, OcppVersion.V16, transaction_id)
        return {"idTagInfo": id_tag_info(decision), "transactionId": transaction_id}

    async def stop_transaction(session: Session, p: dict[str, Any]) -> dict[str, Any]:
        """End the transaction (once: a resent stop changes nothing) with its transaction data."""
        now = utcnow()
        change = TransactionChange(
            session.identity,
            transaction_id=p["transactionId"],
            samples=meter.samples(p.get("transactionData"), v201=False, default_time=now),
            end=TransactionEnd(
                at=parse_ocpp_time(p["timestamp"], now),
                meter_stop_wh=p["meterStop"],
                reason=p.get("reason", "Local"),  # 1.6: an absent reason means Local
            ),
        )
        if await record(ctx, change) is None:
            logger.info(
                "%s: StopTransaction for unknown transaction %s", session.identity, p["transactionId"]
            )
        elif ctx.costs is not None:
            # California pricing's FinalCost goes out after this reply, in a task of its own.
            ctx.costs.final_cost_16(p["transactionId"], session.identity)
        if "idTag" not in p:
            return {}
        return {"idTagInfo": id_tag_info(await decide(ctx, session, p["idTag"], ""))}

    async def meter_values(session: Session, p: dict[str, Any]) -> dict[str, Any]:
        """Store a transaction's samples (waiting for the commit); others are only logged."""
        transaction_id = p.get("transactionId")
        if transaction_id is not None:
            found = meter.samples(p["meterValue"], v201=False, default_time=utcnow())
            if found:
                stored = await record(
                    ctx, TransactionChange(session.identity, transaction_id=transaction_id, samples=found)
                )
                if ctx.costs is not None and stored is not None:
                    # Followed again here after a reconnect to this process (a repeat is a no-op).
                    ctx.costs.follow(stored, session.identity, OcppVersion.V16, stored)
        return {}

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
        "StopTransaction": stop_transaction,
        "MeterValues": meter_values,
    }
