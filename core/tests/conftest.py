"""Fixtures of core's own tests (the shared ones come from wattlane.core.testing.fixtures)."""

from __future__ import annotations

import pytest

from wattlane.core.testing.tokens import TokenMinter


@pytest.fixture(scope="module")
def minter() -> TokenMinter:
    """Signs real Ed25519 tokens; `minter.verifier()` trusts them."""
    return TokenMinter()
