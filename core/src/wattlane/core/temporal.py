"""Temporal client connection shared by services that start workflows and by the worker."""

from __future__ import annotations

import asyncio
import logging

from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor

log = logging.getLogger("wattlane.temporal")


async def connect(address: str, namespace: str = "default", *, wait_seconds: float = 30.0) -> Client:
    """Connect to Temporal, retrying while the server starts (local stack, rolling deploys).
    Traces follow requests from gRPC into workflows through the OpenTelemetry interceptor."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        try:
            return await Client.connect(address, namespace=namespace, interceptors=[TracingInterceptor()])
        except RuntimeError as exc:  # the SDK reports connection failures as RuntimeError
            if asyncio.get_running_loop().time() >= deadline:
                raise ConnectionError(f"Temporal at {address} is not reachable: {exc}") from exc
            log.info("waiting for Temporal at %s", address)
            await asyncio.sleep(0.5)
