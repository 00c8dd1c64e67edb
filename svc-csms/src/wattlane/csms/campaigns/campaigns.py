"""Firmware campaigns as a resource: who may run one and on which stations, its waves, its
state and the decisions that moved it (each with who and why).

A campaign needs `stations.firmware`. It belongs to a tenant the caller holds the permission on
unrestricted (the subtree it rolls out across, or the caller's own grant) and targets only
stations in the caller's scope; out of scope reads as absent (NOT_FOUND), visible without the
permission is PERMISSION_DENIED."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wattlane.contracts.firmware_campaign import StationState
from wattlane.core.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from wattlane.core.paging import Page
from wattlane.core.scope import EffectiveScope
from wattlane.csms.campaigns.waves import PlanError, WavePlan, plan_waves
from wattlane.csms.models import CampaignStation, FirmwareCampaign, Station
from wattlane.csms.registry.visibility import ALLOW_COLUMNS

FIRMWARE = "stations.firmware"
AUTOMATIC = "campaign"  # the actor of decisions the campaign takes by itself


class CampaignState(enum.StrEnum):
    """RUNNING and PAUSED may change; the others are final."""

    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    SUCCEEDED = "SUCCEEDED"
    ABORTED = "ABORTED"
    CANCELLED = "CANCELLED"

    @property
    def final(self) -> bool:
        """True once the campaign ended."""
        return self not in (CampaignState.RUNNING, CampaignState.PAUSED)


@dataclass(frozen=True)
class TargetSelection:
    """Which stations: every criterion given must match (None / empty: any)."""

    subtree: str | None = None  # a tenant id on the station owner's path
    location_ids: tuple[str, ...] = ()
    vendor: str = ""
    model: str = ""
    firmware_versions: tuple[str, ...] = ()
    stations: tuple[str, ...] = ()


def campaign_name(campaign_id: str) -> str:
    """`campaigns/{id}`."""
    return f"campaigns/{campaign_id}"


def decision(at: dt.datetime, actor: str, action: str, reason: str) -> dict[str, Any]:
    """One entry of a campaign's decision log."""
    return {"time": at.isoformat(), "actor": actor, "action": action, "reason": reason}


def owner_path(scope: EffectiveScope, selection: TargetSelection, targets: Sequence[Station]) -> str:
    """The tenant the campaign belongs to: the subtree it rolls out across, or else the caller's
    widest unrestricted grant of `stations.firmware`. PERMISSION_DENIED without one."""
    if selection.subtree is not None and targets:
        path = targets[0].owner_path
        marker = f"/{selection.subtree}/"
        owner = path[: path.index(marker) + len(marker)]
    else:
        grants = [g for g in scope.grants_for(FIRMWARE) if g.subtree and g.allowed is None]
        if not grants:
            raise PermissionDenied(FIRMWARE, "campaigns")
        owner = min(grants, key=lambda g: g.path.count("/")).path
    if not scope.can_everywhere_below(FIRMWARE, owner):
        raise PermissionDenied(FIRMWARE, "campaigns")
    return owner


async def resolve_targets(
    session: AsyncSession, scope: EffectiveScope, selection: TargetSelection, target_version: str
) -> list[Station]:
    """The stations in the caller's scope matching the selection and not on the target version
    yet, by identity. INVALID_ARGUMENT (naming the field) when none matches or a listed station
    is unknown; FAILED_PRECONDITION when one is in another campaign still running;
    PERMISSION_DENIED when the caller holds `stations.firmware` nowhere."""
    if not scope.grants_for(FIRMWARE):
        raise PermissionDenied(FIRMWARE, "campaigns")
    clauses: list[ColumnElement[bool]] = [scope.filter(FIRMWARE, Station.owner_path, ALLOW_COLUMNS)]
    if selection.subtree is not None:
        clauses.append(Station.owner_path.contains(f"/{selection.subtree}/"))
    if selection.location_ids:
        clauses.append(Station.location_id.in_(selection.location_ids))
    if selection.vendor:
        clauses.append(Station.vendor == selection.vendor)
    if selection.model:
        clauses.append(Station.model == selection.model)
    if selection.firmware_versions:
        clauses.append(Station.firmware_version.in_(selection.firmware_versions))
    if selection.stations:
        clauses.append(Station.identity.in_(selection.stations))
    rows = list(
        (await session.scalars(select(Station).where(and_(*clauses)).order_by(Station.identity))).all()
    )
    if selection.stations:
        found = {r.identity for r in rows}
        missing = [s for s in selection.stations if s not in found]
        if missing:
            raise InvalidArgument.field(
                "campaign.targets.stations", f"not found or not matching: {', '.join(missing[:5])}"
            )
    targets = [r for r in rows if r.firmware_version != target_version]
    if not targets:
        raise InvalidArgument.field(
            "campaign.targets", "no station in scope matches (or all run the target version)"
        )
    busy = await _in_running_campaigns(session, [t.identity for t in targets])
    if busy:
        raise FailedPrecondition(f"already in a running campaign: {', '.join(busy[:5])}")
    return targets


