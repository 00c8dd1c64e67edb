"""What a handler sees: the station session and the CSMS's providers and options."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from wattlane.core.clock import utcnow
from wattlane.csms.protocol.clock import ocpp_time, parse_ocpp_time
from wattlane.csms.protocol.errors import ErrorKind, OcppError, OcppVersion
from wattlane.csms.protocol.options import CsmsOptions
from wattlane.csms.providers.interfaces import (
    AccessDecider,
    AccessDecision,
    AccessStatus,
    NoticeKind,
    Providers,
    ProviderUnavailable,
    StationNotice,
    TransactionChange,
)

if TYPE_CHECKING:
    from wattlane.csms.protocol.costs import CostDisplay


@dataclass(slots=True)
class Session:
    """Per-connection state the handlers read and update."""

    identity: str
    version: OcppVersion
    remote_address: str
    # False for an unknown station on an onboarding listener: it is answered Pending and may only
    # send BootNotification until an operator claims it.
    known: bool = True


Handler = Callable[[Session, dict[str, Any]], Awaitable[dict[str, Any]]]


def boot_reply(session: Session, now: datetime, options: CsmsOptions) -> dict[str, Any]:
    """The BootNotification answer, the same in 1.6 and 2.0.1: Accepted with the heartbeat
    interval for a known station, Pending (ask again later) for one nobody has claimed yet."""
    if session.known:
        return {"status": "Accepted", "currentTime": ocpp_time(now), "interval": options.heartbeat_interval}
    return {"status": "Pending", "currentTime": ocpp_time(now), "interval": options.pending_interval}


# A DataTransfer handler gets (session, messageId or None, data or None) and returns
# (status, data or None); status is one of Accepted / Rejected / UnknownMessageId.
DataTransferHandler = Callable[[Session, str | None, Any], Awaitable[tuple[str, Any]]]


@dataclass(frozen=True, slots=True)
class HandlerContext:
    """Dependencies shared by every handler of one CSMS."""

    providers: Providers
    access: AccessDecider  # the caching decider in front of providers.access
    options: CsmsOptions
    data_transfer: dict[str, DataTransferHandler] = field(default_factory=dict)
    costs: CostDisplay | None = None  # None: no pricing, stations are shown no cost


ACCESS_STATUS_OCPP: dict[AccessStatus, str] = {
    AccessStatus.ACCEPTED: "Accepted",
    AccessStatus.BLOCKED: "Blocked",
    AccessStatus.INVALID: "Invalid",
    AccessStatus.EXPIRED: "Expired",
}


async def decide(ctx: HandlerContext, session: Session, id_token: str, token_type: str) -> AccessDecision:
    """Ask the (cached) decider; an outage with nothing cached becomes an InternalError CALLERROR."""
    try:
        return await ctx.access.decide(session.identity, id_token, token_type)
    except ProviderUnavailable:
        raise OcppError(ErrorKind.INTERNAL, "authorization is temporarily unavailable") from None


async def record(ctx: HandlerContext, change: TransactionChange) -> int | None:
    """Store a transaction change and wait for its commit; a store that cannot commit becomes an
    InternalError CALLERROR, so the station keeps the message queued and sends it again."""
    try:
        return await ctx.providers.transactions.record(change)
    except ProviderUnavailable:
        raise OcppError(ErrorKind.INTERNAL, "transactions cannot be stored right now") from None


async def data_transfer(ctx: HandlerContext, session: Session, payload: dict[str, Any]) -> dict[str, Any]:
    """DataTransfer (same shape in 1.6 and 2.0.1): UnknownVendorId unless a handler is registered."""
    handler = ctx.data_transfer.get(payload["vendorId"])
    if handler is None:
        return {"status": "UnknownVendorId"}
    status, data = await handler(session, payload.get("messageId"), payload.get("data"))
    return {"status": status} if data is None else {"status": status, "data": data}


async def acknowledge(session: Session, payload: dict[str, Any]) -> dict[str, Any]:
    """Answer a notification whose response is empty, storing nothing (yet)."""
    return {}


def notice(ctx: HandlerContext, kind: NoticeKind, value_key: str) -> Handler:
    """A handler that records a status notification / security event as a `StationNotice`."""
    events = ctx.providers.events

    async def handle(session: Session, p: dict[str, Any]) -> dict[str, Any]:
        details = {k: v for k, v in p.items() if k not in (value_key, "requestId", "timestamp")}
        await events.station_notice(
            StationNotice(
                identity=session.identity,
                kind=kind,
                value=p[value_key],
                at=parse_ocpp_time(p.get("timestamp"), utcnow()),
                request_id=p.get("requestId"),
                details=details,
            )
        )
        return {}

    return handle
