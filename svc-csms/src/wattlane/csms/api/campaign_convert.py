"""The API's Campaign ⇄ the campaign's plan (`CampaignSpec`) and target selection.

Every bad field is reported at once, each named by its request path (`campaign.waves.percentages`),
so a person fixing a rollout sees all of what is wrong in one answer."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any
from urllib.parse import urlparse

from wattlane.api.csms.v1 import campaigns_pb2
from wattlane.contracts.firmware_campaign import (
    ANY_FAILURE,
    AbortRuleSpec,
    CampaignSpec,
    FailureType,
    RedispatchSpec,
    WindowSpec,
)
from wattlane.core.clock import utcnow
from wattlane.core.errors import FieldViolation, InvalidArgument
from wattlane.core.ocpp import validate_identity
from wattlane.csms.campaigns.campaigns import TargetSelection
from wattlane.csms.models import FirmwareCampaign

C = "campaign"
_SCHEMES = ("https", "http", "ftp", "ftps", "sftp")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
STATE = {
    "RUNNING": campaigns_pb2.Campaign.RUNNING,
    "PAUSED": campaigns_pb2.Campaign.PAUSED,
    "SUCCEEDED": campaigns_pb2.Campaign.SUCCEEDED,
    "ABORTED": campaigns_pb2.Campaign.ABORTED,
    "CANCELLED": campaigns_pb2.Campaign.CANCELLED,
}


class _Violations:
    """Collects field violations; `check` runs one validator and keeps its complaint."""

    def __init__(self) -> None:
        self.found: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self.found.append(FieldViolation(f"{C}.{field}", description))

    def raise_any(self) -> None:
        if self.found:
            raise InvalidArgument(self.found)


def _failure_type(value: campaigns_pb2.FailureType.ValueType, field: str, v: _Violations) -> str:
    """The failure type a rule names (unset: any); a number the API does not define is a
    violation of `field`, collected with the others."""
    if value == campaigns_pb2.FAILURE_TYPE_UNSPECIFIED:
        return ANY_FAILURE
    try:
        return FailureType(campaigns_pb2.FailureType.Name(value)).value
    except ValueError:
        known = ", ".join(n for n, number in campaigns_pb2.FailureType.items() if number)
        v.add(field, f"is not a known value ({value}); known: {known}")
        return ANY_FAILURE


def _uri(location: str, v: _Violations) -> None:
    if not location:
        v.add("firmware.location", "is required")
        return
    try:
        parsed = urlparse(location)
    except ValueError:
        parsed = None
    if parsed is None or parsed.scheme not in _SCHEMES or not parsed.netloc or len(location) > 512:
        v.add("firmware.location", f"must be an absolute {'/'.join(_SCHEMES)} URI of at most 512 characters")


def _percent(value: float, field: str, v: _Violations) -> None:
    if not 0 <= value <= 100:
        v.add(field, f"must be between 0 and 100, got {value:g}")


def _names(
    values: Sequence[str], collection: str, field: str, v: _Violations, ok: Callable[[str], bool]
) -> list[str]:
    ids = []
    for i, name in enumerate(values):
        raw = name.removeprefix(collection + "/") if name.startswith(collection + "/") else ""
        if not ok(raw):
            v.add(f"{field}[{i}]", f"must look like {collection}/{{id}}, got {name[:80]!r}")
        ids.append(raw)
    if len(set(ids)) != len(ids):
        v.add(field, "lists a resource twice")
    return ids


def _window(w: campaigns_pb2.MaintenanceWindow, v: _Violations, now: dt.datetime) -> WindowSpec | None:
    f = "maintenance_window"
    zone: zoneinfo.ZoneInfo | None = None
    try:
        zone = zoneinfo.ZoneInfo(w.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        v.add(f"{f}.time_zone", f"is not an IANA time zone: {w.time_zone[:64]!r}")
    if not _HHMM.fullmatch(w.start_time):
        v.add(f"{f}.start_time", f"must be a local time HH:MM, got {w.start_time[:16]!r}")
    if not 1 <= w.duration_minutes <= 7 * 24 * 60:
        v.add(f"{f}.duration_minutes", "must be between 1 minute and 7 days")
    if any(not 1 <= d <= 7 for d in w.weekdays):
        v.add(f"{f}.weekdays", "must be days 1 (Monday) to 7 (Sunday)")
    days: dict[str, dt.date | None] = {}
    for key in ("first_day", "last_day"):
        raw = getattr(w, key)
        try:
            days[key] = dt.date.fromisoformat(raw) if raw else None
        except ValueError:
            v.add(f"{f}.{key}", f"must be a date YYYY-MM-DD, got {raw[:16]!r}")
            days[key] = None
    first, last = days["first_day"], days["last_day"]
    if first and last and last < first:
        v.add(f"{f}.last_day", "is before first_day")
    if last and zone is not None and last < now.astimezone(zone).date():
        v.add(f"{f}.last_day", "is in the past: the window would never open")
    return WindowSpec(
        time_zone=w.time_zone,
        start=w.start_time,
        minutes=w.duration_minutes,
        weekdays=tuple(sorted({d - 1 for d in w.weekdays})) or tuple(range(7)),
        first_day=w.first_day,
        last_day=w.last_day,
    )


def campaign_request(c: campaigns_pb2.Campaign) -> tuple[str, CampaignSpec, TargetSelection]:
    """(display name, plan, target selection) of a Campaign to create; INVALID_ARGUMENT naming
    every bad field."""
    v = _Violations()
    now = utcnow()
    display_name = c.display_name.strip()
    if len(display_name) > 200 or any(ord(ch) < 32 for ch in display_name):
        v.add("display_name", "must be at most 200 characters without control characters")

    fw = c.firmware
    _uri(fw.location, v)
    if not fw.target_version.strip() or len(fw.target_version) > 50:
        v.add("firmware.target_version", "is required (at most 50 characters)")
    if bool(fw.signing_certificate) != bool(fw.signature):
        v.add("firmware.signature", "give both a signing certificate and a signature, or neither")

    t = c.targets
    subtree = None
    if t.subtree:
        subtree = t.subtree.removeprefix("tenants/") if t.subtree.startswith("tenants/") else ""
        if not _ID.fullmatch(subtree):
            v.add("targets.subtree", f"must look like tenants/{{id}}, got {t.subtree[:80]!r}")
    stations = _names(t.stations, "stations", "targets.stations", v, validate_identity)
    locations = _names(t.locations, "locations", "targets.locations", v, lambda s: bool(_ID.fullmatch(s)))
    selection = TargetSelection(
        subtree=subtree,
        location_ids=tuple(locations),
        vendor=t.vendor,
        model=t.model,
        firmware_versions=tuple(t.firmware_versions),
        stations=tuple(stations),
    )

    w = c.waves
    canary = _names(w.canary_stations, "stations", "waves.canary_stations", v, validate_identity)
    if canary and w.canary_count:
        v.add("waves.canary_count", "give either canary stations or a canary count, not both")
    if w.canary_count < 0:
        v.add("waves.canary_count", "must not be negative")
    if stations and any(s not in stations for s in canary):
        v.add("waves.canary_stations", "must be among targets.stations")
    if w.percentages and (w.exponential_start or w.exponential_factor):
        v.add("waves", "give either percentages or an exponential rate, not both")
    if any(not 0 < p <= 100 for p in w.percentages):
        v.add("waves.percentages", "each wave must be more than 0% and at most 100%")
    elif sum(Fraction(str(p)) for p in w.percentages) > 100:
        v.add("waves.percentages", f"sum to {sum(w.percentages):g}%, more than 100%")
    if w.exponential_start < 0:
        v.add("waves.exponential_start", "must not be negative")
    if w.exponential_start and w.exponential_factor < 1:
        v.add("waves.exponential_factor", "must be at least 1")

    g = c.gate
    if c.HasField("gate"):
        _percent(g.min_success_percent, "gate.min_success_percent", v)
        if g.min_sample < 0:
            v.add("gate.min_sample", "must not be negative")
    rules = []
    for i, rule in enumerate(c.abort_rules):
        _percent(rule.threshold_percent, f"abort_rules[{i}].threshold_percent", v)
        if rule.min_finished < 0:
            v.add(f"abort_rules[{i}].min_finished", "must not be negative")
        rules.append(
            AbortRuleSpec(
                _failure_type(rule.failure_type, f"abort_rules[{i}].failure_type", v),
                rule.threshold_percent,
                rule.min_finished,
            )
        )

    timeout = _seconds(c, "station_timeout", 2 * 3600, v)
    offline = _seconds(c, "offline_limit", 24 * 3600, v)
    r = c.retries
    if not 0 <= r.ocpp_retries <= 100:
        v.add("retries.ocpp_retries", "must be between 0 and 100")
    interval = r.ocpp_retry_interval.seconds
    if interval < 0:
        v.add("retries.ocpp_retry_interval", "must not be negative")
    elif interval > MAX_RETRY_INTERVAL_SECONDS:
        v.add("retries.ocpp_retry_interval", f"must be at most {MAX_RETRY_INTERVAL_SECONDS // 3600} hours")
    redispatch = []
    for i, rd in enumerate(r.redispatch):
        if rd.max_sends < 1:
            v.add(f"retries.redispatch[{i}].max_sends", "must be at least 1")
        failure_type = _failure_type(rd.failure_type, f"retries.redispatch[{i}].failure_type", v)
        redispatch.append(RedispatchSpec(failure_type, rd.max_sends))
    window = _window(c.maintenance_window, v, now) if c.HasField("maintenance_window") else None
    if c.max_concurrent < 0:
        v.add("max_concurrent", "must not be negative")
    if c.max_per_minute < 0:
        v.add("max_per_minute", "must not be negative")
    v.raise_any()

    spec = CampaignSpec(
        location=fw.location,
        target_version=fw.target_version.strip(),
        signing_certificate=fw.signing_certificate,
        signature=fw.signature,
        canary_stations=tuple(canary),
        canary_count=w.canary_count,
        percentages=tuple(w.percentages),
        exponential_start=w.exponential_start,
        exponential_factor=w.exponential_factor,
        # Without a gate a wave is followed by the next once all of it finished.
        gate_min_success_percent=g.min_success_percent if c.HasField("gate") else 0.0,
        gate_min_sample=max(1, g.min_sample),
        gate_manual=g.manual,
        abort_rules=tuple(rules),
        station_timeout_seconds=timeout,
        offline_limit_seconds=offline,
        ocpp_retries=r.ocpp_retries,
        ocpp_retry_interval_seconds=interval,
        redispatch=tuple(redispatch),
        window=window,
        max_concurrent=c.max_concurrent,
        max_per_minute=c.max_per_minute,
    )
    return display_name or fw.target_version.strip(), spec, selection


# A station's in-progress timeout or offline limit: up to a year (a campaign that waits longer
# for one station has forgotten it).
MAX_STATION_SECONDS = 366 * 86400
# Between a station's own download attempts (OCPP retryInterval).
MAX_RETRY_INTERVAL_SECONDS = 86400


def _seconds(c: campaigns_pb2.Campaign, field: str, default: int, v: _Violations) -> int:
    if not c.HasField(field):  # type: ignore[arg-type]  # one of the two Duration fields
        return default
    # Read the fields, not ToTimedelta(): a Duration may hold more seconds than a timedelta.
    duration = getattr(c, field)
    seconds = int(duration.seconds)
    if seconds <= 0 and duration.nanos <= 0:
        v.add(field, "must be positive")
    elif seconds > MAX_STATION_SECONDS:
        v.add(field, f"must be at most {MAX_STATION_SECONDS // 86400} days")
    return max(seconds, 1)


def campaign(row: FirmwareCampaign, counts: dict[tuple[int, str, str], int]) -> campaigns_pb2.Campaign:
    """The API's Campaign: what was asked, with the state and progress."""
    out = campaigns_pb2.Campaign.FromString(row.spec)
    out.name = f"campaigns/{row.id}"
    out.display_name = row.display_name  # as stored: the target version when none was given
    out.state = STATE[row.state]
    out.state_reason = row.state_reason
    out.current_wave = row.current_wave
    out.target_count = row.target_count
    out.owner = f"tenants/{row.owner_id}"
    out.creator = row.creator
    out.create_time.FromDatetime(row.create_time)
    out.update_time.FromDatetime(row.update_time)
    waves: dict[int, campaigns_pb2.WaveProgress] = {}
    for (wave, state, failure), n in sorted(counts.items()):
        progress = waves.setdefault(wave, campaigns_pb2.WaveProgress(wave=wave))
        progress.total += n
        progress.states[state] = progress.states.get(state, 0) + n
        if failure:
            out.failures[failure] = out.failures.get(failure, 0) + n
    out.wave_progress.extend(waves[w] for w in sorted(waves))
    for d in row.decisions:
        out.decisions.append(_decision(d))
    return out


def _decision(d: dict[str, Any]) -> campaigns_pb2.Decision:
    decision = campaigns_pb2.Decision(actor=d["actor"], action=d["action"], reason=d["reason"])
    decision.time.FromDatetime(dt.datetime.fromisoformat(d["time"]))
    return decision
