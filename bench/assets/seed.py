"""Bulk seeding of assets' tables: partners → customers → organizations → locations →
charging points, cards and whitelists, written exactly as the API would write them (ULID ids,
owner ids and path copies, normalized UIDs) but in bulk (COPY on PostgreSQL, executemany on
SQLite). Returns what the load generator needs: identities and UIDs to ask about."""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import Table, insert

from wattlane.assets.models import Card, ChargingPoint, Location, OrganizationSettings, WhitelistEntry
from wattlane.core.clock import utcnow
from wattlane.core.db import Database
from wattlane.core.ids import new_id

MODES = ("OPEN", "WHITELIST", "ROAMING", "ROAMING_WHITELIST")
POINTS_PER_LOCATION = 10
LOCATIONS_PER_ORG = 5
ORGS_PER_CUSTOMER = 2
CUSTOMERS_PER_PARTNER = 25


@dataclass(frozen=True)
class Seeded:
    identities: list[str]
    uids: list[str]  # a sample of known card UIDs (the load mixes in unknown ones)
    seconds: float


def _table(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


async def _write(db: Database, dsn: str, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    if dsn:
        columns = list(rows[0])
        conn = await asyncpg.connect(dsn)
        try:
            await conn.copy_records_to_table(
                table.name, records=[tuple(r[c] for c in columns) for r in rows], columns=columns
            )
        finally:
            await conn.close()
        return
    async with db.transaction() as session:
        for start in range(0, len(rows), 20_000):
            await session.execute(insert(table), list(rows[start : start + 20_000]))


def _chunks(rows: Iterable[dict[str, Any]], size: int = 100_000) -> Iterable[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def seed(db: Database, dsn: str, *, points: int, cards: int, rng: random.Random) -> Seeded:
    """Seed `points` charging points and `cards` cards (and the tree around them)."""
    started = time.perf_counter()
    now = utcnow()
    root = "/" + new_id() + "/"
    locations_n = max(1, points // POINTS_PER_LOCATION)
    orgs_n = max(1, locations_n // LOCATIONS_PER_ORG)
    customers_n = max(1, orgs_n // ORGS_PER_CUSTOMER)
    partners = [root + new_id() + "/" for _ in range(max(1, customers_n // CUSTOMERS_PER_PARTNER))]
    customers = [rng.choice(partners) + new_id() + "/" for _ in range(customers_n)]
    orgs = [(customers[i % customers_n] + new_id() + "/") for i in range(orgs_n)]
    org_id = {path: path.rstrip("/").rsplit("/", 1)[1] for path in orgs}
    settings = [
        {
            "tenant_id": org_id[o],
            "tenant_path": o,
            "rate_plan": f"tariffs/r{i % 7}",
            "rate_plan_override": True,
            "version": 1,
        }
        for i, o in enumerate(orgs)
        if i % 2 == 0
    ]
    stamps = {"version": 1, "create_time": now, "update_time": now, "delete_time": None}
    location_defaults = {
        "street": "", "postal_code": "", "city": "Amsterdam", "country": "NL",
        "time_zone": "Europe/Amsterdam", "latitude": 52.0, "longitude": 4.0, "grid_capacity_w": 250_000,
        "rate_plan": "", "rate_plan_override": False, **stamps,
    }  # fmt: skip
    location_rows = []
    for i in range(locations_n):
        owner = orgs[i % orgs_n]
        location_rows.append(
            {
                **location_defaults, "id": new_id(), "owner_id": org_id[owner], "owner_path": owner,
                "display_name": f"Site {i}", "access_mode": MODES[i % 4],
            }
        )  # fmt: skip
    point_defaults = {
        "state": "ACTIVE", "vendor": "Alfen", "model": "Eve", "alias": "", "current_type": "AC",
        "max_power_w": 22_000, "ocpp_version": "1.6", "onboarding": "PRE_APPROVED", "first_seen_time": None,
        "charging_enabled": True, "max_price_per_kwh": 0, "currency": "", "certificate_subject": "",
        "credential_version": 1, **stamps,
    }  # fmt: skip
    point_rows = []
    identities = []
    for i in range(points):
        location = location_rows[i % locations_n]
        identity = f"BENCH-{i:06d}"
        identities.append(identity)
        point_rows.append(
            {
                **point_defaults, "id": new_id(), "location_id": location["id"],
                "owner_id": location["owner_id"], "owner_path": location["owner_path"],
                "ocpp_identity": identity, "serial_number": f"S{i}", "public": i % 5 == 0,
                "rate_plan": "tariffs/visitor" if i % 9 == 0 else "", "rate_plan_override": i % 9 == 0,
                "access_mode": MODES[(i // 7) % 4] if i % 6 == 0 else "", "access_mode_override": i % 6 == 0,
                "key_salt": secrets.token_bytes(16), "key_digest": secrets.token_bytes(32),
            }
        )  # fmt: skip
    await _write(db, dsn, _table(OrganizationSettings), settings)
    await _write(db, dsn, _table(Location), location_rows)
    for chunk in _chunks(point_rows):
        await _write(db, dsn, _table(ChargingPoint), chunk)
    uids: list[str] = []

    def card_rows() -> Iterable[dict[str, Any]]:
        for i in range(cards):
            public = i % 10 == 0
            customer = customers[i % customers_n]
            owner = customer if public else orgs[i % orgs_n]
            uid = f"{i:08X}{rng.getrandbits(24):06X}"
            if i % max(1, cards // 20_000) == 0:
                uids.append(uid)
            public_mode = ("WHITELIST" if i % 20 == 0 else "ROAMING_FREE") if public else ""
            yield {
                **stamps, "id": new_id(), "uid": uid, "kind": "PUBLIC" if public else "PRIVATE",
                "holder_id": None if public else new_id(), "owner_id": owner.rstrip("/").rsplit("/", 1)[1],
                "owner_path": owner, "customer_path": "/" + "/".join(owner.strip("/").split("/")[:3]) + "/",
                "label": "", "valid_from": None, "valid_to": None, "blocked": i % 97 == 0,
                "public_mode": public_mode, "issuer": "",
            }  # fmt: skip

    whitelist: list[dict[str, Any]] = []
    for chunk in _chunks(card_rows()):
        await _write(db, dsn, _table(Card), chunk)
        whitelist += [
            {
                "id": new_id(), "organization_id": row["owner_id"], "organization_path": row["owner_path"],
                "card_id": row["id"], "user_id": None, "create_time": now,
            }
            for row in chunk[::5]
            if row["kind"] == "PRIVATE"
        ]  # fmt: skip
    for chunk in _chunks(whitelist):
        await _write(db, dsn, _table(WhitelistEntry), chunk)
    if dsn:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("ANALYZE")
        finally:
            await conn.close()
    return Seeded(identities, uids, time.perf_counter() - started)
