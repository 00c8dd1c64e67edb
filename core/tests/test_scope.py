"""scope: grants, effective scopes, the SQL scope filter (checked against a Python evaluation on a
real table) and the per-token ScopeCache."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Column, MetaData, String, Table, insert, select

from wattlane.core import scope as scope_module
from wattlane.core.db import Database
from wattlane.core.errors import NotFound, PermissionDenied
from wattlane.core.orm import PathString
from wattlane.core.scope import EffectiveScope, Grant, ScopeCache, grants_filter, normalize_grants
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.core.tokens import Principal

# ---------------------------------------------------------------------------------------------
# Grants


def test_subtree_grant_covers_the_node_and_everything_below() -> None:
    grant = Grant("/op/p7/")
    assert grant.covers("/op/p7/")
    assert grant.covers("/op/p7/c42/o9/")
    assert not grant.covers("/op/")
    assert not grant.covers("/op/p70/")  # a sibling whose id starts the same
    assert not grant.covers("/op/p8/")


def test_exact_grant_covers_only_its_node() -> None:
    grant = Grant("/op/p7/", subtree=False)
    assert grant.covers("/op/p7/")
    assert not grant.covers("/op/p7/c42/")


def test_allow_list_admits_only_named_resources() -> None:
    grant = Grant("/op/p7/c4/o9/", allowed=frozenset({"locations/L1", "locations/L2"}))
    assert grant.admits("/op/p7/c4/o9/", ["locations/L1"])
    assert grant.admits("/op/p7/c4/o9/", ["chargingPoints/C1", "locations/L2"])  # via its location
    assert not grant.admits("/op/p7/c4/o9/", ["locations/L3"])
    assert not grant.admits("/op/p7/c4/o9/", ["chargingPoints/C9", "locations/L3"])
    assert not grant.admits("/op/p8/", ["locations/L1"])  # outside the path anyway
    assert Grant("/op/").admits("/op/x/")  # unrestricted: no names needed
    assert not Grant("/op/", allowed=frozenset()).admits("/op/x/", ["locations/L1"])


def test_allow_lists_restrict_only_locations_and_charging_points() -> None:
    grant = Grant("/op/p7/c4/o9/", allowed=frozenset({"locations/L1"}))
    # A restricted member still sees its organization, users and cards: the allow-list is
    # about installations.
    assert grant.admits("/op/p7/c4/o9/", ["tenants/o9"])
    assert grant.admits("/op/p7/c4/o9/", ["cards/K1"])
    assert grant.admits("/op/p7/c4/o9/")
    assert not grant.admits("/op/p7/c4/o9/", ["cards/K1", "chargingPoints/C2"])


def test_normalize_drops_grants_implied_by_an_unrestricted_subtree() -> None:
    grants = [
        Grant("/a/b/", subtree=False),
        Grant("/a/"),
        Grant("/a/b/c/"),
        Grant("/a/", allowed=frozenset({"locations/L1"})),
        Grant("/ab/"),  # not below /a/
        Grant("/x/", allowed=frozenset({"locations/L1"})),
        Grant("/x/y/", subtree=False),  # a restricted grant above does not imply it
        Grant("/a/"),
    ]
    assert normalize_grants(grants) == (
        Grant("/a/"),
        Grant("/ab/"),
        Grant("/x/", allowed=frozenset({"locations/L1"})),
        Grant("/x/y/", subtree=False),
    )
    assert normalize_grants([]) == ()


def test_normalize_keeps_an_exact_grant_beside_a_restricted_subtree() -> None:
    restricted = Grant("/a/", allowed=frozenset({"locations/L1"}))
    exact = Grant("/a/", subtree=False)
    assert normalize_grants([restricted, exact]) == (restricted, exact)


# Paths are built from ids; these alphabets include characters around '/' and '~' in byte order.
_IDS = st.text(alphabet="ab0Z-_", min_size=1, max_size=3)
_PATHS = st.lists(_IDS, min_size=1, max_size=4).map(lambda ids: "/" + "".join(i + "/" for i in ids))
_NAMES = st.sampled_from(["locations/L1", "locations/L2", "chargePoints/C1"])
_GRANTS = st.builds(
    Grant,
    path=_PATHS,
    subtree=st.booleans(),
    allowed=st.none() | st.frozensets(_NAMES, max_size=2),
)


@given(st.lists(_GRANTS, max_size=6), st.lists(st.tuples(_PATHS, st.lists(_NAMES, max_size=2)), max_size=10))
def test_normalize_preserves_meaning(grants: list[Grant], probes: list[tuple[str, list[str]]]) -> None:
    normalized = normalize_grants(grants)
    assert len(normalized) <= len(set(grants))
    assert normalize_grants(normalized) == normalized
    assert set(normalize_grants(reversed(grants))) == set(normalized)  # input order does not matter
    for path, names in probes:
        assert any(g.admits(path, names) for g in grants) == any(g.admits(path, names) for g in normalized)


# ---------------------------------------------------------------------------------------------
# Effective scopes

OPERATOR, PARTNER, CUSTOMER, ORG, OTHER_ORG = (
    "/op/",
    "/op/p7/",
    "/op/p7/c4/",
    "/op/p7/c4/o9/",
    "/op/p7/c4/o8/",
)


def member_scope() -> EffectiveScope:
    """A customer admin who reads the whole customer and edits one organization's stations,
    but only at location L1."""
    return EffectiveScope.build(
        "u1",
        {
            "stations.read": [Grant(CUSTOMER), Grant(ORG)],  # the second is implied by the first
            "stations.update": [Grant(ORG, allowed=frozenset({"locations/L1"}))],
            "tenants.update": [Grant(CUSTOMER, subtree=False)],
            "invoices.read": [],
        },
        expires_at=123.0,
    )


def test_build_normalizes_each_permission() -> None:
    scope = member_scope()
    assert scope.grants_for("stations.read") == (Grant(CUSTOMER),)
    assert scope.grants_for("nothing") == ()
    assert scope.permissions() == ["stations.read", "stations.update", "tenants.update"]
    assert scope.all_grants == (Grant(CUSTOMER),)
    assert scope.expires_at == 123.0


def test_can() -> None:
    scope = member_scope()
    assert scope.can("stations.read", ORG + "x/")
    assert scope.can("stations.read", OTHER_ORG)
    assert not scope.can("stations.read", PARTNER)
    assert scope.can("stations.update", ORG, ["locations/L1"])
    assert not scope.can("stations.update", ORG, ["locations/L2"])
    assert not scope.can("stations.update", OTHER_ORG, ["locations/L1"])
    assert scope.can("tenants.update", CUSTOMER)
    assert not scope.can("tenants.update", ORG)
    assert not scope.can("invoices.read", CUSTOMER)


def test_can_everywhere_below() -> None:
    scope = member_scope()
    assert scope.can_everywhere_below("stations.read", ORG)
    assert scope.can_everywhere_below("stations.read", CUSTOMER)
    assert not scope.can_everywhere_below("stations.read", PARTNER)
    assert not scope.can_everywhere_below("stations.update", ORG)  # restricted
    assert not scope.can_everywhere_below("tenants.update", CUSTOMER)  # not a subtree grant


def test_visible_through_any_permission() -> None:
    scope = EffectiveScope.build(
        "u1",
        {
            "a.read": [Grant(ORG, subtree=False)],
            "b.read": [Grant(OTHER_ORG, allowed=frozenset({"locations/L1"}))],
        },
    )
    assert scope.visible(ORG)
    assert not scope.visible(ORG + "x/")
    assert scope.visible(OTHER_ORG + "x/", ["locations/L1"])
    assert not scope.visible(OTHER_ORG + "x/", ["locations/L2"])
    assert not scope.visible(CUSTOMER)


def test_require_allows() -> None:
    member_scope().require("stations.update", ORG, "chargePoints/C1", ["locations/L1"])
    member_scope().require("stations.read", ORG, "chargePoints/C1")


def test_require_visible_without_permission_is_permission_denied() -> None:
    with pytest.raises(PermissionDenied) as caught:
        member_scope().require("stations.update", OTHER_ORG, "chargePoints/C2")
    assert caught.value.metadata == {"permission": "stations.update", "resource": "chargePoints/C2"}
    with pytest.raises(PermissionDenied):
        member_scope().require("stations.update", ORG, "chargePoints/C1", ["locations/L2"])


def test_require_invisible_is_not_found() -> None:
    with pytest.raises(NotFound) as caught:
        member_scope().require("stations.read", PARTNER, "tenants/p7")
    assert caught.value.message == "tenants/p7 not found"
    with pytest.raises(NotFound):
        member_scope().require("stations.update", "/op/p8/", "chargePoints/C9")


def test_allow_list_can_name_the_resource_itself() -> None:
    scope = EffectiveScope.build(
        "u1", {"locations.update": [Grant(ORG, allowed=frozenset({"locations/L1"}))]}
    )
    scope.require("locations.update", ORG, "locations/L1")
    with pytest.raises(NotFound):  # the only grant does not admit L2: invisible
        scope.require("locations.update", ORG, "locations/L2")


# ---------------------------------------------------------------------------------------------
# The SQL filter, against a real table

metadata = MetaData()
resources = Table(
    "resources",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("path", PathString, nullable=False, index=True),
    Column("location_id", String(16), nullable=False),
)


@pytest.fixture(scope="module")
async def db(databases: DatabaseFactory) -> AsyncIterator[Database]:
    database = Database(await databases.create("scope"))
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


@dataclass(frozen=True)
class Row:
    id: str
    path: str
    location_id: str


async def select_ids(db: Database, rows: list[Row], where: Any) -> set[str]:
    """Insert `rows`, select with `where`, roll back."""
    async with db.sessions() as session:
        await session.begin()
        if rows:
            await session.execute(insert(resources), [r.__dict__ for r in rows])
        found = set((await session.scalars(select(resources.c.id).where(where))).all())
        await session.rollback()
    return found


async def test_filter_examples(db: Database) -> None:
    rows = [
        Row("r1", "/op/", "L1"),
        Row("r2", PARTNER, "L1"),
        Row("r3", CUSTOMER, "L1"),
        Row("r4", ORG, "L1"),
        Row("r5", ORG, "L2"),
        Row("r6", ORG + "x/", "L1"),
        Row("r7", OTHER_ORG, "L1"),
        Row("r8", "/op/p70/", "L1"),  # an id that starts like p7
        Row("r9", "/op/p7-/", "L1"),
    ]
    scope = member_scope()
    locations = {"locations": resources.c.location_id}
    assert await select_ids(db, rows, scope.filter("stations.read", resources.c.path)) == {
        "r3",
        "r4",
        "r5",
        "r6",
        "r7",
    }
    assert await select_ids(db, rows, scope.filter("stations.update", resources.c.path, locations)) == {
        "r4",
        "r6",
    }
    assert await select_ids(db, rows, scope.filter("tenants.update", resources.c.path)) == {"r3"}
    assert await select_ids(db, rows, scope.filter("invoices.read", resources.c.path)) == set()
    assert await select_ids(db, rows, scope.filter("unknown", resources.c.path)) == set()
    assert await select_ids(db, rows, scope.filter(None, resources.c.path)) == {"r3", "r4", "r5", "r6", "r7"}
    # Kinds that are not subject to allow-lists (no allow columns) see the whole path.
    assert await select_ids(db, rows, scope.filter("stations.update", resources.c.path)) == {"r4", "r5", "r6"}
    # A restricted grant naming only other collections admits nothing of this kind.
    other = EffectiveScope.build("u1", {"x": [Grant(ORG, allowed=frozenset({"chargePoints/C1"}))]})
    assert await select_ids(db, rows, other.filter("x", resources.c.path, locations)) == set()
    partner = EffectiveScope.build("u2", {"x": [Grant(PARTNER)]})
    assert await select_ids(db, rows, partner.filter("x", resources.c.path)) == {
        "r2",
        "r3",
        "r4",
        "r5",
        "r6",
        "r7",
    }


@st.composite
def _tree(draw: st.DrawFn) -> list[str]:
    """Node paths of a random tree whose ids are unique per parent."""
    paths = ["/" + draw(_IDS) + "/"]
    for _ in range(draw(st.integers(0, 12))):
        parent = draw(st.sampled_from(paths))
        child = parent + draw(_IDS) + "/"
        if child not in paths:
            paths.append(child)
    return paths


@st.composite
def _world(draw: st.DrawFn) -> tuple[list[Row], dict[str, list[Grant]]]:
    paths = draw(_tree())
    rows = [
        Row(f"r{i}", draw(st.sampled_from(paths)), draw(st.sampled_from(["L1", "L2", "L3"])))
        for i in range(draw(st.integers(0, 25)))
    ]
    grant = st.builds(
        Grant,
        path=st.sampled_from(paths) | _PATHS,  # also grants on nodes without rows
        subtree=st.booleans(),
        allowed=st.none() | st.frozensets(_NAMES | st.just("locations/L3"), max_size=2),
    )
    grants = {p: draw(st.lists(grant, max_size=4)) for p in ("a.read", "b.update")}
    return rows, grants


@given(_world())
async def test_filter_agrees_with_python(
    db: Database, world: tuple[list[Row], dict[str, list[Grant]]]
) -> None:
    rows, grants = world
    scope = EffectiveScope.build("u1", grants)
    locations = {"locations": resources.c.location_id}
    for permission in ("a.read", "b.update", None):
        held = scope.all_grants if permission is None else scope.grants_for(permission)
        with_allow_lists = {
            r.id for r in rows if any(g.admits(r.path, [f"locations/{r.location_id}"]) for g in held)
        }
        assert (
            await select_ids(db, rows, scope.filter(permission, resources.c.path, locations))
            == with_allow_lists
        )
        if permission is not None:
            assert with_allow_lists == {
                r.id for r in rows if scope.can(permission, r.path, [f"locations/{r.location_id}"])
            }
        without = {r.id for r in rows if any(g.covers(r.path) for g in held)}
        assert await select_ids(db, rows, grants_filter(held, resources.c.path)) == without


# ---------------------------------------------------------------------------------------------
# ScopeCache


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(scope_module, "time", fake)
    return fake


def principal(clock: Clock, subject: str = "u1", token_id: str = "t1", ttl: float = 900.0) -> Principal:
    return Principal("user", subject, token_id, clock.now + ttl, tenant_id="c4", tenant_path=CUSTOMER)


class Fetcher:
    """Counts fetches; can be made to wait or fail."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()
        self.fail: BaseException | None = None

    async def __call__(self, p: Principal) -> EffectiveScope:
        self.calls.append(p.token_id)
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            error, self.fail = self.fail, None
            raise error
        return EffectiveScope.build(p.subject, {"x": [Grant(p.tenant_path)]}, expires_at=p.expires_at)


