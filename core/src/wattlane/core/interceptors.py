"""The one server interceptor every service runs: request context, tracing, metrics, auth, and
the mapping of domain errors to gRPC status codes with details.

One wrapper per method (built once and cached) keeps the per-call cost to a few microseconds.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import Message
from opentelemetry import propagate, trace
from sqlalchemy.exc import IntegrityError

from wattlane.core.caller import Caller, caller_var
from wattlane.core.constraints import unique_violation
from wattlane.core.context import method_var, request_id_var
from wattlane.core.errors import DomainError, InvalidArgument, Unauthenticated
from wattlane.core.ids import new_id
from wattlane.core.metrics import RPC_HANDLED, RPC_IN_FLIGHT, RPC_SECONDS
from wattlane.core.scope import ScopeCache
from wattlane.core.tokens import TokenVerifier
from wattlane.core.validation import nul_character_field

log = logging.getLogger("wattlane.rpc")

# Infrastructure methods that answer without a token (probes and tooling).
ANONYMOUS_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


@dataclass(frozen=True)
class AuthPolicy:
    """Which methods may be called without a bearer token (login, public keys, ...)."""

    public_methods: frozenset[str] = frozenset()

    def is_public(self, method: str) -> bool:
        return method in self.public_methods or method.startswith(ANONYMOUS_PREFIXES)


def _status_trailer(error: DomainError) -> tuple[tuple[str, bytes], ...]:
    return (("grpc-status-details-bin", error.to_status().SerializeToString()),)


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """See the module docstring."""

    def __init__(
        self,
        service: str,
        verifier: TokenVerifier | None,
        scopes: ScopeCache | None,
        policy: AuthPolicy,
        tracing: bool = False,
    ) -> None:
        self._service = service
        self._verifier = verifier
        self._scopes = scopes
        self._policy = policy
        self._tracing = tracing
        self._tracer = trace.get_tracer("wattlane.grpc")
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}
        self._in_flight = RPC_IN_FLIGHT.labels(service)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method: str = handler_call_details.method  # type: ignore[attr-defined]
        cached = self._wrapped.get(method)
        if cached is not None:
            return cached
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        wrapped = self._wrap(method, handler)
        self._wrapped[method] = wrapped
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        grpc_service, _, grpc_method = method.lstrip("/").rpartition("/")
        public = self._policy.is_public(method)
        seconds = RPC_SECONDS.labels(self._service, grpc_service, grpc_method)
        counters: dict[grpc.StatusCode, Any] = {}

        def finish(call: _Call, code: grpc.StatusCode) -> None:
            self._exit(call, code)
            self._in_flight.dec()
            counter = counters.get(code)
            if counter is None:
                counter = counters[code] = RPC_HANDLED.labels(
                    self._service, grpc_service, grpc_method, code.name
                )
            counter.inc()
            seconds.observe(time.perf_counter() - call.start)

        if handler.unary_unary is not None:
            inner: Any = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                call = self._enter(method, context)
                code = grpc.StatusCode.OK
                try:
                    await self._authenticate(call, public)
                    _refuse_nul_characters(request)
                    return await inner(request, context)
                except BaseException as raised:
                    exc = _as_domain_error(raised)
                    code = _code_of(exc, context)
                    await _fail(exc, method, context)
                finally:
                    finish(call, code)

            return grpc.unary_unary_rpc_method_handler(
                unary,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )

        if handler.unary_stream is not None:
            inner_stream: Any = handler.unary_stream

            async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                call = self._enter(method, context)
                code = grpc.StatusCode.OK
                try:
                    await self._authenticate(call, public)
                    _refuse_nul_characters(request)
                    responses = inner_stream(request, context)
                    if inspect.isawaitable(responses):
                        # Written with `await context.write(...)` (e.g. grpc's health Watch).
                        await responses
                    else:
                        async for item in responses:
                            yield item
                except BaseException as raised:
                    exc = _as_domain_error(raised)
                    code = _code_of(exc, context)
                    await _fail(exc, method, context)
                finally:
                    finish(call, code)

            return grpc.unary_stream_rpc_method_handler(
                stream,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # client/bidi streaming: none of our APIs use them

    def _enter(self, method: str, context: grpc.aio.ServicerContext) -> _Call:
        """Read the metadata, set the request context and start the span."""
        call = _Call(time.perf_counter())
        self._in_flight.inc()
        request_id = ""
        carrier: dict[str, str] | None = None
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                call.authorization = value if isinstance(value, str) else value.decode()
            elif key == "x-request-id":
                request_id = str(value)[:128]
            elif key in ("traceparent", "tracestate") and self._tracing:
                carrier = carrier or {}
                carrier[key] = str(value)
        call.rid_token = request_id_var.set(request_id or new_id())
        call.method_token = method_var.set(method)
        if self._tracing:
            parent = propagate.extract(carrier) if carrier else None
            call.span = self._tracer.start_as_current_span(
                method.lstrip("/"), context=parent, kind=trace.SpanKind.SERVER
            )
            call.span.__enter__()
        return call

    async def _authenticate(self, call: _Call, public: bool) -> None:
        """Verify the bearer token (optional on public methods) and set the caller."""
        if not call.authorization and public:
            return
        if not call.authorization.startswith("Bearer ") or self._verifier is None:
            raise Unauthenticated("a bearer token is required (metadata 'authorization: Bearer <token>')")
        principal = await self._verifier.verify(call.authorization[7:].strip())
        call.caller_token = caller_var.set(Caller(principal, self._scopes))

    def _exit(self, call: _Call, code: grpc.StatusCode) -> None:
        if call.span is not None:
            span = trace.get_current_span()
            span.set_attribute("rpc.grpc.status_code", code.value[0])
            if code != grpc.StatusCode.OK:
                span.set_status(trace.Status(trace.StatusCode.ERROR, code.name))
            call.span.__exit__(None, None, None)
        if call.caller_token is not None:
            caller_var.reset(call.caller_token)
        if call.method_token is not None:
            method_var.reset(call.method_token)
        if call.rid_token is not None:
            request_id_var.reset(call.rid_token)


class _Call:
    """Per-call state between entering and leaving the interceptor."""

    __slots__ = ("authorization", "caller_token", "method_token", "rid_token", "span", "start")

    def __init__(self, start: float) -> None:
        self.start = start
        self.authorization = ""
        self.caller_token: Any = None
        self.method_token: Any = None
        self.rid_token: Any = None
        self.span: Any = None


def _refuse_nul_characters(request: Any) -> None:
    """INVALID_ARGUMENT naming a text field that holds a NUL character (see
    `validation.nul_character_field`): every service, before any lookup."""
    if isinstance(request, Message) and (field := nul_character_field(request)):
        raise InvalidArgument.field(field, "must not contain NUL characters")


def _as_domain_error(exc: BaseException) -> BaseException:
    """A unique-key collision that got past the domain's own checks is the caller's ALREADY_EXISTS
    (e.g. renaming onto a sibling's name), not an internal error."""
    if isinstance(exc, IntegrityError):
        return unique_violation(exc) or exc
    return exc


def _code_of(exc: BaseException, context: grpc.aio.ServicerContext) -> grpc.StatusCode:
    """The status code an exception ends the call with (for the metrics)."""
    if isinstance(exc, DomainError):
        return exc.code
    if isinstance(exc, grpc.aio.AbortError):
        return context.code() or grpc.StatusCode.UNKNOWN  # type: ignore[return-value]
    if isinstance(exc, asyncio.CancelledError):
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.INTERNAL


async def _fail(exc: BaseException, method: str, context: grpc.aio.ServicerContext) -> None:
    """Turn an exception into an aborted call (always raises).

    Domain errors carry their own code and details; an abort already under way and a
    cancellation propagate; anything else is logged and answered INTERNAL without its text."""
    if isinstance(exc, DomainError):
        await context.abort(exc.code, exc.message, trailing_metadata=_status_trailer(exc))
    if isinstance(exc, grpc.aio.AbortError):
        raise exc
    if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt, SystemExit, GeneratorExit)):
        raise exc
    log.error("unhandled error in %s", method, exc_info=exc)
    await context.abort(grpc.StatusCode.INTERNAL, f"internal error (request {request_id_var.get()})")
