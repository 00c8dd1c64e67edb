"""Printing API resources as aligned tables or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from wattlane.core.currencies import is_currency, minor_units


def as_json(items: Sequence[Message] | Message) -> str:
    if isinstance(items, Message):
        return json.dumps(MessageToDict(items), indent=2)
    return json.dumps([MessageToDict(i) for i in items], indent=2)


def as_json_parts(**parts: Message | Sequence[Message]) -> str:
    """Several resources as one JSON object, e.g. {"chargingPoint": {...}, "connectors": [...]}."""
    return json.dumps(
        {
            key: MessageToDict(value) if isinstance(value, Message) else [MessageToDict(v) for v in value]
            for key, value in parts.items()
        },
        indent=2,
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain aligned table (no dependencies, copy-paste friendly)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def resource(collection: str, value: str) -> str:
    """Accept `tenants/ID` or a bare `ID`."""
    return value if value.startswith(collection + "/") else f"{collection}/{value}"


class _Output(argparse.Action):
    """`--output json|table`: sets the same `json` flag `--json` does."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: Any = None
    ) -> None:
        namespace.json = values == "json"


def output_flags(p: argparse.ArgumentParser) -> None:
    """`--output table|json` (tables for people, JSON for scripts) and its short form `--json`."""
    p.add_argument(
        "--output",
        choices=("table", "json"),
        action=_Output,
        dest="json",
        default=False,
        help="table (default) or json (the API's resources, for scripts)",
    )
    p.add_argument("--json", action="store_true", help="same as --output json")


def set_fields(message: Any, values: dict[str, Any]) -> list[str]:
    """Set each given (not None) value on `message` (dotted paths reach into sub-messages); the
    paths set, sorted: the update mask of an update that changes only the fields given."""
    paths = []
    for path, value in values.items():
        if value is None:
            continue
        *parents, leaf = path.split(".")
        target = message
        for part in parents:
            target = getattr(target, part)
        if isinstance(value, Message):
            getattr(target, leaf).CopyFrom(value)
        else:
            setattr(target, leaf, value)
        paths.append(path)
    return sorted(paths)


def list_flags(p: argparse.ArgumentParser, filter_help: str | None = None) -> None:
    """The flags of every `list`: --filter (when the API has one), --limit, --page-token, --output."""
    if filter_help:
        p.add_argument("--filter", help=f"an AIP-160 filter, e.g. {filter_help}")
    p.add_argument("--limit", type=int, default=50, help="at most this many (default 50, at most 1000)")
    p.add_argument("--page-token", default="", help="continue where the previous list stopped")
    output_flags(p)


def print_list(
    args: argparse.Namespace,
    items: Sequence[Any],
    next_page_token: str,
    headers: Sequence[str],
    row: Callable[[Any], Sequence[object]],
) -> None:
    """A page of a list: JSON or a table; where the next page starts goes to stderr."""
    print(as_json(items) if args.json else table(headers, [row(i) for i in items]))
    if next_page_token:
        print(f"(more: add --page-token {next_page_token})", file=sys.stderr)


def money(amount: object, currency: str) -> str:
    """An amount as people read it: rounded half up to the currency's minor unit ("0.81" for
    0.81191 EUR). Charge records and prices keep exact decimals (an invoice rounds its lines);
    JSON and CSV output show those, tables the rounded figure."""
    try:
        exact = Decimal(str(amount))
    except ArithmeticError:
        return str(amount)
    digits = minor_units(currency) if is_currency(currency) else 2
    return str(exact.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))
