"""Temporal client connection shared by services that start workflows and by the worker."""

from __future__ import annotations

import asyncio
import logging

from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import Runtime

log = logging.getLogger("wattlane.temporal")


async def connect(
    address: str, namespace: str = "default", *, wait_seconds: float = 30.0, runtime: Runtime | None = None
) -> Client:
    """Connect to Temporal, retrying while the server starts (local stack, rolling deploys).
    Traces follow requests from gRPC into workflows through the OpenTelemetry interceptor.
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
