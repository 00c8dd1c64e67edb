"""Clients of each service at the session's addresses (the stack signed into, or the
WATTLANE_<SERVICE>_ADDRESS variables), with the session's token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeVar

from wattlane.cli.session import Session
from wattlane.core.client import ApiClient
from wattlane.core.clients.assets import AssetsClient
from wattlane.core.clients.billing import BillingClient
from wattlane.core.clients.csms import CsmsClient

C = TypeVar("C", bound=ApiClient)


def assets_client(session: Session) -> AssetsClient:
    """A client of assets (locations, charging points, cards, settings, access)."""
    return AssetsClient(session.assets, session.token, max_attempts=3)


def billing_client(session: Session) -> BillingClient:
    """A client of billing (tariffs, charge records, invoices)."""
    return BillingClient(session.billing, session.token, max_attempts=3)


def csms_client(session: Session) -> CsmsClient:
    """A client of the CSMS (stations, commands, transactions)."""
    return CsmsClient(session.csms, session.token, max_attempts=3)


@asynccontextmanager
async def connected(client: C) -> AsyncIterator[C]:
    """`async with connected(assets_client(session)) as assets:` closes the channel after."""
    try:
        yield client
    finally:
        await client.close()
