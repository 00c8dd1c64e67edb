"""One station's OCPP-J connection: the receive loop, replies, and CSMS→station calls.

Station calls are handled one after another in the receive loop (OCPP-J allows one call in flight
per direction, so there is nothing to gain from concurrency, and replies keep their order).
CSMS→station calls go out one at a time per station (a lock), each with a timeout; a CALLERROR
answer raises `CallError`. A handler must never wait for a CSMS→station call on its own station:
the answer would sit behind the handler in the receive loop (spawn a task instead).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from opentelemetry import trace
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from wattlane.core.logs import current_trace_id
from wattlane.csms.protocol.errors import (
    CallError,
    CallTimeout,
    ErrorKind,
    InvalidResponse,
    OcppError,
    StationNotConnected,
    error_code,
)
from wattlane.csms.protocol.frames import (
    CALL,
    CALLERROR,
    CALLRESULT,
    Call,
    CallErrorFrame,
    CallResult,
    FrameError,
    encode_call,
    encode_error,
    encode_result,
    parse_frame,
)
from wattlane.csms.protocol.handlers import Handler, Session
from wattlane.csms.protocol.metrics import IN, OUT, VersionMetrics, version_metrics
from wattlane.csms.protocol.options import CsmsOptions
from wattlane.csms.protocol.schemas import SchemaSet
from wattlane.csms.providers.interfaces import Direction, LogEntry, MessageLog

logger = logging.getLogger(__name__)

_MAX_LOGGED_RAW = 4096  # characters of an unparsable frame kept in the message log
_tracer = trace.get_tracer("wattlane.ocpp")


class StationConnection:
    """The protocol state of one open station WebSocket."""

    def __init__(
        self,
        ws: ServerConnection,
        session: Session,
        table: dict[str, Handler],
        schemas: SchemaSet,
        message_log: MessageLog,
        options: CsmsOptions,
        metrics: VersionMetrics | None = None,
    ) -> None:
        self.ws = ws
        self.session = session
        self.identity = session.identity
        self.version = session.version
        self.last_seen = time.monotonic()
        self._table = table
        self._schemas = schemas
        self._log = message_log
        self._options = options
        self._metrics = metrics or version_metrics(session.version)
        self._call_lock = asyncio.Lock()
        self._pending: tuple[str, str, asyncio.Future[dict[str, Any]]] | None = None
        self._pending_trace: str | None = None  # the trace the pending call was sent in
        self._open = True

    # -- receiving ---------------------------------------------------------------------------

    async def run(self) -> str:
        """Serve the connection until it closes; return why it closed."""
        recv = self.ws.recv
        try:
            while True:
                raw = await recv(decode=False)
                self.last_seen = time.monotonic()
                # Dispatch inline (no coroutine per frame beyond the handler's own).
                try:
                    frame = parse_frame(raw)
                except FrameError as exc:
                    await self._on_bad_frame(raw, exc)
                    continue
                if isinstance(frame, Call):
                    await self._on_call(frame)
                elif isinstance(frame, CallResult):
                    self._on_result(frame)
                else:
                    self._on_error(frame)
        except ConnectionClosed as exc:
            return f"closed ({exc.rcvd.code if exc.rcvd else 'no close frame'})"
        finally:
            self._open = False
            pending = self._pending
            if pending is not None and not pending[2].done():
                pending[2].set_exception(StationNotConnected(self.identity))

    async def _on_bad_frame(self, raw: bytes, exc: FrameError) -> None:
        self._record_bad_frame(raw, exc)
        if exc.is_response:
            logger.info("%s: ignoring a malformed response frame: %s", self.identity, exc.description)
            return
        await self._send_error(exc.message_id, None, exc.kind, exc.description)

    async def _on_call(self, call: Call) -> None:
        # `last_seen` is this frame's arrival: the receive loop waits for us before the next one.
        action = call.action
        self._log.record(
            LogEntry(time.time(), self.identity, Direction.IN, CALL, call.message_id, action, call.payload)
        )
        handler = self._table.get(action)
        if handler is None:
            if action in self._schemas.actions:
                await self._send_error(
                    call.message_id, action, ErrorKind.NOT_SUPPORTED, f"{action} is not supported"
                )
            else:
                await self._send_error(
                    call.message_id, action, ErrorKind.NOT_IMPLEMENTED, f"unknown action {action}"
                )
            return
        if not self.session.known and action != "BootNotification":
            # OCPP 2.0.1 B02/B03: a station that is not Accepted may only boot.
            await self._send_error(
                call.message_id,
                action,
                ErrorKind.SECURITY,
                "station is not accepted yet; send BootNotification",
            )
            return
        try:
            self._schemas.validate_request(action, call.payload)
            result = await handler(self.session, call.payload)
        except OcppError as exc:
            await self._send_error(call.message_id, action, exc.kind, exc.description, exc.details)
            return
        except Exception:
            logger.exception("%s: handler for %s failed", self.identity, action)
            await self._send_error(call.message_id, action, ErrorKind.INTERNAL, "internal error")
            return
        if self._options.validate_responses:
            try:
                self._schemas.validate_response(action, result)
            except OcppError as exc:
                logger.error(
                    "%s: reply to %s violates its schema: %s", self.identity, action, exc.description
                )
                await self._send_error(call.message_id, action, ErrorKind.INTERNAL, "internal error")
                return
        await self.ws.send(encode_result(call.message_id, result), text=True)
        self._metrics.incoming(action).ok(time.monotonic() - self.last_seen)
        self._log.record(
            LogEntry(time.time(), self.identity, Direction.OUT, CALLRESULT, call.message_id, action, result)
        )

    def _on_result(self, frame: CallResult) -> None:
        pending = self._pending
        action = pending[1] if pending is not None and pending[0] == frame.message_id else None
        self._log.record(
            LogEntry(
                time.time(),
                self.identity,
                Direction.IN,
                CALLRESULT,
                frame.message_id,
                action,
                frame.payload,
                trace_id=self._pending_trace if action is not None else None,
            )
        )
        if pending is None or action is None or pending[2].done():
            logger.info("%s: CALLRESULT for unknown message id %r ignored", self.identity, frame.message_id)
            return
        try:
            self._schemas.validate_response(pending[1], frame.payload)
        except OcppError as exc:
            pending[2].set_exception(InvalidResponse(pending[1], exc))
            return
        pending[2].set_result(frame.payload)

    def _on_error(self, frame: CallErrorFrame) -> None:
        self._metrics.call_error(frame.code, IN).inc()
        pending = self._pending
        action = pending[1] if pending is not None and pending[0] == frame.message_id else None
        self._log.record(
            LogEntry(
                time.time(),
                self.identity,
                Direction.IN,
                CALLERROR,
                frame.message_id,
                action,
                frame.details,
                frame.code,
                frame.description,
                self._pending_trace if action is not None else None,
            )
        )
        if pending is None or action is None or pending[2].done():
            logger.info("%s: CALLERROR for unknown message id %r ignored", self.identity, frame.message_id)
            return
        pending[2].set_exception(CallError(action, frame.code, frame.description, frame.details))

    def _record_bad_frame(self, raw: bytes, exc: FrameError) -> None:
        text = raw[: _MAX_LOGGED_RAW * 4].decode("utf-8", "replace")[:_MAX_LOGGED_RAW]
        self._log.record(
            LogEntry(
                time.time(), self.identity, Direction.IN, 0, exc.message_id, None, text, None, exc.description
            )
        )

    async def _send_error(
        self,
        message_id: str,
        action: str | None,
        kind: ErrorKind,
        description: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        code = error_code(self.version, kind)
        await self.ws.send(encode_error(message_id, code, description, details), text=True)
        self._metrics.call_error(code, OUT).inc()
        if action is not None:  # the answer to a station's CALL (not to a broken frame)
            self._metrics.incoming(action).error(time.monotonic() - self.last_seen)
        self._log.record(
            LogEntry(
                time.time(),
                self.identity,
                Direction.OUT,
                CALLERROR,
                message_id,
                action,
                details or {},
                code,
                description,
            )
        )

    # -- calling the station -----------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """True while the receive loop runs."""
        return self._open

    async def call(
        self,
        action: str,
        payload: dict[str, Any],
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Send a CALL to the station and return its CALLRESULT payload.

        Raises `OcppError` when `payload` is not a valid request (a bug on our side),
        `CallError` for a CALLERROR answer, `InvalidResponse` for an answer that violates the
        response schema, `CallTimeout`, or `StationNotConnected`.

        Traced: a client span `OCPP <action>` from sending the CALL to its answer, in the trace of
        whoever asked (a CreateCommand call); the CALL and its answer in the message log carry
        the trace id. A call made outside any trace (the CSMS's own, e.g. after a boot) starts
        none: thousands of stations would otherwise each make a one-span trace per call.
        """
        self._schemas.validate_request(action, payload)
        if not trace.get_current_span().get_span_context().is_valid:
            return await self._call(trace.INVALID_SPAN, action, payload, timeout)
        with _tracer.start_as_current_span(
            f"OCPP {action}",
            kind=trace.SpanKind.CLIENT,
            attributes={
                "ocpp.station": self.identity,
                "ocpp.action": action,
                "ocpp.version": str(self.version),
            },
        ) as span:
            return await self._call(span, action, payload, timeout)

    async def _call(
        self, span: trace.Span, action: str, payload: dict[str, Any], timeout: float | None
    ) -> dict[str, Any]:
        metrics = self._metrics.outgoing(action)
        async with self._call_lock:  # one CSMS→station call in flight per station
            if not self._open:
                raise StationNotConnected(self.identity)
            message_id = str(uuid.uuid4())
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._pending = (message_id, action, future)
            self._pending_trace = trace_id = current_trace_id() or None
            span.set_attribute("ocpp.message_id", message_id)
            sent = time.monotonic()
            try:
                await self.ws.send(encode_call(message_id, action, payload), text=True)
                self._log.record(
                    LogEntry(
                        time.time(),
                        self.identity,
                        Direction.OUT,
                        CALL,
                        message_id,
                        action,
                        payload,
                        trace_id=trace_id,
                    )
                )
                async with asyncio.timeout(timeout if timeout is not None else self._options.call_timeout):
                    answer = await future
            except TimeoutError:
                metrics.timeout.inc()
                raise CallTimeout(f"{self.identity}: {action} was not answered in time") from None
            except (ConnectionClosed, StationNotConnected):
                metrics.closed.inc()
                raise StationNotConnected(self.identity) from None
            except CallError:
                metrics.callerror.inc()
                metrics.seconds.observe(time.monotonic() - sent)
                raise
            except InvalidResponse:
                metrics.invalid.inc()
                metrics.seconds.observe(time.monotonic() - sent)
                raise
            finally:
                self._pending, self._pending_trace = None, None
            metrics.ok.inc()
            metrics.seconds.observe(time.monotonic() - sent)
            return answer

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the WebSocket (the receive loop then ends)."""
        self._open = False
        await self.ws.close(code, reason)