async def test_cached_for_the_ttl(clock: Clock) -> None:
    fetch = Fetcher()
    cache = ScopeCache(fetch, ttl=10)
    p = principal(clock)
    first = await cache.get(p)
    clock.now += 9.9
    assert await cache.get(p) is first
    assert fetch.calls == ["t1"]
    clock.now += 0.2
    assert await cache.get(p) is not first
    assert fetch.calls == ["t1", "t1"]


async def test_never_cached_past_the_token_expiry(clock: Clock) -> None:
    fetch = Fetcher()
    cache = ScopeCache(fetch, ttl=60)
    p = principal(clock, ttl=5)
    await cache.get(p)
    clock.now += 4.9
    await cache.get(p)
    assert len(fetch.calls) == 1
    clock.now += 0.2
    await cache.get(p)
    assert len(fetch.calls) == 2


async def test_keyed_by_token(clock: Clock) -> None:
    fetch = Fetcher()
    cache = ScopeCache(fetch)
    await cache.get(principal(clock, token_id="t1"))
    await cache.get(principal(clock, token_id="t2"))
    await cache.get(principal(clock, token_id="t1"))
    assert fetch.calls == ["t1", "t2"]


async def test_concurrent_misses_share_one_fetch(clock: Clock) -> None:
    fetch = Fetcher()
    fetch.gate = asyncio.Event()
    cache = ScopeCache(fetch)
    p = principal(clock)
    tasks = [asyncio.create_task(cache.get(p)) for _ in range(5)]
    await fetch.started.wait()
    await asyncio.sleep(0)
    fetch.gate.set()
    results = await asyncio.gather(*tasks)
    assert fetch.calls == ["t1"]
    assert all(r is results[0] for r in results)
    assert await cache.get(p) is results[0]
    assert fetch.calls == ["t1"]


