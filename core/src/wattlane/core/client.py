"""gRPC client helper: default deadlines, retries on UNAVAILABLE, bearer token, request id and
trace context on every call."""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from opentelemetry import propagate

from wattlane.core.context import request_id_var

# A bearer token, or a function returning one (or an awaitable of one: a service token that
# is renewed on demand).
TokenProvider = Callable[[], "str | Awaitable[str]"]


def _service_config(max_attempts: int) -> str:
    return json.dumps(
        {
            "methodConfig": [
                {
                    "name": [{}],  # every method
                    "retryPolicy": {
                        "maxAttempts": max_attempts,
                        "initialBackoff": "0.1s",
                        "maxBackoff": "2s",
                        "backoffMultiplier": 2,
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            ]
        }
    )


class _ClientInterceptor:
    def __init__(self, token: TokenProvider | None, default_timeout: float) -> None:
        self._token = token
        self._timeout = default_timeout

    async def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        if self._token is not None and "authorization" not in metadata:
            token = self._token()
            if inspect.isawaitable(token):
                token = await token
            if token:
                metadata["authorization"] = f"Bearer {token}"
        if (rid := request_id_var.get()) and "x-request-id" not in metadata:
            metadata["x-request-id"] = rid
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        for key, value in carrier.items():
            metadata[key] = value
        return grpc.aio.ClientCallDetails(
            method=details.method,
            timeout=details.timeout if details.timeout is not None else self._timeout,
            metadata=metadata,
            credentials=details.credentials,
            wait_for_ready=details.wait_for_ready,
        )


# grpc.aio files an interceptor under the first interceptor type it is an instance of, so one
# class implementing both would never see server-streaming calls: one class per call type.
class _UnaryUnaryInterceptor(_ClientInterceptor, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await continuation(await self._details(client_call_details), request)


class _UnaryStreamInterceptor(_ClientInterceptor, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await continuation(await self._details(client_call_details), request)


def channel(
    target: str,
    *,
    token: TokenProvider | str | None = None,
    timeout: float = 10.0,
    max_attempts: int = 4,
) -> grpc.aio.Channel:
    """An insecure (in-cluster/loopback) channel with our client conventions.

    `token` is a bearer token or a callable returning the current one (refreshed tokens)."""
    provider: TokenProvider | None = (lambda t=token: t) if isinstance(token, str) else token  # type: ignore[misc]
    options: list[tuple[str, Any]] = [("grpc.max_receive_message_length", 16 * 1024 * 1024)]
    if max_attempts >= 2:
        options += [("grpc.service_config", _service_config(max_attempts)), ("grpc.enable_retries", 1)]
    else:
        options.append(("grpc.enable_retries", 0))
    interceptors: list[Any] = [
        _UnaryUnaryInterceptor(provider, timeout),
        _UnaryStreamInterceptor(provider, timeout),
    ]
    return grpc.aio.insecure_channel(
        target,
        options=options,
        interceptors=interceptors,
    )


@dataclass
class ApiClient:
    """Base of each service's client (identity, assets, CSMS): one channel to `target` with our
    conventions, sending `token` as the bearer (empty: anonymous), or what `token_provider`
    returns on each call (a service's renewed token). Subclasses add their stubs in
    `__post_init__` after calling this one."""

    target: str
    token: str = ""
    max_attempts: int = 1
    token_provider: TokenProvider | None = None
    channel: grpc.aio.Channel = field(init=False)

    def __post_init__(self) -> None:
        provider = self.token_provider or (lambda: self.token)
        self.channel = channel(self.target, token=provider, max_attempts=self.max_attempts)

    async def close(self) -> None:
        """Close the channel."""
        await self.channel.close(None)
