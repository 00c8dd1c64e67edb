"""Access decisions: may this card charge at this charging point, who pays, and why.

Access modes (the point's own when it overrides, else its location's):
- OPEN: any card, free. A known card that is blocked or outside its validity is still refused.
- WHITELIST: only whitelisted cards, free for them. A card is whitelisted at a point when it, or
  its holder, is on the whitelist of the point's organization (or an ancestor organization), or
  it is a public card of the point's customer added as *whitelist*.
- ROAMING: public cards and platform users' private cards; the cardholder pays (ROAMING for
  public cards, CARDHOLDER for private ones), except public cards of the point's customer added
  as *roaming free*, which charge free. Unknown cards are refused (no roaming hub is connected).
- ROAMING_WHITELIST: whitelisted cards free, otherwise as ROAMING.

A UID may exist at several customers; the card of the point's own customer counts first, then
a public card, then any. The decision names the card's owner so the CSMS can record who may see
the transaction."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Table, and_, bindparam, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.api.assets.v1 import internal_pb2
from wattlane.assets import inheritance
from wattlane.assets.cards import valid_at
from wattlane.assets.models import Card, ChargingPoint, Location, OrganizationSettings, WhitelistEntry
from wattlane.assets.upstream import Owner
from wattlane.core import ocpp
from wattlane.core.db import Database
from wattlane.core.errors import NotFound
from wattlane.core.orm import utcnow

D = internal_pb2.AccessDecision


def _table(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


# Core statements built once (no ORM layer on the charging hot path).
_CP = _table(ChargingPoint)
_LOC = _table(Location)
_ORG = _table(OrganizationSettings)
_CARD = _table(Card)
_WL = _table(WhitelistEntry)
_POINT = (
    select(
        _CP.c.id,
        _CP.c.owner_path,
        _CP.c.rate_plan,
        _CP.c.rate_plan_override,
        _CP.c.access_mode,
        _CP.c.access_mode_override,
        _LOC.c.id.label("location_id"),
        _LOC.c.display_name.label("location_name"),
        _LOC.c.access_mode.label("location_access_mode"),
        _LOC.c.rate_plan.label("location_rate_plan"),
        _LOC.c.rate_plan_override.label("location_rate_plan_override"),
    )
    .join(_LOC, _LOC.c.id == _CP.c.location_id)
    .where(_CP.c.delete_time.is_(None), _CP.c.state == "ACTIVE")
)
_POINT_BY_IDENTITY = _POINT.where(_CP.c.ocpp_identity == bindparam("identity"))
_POINT_BY_ID = _POINT.where(_CP.c.id == bindparam("point_id"))
_ORG_SETTINGS = select(_ORG.c.tenant_id, _ORG.c.rate_plan, _ORG.c.rate_plan_override).where(
    _ORG.c.tenant_id.in_(bindparam("ids", expanding=True))
)
# Every live card with the UID, and whether it (or its holder) is on the whitelist of the
# point's organization or an ancestor organization: one round trip.
_CARDS = select(
    _CARD.c.id,
    _CARD.c.kind,
    _CARD.c.holder_id,
    _CARD.c.owner_id,
    _CARD.c.owner_path,
    _CARD.c.customer_path,
    _CARD.c.valid_from,
    _CARD.c.valid_to,
    _CARD.c.blocked,
    _CARD.c.public_mode,
    exists()
    .where(
        _WL.c.organization_id.in_(bindparam("ids", expanding=True)),
        or_(
            _WL.c.card_id == _CARD.c.id, and_(_WL.c.user_id.is_not(None), _WL.c.user_id == _CARD.c.holder_id)
        ),
    )
    .label("whitelisted"),
).where(_CARD.c.uid == bindparam("uid"), _CARD.c.delete_time.is_(None))


@dataclass(frozen=True)
class PointContext:
    """What a decision needs of a charging point, with its settings already resolved."""

    point_id: str
    owner_path: str
    ids: tuple[str, ...]  # node ids of the owner path (for whitelists up the tree)
    customer_path: str
    location_name: str
    access_mode: str
    rate_plan: str


@dataclass(frozen=True)
class Outcome:
    status: internal_pb2.AccessDecision.Status.ValueType
    payer: internal_pb2.AccessDecision.Payer.ValueType
    reason: str


def pick_card(cards: Sequence[Any], customer_path: str) -> Any | None:
    """The card a UID means at a point of the customer at `customer_path` (see the docstring)."""
    if not cards:
        return None
    own = [c for c in cards if c.customer_path == customer_path]
    public = [c for c in cards if c.kind == "PUBLIC"]
    return (own or public or list(cards))[0]


def judge(
    mode: str, card: Any | None, whitelisted: bool, customer_path: str, location_name: str, now: dt.datetime
) -> Outcome:
    """The decision for a card (None: unknown) under an access mode (pure: the rules above)."""
    where = f"location {location_name}"
    if card is not None:
        if card.blocked:
            return Outcome(D.BLOCKED, D.PAYER_UNSPECIFIED, "card is blocked by its owner")
        invalid = valid_at(card, now)
        if invalid:
            return Outcome(D.EXPIRED, D.PAYER_UNSPECIFIED, f"card is {invalid}")
    if mode == "OPEN":
        return Outcome(D.ACCEPTED, D.FREE, "access mode Open: any card accepted")
    if card is None:
        return Outcome(D.INVALID, D.PAYER_UNSPECIFIED, f"unknown card; access mode {_label(mode)} at {where}")
    own_public = card.kind == "PUBLIC" and card.customer_path == customer_path
    listed = whitelisted or (own_public and card.public_mode == "WHITELIST")
    if mode in ("WHITELIST", "ROAMING_WHITELIST") and listed:
        return Outcome(D.ACCEPTED, D.FREE, f"card is on the whitelist of {where}")
    if mode == "WHITELIST":
        return Outcome(D.INVALID, D.PAYER_UNSPECIFIED, f"card not on the whitelist of {where}")
    if own_public and card.public_mode == "ROAMING_FREE":
        return Outcome(D.ACCEPTED, D.FREE, f"roaming card charges free at this customer's points ({where})")
    if card.kind == "PUBLIC":
        return Outcome(
            D.ACCEPTED, D.ROAMING, f"access mode {_label(mode)}: roaming card accepted, the issuer pays"
        )
    return Outcome(
        D.ACCEPTED, D.CARDHOLDER, f"access mode {_label(mode)}: card accepted, the cardholder pays"
    )


def _label(mode: str) -> str:
    return {
        "OPEN": "Open",
        "WHITELIST": "Whitelist",
        "ROAMING": "Roaming",
        "ROAMING_WHITELIST": "Roaming + Whitelist",
    }[mode]


class AccessDecider:
    """DecideAccess's lookups. A charging point's context (its location, access mode and rate
    plan in force) is cached per OCPP identity for `ttl` seconds, so a decision costs one round
    trip (the card with its whitelist flag); a settings change reaches decisions within `ttl`.
    Cards are never cached: blocking a card takes effect at the next decision."""

    def __init__(self, db: Database, ttl: float = 5.0, max_entries: int = 200_000) -> None:
        self._db = db
        self._ttl = ttl
        self._max = max_entries
        self._contexts: dict[str, tuple[float, PointContext]] = {}

    async def decide(
        self, identity: str, id_token: str, *, now: dt.datetime | None = None
    ) -> internal_pb2.AccessDecision:
        """The decision for `id_token` at the point with OCPP `identity` (NOT_FOUND: no such point)."""
        async with self._db.reader(snapshot=False) as session:
            context = self._cached(identity)
            if context is None:
                context = await _context(session, _POINT_BY_IDENTITY, {"identity": identity})
                if context is None:
                    raise NotFound(f"charging point with OCPP identity {identity[:64]!r}")
                self._remember(identity, context)
            return await _decide(session, context, id_token, now or utcnow())

    async def explain(self, point_id: str, id_token: str) -> internal_pb2.AccessDecision:
        """The decision at a point by id, from fresh reads (support asks after changing something)."""
        async with self._db.reader(snapshot=False) as session:
            context = await _context(session, _POINT_BY_ID, {"point_id": point_id})
            if context is None:
                raise NotFound(f"chargingPoints/{point_id}")
            return await _decide(session, context, id_token, utcnow())

    def _cached(self, identity: str) -> PointContext | None:
        if self._ttl <= 0:
            return None
        entry = self._contexts.get(identity)
        return entry[1] if entry is not None and entry[0] > time.monotonic() else None

    def _remember(self, identity: str, context: PointContext) -> None:
        if self._ttl <= 0:
            return
        if len(self._contexts) >= self._max:
            self._contexts.clear()
        self._contexts[identity] = (time.monotonic() + self._ttl, context)


async def _context(session: AsyncSession, statement: Any, params: dict[str, str]) -> PointContext | None:
    point = (await session.execute(statement, params)).one_or_none()
    if point is None:
        return None
    ids = inheritance.path_ids(point.owner_path)
    org_rows = (await session.execute(_ORG_SETTINGS, {"ids": ids})).all()
    location = SimpleNamespace(
        id=point.location_id,
        rate_plan=point.location_rate_plan,
        rate_plan_override=point.location_rate_plan_override,
    )
    rate_plan = inheritance.resolve(
        inheritance.rate_plan_levels(inheritance.organization_levels_of(ids, org_rows), location, point)
    )
    mode = inheritance.resolve(
        inheritance.access_mode_levels(point.location_id, point.location_access_mode, point)
    )
    return PointContext(
        point_id=point.id,
        owner_path=point.owner_path,
        ids=tuple(ids),
        customer_path=Owner("", "", point.owner_path, "", "").customer_path,
        location_name=point.location_name,
        access_mode=mode.value,
        rate_plan=rate_plan.value,
    )


async def _decide(
    session: AsyncSession, context: PointContext, id_token: str, now: dt.datetime
) -> internal_pb2.AccessDecision:
    decision = D(
        charging_point=f"chargingPoints/{context.point_id}",
        owner_path=context.owner_path,
        rate_plan=context.rate_plan,
        access_mode=context.access_mode,
    )
    uid = ocpp.normalize_id_token(id_token)
    if uid is None:
        decision.status, decision.reason = D.INVALID, "not a valid card token"
        return decision
    rows = (await session.execute(_CARDS, {"uid": uid, "ids": list(context.ids)})).all()
    card = pick_card(rows, context.customer_path)
    outcome = judge(
        context.access_mode,
        card,
        bool(card is not None and card.whitelisted),
        context.customer_path,
        context.location_name,
        now,
    )
    decision.status, decision.payer, decision.reason = outcome.status, outcome.payer, outcome.reason
    if card is not None:
        decision.card = f"cards/{card.id}"
        decision.card_owner = f"tenants/{card.owner_id}"
        decision.card_owner_path = card.owner_path
        decision.cardholder = f"users/{card.holder_id}" if card.holder_id else ""
        if card.valid_to is not None:
            decision.card_expire_time.FromDatetime(card.valid_to)
    return decision
