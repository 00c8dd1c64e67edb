"""Sending a campaign's update to its stations, expiring the ones that took too long, and
recording the campaign's decisions — what the FirmwareCampaign workflow's activities ask for.

A station is claimed (QUEUED → SENT, compare-and-set) in its own transaction before anything is
sent, so a retried activity, or two workers, never send one station the update twice."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from wattlane.contracts.firmware_campaign import FailureType, StationState
from wattlane.core.clock import utcnow
from wattlane.core.db import Database
from wattlane.core.errors import FailedPrecondition, NotFound
from wattlane.csms.campaigns import campaigns, tracking
from wattlane.csms.campaigns.campaigns import CampaignState
from wattlane.csms.commands.remote_actions import OcppRequest
from wattlane.csms.commands.runner import CommandRunner, new_request_number, queue_command
from wattlane.csms.commands.states import CommandState
from wattlane.csms.models import CampaignStation, FirmwareCampaign, Station

REQUESTED_BY = "services/firmware-campaign"
# Stations sent to at once: the answers come back in parallel, each through its own process.
PARALLEL = 50
_REFUSALS = {
    "InvalidCertificate": FailureType.INVALID_CERTIFICATE,
    "RevokedCertificate": FailureType.REVOKED_CERTIFICATE,
}


@dataclass(frozen=True)
class Firmware:
    """The update as the campaign sends it."""

    location: str
    signing_certificate: str = ""
    signature: str = ""
    retries: int = 0
    retry_interval_seconds: int = 0


@dataclass
class Dispatched:
    """Stations sent the update, waiting offline, and failed at once (refused, offline too long)."""

    sent: int = 0
    offline: int = 0
    failed: int = 0


def update_request(protocol: str, firmware: Firmware, request_id: int, at: dt.datetime) -> OcppRequest:
    """UpdateFirmware in the station's version; a signed update to a 1.6 station is the
    security extension's SignedUpdateFirmware."""
    when = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    retries: dict[str, Any] = {}
    if firmware.retries:
        retries["retries"] = firmware.retries
    if firmware.retry_interval_seconds:
        retries["retryInterval"] = firmware.retry_interval_seconds
    signed = bool(firmware.signature)
    body: dict[str, Any] = {"location": firmware.location, "retrieveDateTime": when}
    if signed:
        body |= {"signingCertificate": firmware.signing_certificate, "signature": firmware.signature}
    if protocol == "ocpp1.6" and not signed:
        return OcppRequest("UpdateFirmware", {"location": firmware.location, "retrieveDate": when, **retries})
    action = "SignedUpdateFirmware" if protocol == "ocpp1.6" else "UpdateFirmware"
    return OcppRequest(action, {"requestId": request_id, "firmware": body, **retries})


async def dispatch_wave(
    db: Database,
    runner: CommandRunner,
    campaign_id: str,
    wave: int,
    firmware: Firmware,
    *,
    limit: int = 0,
    wave_started: dt.datetime | None = None,
    offline_limit_seconds: int = 24 * 3600,
) -> Dispatched:
    """Send the update to the wave's QUEUED stations that are online (at most `limit` in
    progress at once, 0: no limit). A station still offline `offline_limit_seconds` after the
    wave started fails OFFLINE_TOO_LONG. Nothing is sent unless the campaign is RUNNING."""
    now = utcnow()
    async with db.reader(snapshot=False) as session:
        row = await session.get(FirmwareCampaign, campaign_id)
        if row is None:
            raise NotFound(campaigns.campaign_name(campaign_id))
        if row.state != CampaignState.RUNNING.value:
            return Dispatched()
        queued = list(
            (
                await session.execute(
                    select(CampaignStation, Station)
                    .join(Station, Station.identity == CampaignStation.identity)
                    .where(
                        CampaignStation.campaign_id == campaign_id,
                        CampaignStation.wave == wave,
                        CampaignStation.state == StationState.QUEUED.value,
                    )
                    .order_by(CampaignStation.identity)
                )
            ).all()
        )
        busy = 0
        if limit:
            in_flight = await session.scalars(
                select(CampaignStation.identity).where(
                    CampaignStation.campaign_id == campaign_id, CampaignStation.state.in_(tracking.IN_FLIGHT)
                )
            )
            busy = len(in_flight.all())
    result = Dispatched()
    online = []
    too_long = wave_started is not None and now - wave_started > dt.timedelta(seconds=offline_limit_seconds)
    for member, station in queued:
        if station.online:
            online.append((member, station))
        elif too_long:
            await _fail(db, member, FailureType.OFFLINE_TOO_LONG, now)
            result.failed += 1
        else:
            result.offline += 1
    if limit:
        online = online[: max(0, limit - busy)]
    gate = asyncio.Semaphore(PARALLEL)

    async def send(member: CampaignStation, station: Station) -> None:
        async with gate:
            outcome = await _send(db, runner, member, station, firmware)
        if outcome == "sent":
            result.sent += 1
        elif outcome == "failed":
            result.failed += 1
        elif outcome == "offline":
            result.offline += 1

    await asyncio.gather(*(send(m, s) for m, s in online))
    return result


