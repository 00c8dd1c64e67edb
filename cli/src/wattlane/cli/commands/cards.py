"""wattlane cards list | show | create | update | delete, and
wattlane whitelists list | add | remove: charge cards (a user's private cards, a customer's public
roaming cards) and organizations' whitelists of users and cards (assets).

`update` changes only the fields given."""

from __future__ import annotations

import argparse
import datetime as dt

from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp

from wattlane.api.assets.v1 import cards_pb2
from wattlane.cli.clients import assets_client, connected
from wattlane.cli.output import as_json, list_flags, output_flags, print_list, resource, set_fields
from wattlane.cli.session import Session
from wattlane.core.clients.identity import IdentityClient

C = cards_pb2
Card = C.Card
PUBLIC_MODES = ("whitelist", "roaming_free")


def _time(value: Timestamp) -> str:
    return value.ToDatetime().strftime("%Y-%m-%d %H:%M") if value.seconds else "-"


def _timestamp(text: str) -> Timestamp:
    """An ISO time (UTC when it has no offset) as a Timestamp."""
    value = dt.datetime.fromisoformat(text)
    stamp = Timestamp()
    stamp.FromDatetime(value if value.tzinfo else value.replace(tzinfo=dt.UTC))
    return stamp


def _row(c: Card) -> tuple[object, ...]:
    return (
        c.name,
        c.uid,
        Card.Kind.Name(c.kind).lower(),
        c.label or "-",
        "blocked" if c.blocked else "ok",
        f"{_time(c.valid_from)} .. {_time(c.valid_to)}",
        c.cardholder or c.owner,
    )


def _card_parent(args: argparse.Namespace) -> str:
    if args.user:
        return resource("users", args.user)
    return resource("tenants", args.parent) if args.parent else ""


