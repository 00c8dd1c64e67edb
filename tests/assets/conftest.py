"""Fixtures of assets' own tests (the shared ones come from tests.support.assets)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.assets import AssetsStack, Org, organization
from wattlane.identity.testing import Client, TreeBuilder

# Tariffs the assets tests reference in rate plans, owned by the operator (visible everywhere).
SHARED_TARIFFS = ("standard", "summer", "visitor", "x", "a", "b", "c")


@pytest.fixture(autouse=True)
def shared_tariffs(assets_stack: AssetsStack) -> None:
    """Register SHARED_TARIFFS with the stack's fake billing (registering twice is harmless)."""
    for name in SHARED_TARIFFS:
        assets_stack.billing.add(f"tariffs/{name}", "/")


@pytest.fixture
async def org(tree: TreeBuilder, assets_stack: AssetsStack) -> Org:
    """A fresh organization covered by an approved 20-datapoint account, with licenses."""
    return await organization(tree, assets_stack)


@pytest.fixture(scope="module")
async def tree_builder(admin: Client) -> AsyncIterator[TreeBuilder]:
    """A tree builder shared by a module's tests (hypothesis examples cannot take per-test fixtures)."""
    builder = TreeBuilder(admin)
    yield builder
    await builder.close()


@pytest.fixture(scope="module")
async def organization_fixture(tree_builder: TreeBuilder, assets_stack: AssetsStack) -> Org:
    """One organization with an account for a whole module (property tests)."""
    return await organization(tree_builder, assets_stack)