async def _in_running_campaigns(session: AsyncSession, identities: Sequence[str]) -> list[str]:
    running = [CampaignState.RUNNING.value, CampaignState.PAUSED.value]
    busy: list[str] = []
    for start in range(0, len(identities), 500):  # stay under SQL parameter limits
        chunk = identities[start : start + 500]
        rows = await session.scalars(
            select(CampaignStation.identity)
            .join(FirmwareCampaign, FirmwareCampaign.id == CampaignStation.campaign_id)
            .where(
                CampaignStation.identity.in_(chunk),
                FirmwareCampaign.state.in_(running),
                CampaignStation.state != StationState.FAILED.value,
                CampaignStation.state != StationState.VERIFIED.value,
            )
        )
        busy.extend(rows)
    return sorted(busy)


def split_waves(targets: Sequence[str], plan: WavePlan) -> list[list[str]]:
    """The waves of the targets; INVALID_ARGUMENT naming the field (`campaign.waves...`)."""
    try:
        return plan_waves(targets, plan)
    except PlanError as error:
        raise InvalidArgument.field(f"campaign.{error.field}", str(error).split(": ", 1)[-1]) from None


async def campaign_in_scope(
    session: AsyncSession, scope: EffectiveScope, campaign_id: str
) -> FirmwareCampaign:
    """The campaign if the caller holds `stations.firmware` on its owner."""
    row = await session.get(FirmwareCampaign, campaign_id)
    name = campaign_name(campaign_id)
    if row is None:
        raise NotFound(name)
    scope.require(FIRMWARE, row.owner_path, name)
    return row


async def list_in_scope(
    session: AsyncSession, scope: EffectiveScope, where: ColumnElement[bool], page: Page
) -> list[FirmwareCampaign]:
    """The caller's campaigns matching `where`, newest first, before the page key (one more than
    the page size)."""
    clauses = [scope.filter(FIRMWARE, FirmwareCampaign.owner_path), where]
    if page.after is not None:
        key = page.after[0] if len(page.after) == 1 else None
        if not isinstance(key, str):
            raise InvalidArgument.field("page_token", "belongs to a different query or caller")
        clauses.append(FirmwareCampaign.id < key)
    query = (
        select(FirmwareCampaign)
        .where(and_(*clauses))
        .order_by(FirmwareCampaign.id.desc())
        .limit(page.size + 1)
    )
    return list((await session.scalars(query)).all())


# What a person may do in each state: the action, the states it applies in, the state it leads to.
TRANSITIONS = {
    "PAUSE": ((CampaignState.RUNNING,), CampaignState.PAUSED),
    "RESUME": ((CampaignState.PAUSED,), CampaignState.RUNNING),
    "CANCEL": ((CampaignState.RUNNING, CampaignState.PAUSED), CampaignState.CANCELLED),
}


def check_transition(row: FirmwareCampaign, action: str) -> CampaignState:
    """The state `action` leads to; FAILED_PRECONDITION when it does not apply now."""
    allowed, to = TRANSITIONS[action]
    if CampaignState(row.state) not in allowed:
        raise FailedPrecondition(f"{campaign_name(row.id)} is {row.state}: cannot {action.lower()} it")
    return to


def apply_decision(
    row: FirmwareCampaign, to: CampaignState, actor: str, action: str, reason: str, at: dt.datetime
) -> None:
    """Move the campaign to `to`, recording who decided it and why."""
    row.state = to.value
    row.state_reason = reason[:500]
    row.decisions = [*row.decisions, decision(at, actor, action, reason)]
    row.update_time = at