async def test_errors_reach_every_waiter_and_are_not_cached(clock: Clock) -> None:
    fetch = Fetcher()
    fetch.gate = asyncio.Event()
    fetch.fail = ConnectionError("identity is down")
    cache = ScopeCache(fetch)
    p = principal(clock)
    tasks = [asyncio.create_task(cache.get(p)) for _ in range(3)]
    await fetch.started.wait()
    fetch.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert len(fetch.calls) == 1
    scope = await cache.get(p)  # the next call fetches again
    assert scope.can("x", CUSTOMER)
    assert len(fetch.calls) == 2


async def test_a_cancelled_caller_does_not_cancel_the_others(clock: Clock) -> None:
    """One RPC of a token being cancelled (client gone, deadline) must not fail the other RPCs
    of the same token that wait for the same fetch."""
    fetch = Fetcher()
    fetch.gate = asyncio.Event()
    cache = ScopeCache(fetch)
    p = principal(clock)
    first = asyncio.create_task(cache.get(p))
    await fetch.started.wait()
    second = asyncio.create_task(cache.get(p))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    fetch.gate.set()
    scope = await asyncio.wait_for(second, 5)
    assert scope.subject == "u1"
    with pytest.raises(asyncio.CancelledError):
        await first
    assert len(fetch.calls) == 1


