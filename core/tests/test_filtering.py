"""filtering.compile_filter: the AIP-160 subset, executed against a real table and checked
against a Python evaluation of the same filter."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, Boolean, Column, Integer, MetaData, String, Table, column, insert, select

from wattlane.core.db import Database
from wattlane.core.errors import InvalidArgument
from wattlane.core.filtering import MAX_FILTER_LENGTH, Field, compile_filter
from wattlane.core.orm import UTCDateTime
from wattlane.core.testing.databases import DatabaseFactory

# Byte-wise ordering on every backend, so `<` on text means the same as in Python.
Text = String(100).with_variant(String(100, collation="C"), "postgresql")

metadata = MetaData()
items = Table(
    "items",
    metadata,
    Column("id", String(8), primary_key=True),
    Column("name", Text, nullable=False),
    Column("note", Text, nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("small", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("state", String(16), nullable=False),  # stored lower-case; the API says ACTIVE
    Column("kind", String(16), nullable=False),
    Column("created", UTCDateTime(), nullable=False),
)

STATES = ("ACTIVE", "SUSPENDED", "CLOSED")
KINDS = ("PARTNER", "CUSTOMER")
FIELDS = {
    "name": Field(items.c.name),
    "note": Field(items.c.note),
    "count": Field(items.c.count, "int"),
    "small": Field(items.c.small, "int"),
    "active": Field(items.c.active, "bool"),
    "state": Field(items.c.state, "enum", STATES, convert=str.lower),
    "kind": Field(items.c.kind, "enum", KINDS),
    "created": Field(items.c.created, "timestamp"),
}


def t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


NAMES = [
    "Alpha",
    "alpha",
    "ALPHA beta",
    "50% off",
    "50 percent",
    "snake_case",
    "snakeXcase",
    "back\\slash",
    'say "hi"',
    "star*",
    "",
    "a-b",
    "Zeta",
    "zeta_2",
    "café",
    "alphabet",
]
ROWS: list[dict[str, Any]] = [
    {
        "id": f"r{i:02d}",
        "name": name,
        "note": ["first", "Second note", "third_note", "%literal%"][i % 4],
        "count": [0, 1, -5, 42, 2**40, -(2**40), 7, 100][i % 8],
        "small": [0, 3, -3, 30000][i % 4],
        "active": i % 3 != 0,
        "state": STATES[i % 3].lower(),
        "kind": KINDS[i % 2],
        "created": t("2026-01-01T00:00:00+00:00") + dt.timedelta(hours=7 * i, microseconds=i),
    }
    for i, name in enumerate(NAMES)
]


@pytest.fixture(scope="module")
async def db(databases: DatabaseFactory) -> AsyncIterator[Database]:
    database = Database(await databases.create("filtering"))
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    async with database.transaction() as session:
        await session.execute(insert(items), ROWS)
    yield database
    await database.dispose()


async def run(db: Database, text: str) -> set[str]:
    where = compile_filter(text, FIELDS)
    async with db.reader() as session:
        return set((await session.scalars(select(items.c.id).where(where))).all())


def ids(predicate: Callable[[dict[str, Any]], bool]) -> set[str]:
    return {r["id"] for r in ROWS if predicate(r)}


def invalid(text: str, fields: dict[str, Field] | None = None) -> str:
    """The description of the INVALID_ARGUMENT on `filter` that `text` gives."""
    with pytest.raises(InvalidArgument) as caught:
        compile_filter(text, FIELDS if fields is None else fields)
    assert [v.field for v in caught.value.violations] == ["filter"]
    return caught.value.violations[0].description


# ---------------------------------------------------------------------------------------------
# Operators


async def test_empty_filter_selects_everything(db: Database) -> None:
    assert await run(db, "") == ids(lambda r: True)
    assert await run(db, "   \t\n") == ids(lambda r: True)


@pytest.mark.parametrize(
    ("text", "predicate"),
    [
        ("count = 42", lambda r: r["count"] == 42),
        ("count != 42", lambda r: r["count"] != 42),
        ("count < 1", lambda r: r["count"] < 1),
        ("count <= 1", lambda r: r["count"] <= 1),
        ("count > 7", lambda r: r["count"] > 7),
        ("count >= 7", lambda r: r["count"] >= 7),
        ("count > -6", lambda r: r["count"] > -6),
        ("count>=-1099511627776", lambda r: r["count"] >= -(2**40)),
        ("small = 30000", lambda r: r["small"] == 30000),
        ('name = "Alpha"', lambda r: r["name"] == "Alpha"),
        ("name = Alpha", lambda r: r["name"] == "Alpha"),
        ('name != "Alpha"', lambda r: r["name"] != "Alpha"),
        ('name < "a"', lambda r: r["name"] < "a"),
        ('name >= "snake"', lambda r: r["name"] >= "snake"),
        ('name = ""', lambda r: r["name"] == ""),
    ],
)
async def test_comparisons(db: Database, text: str, predicate: Callable[[dict[str, Any]], bool]) -> None:
    expected = ids(predicate)
    assert expected  # every case selects something
    assert await run(db, text) == expected


async def test_bools(db: Database) -> None:
    active = ids(lambda r: r["active"])
    assert await run(db, "active = true") == active
    assert await run(db, "active = TRUE") == active
    assert await run(db, 'active = "true"') == active
    assert await run(db, "active != true") == ids(lambda r: not r["active"])
    assert await run(db, "active = False") == ids(lambda r: not r["active"])
    assert "active takes true or false, got 'yes'" in invalid("active = yes")
    assert "active only supports = and !=" in invalid("active < true")


async def test_enums_are_converted_to_the_stored_value(db: Database) -> None:
    assert await run(db, "state = ACTIVE") == ids(lambda r: r["state"] == "active")
    assert await run(db, 'state != "CLOSED"') == ids(lambda r: r["state"] != "closed")
    assert await run(db, "kind = PARTNER") == ids(lambda r: r["kind"] == "PARTNER")
    assert invalid("state = active") == "state takes one of ACTIVE, SUSPENDED, CLOSED, got 'active'"
    assert "state only supports = and !=" in invalid("state > ACTIVE")
    assert "':' (has) only applies to text fields, not state" in invalid("state:ACT")


async def test_ints_must_be_integers_in_the_columns_range(db: Database) -> None:
    assert invalid("count = 1.5") == "count takes an integer, got '1.5'"
    assert invalid("count = ten") == "count takes an integer, got 'ten'"
    assert "':' (has) only applies to text fields, not count" in invalid("count:4")
    # Beyond the column's range is malformed input, not a database error on execution.
    assert await run(db, f"count < {2**63 - 1}") == ids(lambda r: True)
    assert "count takes an integer" in invalid(f"count < {2**63}")
    assert "count takes an integer" in invalid(f"count > {-(2**63) - 1}")
    assert "small takes an integer" in invalid(f"small = {2**31}")
    assert await run(db, f"small < {2**31 - 1}") == ids(lambda r: True)


async def test_timestamps_need_an_offset(db: Database) -> None:
    cut = t("2026-01-02T11:00:00+00:00")
    assert await run(db, 'created >= "2026-01-02T11:00:00Z"') == ids(lambda r: r["created"] >= cut)
    assert await run(db, 'created < "2026-01-02T13:00:00+02:00"') == ids(lambda r: r["created"] < cut)
    exact = ROWS[3]["created"]
    assert await run(db, f'created = "{exact.isoformat()}"') == {"r03"}
    assert await run(db, f'created != "{exact.isoformat()}"') == ids(lambda r: r["id"] != "r03")
    assert invalid('created > "2026-01-01T00:00:00"') == "created needs a time zone offset (e.g. Z)"
    assert invalid('created > "2026-01-01"') == "created needs a time zone offset (e.g. Z)"
    assert "created takes an RFC 3339 timestamp, got 'yesterday'" in invalid("created > yesterday")
    # `:` separates tokens, so a timestamp must be quoted.
    assert "needs a time zone offset" in invalid("created > 2026-01-02T13:00:00Z")
    assert "created takes an RFC 3339 timestamp" in invalid('created > "2026-13-01T00:00:00Z"')
    # Offsets that push the instant outside datetime's range are malformed, not a crash.
    assert "created takes an RFC 3339 timestamp" in invalid('created > "0001-01-01T00:00:00+01:00"')
    assert "created takes an RFC 3339 timestamp" in invalid('created < "9999-12-31T23:59:59-01:00"')


async def test_has_is_a_case_insensitive_substring(db: Database) -> None:
    assert await run(db, "name:alpha") == ids(lambda r: "alpha" in r["name"].lower())
    assert await run(db, 'name:"PHA B"') == {"r02"}
    assert await run(db, "note:NOTE") == ids(lambda r: "note" in r["note"].lower())
    assert await run(db, 'name:""') == ids(lambda r: True)


@pytest.mark.parametrize(
    ("needle", "expected"),
    [
        ("%", {"r03"}),  # not a wildcard
        ("50%", {"r03"}),
        ("_", {"r05", "r13"}),  # not a single-character wildcard: snakeXcase does not match
        ("e_c", {"r05"}),
        ("\\\\", {"r07"}),  # one literal backslash (escaped inside the quotes)
        ('\\"hi\\"', {"r08"}),  # escaped quotes
        ("*", {"r09"}),
    ],
)
async def test_has_escapes_like_wildcards(db: Database, needle: str, expected: set[str]) -> None:
    assert await run(db, f'name:"{needle}"') == expected


async def test_trailing_star_is_a_prefix(db: Database) -> None:
    assert await run(db, "name = alpha*") == {"r01", "r15"}
    assert await run(db, 'name = "ALPHA*"') == {"r02"}
    assert await run(db, 'name = "snake_*"') == {"r05"}  # `_` is literal here too
    assert await run(db, 'name = "50%*"') == {"r03"}
    assert await run(db, 'name = "*"') == ids(lambda r: True)
    assert await run(db, 'name = "star*"') == {"r09"}  # prefix "star" matches the row "star*"
    assert await run(db, 'name != "star*"') == ids(lambda r: r["id"] != "r09")  # != is literal
    assert await run(db, 'note = "%lit*"') == ids(lambda r: r["note"].startswith("%lit"))


async def test_quoted_strings_unescape(db: Database) -> None:
    assert await run(db, r'name = "back\\slash"') == {"r07"}
    assert await run(db, r'name = "say \"hi\""') == {"r08"}
    assert await run(db, r'name = "\A\l\p\h\a"') == {"r00"}  # any escaped character is itself
    assert await run(db, 'name = "ALPHA beta"') == {"r02"}
    assert await run(db, 'name = "a-b"') == {"r11"}
    assert await run(db, "name = a-b") == {"r11"}


# ---------------------------------------------------------------------------------------------
# Boolean structure


async def test_or_binds_tighter_than_and(db: Database) -> None:
    # AIP-160: `a AND b OR c` is `a AND (b OR c)`.
    text = "active = true AND kind = PARTNER OR count = 42"
    expected = ids(lambda r: r["active"] and (r["kind"] == "PARTNER" or r["count"] == 42))
    assert expected != ids(lambda r: (r["active"] and r["kind"] == "PARTNER") or r["count"] == 42)
    assert await run(db, text) == expected
    assert await run(db, "kind = PARTNER OR count = 42 AND active = true") == expected
    grouped = "(active = true AND kind = PARTNER) OR count = 42"
    assert await run(db, grouped) == ids(
        lambda r: (r["active"] and r["kind"] == "PARTNER") or r["count"] == 42
    )


async def test_adjacent_terms_are_and(db: Database) -> None:
    expected = ids(lambda r: r["active"] and r["kind"] == "CUSTOMER")
    assert await run(db, "active = true kind = CUSTOMER") == expected
    assert await run(db, "active = true AND kind = CUSTOMER") == expected
    assert await run(db, "(active = true)(kind = CUSTOMER)") == expected


async def test_or_chains(db: Database) -> None:
    text = "count = 0 OR count = 1 OR count = 42"
    assert await run(db, text) == ids(lambda r: r["count"] in (0, 1, 42))


@pytest.mark.parametrize("negation", ["NOT ", "- ", "-"])
async def test_not_and_minus(db: Database, negation: str) -> None:
    assert await run(db, f"{negation}active = true") == ids(lambda r: not r["active"])
    assert await run(db, f"{negation}name:alpha") == ids(lambda r: "alpha" not in r["name"].lower())
    assert await run(db, f"{negation}(kind = PARTNER OR count = 42)") == ids(
        lambda r: not (r["kind"] == "PARTNER" or r["count"] == 42)
    )
    # NOT applies to one term, not to the rest of the expression.
    assert await run(db, f"{negation}active = true OR count = 42") == ids(
        lambda r: not r["active"] or r["count"] == 42
    )
    assert await run(db, f"{negation}{negation}active = true") == ids(lambda r: r["active"])


async def test_negative_values_are_not_negations(db: Database) -> None:
    assert await run(db, "count = -5") == ids(lambda r: r["count"] == -5)
    assert await run(db, "-count = -5") == ids(lambda r: r["count"] != -5)


async def test_nested_parentheses(db: Database) -> None:
    text = '((kind = PARTNER AND (count > 0 OR name:"zeta")) OR (NOT active = true AND small < 0))'
    assert await run(db, text) == ids(
        lambda r: (
            (r["kind"] == "PARTNER" and (r["count"] > 0 or "zeta" in r["name"].lower()))
            or (not r["active"] and r["small"] < 0)
        )
    )


# ---------------------------------------------------------------------------------------------
# Malformed input


def test_unknown_field_names_it_and_lists_the_filterable_ones() -> None:
    assert invalid("password = x") == (
        "unknown field 'password'; filterable fields: active, count, created, kind, name, note, small, state"
    )
    assert invalid("x = 1", {}) == "unknown field 'x'; filterable fields: none"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name", "ends too early"),
        ("name =", "ends too early"),
        ("name = x AND", "ends too early"),
        ("(name = x", "ends too early"),
        ("name = x)", "unexpected ')'"),
        ("name = x (", "ends too early"),
        ("()", "expected a field name at position 1"),
        ('"name" = x', "expected a field name at position 0"),
        ("name name", "expected an operator after 'name'"),
        ("name = (", "expected a value after name ="),
        ("name = = x", "expected a value after name ="),
        ('name = "unterminated', "unexpected character at position 7"),
        ("name ! x", "unexpected character at position 5"),
        ("name = x OR", "ends too early"),
        ("AND name = x", "unknown field 'AND'"),
        ("name = x OR OR name = y", "unknown field 'OR'"),
        ("NOT", "ends too early"),
    ],
)
def test_malformed_filters(text: str, message: str) -> None:
    assert message in invalid(text)


def test_length_limit() -> None:
    long = " OR ".join(["count = 1"] * 300)
    assert len(long) > MAX_FILTER_LENGTH
    assert invalid(long) == f"must be at most {MAX_FILTER_LENGTH} characters"
    fits = " OR ".join(["count = 1"] * 150)
    compile_filter(fits, FIELDS)


@pytest.mark.parametrize(
    "text",
    [
        "(" * 1000 + "count = 1" + ")" * 990,
        "(" * 1990,
        "NOT (" * 300 + "count = 1" + ")" * 300,
        "- " * 995 + "count = 1",
        "NOT " * 495 + "count = 1",
    ],
)
def test_deep_nesting_is_invalid_not_a_crash(text: str) -> None:
    assert len(text) <= MAX_FILTER_LENGTH
    assert "nested" in invalid(text)


async def test_moderate_nesting_is_fine(db: Database) -> None:
    assert await run(db, "(" * 20 + "count = 42" + ")" * 20) == ids(lambda r: r["count"] == 42)
    assert await run(db, "NOT " * 10 + "count = 42") == ids(lambda r: r["count"] == 42)


# ---------------------------------------------------------------------------------------------
# Properties

_GARBAGE_ALPHABET = st.sampled_from(
    [*'()"\\:=!<>-* \t\n', "AND", "OR", "NOT", "name", "count", "active", "created", "state", "x", "1"]
)


def refusal(text: str) -> InvalidArgument | None:
    """The InvalidArgument `text` is refused with, or None; any other exception propagates."""
    try:
        compile_filter(text, FIELDS)
    except InvalidArgument as exc:
        return exc
    return None


@given(st.text(max_size=60) | st.lists(_GARBAGE_ALPHABET, max_size=30).map("".join))
def test_garbage_never_raises_anything_but_invalid_argument(text: str) -> None:
    error = refusal(text)
    assert error is None or [v.field for v in error.violations] == ["filter"]


_VALUES = st.sampled_from(
    [
        *("true", "false", "ACTIVE", "PARTNER", "0", "-1", "1e3", "*", "x", '"%"', '"_"', '"\\\\"', '""'),
        *(str(2**63), str(-(2**63) - 1), str(2**31), str(2**15), str(10**30)),
        *('"2026-01-01T00:00:00Z"', '"0001-01-01T00:00:00+01:00"', '"9999-12-31T23:59:59-01:00"'),
        *('"2026-01-01T00:00:00+25:00"', '"2026-02-30T00:00:00Z"', '"x\\"y"', '"\u00e9*"'),
    ]
)
_CLAUSE = st.tuples(
    st.sampled_from(["", "NOT ", "-"]),
    st.sampled_from(sorted(FIELDS)),
    st.sampled_from(["=", "!=", "<", "<=", ">", ">=", ":"]),
    _VALUES,
).map("".join)


@settings(max_examples=150)  # cheap: one compile and one query per example
@given(
    st.lists(_CLAUSE, min_size=1, max_size=4).flatmap(
        lambda clauses: st.lists(
            st.sampled_from([" AND ", " OR ", " "]), min_size=len(clauses) - 1, max_size=len(clauses) - 1
        ).map(lambda glue: "".join(c + g for c, g in zip(clauses, [*glue, ""], strict=True)))
    )
)
async def test_whatever_compiles_also_executes(db: Database, text: str) -> None:
    """Anything the compiler accepts runs on the database (no bad value reaches SQL)."""
    try:
        where = compile_filter(text, FIELDS)
    except InvalidArgument:
        return
    async with db.reader() as session:
        await session.execute(select(items.c.id).where(where))


# A generated filter: its text and the Python predicate it means.


@dataclass(frozen=True)
class Expr:
    text: str
    test: Callable[[dict[str, Any]], bool]
    kind: str  # "atom" | "and" | "or" | "not" (for parenthesization)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_WORD = st.from_regex(r"[A-Za-z0-9_%*.\-]{1,6}", fullmatch=True).filter(
    lambda w: w not in ("AND", "OR", "NOT") and not w.startswith("-")
)
_STRINGS = st.sampled_from([*NAMES, "alpha*", "sna*", "50%*", "Z", "a", "zeta", "*"]) | st.text(
    alphabet=st.sampled_from(list('aAbBzZ_%\\"* -5')), max_size=5
)
_CMP = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


@st.composite
def _string_atom(draw: st.DrawFn) -> Expr:
    name = draw(st.sampled_from(["name", "note"]))
    op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">=", ":"]))
    value = draw(_STRINGS)
    text = f"{name} {op} {_quote(value)}"
    if draw(st.booleans()):  # a bare word instead of a quoted string
        value = draw(_WORD)
        text = f"{name}{op}{value}" if draw(st.booleans()) else f"{name} {op} {value}"
    if op == ":":
        needle = value.lower()
        return Expr(text, lambda r: needle in r[name].lower(), "atom")
    if op == "=" and value.endswith("*"):
        prefix = value[:-1]
        return Expr(text, lambda r: r[name].startswith(prefix), "atom")
    compare = _CMP[op]
    return Expr(text, lambda r: compare(r[name], value), "atom")


@st.composite
def _int_atom(draw: st.DrawFn) -> Expr:
    name = draw(st.sampled_from(["count", "small"]))
    op = draw(st.sampled_from(list(_CMP)))
    pool = [0, 1, -1, 7, 42, -5, 100, 30000, 2**31 - 1, -(2**31)]
    if name == "count":  # BIGINT; `small` is INTEGER
        pool += [2**40, -(2**40), 2**63 - 1, -(2**63)]
    value = draw(st.sampled_from(pool) | st.integers(-200, 200))
    if name == "count" and draw(st.booleans()):
        value = draw(st.integers(-(2**63), 2**63 - 1))
    compare = _CMP[op]
    return Expr(f"{name} {op} {value}", lambda r: compare(r[name], value), "atom")


@st.composite
def _choice_atom(draw: st.DrawFn) -> Expr:
    op = draw(st.sampled_from(["=", "!="]))
    compare = _CMP[op]
    which = draw(st.sampled_from(["active", "state", "kind"]))
    if which == "active":
        flag = draw(st.booleans())
        spelled = draw(st.sampled_from([str(flag).lower(), str(flag).upper(), str(flag)]))
        return Expr(f"active {op} {spelled}", lambda r: compare(r["active"], flag), "atom")
    if which == "state":
        state = draw(st.sampled_from(STATES))
        return Expr(f"state {op} {state}", lambda r: compare(r["state"], state.lower()), "atom")
    kind = draw(st.sampled_from(KINDS))
    return Expr(f'kind {op} "{kind}"', lambda r: compare(r["kind"], kind), "atom")


@st.composite
def _time_atom(draw: st.DrawFn) -> Expr:
    op = draw(st.sampled_from(list(_CMP)))
    row = draw(st.sampled_from(ROWS))
    instant = row["created"] + dt.timedelta(microseconds=draw(st.sampled_from([0, 0, -1, 1])))
    offset = dt.timezone(dt.timedelta(minutes=draw(st.sampled_from([0, 120, -330, 60 * 14]))))
    local = instant.astimezone(offset)
    text = local.isoformat().replace("+00:00", "Z") if draw(st.booleans()) else local.isoformat()
    compare = _CMP[op]
    return Expr(f"created {op} {_quote(text)}", lambda r: compare(r["created"], instant), "atom")


def _parens(e: Expr) -> str:
    return f"({e.text})"


def _extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    @st.composite
    def combine(draw: st.DrawFn) -> Expr:
        kind = draw(st.sampled_from(["and", "or", "not"]))
        if kind == "not":
            inner = draw(children)
            word = draw(st.sampled_from(["NOT ", "-", "- "]))
            body = inner.text if inner.kind in ("atom", "not") else _parens(inner)
            return Expr(word + body, lambda r: not inner.test(r), "not")
        parts = draw(st.lists(children, min_size=2, max_size=3))
        if kind == "or":
            # Only an AND needs parentheses inside an OR (OR binds tighter than AND).
            texts = [_parens(p) if p.kind == "and" or draw(st.booleans()) else p.text for p in parts]
            return Expr(" OR ".join(texts), lambda r: any(p.test(r) for p in parts), "or")
        # Inside an AND, an OR needs none; AND is explicit or implicit (adjacency).
        glue = draw(st.sampled_from([" AND ", " "]))
        texts = [_parens(p) if draw(st.booleans()) else p.text for p in parts]
        return Expr(glue.join(texts), lambda r: all(p.test(r) for p in parts), "and")

    return combine()


FILTERS = st.recursive(
    st.one_of(_string_atom(), _int_atom(), _choice_atom(), _time_atom()), _extend, max_leaves=8
)


@given(FILTERS)
async def test_sql_agrees_with_a_python_evaluation(db: Database, expr: Expr) -> None:
    assert await run(db, expr.text) == ids(expr.test), expr.text


def test_compiles_against_any_column_expression() -> None:
    where = compile_filter(
        'name = "x" AND n > 3', {"name": Field(column("name")), "n": Field(column("n"), "int")}
    )
    assert str(where) == "name = :name_1 AND n > :n_1"
