"""The Temporal schedules that start the monthly settlement: one per issuer, firing on the 1st at
00:30 in the issuer's time zone, made (or brought up to date) by the worker on start.

Which issuers, and each one's zone and VAT country, come from the worker's configuration for
now (`WATTLANE_WORKER_SETTLEMENT_ISSUERS`, entries `tenants/{id}:Europe/Brussels:BE` separated by
commas). A scheduled run is started with no month: it settles the month before the one it starts
in, in the issuer's zone. Its children's ids are the month's, so a run started by hand for that
month (`wattlane settlements run`) and the scheduled one never invoice anything twice."""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from wattlane.contracts.settlement import WORKFLOW, SettlementInput, schedule_id

log = logging.getLogger(__name__)

RUN_AT = (0, 30)  # hour and minute on the 1st, in the issuer's zone


@dataclass(frozen=True)
class Issuer:
    """An issuer the worker schedules settlements for."""

    name: str  # tenants/{id}
    time_zone: str
    vat_country: str


def parse_issuers(text: str) -> list[Issuer]:
    """`tenants/{id}:Zone/Name:CC[,...]`; ValueError naming the bad entry."""
    out = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        parts = entry.split(":")
        if len(parts) != 3 or not parts[0].startswith("tenants/") or len(parts[0]) <= len("tenants/"):
            raise ValueError(f"settlement issuer {entry!r}: expected tenants/{{id}}:Europe/Brussels:BE")
        name, zone, country = parts
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"settlement issuer {entry!r}: unknown time zone {zone!r}") from None
        if len(country) != 2 or not country.isalpha():
            raise ValueError(f"settlement issuer {entry!r}: {country!r} is not a country code like BE")
        out.append(Issuer(name, zone, country.upper()))
    return out


def schedule_of(issuer: Issuer, task_queue: str) -> Schedule:
    """The issuer's schedule: the 1st at 00:30 in its zone, a run at a time (a month still
    running when the next is due delays nothing: the next starts once it ends)."""
    hour, minute = RUN_AT
    return Schedule(
        action=ScheduleActionStartWorkflow(
            WORKFLOW,
            SettlementInput(issuer.name, "", issuer.time_zone, issuer.vat_country),
            id=schedule_id(issuer.name),  # Temporal appends the scheduled time
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    day_of_month=[ScheduleRange(1)],
                    hour=[ScheduleRange(hour)],
                    minute=[ScheduleRange(minute)],
                    comment="monthly settlement",
                )
            ],
            time_zone_name=issuer.time_zone,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ONE),
    )


async def ensure_schedules(client: Client, issuers: Sequence[Issuer], task_queue: str) -> None:
    """Create each issuer's schedule, or update it to the configuration (idempotent: every worker
    replica does this on start)."""
    for issuer in issuers:
        schedule = schedule_of(issuer, task_queue)
        try:
            await client.create_schedule(schedule_id(issuer.name), schedule)
            log.info("settlement schedule created", extra={"issuer": issuer.name})
        except ScheduleAlreadyRunningError:

            def replace(_: ScheduleUpdateInput, schedule: Schedule = schedule) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=schedule)

            await client.get_schedule_handle(schedule_id(issuer.name)).update(replace)
