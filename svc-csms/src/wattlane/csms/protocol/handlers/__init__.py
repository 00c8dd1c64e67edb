"""Handlers for station-initiated OCPP messages: one dispatch table per version, built once."""

from __future__ import annotations

from wattlane.csms.protocol.errors import OcppVersion
from wattlane.csms.protocol.handlers import v16, v201
from wattlane.csms.protocol.handlers.context import (
    DataTransferHandler,
    Handler,
    HandlerContext,
    Session,
)

__all__ = ["DataTransferHandler", "Handler", "HandlerContext", "Session", "dispatch_table"]


def dispatch_table(version: OcppVersion, ctx: HandlerContext) -> dict[str, Handler]:
    """Return action → handler for `version`, closing over `ctx`."""
    if version is OcppVersion.V16:
        return v16.handlers(ctx)
    return v201.handlers(ctx)
