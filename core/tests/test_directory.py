"""core.clients.directory: the one cached owner directory every service uses, over real gRPC
to a stand-in identity."""

from __future__ import annotations

import pytest

from wattlane.core.clients.directory import IdentityDirectory
from wattlane.core.errors import NotFound, Unavailable
from wattlane.core.testing.fake_identity import FakeIdentity


async def test_owners_resolve_with_their_path_and_are_cached_for_the_ttl() -> None:
    fake = FakeIdentity()
    await fake.start()
    customer = fake.tenant(fake.tenant(fake.root, "PARTNER"), "CUSTOMER")
    org = fake.tenant(customer, "ORGANIZATION")
    cached, uncached = (
        IdentityDirectory(fake.target, lambda: ""),
        IdentityDirectory(fake.target, lambda: "", ttl=0),
    )
    try:
        owner = await cached.owner(org.name)
        assert (owner.tenant_id, owner.path, owner.kind) == (org.id, org.path, "ORGANIZATION")
        assert owner.customer_path == customer.path
        assert (await uncached.owner(org.name)).path == org.path
        del fake.tenants[org.id]  # deleted at identity
        assert await cached.owner(org.name) == owner  # within the ttl: from the cache
        with pytest.raises(NotFound) as caught:
            await uncached.owner(org.name)
        assert org.name in str(caught.value)
    finally:
        await cached.close()
        await uncached.close()
        await fake.stop()


async def test_an_unreachable_identity_reads_as_unavailable_not_as_not_found() -> None:
    fake = FakeIdentity()
    await fake.start()
    target = fake.target
    await fake.stop()
    directory = IdentityDirectory(target, lambda: "", timeout=2.0)
    try:
        with pytest.raises(Unavailable):
            await directory.owner("tenants/anything")
    finally:
        await directory.close()
