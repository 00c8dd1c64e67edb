"""Charge cards: a user's private cards and customers' public (roaming) cards. A UID is unique
among a customer's live cards. Reads need `cards.read` where the card's owner sits, except that
a cardholder always sees their own cards."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wattlane.assets import rules
from wattlane.assets.locations import check_etag
from wattlane.assets.models import Card
from wattlane.core import validation
from wattlane.core.clients.directory import Owner
from wattlane.core.clock import utcnow
from wattlane.core.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from wattlane.core.ids import new_id
from wattlane.core.paging import Page
from wattlane.core.scope import PATH_END, EffectiveScope

KINDS = ("PRIVATE", "PUBLIC")
PUBLIC_MODES = ("WHITELIST", "ROAMING_FREE")
UPDATABLE = ("label", "valid_from", "valid_to", "blocked", "public_mode", "issuer")


def card_name(card_id: str) -> str:
    """`cards/{id}`."""
    return f"cards/{card_id}"


def visible_filter(scope: EffectiveScope, permission: str) -> ColumnElement[bool]:
    """Cards inside the scope of `permission`, and the caller's own cards."""
    return or_(scope.filter(permission, Card.owner_path), Card.holder_id == scope.subject)


async def get_in_scope(
    session: AsyncSession, scope: EffectiveScope, card_id: str, permission: str, *, for_update: bool = False
) -> Card:
    """A live card the caller may act on with `permission` (the cardholder may read it); NOT_FOUND when
    invisible, PERMISSION_DENIED without the permission."""
    query = select(Card).where(Card.id == card_id, Card.delete_time.is_(None))
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    name = card_name(card_id)
    if row is None:
        raise NotFound(name)
    if permission == "cards.read" and row.holder_id == scope.subject:
        return row  # the cardholder reads their own card
    if row.holder_id == scope.subject and not scope.visible(row.owner_path):
        raise PermissionDenied(permission, name)  # their own card: visible, not theirs to manage
    scope.require(permission, row.owner_path, name)
    return row


def _apply(row: Card, changes: Mapping[str, Any]) -> None:
    if "label" in changes:
        row.label = validation.text(changes["label"], "card.label", max_length=100, required=False)
    if "valid_from" in changes:
        row.valid_from = changes["valid_from"]
    if "valid_to" in changes:
        row.valid_to = changes["valid_to"]
    if "blocked" in changes:
        row.blocked = bool(changes["blocked"])
    if "issuer" in changes:
        if row.kind != "PUBLIC" and changes["issuer"]:
            raise InvalidArgument.field("card.issuer", "only public cards have an issuer")
        row.issuer = validation.text(changes["issuer"], "card.issuer", max_length=50, required=False)
    if "public_mode" in changes:
        mode = changes["public_mode"]
        if row.kind == "PUBLIC" and mode not in PUBLIC_MODES:
            raise InvalidArgument.field(
                "card.public_mode", f"is required for public cards: {', '.join(PUBLIC_MODES)}"
            )
        if row.kind == "PRIVATE" and mode:
            raise InvalidArgument.field("card.public_mode", "only applies to public cards")
        row.public_mode = mode
    if row.valid_from and row.valid_to and row.valid_to <= row.valid_from:
        raise InvalidArgument.field("card.valid_to", "must be after valid_from")


async def _check_unique(session: AsyncSession, customer_path: str, uid: str) -> None:
    taken = await session.scalar(
        select(
            exists().where(Card.customer_path == customer_path, Card.uid == uid, Card.delete_time.is_(None))
        )
    )
    if taken:
        raise uid_taken(uid)


def uid_taken(uid: str) -> AlreadyExists:
    """ALREADY_EXISTS for a UID the customer already has."""
    return AlreadyExists(f"this customer already has a card with UID {uid}", reason="CARD_UID_TAKEN")


async def create(
    session: AsyncSession, scope: EffectiveScope, parent: Owner, fields: Mapping[str, Any]
) -> Card:
    """A private card of a user (`parent` is `users/{id}`) or a public card of a customer."""
    scope.require("cards.manage", parent.path, parent.name)
    kind = "PRIVATE" if parent.name.startswith("users/") else "PUBLIC"
    if kind == "PUBLIC" and parent.kind != "CUSTOMER":
        raise FailedPrecondition(
            f"public cards are added to customers; {parent.name} is a {parent.kind.lower()}",
            reason="NOT_A_CUSTOMER",
        )
    uid = rules.id_token(fields.get("uid", ""), "card.uid")
    row = Card(
        id=new_id(),
        uid=uid,
        kind=kind,
        holder_id=parent.name.removeprefix("users/") if kind == "PRIVATE" else None,
        owner_id=parent.tenant_id,
        owner_path=parent.path,
        customer_path=parent.customer_path,
        label="",
        blocked=False,
        public_mode="",
        issuer="",
        version=1,
    )
    _apply(
        row,
        {k: v for k, v in fields.items() if k in UPDATABLE} | {"public_mode": fields.get("public_mode", "")},
    )
    await _check_unique(session, row.customer_path, uid)
    session.add(row)
    await session.flush()
    return row


async def update(
    session: AsyncSession, scope: EffectiveScope, card_id: str, changes: Mapping[str, Any], etag: str = ""
) -> Card:
    """Apply validated changes (`cards.manage`), checking the etag."""
    row = await get_in_scope(session, scope, card_id, "cards.manage", for_update=True)
    check_etag(row.version, etag, card_name(card_id))
    _apply(row, changes)
    row.version += 1
    row.update_time = utcnow()
    await session.flush()
    return row


async def delete(session: AsyncSession, scope: EffectiveScope, card_id: str, etag: str = "") -> Card:
    """Soft-delete a card (`cards.manage`), checking the etag."""
    row = await get_in_scope(session, scope, card_id, "cards.manage", for_update=True)
    check_etag(row.version, etag, card_name(card_id))
    row.delete_time = utcnow()
    row.version += 1
    await session.flush()
    return row


async def list_in_scope(
    session: AsyncSession,
    scope: EffectiveScope,
    *,
    parent_path: str | None,
    holder_id: str | None,
    where: ColumnElement[bool],
    page: Page,
) -> list[Card]:
    """Cards the caller may read (under a path, or of a holder), oldest first."""
    query = select(Card).where(Card.delete_time.is_(None), visible_filter(scope, "cards.read"), where)
    if parent_path is not None:
        query = query.where(Card.owner_path >= parent_path, Card.owner_path < parent_path + PATH_END)
    if holder_id is not None:
        query = query.where(Card.holder_id == holder_id)
    return list((await session.execute(page.window(query, [Card.id]))).scalars())


def valid_at(row: Card | Any, now: dt.datetime) -> str:
    """'' when valid at `now`, else why not ('not yet valid' / 'expired')."""
    if row.valid_from is not None and now < row.valid_from:
        return "not yet valid"
    if row.valid_to is not None and now >= row.valid_to:
        return "expired"
    return ""
