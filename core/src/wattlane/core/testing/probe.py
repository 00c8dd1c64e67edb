"""A tiny gRPC service for testing the server plumbing (interceptor, server, client) end to end.

It speaks `google.protobuf.Struct` in and out, so it needs no generated code:

    async with serve_probe(verifier=minter.verifier()) as (server, probe):
        async with channel(f"127.0.0.1:{server.port}", token=token) as ch:
            reply = await ProbeClient(ch).call("Whoami")
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import json_format
from google.protobuf.struct_pb2 import Struct

from wattlane.core.caller import caller_var
from wattlane.core.client import channel
from wattlane.core.context import method_var, request_id_var
from wattlane.core.logs import current_trace_id
from wattlane.core.scope import ScopeCache
from wattlane.core.server import ServerOptions, ServiceServer
from wattlane.core.tokens import TokenVerifier

if TYPE_CHECKING:
    Context = grpc.aio.ServicerContext[Struct, Struct]

SERVICE = "wattlane.test.v1.Probe"
PUBLIC = f"/{SERVICE}/Public"


def method(name: str) -> str:
    return f"/{SERVICE}/{name}"


def to_struct(values: Mapping[str, Any]) -> Struct:
    message = Struct()
    message.update(dict(values))
    return message


def from_struct(message: Struct) -> dict[str, Any]:
    return json_format.MessageToDict(message)


def _number(request: Struct, key: str) -> float:
    value = request[key]
    if not isinstance(value, int | float):
        raise TypeError(f"{key} must be a number")
    return float(value)


class Probe:
    """The service: every method reports what the plumbing handed it."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.sleeping = asyncio.Event()  # set once a Sleep call is being handled
        # Fail raises failures[request["error"]]; the test decides what they are.
        self.failures: dict[str, BaseException] = {}

    def _context(self) -> dict[str, Any]:
        caller = caller_var.get()
        principal = caller.principal if caller is not None else None
        return {
            "caller": principal.caller_key if principal else "anonymous",
            "subject": principal.subject if principal else "",
            "request_id": request_id_var.get(),
            "method": method_var.get(),
            "trace_id": current_trace_id(),
        }

    async def Whoami(self, request: Struct, context: Context) -> Struct:
        self.calls["Whoami"] += 1
        return to_struct(self._context())

    async def Public(self, request: Struct, context: Context) -> Struct:
        self.calls["Public"] += 1
        return to_struct(self._context())

    async def Fail(self, request: Struct, context: Context) -> Struct:
        self.calls["Fail"] += 1
        raise self.failures[str(request["error"])]

    async def Abort(self, request: Struct, context: Context) -> Struct:
        """A handler that aborts by itself instead of raising a domain error."""
        self.calls["Abort"] += 1
        await context.abort(grpc.StatusCode.NOT_FOUND, "aborted by the handler")
        raise AssertionError("abort returned")  # pragma: no cover

    async def Sleep(self, request: Struct, context: Context) -> Struct:
        self.calls["Sleep"] += 1
        self.sleeping.set()
        await asyncio.sleep(_number(request, "seconds"))
        return to_struct({"slept": True})

    async def Flaky(self, request: Struct, context: Context) -> Struct:
        """Fails with failures["flaky"] for the first request["failures"] calls, then answers."""
        self.calls["Flaky"] += 1
        if self.calls["Flaky"] <= _number(request, "failures"):
            raise self.failures["flaky"]
        return to_struct({"attempts": self.calls["Flaky"]})

    async def Forward(self, request: Struct, context: Context) -> Struct:
        """Calls Whoami at request["target"] through the core client (what a service does)."""
        self.calls["Forward"] += 1
        async with channel(str(request["target"]), token=str(request["token"]), max_attempts=1) as ch:
            reply = await ProbeClient(ch).call("Whoami")
        return to_struct({"downstream": reply, "upstream": self._context()})

    async def Count(self, request: Struct, context: Context) -> AsyncIterator[Struct]:
        """Streams request["n"] messages; raises failures["stream"] after request["fail_after"]."""
        self.calls["Count"] += 1
        fail_after = _number(request, "fail_after") if "fail_after" in request else -1
        for i in range(int(_number(request, "n"))):
            if i == fail_after:
                raise self.failures["stream"]
            yield to_struct({"i": i, **self._context()})

    def register(self, server: grpc.aio.Server) -> None:
        def unary(fn: Callable[..., Any]) -> grpc.RpcMethodHandler[Struct, Struct]:
            return grpc.unary_unary_rpc_method_handler(
                fn, request_deserializer=Struct.FromString, response_serializer=Struct.SerializeToString
            )

        handlers = {
            name: unary(getattr(self, name))
            for name in ("Whoami", "Public", "Fail", "Abort", "Sleep", "Flaky", "Forward")
        }
        handlers["Count"] = grpc.unary_stream_rpc_method_handler(
            self.Count, request_deserializer=Struct.FromString, response_serializer=Struct.SerializeToString
        )
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))


class ProbeClient:
    """Calls the probe over a channel."""

    def __init__(self, ch: grpc.aio.Channel) -> None:
        self.channel = ch

    async def call(
        self,
        name: str,
        request: Mapping[str, Any] | None = None,
        *,
        metadata: Sequence[tuple[str, str]] | None = None,
        deadline: float | None = None,
    ) -> dict[str, Any]:
        """Call method `name`; `deadline` is the call's own timeout in seconds."""
        stub = self.channel.unary_unary(
            method(name), request_serializer=Struct.SerializeToString, response_deserializer=Struct.FromString
        )
        reply = await stub(to_struct(request or {}), metadata=metadata, timeout=deadline)
        return from_struct(reply)

    async def stream(
        self, name: str, request: Mapping[str, Any], *, metadata: Sequence[tuple[str, str]] | None = None
    ) -> list[dict[str, Any]]:
        stub = self.channel.unary_stream(
            method(name), request_serializer=Struct.SerializeToString, response_deserializer=Struct.FromString
        )
        return [from_struct(m) async for m in stub(to_struct(request), metadata=metadata)]


@contextlib.asynccontextmanager
async def serve_probe(
    *,
    service: str = "probe",
    verifier: TokenVerifier | None = None,
    scopes: ScopeCache | None = None,
    public_methods: frozenset[str] = frozenset({PUBLIC}),
    **options: Any,
) -> AsyncIterator[tuple[ServiceServer, Probe]]:
    """A started ServiceServer on a free port serving a Probe; stopped on exit."""
    probe = Probe()
    server = ServiceServer(
        ServerOptions(service=service, public_methods=public_methods, **{"grace_seconds": 0.5, **options}),
        services=[(SERVICE, probe.register)],
        verifier=verifier,
        scopes=scopes,
    )
    await server.start()
    try:
        yield server, probe
    finally:
        await server.stop()