async def test_invalidate(clock: Clock) -> None:
    fetch = Fetcher()
    cache = ScopeCache(fetch)
    u1, u2 = principal(clock, "u1", "t1"), principal(clock, "u2", "t2")
    await cache.get(u1)
    await cache.get(u2)
    cache.invalidate(lambda subject: subject == "u1")
    await cache.get(u1)
    await cache.get(u2)
    assert fetch.calls == ["t1", "t2", "t1"]
    cache.invalidate()
    await cache.get(u1)
    await cache.get(u2)
    assert fetch.calls == ["t1", "t2", "t1", "t1", "t2"]


async def test_bounded_size(clock: Clock) -> None:
    fetch = Fetcher()
    cache = ScopeCache(fetch, ttl=10, max_entries=2)
    await cache.get(principal(clock, token_id="old"))
    clock.now += 11  # "old" has expired
    await cache.get(principal(clock, token_id="a"))
    await cache.get(principal(clock, token_id="b"))  # full: the expired entry makes room
    await cache.get(principal(clock, token_id="a"))
    assert fetch.calls == ["old", "a", "b"]
    await cache.get(principal(clock, token_id="c"))  # full of live entries: start over
    await cache.get(principal(clock, token_id="a"))
    assert fetch.calls == ["old", "a", "b", "c", "a"]
