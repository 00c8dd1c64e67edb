"""The protocol layer's view of the metrics catalog (`wattlane.core.metrics`), built for the hot path.

Every frame updates a counter and most a histogram, so the labelled children are looked up once
and cached: one dict lookup per message finds everything an action needs. A station's CALLs are
the hot path (a Heartbeat costs the CSMS about 10 µs of CPU; `inc()` plus `observe()` on
prometheus_client children cost 2-3 µs more): they are counted in plain attributes and published
to the catalog's children before each scrape (`wattlane.core.metrics.publish`). Labels stay bounded:
actions pass through a `LabelSet` of the official schemas' action names (anything else is
counted as "other", and never becomes a dict key), error codes through the OCPP-J code tables;
station ids never appear.
"""

from __future__ import annotations

import functools
from bisect import bisect_left
from typing import Any

from wattlane.core.metrics import (
    HANDSHAKE_REASONS,
    OCPP_CALL_ERRORS,
    OCPP_CALL_SECONDS,
    OCPP_COMMAND_TIMEOUTS,
    OCPP_CONNECTED,
    OCPP_CONNECTS,
    OCPP_DISCONNECTS,
    OCPP_HANDSHAKE_REJECTIONS,
    OCPP_MESSAGES,
    LabelSet,
    before_scrape,
)
from wattlane.csms.protocol.errors import VALID_ERROR_CODES, OcppVersion
from wattlane.csms.protocol.schemas import schema_set

IN = "in"  # a station's CALL, answered by us
OUT = "out"  # our CALL, answered by the station

# Why a handshake was refused (the `reason` label), children made up front so rates start at 0.
REJECTED: dict[str, Any] = {reason: OCPP_HANDSHAKE_REJECTIONS.labels(reason) for reason in HANDSHAKE_REASONS}

# Every action of the official schemas, of either version: the remote actions' label set.
ACTIONS = LabelSet(schema_set(OcppVersion.V16).actions | schema_set(OcppVersion.V201).actions)
# Every CALLERROR code either version defines, in either spelling (1.6 errata's included).
ERROR_CODES = LabelSet(
    set().union(*VALID_ERROR_CODES.values()) | {"OccurrenceConstraintViolation", "FormatViolation"}
)


class Incoming:
    """What a station's CALL of one action updates: answered ok or with a CALLERROR, and how long
    our answer took. Counted on the event loop in plain attributes (cumulative, written by the
    loop only); `publish` adds what grew since its last run to the catalog's children."""

    __slots__ = (
        "_bounds",
        "_callerror",
        "_histogram",
        "_ok",
        "_published",
        "buckets",
        "errors",
        "oks",
        "total",
    )

    def __init__(self, version: str, action: str) -> None:
        self._ok = OCPP_MESSAGES.labels(version, action, IN, "ok")
        self._callerror = OCPP_MESSAGES.labels(version, action, IN, "callerror")
        self._histogram = OCPP_CALL_SECONDS.labels(action, IN)
        self._bounds: list[float] = list(self._histogram._upper_bounds)  # ends with +Inf
        self.oks = 0
        self.errors = 0
        self.buckets = [0] * len(self._bounds)  # observations per bucket (not cumulative)
        self.total = 0.0
        self._published: tuple[int, int, list[int], float] = (0, 0, [0] * len(self._bounds), 0.0)

    def ok(self, seconds: float) -> None:
        """Answered with a CALLRESULT `seconds` after the CALL arrived."""
        self.oks += 1
        self.buckets[bisect_left(self._bounds, seconds)] += 1
        self.total += seconds

    def error(self, seconds: float) -> None:
        """Answered with a CALLERROR `seconds` after the CALL arrived."""
        self.errors += 1
        self.buckets[bisect_left(self._bounds, seconds)] += 1
        self.total += seconds

    def publish(self) -> None:
        """Add the increments since the last publish to the children (the scraping thread;
        values read here only grow, so a count landing meanwhile goes out next time)."""
        oks, errors, buckets, total = self.oks, self.errors, list(self.buckets), self.total
        old_oks, old_errors, old_buckets, old_total = self._published
        if oks != old_oks:
            self._ok.inc(oks - old_oks)
        if errors != old_errors:
            self._callerror.inc(errors - old_errors)
        if buckets != old_buckets:
            # prometheus_client has no API to add n observations to a bucket: its own values.
            for index, (now, before) in enumerate(zip(buckets, old_buckets, strict=True)):
                if now != before:
                    self._histogram._buckets[index].inc(now - before)
            self._histogram._sum.inc(total - old_total)
        self._published = (oks, errors, buckets, total)


