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
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, bindparam, exists, or_, select
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

# One statement per lookup, built once: the decision is on the charging hot path.
_POINT_COLUMNS = (
    ChargingPoint.id,
    ChargingPoint.owner_path,
    ChargingPoint.rate_plan,
    ChargingPoint.rate_plan_override,
    ChargingPoint.access_mode,
    ChargingPoint.access_mode_override,
    Location.id.label("location_id"),
    Location.display_name.label("location_name"),
    Location.access_mode.label("location_access_mode"),
    Location.rate_plan.label("location_rate_plan"),
    Location.rate_plan_override.label("location_rate_plan_override"),
)
_POINT_BASE = (
    select(*_POINT_COLUMNS)
    .join(Location, Location.id == ChargingPoint.location_id)
    .where(ChargingPoint.delete_time.is_(None), ChargingPoint.state == "ACTIVE")
)
_POINT_BY_IDENTITY = _POINT_BASE.where(ChargingPoint.ocpp_identity == bindparam("identity"))
_POINT_BY_ID = _POINT_BASE.where(ChargingPoint.id == bindparam("point_id"))
_ORG_SETTINGS = select(
    OrganizationSettings.tenant_id, OrganizationSettings.rate_plan, OrganizationSettings.rate_plan_override
).where(OrganizationSettings.tenant_id.in_(bindparam("ids", expanding=True)))
_CARDS = select(
    Card.id,
    Card.kind,
    Card.holder_id,
    Card.owner_id,
    Card.owner_path,
    Card.customer_path,
    Card.valid_from,
    Card.valid_to,
    Card.blocked,
    Card.public_mode,
).where(Card.uid == bindparam("uid"), Card.delete_time.is_(None))
_WHITELISTED = select(
    exists().where(
        WhitelistEntry.organization_id.in_(bindparam("ids", expanding=True)),
        or_(
            WhitelistEntry.card_id == bindparam("card_id"),
            and_(WhitelistEntry.user_id.is_not(None), WhitelistEntry.user_id == bindparam("holder_id")),
        ),
    )
)


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


async def decide(
    db: Database,
    identity: str,
    id_token: str,
    *,
    point_id: str | None = None,
    now: dt.datetime | None = None,
) -> internal_pb2.AccessDecision:
    """The decision for `id_token` at the point with OCPP `identity` (or id `point_id`)."""
    now = now or utcnow()
    async with db.reader(snapshot=False) as session:
        if point_id is not None:
            point = (await session.execute(_POINT_BY_ID, {"point_id": point_id})).one_or_none()
        else:
            point = (await session.execute(_POINT_BY_IDENTITY, {"identity": identity})).one_or_none()
        if point is None:
            raise NotFound(
                f"chargingPoints/{point_id}"
                if point_id
                else f"charging point with OCPP identity {identity[:64]!r}"
            )
        return await _decide(session, point, id_token, now)


async def _decide(
    session: AsyncSession, point: Any, id_token: str, now: dt.datetime
) -> internal_pb2.AccessDecision:
    ids = inheritance.path_ids(point.owner_path)
    customer_path = Owner("", "", point.owner_path, "", "").customer_path
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
    ).value
    decision = D(
        charging_point=f"chargingPoints/{point.id}",
        owner_path=point.owner_path,
        rate_plan=rate_plan.value,
        access_mode=mode,
    )
    uid = ocpp.normalize_id_token(id_token)
    if uid is None:
        decision.status, decision.reason = D.INVALID, "not a valid card token"
        return decision
    card = pick_card((await session.execute(_CARDS, {"uid": uid})).all(), customer_path)
    whitelisted = False
    if card is not None and mode in ("WHITELIST", "ROAMING_WHITELIST"):
        whitelisted = bool(
            await session.scalar(
                _WHITELISTED, {"ids": ids, "card_id": card.id, "holder_id": card.holder_id or ""}
            )
        )
    outcome = judge(mode, card, whitelisted, customer_path, point.location_name, now)
    decision.status, decision.payer, decision.reason = outcome.status, outcome.payer, outcome.reason
    if card is not None:
        decision.card = f"cards/{card.id}"
        decision.card_owner = f"tenants/{card.owner_id}"
        decision.card_owner_path = card.owner_path
        decision.cardholder = f"users/{card.holder_id}" if card.holder_id else ""
        if card.valid_to is not None:
            decision.card_expire_time.FromDatetime(card.valid_to)
    return decision