async def list_(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    async with connected(assets_client(session)) as assets:
        page = await assets.cards.ListCards(
            C.ListCardsRequest(
                parent=_card_parent(args),
                filter=args.filter or "",
                page_size=args.limit,
                page_token=args.page_token,
            )
        )
    headers = ["name", "uid", "kind", "label", "state", "valid (UTC)", "cardholder / owner"]
    print_list(args, page.cards, page.next_page_token, headers, _row)


async def show(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    async with connected(assets_client(session)) as assets:
        card = await assets.cards.GetCard(C.GetCardRequest(name=resource("cards", args.name)))
    if args.json:
        print(as_json(card))
        return
    print(f"{card.name}: {card.uid} ({Card.Kind.Name(card.kind).lower()}) {card.label or ''}".rstrip())
    print(f"  owner {card.owner}, cardholder {card.cardholder or '-'}")
    print(
        f"  valid {_time(card.valid_from)} .. {_time(card.valid_to)} UTC, "
        f"{'blocked' if card.blocked else 'not blocked'}"
    )
    if card.kind == Card.PUBLIC:
        mode = Card.PublicMode.Name(card.public_mode).lower()
        print(f"  public mode {mode}, issuer {card.issuer or '-'}")


def _card_from_args(args: argparse.Namespace) -> tuple[Card, list[str]]:
    card = Card()
    fields = set_fields(
        card,
        {
            "label": args.label,
            "blocked": args.blocked,
            "issuer": args.issuer,
            "valid_from": _timestamp(args.valid_from) if args.valid_from else None,
            "valid_to": _timestamp(args.valid_to) if args.valid_to else None,
            "public_mode": Card.PublicMode.Value(args.public_mode.upper()) if args.public_mode else None,
        },
    )
    return card, fields


async def create(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    if not args.user and not args.parent:
        raise SystemExit(
            "create: give --user users/ID (a private card) or --parent tenants/ID (a public card)"
        )
    card, _ = _card_from_args(args)
    card.uid = args.uid
    async with connected(assets_client(session)) as assets:
        created = await assets.cards.CreateCard(
            C.CreateCardRequest(parent=_card_parent(args), card=card, request_id=args.request_id or "")
        )
    print(as_json(created) if args.json else f"created {created.name}: {created.uid}")


async def update(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    card, fields = _card_from_args(args)
    if not fields:
        raise SystemExit("update: nothing to change (give --label, --blocked, --valid-to, ...)")
    card.name = resource("cards", args.name)
    async with connected(assets_client(session)) as assets:
        updated = await assets.cards.UpdateCard(
            C.UpdateCardRequest(
                card=card, update_mask=FieldMask(paths=fields), request_id=args.request_id or ""
            )
        )
    print(as_json(updated) if args.json else f"updated {updated.name} ({', '.join(fields)})")


async def delete(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    name = resource("cards", args.name)
    async with connected(assets_client(session)) as assets:
        await assets.cards.DeleteCard(
            C.DeleteCardRequest(name=name, etag=args.etag or "", request_id=args.request_id or "")
        )
    print(f"deleted {name}")


# -- whitelists ---------------------------------------------------------------------------------


def _entry_row(e: C.WhitelistEntry) -> tuple[object, ...]:
    return (e.name, e.card or "-", e.user or "-", _time(e.create_time))


async def whitelist_list(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    async with connected(assets_client(session)) as assets:
        page = await assets.cards.ListWhitelistEntries(
            C.ListWhitelistEntriesRequest(
                parent=resource("tenants", args.organization),
                page_size=args.limit,
                page_token=args.page_token,
            )
        )
    headers = ["name", "card", "user (every card)", "added (UTC)"]
    print_list(args, page.whitelist_entries, page.next_page_token, headers, _entry_row)


async def whitelist_add(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    entry = C.WhitelistEntry(
        card=resource("cards", args.card) if args.card else "",
        user=resource("users", args.user) if args.user else "",
    )
    async with connected(assets_client(session)) as assets:
        created = await assets.cards.CreateWhitelistEntry(
            C.CreateWhitelistEntryRequest(
                parent=resource("tenants", args.organization),
                whitelist_entry=entry,
                request_id=args.request_id or "",
            )
        )
    print(
        as_json(created)
        if args.json
        else f"created {created.name} on the whitelist of {created.organization}"
    )


async def whitelist_remove(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    name = resource("whitelistEntries", args.name)
    async with connected(assets_client(session)) as assets:
        await assets.cards.DeleteWhitelistEntry(
            C.DeleteWhitelistEntryRequest(name=name, request_id=args.request_id or "")
        )
    print(f"deleted {name}")


def _flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--label", help="the label shown to users")
    p.add_argument(
        "--blocked", action=argparse.BooleanOptionalAction, help="block (or --no-blocked: unblock)"
    )
    p.add_argument("--valid-from", help="ISO time (UTC without an offset)")
    p.add_argument("--valid-to", help="ISO time (UTC without an offset)")
    p.add_argument("--public-mode", choices=PUBLIC_MODES, help="public cards: how they count")
    p.add_argument("--issuer", help="public cards: the issuing roaming provider, e.g. NL-TNM")
    p.add_argument("--request-id", help="idempotency key: a retry with the same key is not applied twice")
    output_flags(p)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser(
        "cards", help="charge cards: private (a user's) and public (roaming)"
    ).add_subparsers(dest="action", required=True)
    p = group.add_parser("list", help="cards in your scope")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--parent", help="a tenant's subtree: tenants/ID")
    where.add_argument("--user", help="a user's private cards: users/ID")
    list_flags(p, "kind = PUBLIC AND blocked = false")
    p.set_defaults(handler=list_)
    p = group.add_parser("show", help="one card")
    p.add_argument("name", help="cards/ID or ID")
    output_flags(p)
    p.set_defaults(handler=show)
    p = group.add_parser(
        "create", help="a private card of a user (--user) or a public card of a customer (--parent)"
    )
    p.add_argument("--uid", required=True, help="the card UID / idTag")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--user", help="users/ID: a private card")
    where.add_argument("--parent", help="tenants/ID of a customer: a public card")
    _flags(p)
    p.set_defaults(handler=create)
    p = group.add_parser("update", help="change the fields given (and only those)")
    p.add_argument("name", help="cards/ID or ID")
    _flags(p)
    p.set_defaults(handler=update)
    p = group.add_parser("delete", help="remove a card")
    p.add_argument("name", help="cards/ID or ID")
    p.add_argument("--etag", help="only if unchanged since this etag")
    p.add_argument("--request-id", help="idempotency key")
    p.set_defaults(handler=delete)

    group = sub.add_parser("whitelists", help="organizations' whitelists of users and cards").add_subparsers(
        dest="action", required=True
    )
    p = group.add_parser("list", help="an organization's whitelist")
    p.add_argument("organization", help="tenants/ID")
    list_flags(p)
    p.set_defaults(handler=whitelist_list)
    p = group.add_parser("add", help="put a card (or every card of a user) on a whitelist")
    p.add_argument("organization", help="tenants/ID")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--card", help="cards/ID")
    what.add_argument("--user", help="users/ID: every card of this user")
    p.add_argument("--request-id", help="idempotency key")
    output_flags(p)
    p.set_defaults(handler=whitelist_add)
    p = group.add_parser("remove", help="take an entry off a whitelist")
    p.add_argument("name", help="whitelistEntries/ID or ID")
    p.add_argument("--request-id", help="idempotency key")
    p.set_defaults(handler=whitelist_remove)
