"""Fixtures of assets' own tests (the shared ones come from wattlane.assets.testing)."""

from __future__ import annotations

import pytest

from wattlane.assets.testing import AssetsStack, Org, organization
from wattlane.identity.testing import TreeBuilder


@pytest.fixture
async def org(tree: TreeBuilder, assets_stack: AssetsStack) -> Org:
    """A fresh organization covered by an approved 20-datapoint account, with licenses."""
    return await organization(tree, assets_stack)