class Outgoing:
    """What our CALL of one action updates: the station's answer (ok, callerror), or none
    (timeout; closed: the socket closed first; invalid: an answer that breaks its schema), and
    how long the answer took."""

    __slots__ = ("callerror", "closed", "invalid", "ok", "seconds", "timeout")

    def __init__(self, version: str, action: str) -> None:
        self.ok = OCPP_MESSAGES.labels(version, action, OUT, "ok")
        self.callerror = OCPP_MESSAGES.labels(version, action, OUT, "callerror")
        self.timeout = OCPP_MESSAGES.labels(version, action, OUT, "timeout")
        self.invalid = OCPP_MESSAGES.labels(version, action, OUT, "invalid")
        self.closed = OCPP_MESSAGES.labels(version, action, OUT, "closed")
        self.seconds = OCPP_CALL_SECONDS.labels(action, OUT)


class VersionMetrics:
    """The cached children of one OCPP version (one instance per version per process)."""

    def __init__(self, version: OcppVersion) -> None:
        self.version = version.value
        self.connected = OCPP_CONNECTED.labels(self.version)
        self.connects = OCPP_CONNECTS.labels(self.version)
        self.disconnects = OCPP_DISCONNECTS.labels(self.version)
        self._actions = LabelSet(schema_set(version).actions)
        # Keys are known action names and OTHER only: bounded by the schemas.
        self._incoming: dict[str, Incoming] = {}
        self._outgoing: dict[str, Outgoing] = {}
        self._errors: dict[tuple[str, str], Any] = {}

    def incoming(self, action: str) -> Incoming:
        """The children for a station's CALL of `action`."""
        found = self._incoming.get(action)
        if found is None:
            label = self._actions(action)
            found = self._incoming.get(label)
            if found is None:
                found = self._incoming[label] = Incoming(self.version, label)
        return found

    def outgoing(self, action: str) -> Outgoing:
        """The children for our CALL of `action`."""
        found = self._outgoing.get(action)
        if found is None:
            label = self._actions(action)
            found = self._outgoing.get(label)
            if found is None:
                found = self._outgoing[label] = Outgoing(self.version, label)
        return found

    def call_error(self, code: str, direction: str) -> Any:
        """The counter of CALLERRORs with `code` sent (OUT) or received (IN)."""
        found = self._errors.get((code, direction))
        if found is None:
            label = ERROR_CODES(code)
            found = self._errors.get((label, direction))
            if found is None:
                found = OCPP_CALL_ERRORS.labels(self.version, label, direction)
                self._errors[(label, direction)] = found
        return found

    def publish(self) -> None:
        """Publish the plain counts of every action seen."""
        for incoming in list(self._incoming.values()):
            incoming.publish()


@functools.cache
def version_metrics(version: OcppVersion) -> VersionMetrics:
    """The process-wide cache for `version` (shared by every listener and connection)."""
    metrics = VersionMetrics(version)
    before_scrape(metrics.publish)
    return metrics


def command_timed_out(action: str) -> None:
    """A remote action the station did not answer in time."""
    OCPP_COMMAND_TIMEOUTS.labels(ACTIONS(action)).inc()
