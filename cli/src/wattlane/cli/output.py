"""Printing API resources as aligned tables or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message


def as_json(items: Sequence[Message] | Message) -> str:
    if isinstance(items, Message):
        return json.dumps(MessageToDict(items), indent=2)
    return json.dumps([MessageToDict(i) for i in items], indent=2)


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
