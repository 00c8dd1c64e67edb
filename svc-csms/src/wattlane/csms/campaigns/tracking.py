"""Campaign progress in the database: updates sent, notifications and boots folded into each
station's row (in the transaction that records them), read back as counts.

Runs in whichever CSMS process holds the station's socket, on the shared database: a station
that reconnects to another process, or a process that restarts, loses nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.contracts.firmware_campaign import FailureType, StationState
from wattlane.csms.campaigns.progress import CLOCK_SKEW, Progress, belongs, on_boot, on_status
from wattlane.csms.models import CampaignStation

# States of a station whose update is out (sent, not finished): notifications may concern it.
IN_FLIGHT = [s.value for s in StationState if not s.finished and s is not StationState.QUEUED]


@dataclass(frozen=True)
class Booted:
    """A boot report, as far as campaigns care."""

    identity: str
    at: datetime
    firmware_version: str | None


def _progress(row: CampaignStation) -> Progress:
    return Progress(
        StationState(row.state), FailureType(row.failure_type) if row.failure_type else None, row.ocpp_status
    )


def _apply(row: CampaignStation, progress: Progress, at: datetime) -> None:
    row.state = progress.state.value
    row.failure_type = progress.failure.value if progress.failure else ""
    row.ocpp_status = progress.ocpp_status[:32]
    row.update_time = at


async def record_sent(
    session: AsyncSession, campaign_id: str, identity: str, request_id: int | None, at: datetime
) -> None:
    """The update went out to the station (the station's answer comes with `record_answer`)."""
    row = await session.get(CampaignStation, (campaign_id, identity), with_for_update=True)
    if row is None:
        raise LookupError(f"{identity} is not in campaign {campaign_id}")
    row.state = StationState.SENT.value
    row.failure_type = ""
    row.request_id = request_id
    row.sent_time = at
    row.dispatches += 1
    row.update_time = at


async def record_firmware_status(
    session: AsyncSession, identity: str, status: str, request_id: int | None, at: datetime
) -> bool:
    """Fold a (Signed)FirmwareStatusNotification into the update it concerns; False when it
    concerns none (an update sent by hand, a stale one)."""
    rows = (
        await session.scalars(
            select(CampaignStation)
            .where(CampaignStation.identity == identity, CampaignStation.state.in_(IN_FLIGHT))
            .order_by(CampaignStation.sent_time.desc())
            .with_for_update()
        )
    ).all()
    for row in rows:
        window = timedelta(seconds=row.window_seconds)
        if belongs(at, request_id, row.sent_time, row.request_id, window):
            _apply(row, on_status(_progress(row), status), at)
            return True
    return False


async def record_boots(session: AsyncSession, boots: Sequence[Booted]) -> None:
    """Fold boot reports (one batch of the registry writer) into the updates in flight: the
    target version makes a station VERIFIED."""
    latest = {b.identity: b for b in boots}
    if not latest:
        return
    rows = (
        await session.scalars(
            select(CampaignStation)
            .where(CampaignStation.identity.in_(latest), CampaignStation.state.in_(IN_FLIGHT))
            .with_for_update()
        )
    ).all()
    for row in rows:
        boot = latest[row.identity]
        if row.sent_time is None or boot.at < row.sent_time - CLOCK_SKEW:
            continue
        progress = on_boot(_progress(row), boot.firmware_version, row.target_version)
        if progress != _progress(row):
            _apply(row, progress, boot.at)


async def counts(session: AsyncSession, campaign_id: str) -> dict[tuple[int, str, str], int]:
    """How many stations of the campaign are in each (wave, state, failure type)."""
    result = await session.execute(
        select(CampaignStation.wave, CampaignStation.state, CampaignStation.failure_type, func.count())
        .where(CampaignStation.campaign_id == campaign_id)
        .group_by(CampaignStation.wave, CampaignStation.state, CampaignStation.failure_type)
    )
    return {(wave, state, failure): n for wave, state, failure, n in result.all()}
