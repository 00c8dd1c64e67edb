"""Charge cards and whitelists through the public API."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from tests.support.assets import AssetsStack, Org, organization
from wattlane.api.assets.v1 import cards_pb2
from wattlane.core.errors import error_info, field_violations
from wattlane.identity.testing import TreeBuilder

from .helpers import card, mask, uid

C = cards_pb2.Card


def ts(value: dt.datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


async def test_private_and_public_cards(assets_stack: AssetsStack, org: Org, tree: TreeBuilder) -> None:
    client = assets_stack.client(org.admin)
    driver = await tree.member(org.org.name, [("cardholder", org.org.name)])
    tag = uid()
    private = await card(client, driver.user.name, tag.lower(), label="Dirk's tag")
    assert (private.kind, private.uid, private.cardholder) == (C.PRIVATE, tag, driver.user.name)
    assert (private.owner, private.owner_path) == (org.org.name, org.org.path)
    public = await card(client, org.customer.name, uid(), public_mode=C.ROAMING_FREE, issuer="NL-TNM")
    assert public.kind == C.PUBLIC and public.owner == org.customer.name and not public.cardholder
    # The cardholder (no cards.read) sees only their own card.
    own = assets_stack.client(driver)
    assert await own.cards.GetCard(cards_pb2.GetCardRequest(name=private.name)) == private
    listed = await own.cards.ListCards(cards_pb2.ListCardsRequest())
    assert [c.name for c in listed.cards] == [private.name]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await own.cards.GetCard(cards_pb2.GetCardRequest(name=public.name))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as raised:  # seeing it is not managing it
        await own.cards.UpdateCard(
            cards_pb2.UpdateCardRequest(card=C(name=private.name, blocked=False), update_mask=mask("blocked"))
        )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    all_cards = await client.cards.ListCards(cards_pb2.ListCardsRequest(parent=org.customer.name))
    assert [c.name for c in all_cards.cards] == [private.name, public.name]
    of_driver = await client.cards.ListCards(cards_pb2.ListCardsRequest(parent=driver.user.name))
    assert [c.name for c in of_driver.cards] == [private.name]
    blocked = await client.cards.UpdateCard(
        cards_pb2.UpdateCardRequest(card=C(name=private.name, blocked=True), update_mask=mask("blocked"))
    )
    assert blocked.blocked
    await client.cards.DeleteCard(cards_pb2.DeleteCardRequest(name=public.name))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.cards.GetCard(cards_pb2.GetCardRequest(name=public.name))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_uid_unique_inside_a_customer_only(
    assets_stack: AssetsStack, org: Org, tree: TreeBuilder
) -> None:
    client = assets_stack.client(org.admin)
    a = await tree.member(org.org.name)
    b = await tree.member(org.customer.name)
    tag = uid()
    await card(client, a.user.name, tag)
    for parent in (b.user.name, org.customer.name):  # another user, or a public card: same customer
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await card(
                client, parent, tag.lower(), public_mode=C.WHITELIST if parent.startswith("tenants") else 0
            )
        assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
        assert error_info(raised.value).reason == "CARD_UID_TAKEN"  # type: ignore[union-attr]
    other = await organization(tree, assets_stack)
    someone = await tree.member(other.org.name)
    assert (await card(assets_stack.client(other.admin), someone.user.name, tag)).uid == tag


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"uid": ""}, "card.uid"),
        ({"uid": "A" * 37}, "card.uid"),
        ({"uid": "04 A1 B2"}, "card.uid"),
        ({"uid": "x", "public_mode": C.WHITELIST}, "card.public_mode"),
        ({"uid": "x", "public_mode": 999}, "card.public_mode"),
        ({"uid": "x", "valid_from": Timestamp(seconds=-(2**62))}, "card.valid_from"),
        ({"uid": "x", "valid_to": Timestamp(seconds=253_402_300_800)}, "card.valid_to"),  # 10000-01-01
        ({"uid": "x", "issuer": "NL-TNM"}, "card.issuer"),
        ({"uid": "x", "label": "x" * 101}, "card.label"),
        (
            {
                "uid": "x",
                "valid_from": ts(dt.datetime(2027, 1, 1, tzinfo=dt.UTC)),
                "valid_to": ts(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
            },
            "card.valid_to",
        ),
    ],
)
async def test_bad_cards_name_the_field(
    assets_stack: AssetsStack, org: Org, tree: TreeBuilder, fields: dict[str, object], field: str
) -> None:
    holder = await tree.member(org.org.name)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await card(assets_stack.client(org.admin), holder.user.name, **fields)  # type: ignore[arg-type]
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(raised.value)] == [field]


async def test_public_cards_need_a_customer_and_a_mode(assets_stack: AssetsStack, org: Org) -> None:
    client = assets_stack.client(org.admin)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await card(client, org.org.name, uid(), public_mode=C.WHITELIST)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await card(client, org.customer.name, uid())
    assert [v.field for v in field_violations(raised.value)] == ["card.public_mode"]


async def test_whitelists(assets_stack: AssetsStack, org: Org, tree: TreeBuilder) -> None:
    client = assets_stack.client(org.admin)
    driver = await tree.member(org.org.name)
    tag = await card(client, driver.user.name, uid())
    by_card = await client.cards.CreateWhitelistEntry(
        cards_pb2.CreateWhitelistEntryRequest(
            parent=org.org.name, whitelist_entry=cards_pb2.WhitelistEntry(card=tag.name)
        )
    )
    by_user = await client.cards.CreateWhitelistEntry(
        cards_pb2.CreateWhitelistEntryRequest(
            parent=org.org.name, whitelist_entry=cards_pb2.WhitelistEntry(user=driver.user.name)
        )
    )
    assert by_card.organization == org.org.name and by_user.user == driver.user.name
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.cards.CreateWhitelistEntry(
            cards_pb2.CreateWhitelistEntryRequest(
                parent=org.org.name, whitelist_entry=cards_pb2.WhitelistEntry(card=tag.name)
            )
        )
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    for entry, code in (
        (cards_pb2.WhitelistEntry(), grpc.StatusCode.INVALID_ARGUMENT),
        (cards_pb2.WhitelistEntry(card=tag.name, user=driver.user.name), grpc.StatusCode.INVALID_ARGUMENT),
        (cards_pb2.WhitelistEntry(card="cards/NOPE"), grpc.StatusCode.NOT_FOUND),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await client.cards.CreateWhitelistEntry(
                cards_pb2.CreateWhitelistEntryRequest(parent=org.org.name, whitelist_entry=entry)
            )
        assert raised.value.code() == code
    listed = await client.cards.ListWhitelistEntries(
        cards_pb2.ListWhitelistEntriesRequest(parent=org.org.name)
    )
    assert [e.name for e in listed.whitelist_entries] == [by_card.name, by_user.name]
    await client.cards.DeleteWhitelistEntry(cards_pb2.DeleteWhitelistEntryRequest(name=by_card.name))
    listed = await client.cards.ListWhitelistEntries(
        cards_pb2.ListWhitelistEntriesRequest(parent=org.org.name)
    )
    assert [e.name for e in listed.whitelist_entries] == [by_user.name]
    # A foreign card cannot be whitelisted (it reads as absent).
    other = await organization(tree, assets_stack)
    stranger = await tree.member(other.org.name)
    foreign = await card(assets_stack.client(other.admin), stranger.user.name, uid())
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.cards.CreateWhitelistEntry(
            cards_pb2.CreateWhitelistEntryRequest(
                parent=org.org.name, whitelist_entry=cards_pb2.WhitelistEntry(card=foreign.name)
            )
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