async def _send(
    db: Database, runner: CommandRunner, member: CampaignStation, station: Station, firmware: Firmware
) -> str:
    request_id = new_request_number()
    now = utcnow()
    is_16 = station.protocol == "ocpp1.6"
    stored_request_id = None if is_16 and not firmware.signature else request_id
    async with db.transaction() as session:
        claimed = await session.execute(
            update(CampaignStation)
            .where(
                CampaignStation.campaign_id == member.campaign_id,
                CampaignStation.identity == member.identity,
                CampaignStation.state == StationState.QUEUED.value,
            )
            .values(
                state=StationState.SENT.value,
                request_id=stored_request_id,
                sent_time=now,
                dispatches=CampaignStation.dispatches + 1,
                update_time=now,
            )
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return "taken"  # another attempt sent it
    try:
        owner = await runner.sender(station)
    except FailedPrecondition:
        await _requeue(db, member)  # went offline in between: sent later
        return "offline"
    ocpp = update_request(station.protocol, firmware, request_id, now)
    async with db.transaction() as session:
        command = queue_command(session, station, b"", ocpp, REQUESTED_BY, owner)
    try:
        final = await runner.dispatch(command, owner)
    except FailedPrecondition:
        await _requeue(db, member)
        return "offline"
    if final.state == CommandState.REJECTED.value:
        failure = _REFUSALS.get(final.station_status, FailureType.REJECTED)
        await _fail(db, member, failure, utcnow(), only_if=StationState.SENT)
        return "failed"
    if final.state == CommandState.ACCEPTED.value:
        async with db.transaction() as session:
            await session.execute(
                update(CampaignStation)
                .where(
                    CampaignStation.campaign_id == member.campaign_id,
                    CampaignStation.identity == member.identity,
                    CampaignStation.state == StationState.SENT.value,
                )
                .values(state=StationState.ACCEPTED.value, update_time=utcnow())
            )
    # Unanswered (timed out, link lost): the station may still act; the station timeout decides.
    return "sent"


async def _requeue(db: Database, member: CampaignStation) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(CampaignStation)
            .where(
                CampaignStation.campaign_id == member.campaign_id,
                CampaignStation.identity == member.identity,
                CampaignStation.state == StationState.SENT.value,
            )
            .values(state=StationState.QUEUED.value, dispatches=CampaignStation.dispatches - 1)
        )


async def _fail(
    db: Database,
    member: CampaignStation,
    failure: FailureType,
    at: dt.datetime,
    only_if: StationState = StationState.QUEUED,
) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(CampaignStation)
            .where(
                CampaignStation.campaign_id == member.campaign_id,
                CampaignStation.identity == member.identity,
                CampaignStation.state == only_if.value,
            )
            .values(state=StationState.FAILED.value, failure_type=failure.value, update_time=at)
        )


async def expire(db: Database, campaign_id: str, station_timeout_seconds: int) -> int:
    """Fail TIMED_OUT the stations in progress for longer than the timeout; how many."""
    deadline = utcnow() - dt.timedelta(seconds=station_timeout_seconds)
    async with db.transaction() as session:
        result = await session.execute(
            update(CampaignStation)
            .where(
                CampaignStation.campaign_id == campaign_id,
                CampaignStation.state.in_(tracking.IN_FLIGHT),
                CampaignStation.sent_time < deadline,
            )
            .values(
                state=StationState.FAILED.value,
                failure_type=FailureType.TIMED_OUT.value,
                update_time=utcnow(),
            )
        )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def record_decision(
    db: Database, campaign_id: str, state: CampaignState, wave: int, actor: str, action: str, reason: str
) -> None:
    """Store a decision and the campaign's new state; the same decision repeated (a retried
    activity) is stored once."""
    async with db.transaction() as session:
        row = await session.get(FirmwareCampaign, campaign_id, with_for_update=True)
        if row is None:
            raise NotFound(campaigns.campaign_name(campaign_id))
        last = row.decisions[-1] if row.decisions else None
        if last is not None and (last["actor"], last["action"], last["reason"]) == (actor, action, reason):
            return
        row.current_wave = wave
        campaigns.apply_decision(row, state, actor, action, reason, utcnow())
