"""paging: page sizes, opaque keyset tokens bound to caller and query, and keyset pagination
over a real table that returns every row exactly once."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.sql.elements import ColumnElement

from wattlane.core.db import Database
from wattlane.core.errors import InvalidArgument
from wattlane.core.filtering import Field, compile_filter
from wattlane.core.orm import SqlColumn, UTCDateTime
from wattlane.core.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, parse_page
from wattlane.core.testing.databases import DatabaseFactory

Key = String(16).with_variant(String(16, collation="C"), "postgresql")
metadata = MetaData()
rows_table = Table(
    "rows",
    metadata,
    Column("id", Key, primary_key=True),
    Column("grp", Integer, nullable=False),
    Column("created", UTCDateTime(), nullable=False),
    Column("label", String(16), nullable=False),
)
T0 = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
ROWS = [
    {
        "id": f"id{(i * 7) % 41:03d}",  # ids not in insertion order
        "grp": i % 4,  # many ties on the first key column
        "created": T0 + dt.timedelta(seconds=i % 5, microseconds=i % 2),  # ties as well
        "label": "even" if i % 2 == 0 else "odd",
    }
    for i in range(41)
]


@pytest.fixture(scope="module")
async def db(databases: DatabaseFactory) -> AsyncIterator[Database]:
    database = Database(await databases.create("paging"))
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    async with database.transaction() as session:
        await session.execute(insert(rows_table), ROWS)
    yield database
    await database.dispose()


def invalid(field: str, **kwargs: Any) -> str:
    arguments: dict[str, Any] = {"page_size": 10, "page_token": "", "caller": "user:u1", "method": "List"}
    arguments.update(kwargs)
    with pytest.raises(InvalidArgument) as caught:
        parse_page(**arguments)
    assert [v.field for v in caught.value.violations] == [field]
    return caught.value.violations[0].description


def token_for(page: Page, key: Sequence[Any]) -> str:
    """The token Page.next_token issues after a full page whose last row has `key`."""
    rows = [None] * (page.size + 1)
    rows[page.size - 1] = tuple(key)
    return page.next_token(rows, lambda r: r)


def forge(binding: str, keys: Any) -> str:
    raw = orjson.dumps({"b": binding, "k": keys})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# ---------------------------------------------------------------------------------------------
# Sizes


def test_page_size_zero_is_the_default() -> None:
    assert parse_page(0, "", caller="c", method="m").size == DEFAULT_PAGE_SIZE
    assert parse_page(0, "", caller="c", method="m", default=7).size == 7


def test_page_size_is_capped() -> None:
    assert parse_page(MAX_PAGE_SIZE + 1, "", caller="c", method="m").size == MAX_PAGE_SIZE
    assert parse_page(2**31 - 1, "", caller="c", method="m").size == MAX_PAGE_SIZE
    assert parse_page(500, "", caller="c", method="m", maximum=100).size == 100
    assert parse_page(1, "", caller="c", method="m").size == 1


def test_negative_page_size_is_invalid() -> None:
    assert invalid("page_size", page_size=-1) == "must not be negative"


def test_first_page_has_no_keyset() -> None:
    page = parse_page(10, "", caller="c", method="m")
    assert page.after is None
    assert page.keyset([rows_table.c.id]) is None


# ---------------------------------------------------------------------------------------------
# Tokens


def test_no_token_when_the_page_is_not_full() -> None:
    page = parse_page(3, "", caller="c", method="m")
    assert page.next_token([1, 2, 3], lambda r: r) == ""
    assert page.next_token([], lambda r: r) == ""
    assert page.next_token([1, 2, 3, 4], lambda r: r) != ""


def test_token_round_trip() -> None:
    first = parse_page(2, "", caller="user:u1", method="ListThings", query=("tenants/t1", "a = 1"))
    token = first.next_token(["x", "y", "z"], lambda r: r)
    assert "=" not in token  # unpadded, URL-safe
    second = parse_page(2, token, caller="user:u1", method="ListThings", query=("tenants/t1", "a = 1"))
    assert second.after == ("y",)
    assert second.size == 2
    composite = second.next_token([(1, "a"), (2, "b"), (3, "c")], lambda r: r)
    third = parse_page(2, composite, caller="user:u1", method="ListThings", query=("tenants/t1", "a = 1"))
    assert third.after == (2, "b")


def test_page_size_may_change_between_pages() -> None:
    token = token_for(parse_page(2, "", caller="c", method="m"), ["k"])
    assert parse_page(50, token, caller="c", method="m").size == 50


@pytest.mark.parametrize(
    "other",
    [
        {"caller": "user:u2"},
        {"caller": "service:billing"},
        {"method": "ListOthers"},
        {"query": ("tenants/t2", "a = 1")},  # another parent
        {"query": ("tenants/t1", "a = 2")},  # another filter
        {"query": ("tenants/t1",)},
        {"query": ("tenants/t1", "a = 1", "desc")},
    ],
)
def test_token_is_bound_to_caller_method_and_query(other: dict[str, Any]) -> None:
    bound = {"caller": "user:u1", "method": "ListThings", "query": ("tenants/t1", "a = 1")}
    token = token_for(parse_page(5, "", **bound), ["k"])  # type: ignore[arg-type]
    assert parse_page(5, token, **bound).after == ("k",)  # type: ignore[arg-type]
    assert invalid("page_token", page_token=token, **{**bound, **other}) == (
        "belongs to a different query or caller"
    )


@pytest.mark.parametrize(
    "token",
    [
        "garbage!",
        "%%%",
        "a",
        "abc",
        "eyJ9",  # '{"}' - broken JSON
        base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(b'"text"').decode(),
        base64.urlsafe_b64encode(b"42").decode(),
        base64.urlsafe_b64encode(b"null").decode(),
        base64.urlsafe_b64encode(b'{"b": "x"}').decode(),
        base64.urlsafe_b64encode(b'{"k": []}').decode(),
        "\u00e9\u00e9\u00e9\u00e9",
    ],
)
def test_garbage_tokens_are_invalid(token: str) -> None:
    assert invalid("page_token", page_token=token) in (
        "is not a token this API issued",
        "belongs to a different query or caller",
    )


def test_keys_that_are_not_a_list_are_invalid() -> None:
    binding = parse_page(5, "", caller="user:u1", method="List").binding
    assert invalid("page_token", page_token=forge(binding, "k")) == "belongs to a different query or caller"
    assert (
        invalid("page_token", page_token=forge(binding, {"a": 1})) == "belongs to a different query or caller"
    )


def parse_or_refuse(token: str) -> Page | InvalidArgument:
    """The page of `token`, or the InvalidArgument it is refused with (anything else propagates)."""
    try:
        return parse_page(5, token, caller="user:u1", method="List")
    except InvalidArgument as exc:
        return exc


def test_tampered_tokens_are_invalid() -> None:
    token = token_for(parse_page(5, "", caller="user:u1", method="List"), ["id017"])
    for i in range(len(token)):
        for replacement in "AZ_-09":
            if token[i] == replacement:
                continue
            tampered = token[:i] + replacement + token[i + 1 :]
            outcome = parse_or_refuse(tampered)
            if isinstance(outcome, InvalidArgument):
                assert [v.field for v in outcome.violations] == ["page_token"]
            else:  # only the key may survive a change (the binding is checked): still one key
                assert outcome.after is not None
                assert len(outcome.after) == 1


@given(st.text(max_size=80) | st.binary(max_size=60).map(lambda b: base64.urlsafe_b64encode(b).decode()))
def test_random_tokens_never_raise_anything_but_invalid_argument(token: str) -> None:
    outcome = parse_or_refuse(token)
    assert isinstance(outcome, Page) or [v.field for v in outcome.violations] == ["page_token"]


async def test_forged_keys_of_the_wrong_shape_are_invalid_not_a_database_error(db: Database) -> None:
    """The binding is a plain hash, so a caller can forge a token for its own query; the keys
    must still fit the sort columns before they reach SQL."""
    columns = [rows_table.c.grp, rows_table.c.id]
    binding = parse_page(5, "", caller="user:u1", method="List").binding
    for keys in ([1], [1, "a", "b"], ["one", "id001"], [1, 2], [{"x": 1}, "a"], [None, "a"], [True, "a"]):
        page = parse_page(5, forge(binding, keys), caller="user:u1", method="List")
        with pytest.raises(InvalidArgument) as caught:
            page.keyset(columns)
        assert caught.value.violations[0].field == "page_token"
    page = parse_page(5, forge(binding, ["yesterday", "id001"]), caller="user:u1", method="List")
    with pytest.raises(InvalidArgument):
        page.keyset([rows_table.c.created, rows_table.c.id])
    ok = parse_page(5, forge(binding, [1, "id001"]), caller="user:u1", method="List").keyset(columns)
    assert ok is not None
    async with db.reader() as session:
        await session.execute(select(rows_table.c.id).where(ok))


# ---------------------------------------------------------------------------------------------
# Keyset pagination over a real table


async def list_all(
    db: Database,
    size: int,
    columns: Sequence[SqlColumn],
    where: ColumnElement[bool] | None = None,
    query: Sequence[str] = (),
) -> list[str]:
    """Page through the table as a List RPC does; returns the ids in the order served."""
    served: list[str] = []
    token = ""
    for _ in range(len(ROWS) + 2):
        page = parse_page(size, token, caller="user:u1", method="ListRows", query=query)
        statement = select(rows_table)
        if where is not None:
            statement = statement.where(where)
        statement = page.window(statement, columns)
        async with db.reader() as session:
            rows = (await session.execute(statement)).all()
        assert len(rows) <= page.size + 1
        served.extend(r.id for r in rows[: page.size])
        token = page.next_token(rows, lambda r: tuple(getattr(r, c.key) for c in columns))
        if not token:
            return served
    raise AssertionError("pagination did not end")


ORDERS = {
    "id": [rows_table.c.id],
    "grp, id": [rows_table.c.grp, rows_table.c.id],
    "created, id": [rows_table.c.created, rows_table.c.id],
    "grp, created, id": [rows_table.c.grp, rows_table.c.created, rows_table.c.id],
}


def expected_order(order: str, rows: Sequence[dict[str, Any]] = ROWS) -> list[str]:
    names = order.split(", ")
    return [r["id"] for r in sorted(rows, key=lambda r: tuple(r[n] for n in names))]


@pytest.mark.parametrize("order", list(ORDERS))
async def test_every_row_exactly_once(db: Database, order: str) -> None:
    for size in (1, 3, 40, 41, 42, 1000):
        assert await list_all(db, size, ORDERS[order]) == expected_order(order)


@given(size=st.integers(1, 45), order=st.sampled_from(list(ORDERS)))
async def test_every_row_exactly_once_for_any_page_size(db: Database, size: int, order: str) -> None:
    served = await list_all(db, size, ORDERS[order])
    assert served == expected_order(order)
    assert len(set(served)) == len(ROWS)


async def test_pagination_with_a_filter(db: Database) -> None:
    where = compile_filter("label = odd", {"label": Field(rows_table.c.label)})
    served = await list_all(db, 4, ORDERS["grp, id"], where, query=("label = odd",))
    assert served == expected_order("grp, id", [r for r in ROWS if r["label"] == "odd"])
