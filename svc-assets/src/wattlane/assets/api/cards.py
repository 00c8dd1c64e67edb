"""CardService: charge cards and organizations' whitelists."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import grpc
from google.protobuf import empty_pb2
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.api.assets.v1 import cards_pb2, cards_pb2_grpc
from wattlane.assets import cards, whitelists
from wattlane.assets.models import Card, WhitelistEntry
from wattlane.assets.runtime import Runtime
from wattlane.assets.scoped import owner_visible, parent_in_scope
from wattlane.core.caller import current_caller
from wattlane.core.enums import enum_name
from wattlane.core.errors import InvalidArgument
from wattlane.core.fieldmasks import mask_paths
from wattlane.core.filtering import Field
from wattlane.core.listing import list_call
from wattlane.core.names import parse_name, parse_optional_name
from wattlane.core.timestamps import optional_instant, to_timestamp

FILTER_FIELDS = {
    "uid": Field(Card.uid),
    "label": Field(Card.label),
    "kind": Field(Card.kind, "enum", cards.KINDS),
    "blocked": Field(Card.blocked, "bool"),
    "create_time": Field(Card.create_time, "timestamp"),
}
C = cards_pb2.Card


def _fields(message: cards_pb2.Card, paths: Iterable[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for path in paths:
        if path in ("valid_from", "valid_to"):
            fields[path] = optional_instant(message, path, f"card.{path}")
        elif path == "public_mode":
            mode = message.public_mode
            fields[path] = enum_name(C.PublicMode, mode, "card.public_mode") if mode else ""
        else:
            fields[path] = getattr(message, path)
    return fields


def card_message(row: Card) -> cards_pb2.Card:
    """A card row as the API shows it."""
    return C(
        name=cards.card_name(row.id),
        kind=C.Kind.Value(row.kind),
        uid=row.uid,
        label=row.label,
        cardholder=f"users/{row.holder_id}" if row.holder_id else "",
        owner=f"tenants/{row.owner_id}",
        owner_path=row.owner_path,
        valid_from=to_timestamp(row.valid_from),
        valid_to=to_timestamp(row.valid_to),
        blocked=row.blocked,
        public_mode=C.PublicMode.Value(row.public_mode) if row.public_mode else C.PUBLIC_MODE_UNSPECIFIED,
        issuer=row.issuer,
        create_time=to_timestamp(row.create_time),
        update_time=to_timestamp(row.update_time),
        etag=str(row.version),
    )


def entry_message(row: WhitelistEntry) -> cards_pb2.WhitelistEntry:
    """A whitelist entry row as the API shows it."""
    return cards_pb2.WhitelistEntry(
        name=whitelists.entry_name(row.id),
        organization=f"tenants/{row.organization_id}",
        card=cards.card_name(row.card_id) if row.card_id else "",
        user=f"users/{row.user_id}" if row.user_id else "",
        create_time=to_timestamp(row.create_time),
    )


class CardServicer(cards_pb2_grpc.CardServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def GetCard(
        self, request: cards_pb2.GetCardRequest, context: grpc.aio.ServicerContext
    ) -> cards_pb2.Card:
        """Gets one card (`cards.read`, or the cardholder)."""
        card_id = parse_name(request.name, "cards")
        scope = await current_caller().scope()
        async with self.rt.db.reader() as session:
            return card_message(await cards.get_in_scope(session, scope, card_id, "cards.read"))

    async def ListCards(
        self, request: cards_pb2.ListCardsRequest, context: grpc.aio.ServicerContext
    ) -> cards_pb2.ListCardsResponse:
        """Lists cards under a tenant, of a user, or all in scope (`cards.read`; own cards always)."""
        is_user = request.parent.startswith("users/")
        call = await list_call(
            request,
            "ListCards",
            filter_fields=FILTER_FIELDS,
            parent_collection="users" if is_user else "tenants",
        )
        parent_path = holder_id = None
        if request.parent:
            owner = await parent_in_scope(self.rt.directory, call.scope, request.parent, "cards.read")
            if is_user:
                holder_id = call.parent_id
            else:
                parent_path = owner.path
        async with self.rt.db.reader() as session:
            rows = await cards.list_in_scope(
                session,
                call.scope,
                parent_path=parent_path,
                holder_id=holder_id,
                where=call.where,
                page=call.page,
            )
        return cards_pb2.ListCardsResponse(
            cards=[card_message(r) for r in rows[: call.page.size]],
            next_page_token=call.page.next_token(rows, lambda r: r.id),
        )

    async def CreateCard(
        self, request: cards_pb2.CreateCardRequest, context: grpc.aio.ServicerContext
    ) -> cards_pb2.Card:
        """Adds a private card to a user or a public card to a customer (`cards.manage`)."""
        collection = "users" if request.parent.startswith("users/") else "tenants"
        parse_name(request.parent, collection, "parent")
        fields = _fields(request.card, ("uid", *cards.UPDATABLE))
        scope = await current_caller().scope()
        parent = await owner_visible(self.rt.directory, scope, request.parent)

        async def write(session: AsyncSession) -> cards_pb2.Card:
            row = await cards.create(session, scope, parent, fields)
            await self.rt.audit.record(
                session, resource=cards.card_name(row.id), tenant_path=row.owner_path, changes=sorted(fields)
            )
            return card_message(row)

        return await self.rt.idempotency.once(request, cards_pb2.Card, write)

    async def UpdateCard(
        self, request: cards_pb2.UpdateCardRequest, context: grpc.aio.ServicerContext
    ) -> cards_pb2.Card:
        """Updates label, validity, blocked (`cards.manage`)."""
        card_id = parse_name(request.card.name, "cards", "card.name")
        changes = _fields(request.card, mask_paths(request.update_mask, cards.UPDATABLE))
        scope = await current_caller().scope()

        async def write(session: AsyncSession) -> cards_pb2.Card:
            row = await cards.update(session, scope, card_id, changes, etag=request.card.etag)
            await self.rt.audit.record(
                session, resource=cards.card_name(row.id), tenant_path=row.owner_path, changes=sorted(changes)
            )
            return card_message(row)

        return await self.rt.idempotency.once(request, cards_pb2.Card, write)

    async def DeleteCard(
        self, request: cards_pb2.DeleteCardRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """Removes a card (`cards.manage`)."""
        card_id = parse_name(request.name, "cards")
        scope = await current_caller().scope()

        async def write(session: AsyncSession) -> empty_pb2.Empty:
            row = await cards.delete(session, scope, card_id, etag=request.etag)
            await self.rt.audit.record(
                session, resource=cards.card_name(row.id), tenant_path=row.owner_path, changes=["delete_time"]
            )
            return empty_pb2.Empty()

        return await self.rt.idempotency.once(request, empty_pb2.Empty, write)

    async def CreateWhitelistEntry(
        self, request: cards_pb2.CreateWhitelistEntryRequest, context: grpc.aio.ServicerContext
    ) -> cards_pb2.WhitelistEntry:
        """Puts a card or a user on an organization's whitelist (`cards.manage`)."""
        parse_name(request.parent, "tenants", "parent")
        entry = request.whitelist_entry
        card_id = parse_optional_name(entry.card, "cards", "whitelist_entry.card")
        parse_optional_name(entry.user, "users", "whitelist_entry.user")
        if (card_id is None) == (not entry.user):
            raise InvalidArgument.field("whitelist_entry.card", "set exactly one of card and user")
        scope = await current_caller().scope()
        organization = await owner_visible(self.rt.directory, scope, request.parent)
        whitelists.require_manage(scope, organization)  # before looking up whom the entry names
        user = await owner_visible(self.rt.directory, scope, entry.user) if entry.user else None

        async def write(session: AsyncSession) -> cards_pb2.WhitelistEntry:
            row = await whitelists.create(session, scope, organization, card_id=card_id, user=user)
            await self.rt.audit.record(
                session,
                resource=whitelists.entry_name(row.id),
                tenant_path=row.organization_path,
                changes={"card": entry.card, "user": entry.user},
            )
            return entry_message(row)

        return await self.rt.idempotency.once(request, cards_pb2.WhitelistEntry, write)

    async def ListWhitelistEntries(
        self, request: cards_pb2.ListWhitelistEntriesRequest, context: grpc.aio.ServicerContext
    ) -> cards_pb2.ListWhitelistEntriesResponse:
        """Lists an organization's whitelist (`cards.read`)."""
        if not request.parent:
            raise InvalidArgument.field("parent", "is required (tenants/{id})")
        call = await list_call(request, "ListWhitelistEntries")
        organization = await owner_visible(self.rt.directory, call.scope, request.parent)
        async with self.rt.db.reader() as session:
            rows = await whitelists.list_of(session, call.scope, organization, call.page)
        return cards_pb2.ListWhitelistEntriesResponse(
            whitelist_entries=[entry_message(r) for r in rows[: call.page.size]],
            next_page_token=call.page.next_token(rows, lambda r: r.id),
        )

    async def DeleteWhitelistEntry(
        self, request: cards_pb2.DeleteWhitelistEntryRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """Takes an entry off a whitelist (`cards.manage`)."""
        entry_id = parse_name(request.name, "whitelistEntries")
        scope = await current_caller().scope()

        async def write(session: AsyncSession) -> empty_pb2.Empty:
            row = await whitelists.delete(session, scope, entry_id)
            await self.rt.audit.record(
                session, resource=request.name, tenant_path=row.organization_path, changes=["delete_time"]
            )
            return empty_pb2.Empty()

        return await self.rt.idempotency.once(request, empty_pb2.Empty, write)
