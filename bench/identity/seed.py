"""Bulk seeding of identity's tables with a large, realistic tenant tree and its users.

Bypasses the API for speed (COPY on PostgreSQL, executemany on SQLite) but writes exactly the
rows the API would: ULID ids (time-ordered, created over three years), paths built from ids
(`/op/p/c/o/`), depth, inherited time zone and locale, users as `users.create_unchecked` makes
them and as accepting, disabling or removing them leaves them, role bindings as `roles.bind`
writes them. The operator root, the built-in roles and the admin come from a real identity
start (migrations + bootstrap) before seeding.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import asyncpg
import orjson
from sqlalchemy import JSON, Table, insert, select, text

from wattlane.core.db import Database
from wattlane.identity.models import Role, RoleBinding, Tenant, User

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # wattlane.core.ids: Crockford base32
FIRST_NAMES = (
    "Anna", "Bram", "Carla", "Daan", "Emma", "Finn", "Greta", "Hugo", "Ines", "Jan", "Kim", "Lars",
    "Maud", "Noah", "Olga", "Pieter", "Quinn", "Rosa", "Sven", "Tess", "Umar", "Vera", "Wim", "Xena",
    "Yara", "Zeno", "Ahmed", "Lotte", "Mila", "Sem",
)  # fmt: skip
LAST_NAMES = (
    "de Vries", "Jansen", "Peeters", "Maes", "Bakker", "Visser", "Smit", "Meyer", "Dubois", "Lambert",
    "Janssens", "Mertens", "Willems", "Claes", "Goossens", "Wouters", "de Jong", "van Dijk", "Schmidt",
    "Martin", "Bernard", "Muller", "Weber", "Fischer", "Hoffmann",
)  # fmt: skip
COMPANY_KINDS = ("Logistics", "Retail", "Foods", "Bouw", "Care")
PARTNER_REGIONS = (
    ("Europe/Amsterdam", "nl"),
    ("Europe/Brussels", "nl-BE"),
    ("Europe/Berlin", "de"),
    ("Europe/Paris", "fr"),
    ("Europe/London", "en"),
    ("Europe/Vienna", "de"),
    ("Europe/Copenhagen", "en"),
)
SITE_KINDS = ("Headquarters", "Depot", "Office", "Warehouse", "Plant", "Store", "Campus", "Garage")
SUB_SITE_KINDS = ("Fleet", "Parking", "Building", "Team", "Floor", "Zone")
# A realistic mix: most members accepted their invitation, some never did, a few are blocked
# or were removed (removed users stay as soft-deleted rows).
STATE_WEIGHTS = (("ACTIVE", 0.84), ("INVITED", 0.10), ("DISABLED", 0.04), ("REMOVED", 0.02))
# Users per node kind (relative): partners and the operator have staff, organizations members.
USER_WEIGHTS = {"OPERATOR": 10.0, "PARTNER": 25.0, "CUSTOMER": 1.0, "ORGANIZATION": 2.2}


def ulid_at(millis: int, rng: random.Random) -> str:
    """A ULID exactly as `wattlane.core.ids.new_id` makes it, for a given creation time."""
    value = millis << 80 | rng.getrandbits(80)
    out = [""] * 26
    for i in range(25, -1, -1):
        out[i] = _ALPHABET[value & 31]
        value >>= 5
    return "".join(out)


@dataclass
class Node:
    id: str
    parent: Node | None
    kind: str
    path: str
    depth: int
    time_zone: str
    locale: str
    created: dt.datetime
    row: dict[str, Any] = field(repr=False)
    users: int = 0  # users directly at this node (live ones)
    subtree_users: int = 0  # live users at or below


@dataclass
class SeededTree:
    """What the benchmarks need to know about the seeded data."""

    root: Node
    nodes: list[Node]
    user_rows: list[dict[str, Any]]
    binding_rows: list[dict[str, Any]]
    big_partner: Node
    big_org: Node  # an organization of the big partner with sub-organizations and many users
    timings: dict[str, float] = field(default_factory=dict)  # seconds per seeding step

    def subtree_user_count(self, node: Node) -> int:
        return node.subtree_users


def _time(start: dt.datetime, end: dt.datetime, fraction: float) -> dt.datetime:
    return start + (end - start) * min(max(fraction, 0.0), 1.0)


def _millis(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


class TreeGenerator:
    """Deterministic (seeded) tree and user generation: operator → partners (Zipf-sized) →
    customers (companies and private users) → organizations → sub-organizations."""

    def __init__(self, nodes: int, users: int, seed: int = 7) -> None:
        if nodes < 10:
            raise ValueError("a tree needs at least 10 nodes")
        self.target_nodes = nodes
        self.target_users = users
        self.rng = random.Random(seed)
        self.end = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        self.start = self.end - dt.timedelta(days=3 * 365)
        self.nodes: list[Node] = []
        self._sibling_counts: dict[str, int] = defaultdict(int)

    # -- tenants -------------------------------------------------------------------------------

    def _add(
        self,
        parent: Node,
        kind: str,
        display_name: str,
        *,
        customer_type: str | None = None,
        brand: dict[str, str] | None = None,
        time_zone: str = "",
        locale: str = "",
    ) -> Node:
        # Creation times follow creation order over the three years, never before the parent.
        fraction = len(self.nodes) / self.target_nodes + self.rng.uniform(0, 0.002)
        created = max(_time(self.start, self.end, fraction), parent.created + dt.timedelta(seconds=1))
        tenant_id = ulid_at(_millis(created), self.rng)
        path = f"{parent.path}{tenant_id}/"
        brand = brand or {}
        row: dict[str, Any] = {
            "id": tenant_id,
            "parent_id": parent.id,
            "kind": kind,
            "customer_type": customer_type,
            "display_name": display_name,
            "path": path,
            "depth": parent.depth + 1,
            "time_zone": time_zone or parent.time_zone,
            "locale": locale or parent.locale,
            "country": parent.row.get("country", "") if parent.row else "",
            "owner_user_id": None,
            "brand_name": brand.get("name"),
            "brand_logo_url": brand.get("logo_url"),
            "brand_primary_color": brand.get("primary_color"),
            "brand_secondary_color": brand.get("secondary_color"),
            "brand_mail_domain": brand.get("mail_domain"),
            "version": 1,
            "create_time": created,
            "update_time": created,
            "delete_time": None,
        }
        node = Node(
            tenant_id, parent, kind, path, parent.depth + 1, row["time_zone"], row["locale"], created, row
        )
        self.nodes.append(node)
        self._sibling_counts[parent.id] += 1
        return node

    def _full(self) -> bool:
        return len(self.nodes) >= self.target_nodes

    def tree(self, root: Node) -> list[Node]:
        rng = self.rng
        self.nodes = [root]
        n_partners = max(2, round(self.target_nodes / 2500))
        partners = []
        for i in range(n_partners):
            tz, locale = PARTNER_REGIONS[i % len(PARTNER_REGIONS)]
            slug = f"partner{i + 1}"
            brand = {
                "name": f"Charge {slug.title()}",
                "logo_url": f"https://{slug}.example.com/logo.png",
                "primary_color": f"#{rng.randrange(1 << 24):06x}",
                "secondary_color": f"#{rng.randrange(1 << 24):06x}",
                "mail_domain": f"{slug}.example.com",
            }
            partners.append(
                self._add(root, "PARTNER", f"Partner {i + 1}", brand=brand, time_zone=tz, locale=locale)
            )
        # Zipf-like partner sizes: the biggest partner holds roughly a fifth of all customers.
        weights = [1 / (i + 1) ** 1.1 for i in range(n_partners)]
        customers = 0
        while not self._full():
            partner = rng.choices(partners, weights)[0]
            customers += 1
            if rng.random() < 0.35:
                name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)} ({customers})"
                customer = self._add(partner, "CUSTOMER", name, customer_type="PRIVATE_USER")
                if not self._full():
                    self._add(customer, "ORGANIZATION", "Home")
                continue
            name = f"{rng.choice(LAST_NAMES)} {rng.choice(COMPANY_KINDS)} {customers}"
            customer = self._add(partner, "CUSTOMER", name, customer_type="COMPANY")
            for o in range(rng.choice((1, 1, 1, 2, 2, 3, 4, 6))):
                if self._full():
                    break
                org = self._add(customer, "ORGANIZATION", f"{SITE_KINDS[o % len(SITE_KINDS)]} {o + 1}")
                if rng.random() < 0.4:
                    for s in range(rng.choice((1, 1, 2, 3, 5))):
                        if self._full():
                            break
                        sub = self._add(
                            org, "ORGANIZATION", f"{SUB_SITE_KINDS[s % len(SUB_SITE_KINDS)]} {s + 1}"
                        )
                        if rng.random() < 0.1:
                            for d in range(rng.choice((1, 2))):
                                if self._full():
                                    break
                                self._add(sub, "ORGANIZATION", f"Unit {d + 1}")
        return self.nodes

    # -- users and role bindings ---------------------------------------------------------------

    def users(self, active_hash: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rng = self.rng
        nodes = self.nodes
        cum: list[float] = []
        total = 0.0
        for node in nodes:
            total += USER_WEIGHTS[node.kind]
            cum.append(total)
        states = [s for s, _ in STATE_WEIGHTS]
        state_weights = [w for _, w in STATE_WEIGHTS]
        owners = rng.choices(nodes, cum_weights=cum, k=self.target_users)
        chosen_states = rng.choices(states, state_weights, k=self.target_users)
        user_rows: list[dict[str, Any]] = []
        first_active: dict[str, dict[str, Any]] = {}
        for n, (node, state) in enumerate(zip(owners, chosen_states, strict=True)):
            created = _time(node.created, self.end, rng.random())
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            local = f"{first}.{last}".lower().replace(" ", "")
            row: dict[str, Any] = {
                "id": ulid_at(_millis(created), rng),
                "tenant_id": node.id,
                "tenant_path": node.path,
                "email": f"{local}.{n}@{node.kind.lower()}{n % 97}.example.com",
                "display_name": f"{first} {last}",
                "locale": node.locale,
                "state": "INVITED",
                "password_hash": None,
                "auth_epoch": 0,
                "version": 1,
                "create_time": created,
                "update_time": created,
                "delete_time": None,
            }
            if state != "INVITED":  # accepted the invitation (version + 1)
                row.update(state="ACTIVE", password_hash=active_hash, version=2)
                row["update_time"] = created + dt.timedelta(hours=rng.uniform(1, 72))
            if state in ("DISABLED", "REMOVED"):  # later changed by an admin: new epoch, version + 1
                changed = _time(row["update_time"], self.end, rng.random())
                row.update(auth_epoch=1, version=3, update_time=changed)
                if state == "DISABLED":
                    row["state"] = "DISABLED"
                else:  # removed: soft-deleted (the state stays what it was)
                    row["delete_time"] = changed
            user_rows.append(row)
            if row["delete_time"] is None:
                for ancestor in _lineage(node):
                    ancestor.subtree_users += 1
                node.users += 1
                if row["state"] == "ACTIVE" and node.kind != "OPERATOR":
                    best = first_active.get(node.id)
                    if best is None or row["id"] < best["id"]:
                        first_active[node.id] = row
        bindings = []
        by_id = {node.id: node for node in nodes}
        for tenant_id, user in first_active.items():
            node = by_id[tenant_id]
            role = "partner-admin" if node.kind == "PARTNER" else "organization-admin"
            created = user["update_time"] + dt.timedelta(minutes=5)
            bindings.append(
                {
                    "id": ulid_at(_millis(created), rng),
                    "user_id": user["id"],
                    "role_id": role,
                    "tenant_id": node.id,
                    "tenant_path": node.path,
                    "propagate": True,
                    "allowed_resources": [],
                    "create_time": created,
                }
            )
        return user_rows, bindings


def _lineage(node: Node) -> Iterator[Node]:
    current: Node | None = node
    while current is not None:
        yield current
        current = current.parent


async def _root(db: Database) -> Node:
    async with db.reader() as session:
        root = (
            await session.execute(
                select(Tenant).where(Tenant.parent_id.is_(None), Tenant.delete_time.is_(None))
            )
        ).scalar_one()
    row = {c.name: getattr(root, c.key) for c in Tenant.__table__.columns}
    return Node(
        root.id, None, "OPERATOR", root.path, root.depth, root.time_zone, root.locale, root.create_time, row
    )


async def _active_hash(db: Database) -> str:
    """A real password hash (the bootstrap admin's) for users who accepted their invitation."""
    async with db.reader() as session:
        value = await session.scalar(
            select(User.password_hash).where(User.password_hash.is_not(None)).limit(1)
        )
        builtin = await session.scalar(select(Role.id).where(Role.id == "partner-admin"))
    if value is None or builtin is None:
        raise RuntimeError("identity was not bootstrapped (no admin or no built-in roles)")
    return value


def _records(table: Table, rows: Iterable[dict[str, Any]]) -> list[tuple[Any, ...]]:
    names = [c.name for c in table.columns]
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    return [
        tuple(orjson.dumps(row[n]).decode() if n in json_columns else row[n] for n in names) for row in rows
    ]


async def _load_postgres(dsn: str, tree: SeededTree) -> None:
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        # The rows reference each other correctly by construction: skip the per-row foreign-key
        # triggers during the load (superuser only, this session only), which halves COPY time.
        await conn.execute("SET session_replication_role = replica")
        for table, rows in (
            (Tenant.__table__, [n.row for n in tree.nodes[1:]]),
            (User.__table__, tree.user_rows),
            (RoleBinding.__table__, tree.binding_rows),
        ):
            assert isinstance(table, Table)
            await conn.copy_records_to_table(
                table.name, records=_records(table, rows), columns=[c.name for c in table.columns]
            )
        await conn.execute("SET session_replication_role = DEFAULT")
        dangling = await conn.fetchval(
            """SELECT (SELECT count(*) FROM tenants c LEFT JOIN tenants p ON p.id = c.parent_id
                       WHERE c.parent_id IS NOT NULL AND p.id IS NULL)
                    + (SELECT count(*) FROM users u LEFT JOIN tenants t ON t.id = u.tenant_id
                       WHERE t.id IS NULL)
                    + (SELECT count(*) FROM role_bindings b LEFT JOIN users u ON u.id = b.user_id
                       LEFT JOIN roles r ON r.id = b.role_id LEFT JOIN tenants t ON t.id = b.tenant_id
                       WHERE u.id IS NULL OR r.id IS NULL OR t.id IS NULL)"""
        )
        if dangling:
            raise AssertionError(f"seeding wrote {dangling} rows whose foreign keys point nowhere")
        tree.timings["copy"] = time.perf_counter() - started
        started = time.perf_counter()
        await conn.execute("VACUUM ANALYZE tenants, users, role_bindings")
        tree.timings["vacuum analyze"] = time.perf_counter() - started
    finally:
        await conn.close()


async def _load_sqlite(db: Database, tree: SeededTree) -> None:
    started = time.perf_counter()
    chunk = 20_000
    async with db.engine.begin() as conn:
        for table, rows in (
            (Tenant.__table__, [n.row for n in tree.nodes[1:]]),
            (User.__table__, tree.user_rows),
            (RoleBinding.__table__, tree.binding_rows),
        ):
            for i in range(0, len(rows), chunk):
                await conn.execute(insert(cast(Table, table)), rows[i : i + chunk])
    tree.timings["insert"] = time.perf_counter() - started
    started = time.perf_counter()
    async with db.engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
        await conn.commit()
    tree.timings["analyze"] = time.perf_counter() - started


async def seed(db: Database, nodes: int, users: int, *, dsn: str = "", seed_value: int = 7) -> SeededTree:
    """Generate and bulk-load the tree (`nodes` tenants including the existing root) and `users`
    users; `dsn` (PostgreSQL) selects COPY, else SQLite inserts."""
    started = time.perf_counter()
    root = await _root(db)
    active_hash = await _active_hash(db)
    generator = TreeGenerator(nodes, users, seed_value)
    all_nodes = generator.tree(root)
    user_rows, binding_rows = generator.users(active_hash)
    partners = [n for n in all_nodes if n.kind == "PARTNER"]
    big_partner = max(partners, key=lambda n: n.subtree_users)
    orgs = [
        n
        for n in all_nodes
        if n.kind == "ORGANIZATION" and n.depth == 3 and n.path.startswith(big_partner.path)
    ]
    with_children = {n.parent.id for n in all_nodes if n.parent is not None and n.kind == "ORGANIZATION"}
    candidates = [o for o in orgs if o.id in with_children] or orgs or partners
    big_org = max(candidates, key=lambda n: n.subtree_users)
    tree = SeededTree(root, all_nodes, user_rows, binding_rows, big_partner, big_org)
    tree.timings["generate"] = time.perf_counter() - started
    if dsn:
        await _load_postgres(dsn, tree)
    else:
        await _load_sqlite(db, tree)
    return tree
