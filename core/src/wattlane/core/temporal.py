"""Temporal client connection shared by services that start workflows and by the worker.

Tracing: the SDK's OpenTelemetry interceptor is registered on the client only. A worker built
on a client takes the client's interceptors that are worker interceptors too, so the worker's
workflow and activity spans come from the same registration; adding it to `Worker(interceptors=)`
as well would record every workflow and activity span twice."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

import opentelemetry.context
import opentelemetry.trace
from temporalio import worker
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.contrib.opentelemetry import TracingInterceptor as SdkTracingInterceptor
from temporalio.contrib.opentelemetry import TracingWorkflowInboundInterceptor
from temporalio.exceptions import ApplicationError
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from wattlane.core.errors import DomainError, FailedPrecondition, Unavailable

log = logging.getLogger("wattlane.temporal")
R = TypeVar("R")


class TracingInterceptor(SdkTracingInterceptor):
    """The SDK's OpenTelemetry interceptor, with one change: a workflow update carrying a trace
    runs its handler in that trace.

    The SDK files an update handler's span (and so the activities the handler starts) under the
    workflow's own trace, the one of whoever started the workflow, and only links the caller's.
    Our updates are requests (identity's `decide`: an approval is an update whose handler
    applies the decision through an activity), so one approval should be one trace: the
    caller's call → identity → the update → its activity → identity's internal write. The
    workflow's trace is linked instead. Signals, queries and the workflow's main coroutine keep
    the SDK's behaviour."""

    def workflow_interceptor_class(
        self, input: worker.WorkflowInterceptorClassInput
    ) -> type[TracingWorkflowInboundInterceptor]:
        super().workflow_interceptor_class(input)  # registers the extern the spans go through
        return _UpdatesInCallerTrace


class _UpdatesInCallerTrace(TracingWorkflowInboundInterceptor):
    async def handle_update_handler(self, input: worker.HandleUpdateInput) -> Any:
        context = self._caller_context(input.headers)
        if context is None:  # an update without a trace (the Temporal CLI): the SDK's way
            return await super().handle_update_handler(input)
        with _attached(self._set_on_context(context)):
            # Created and ended at once (the SDK's workflow spans are replay-safe markers); the
            # activities started below take the caller's span as their parent.
            self._completed_span(
                f"HandleUpdate:{input.update}",
                link_context_carrier=self._load_workflow_context_carrier(),
                kind=opentelemetry.trace.SpanKind.SERVER,
            )
            # Past the SDK's own handler wrapper, which would put the workflow's trace back.
            return await worker.WorkflowInboundInterceptor.handle_update_handler(self, input)

    def _caller_context(self, headers: Mapping[str, Payload]) -> opentelemetry.context.Context | None:
        header = headers.get(self.header_key)
        if not header:
            return None
        carrier = self.payload_converter.from_payloads([header])[0]
        return self.text_map_propagator.extract(carrier) if carrier else None


@contextmanager
def _attached(context: opentelemetry.context.Context) -> Iterator[None]:
    """Attach `context` for the block. The detach is skipped when the block ends in another
    contextvars context (an evicted workflow's coroutine finalized elsewhere), where the token is
    not valid, rather than logging an error (the SDK's own helper does the same)."""
    token = opentelemetry.context.attach(context)
    try:
        yield
    finally:
        with suppress(ValueError):
            token.var.reset(token)


async def connect(
    address: str, namespace: str = "default", *, wait_seconds: float = 30.0, runtime: Runtime | None = None
) -> Client:
    """Connect to Temporal, retrying while the server starts (local stack, rolling deploys).
    Traces follow requests from gRPC into workflows through the OpenTelemetry interceptor (see
    the module docstring: on the client only).
    `runtime`: the SDK runtime the client (and workers built on it) use, e.g. one that exports
    the SDK's metrics (the worker); None: the SDK's default runtime."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        try:
            return await Client.connect(
                address, namespace=namespace, interceptors=[TracingInterceptor()], runtime=runtime
            )
        except RuntimeError as exc:  # the SDK reports connection failures as RuntimeError
            if asyncio.get_running_loop().time() >= deadline:
                raise ConnectionError(f"Temporal at {address} is not reachable: {exc}") from exc
            log.info("waiting for Temporal at %s", address)
            await asyncio.sleep(0.5)


class LazyClient:
    """A Temporal client connected on first use, so a service starts (and serves everything
    else) while Temporal is still coming up or is not configured at all."""

    def __init__(self, address: str, namespace: str = "default", *, wait_seconds: float = 2.0) -> None:
        self.address = address
        self._namespace = namespace
        self._wait = wait_seconds
        self._client: Client | None = None

    @property
    def configured(self) -> bool:
        return bool(self.address)

    async def get(self) -> Client:
        """The client; raises ConnectionError when Temporal is not configured or not reachable."""
        if self._client is None:
            if not self.address:
                raise ConnectionError("no Temporal address is configured")
            self._client = await connect(self.address, self._namespace, wait_seconds=self._wait)
        return self._client


async def send_update(
    client: Client,
    workflow_id: str,
    update: str,
    arg: Any,
    result_type: type[R],
    *,
    start: Callable[[], Awaitable[None]],
    ended: Callable[[], DomainError],
    what: str,
) -> R:
    """Send `update` with `arg` to the workflow `workflow_id` and return its result.

    The workflow is started by an outbox relay that may not have got to it yet: on NOT_FOUND,
    `start()` once and try again. The workflow refusing the update is FAILED_PRECONDITION (the
    ApplicationError's type as the reason, else DECISION_REFUSED); a workflow that has ended is
    `ended()`; Temporal unreachable is UNAVAILABLE (`what` names the workflow to people)."""
    for attempt in range(2):
        handle = client.get_workflow_handle(workflow_id)
        try:
            result: R = await handle.execute_update(update, arg, result_type=result_type)
            return result
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError):
                raise FailedPrecondition(cause.message, reason=cause.type or "DECISION_REFUSED") from None
            raise FailedPrecondition(str(error), reason="DECISION_REFUSED") from None
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND and attempt == 0:
                await start()  # the relay had not got to it yet
                continue
            if error.status == RPCStatusCode.NOT_FOUND or "already completed" in error.message:
                raise ended() from None
            raise Unavailable(f"Temporal is unavailable: {error.message}") from None
    raise Unavailable(f"{what} could not be reached")
