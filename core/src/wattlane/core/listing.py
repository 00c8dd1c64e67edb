"""What every List RPC does first, once: the caller and its scope, the parent, the filter and
the page (bound to the query), validated with errors naming the request's fields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.sql.elements import ColumnElement

from wattlane.core.caller import Caller, current_caller
from wattlane.core.filtering import Field, compile_filter
from wattlane.core.names import parse_name
from wattlane.core.paging import Page, parse_page
from wattlane.core.scope import EffectiveScope


@dataclass(frozen=True)
class ListCall:
    caller: Caller
    scope: EffectiveScope
    parent_id: str | None  # None: everything in scope
    where: ColumnElement[bool]
    page: Page


async def list_call(
    request: Any,
    method: str,
    *,
    filter_fields: Mapping[str, Field] | None = None,
    parent_collection: str = "tenants",
    with_scope: bool = True,
) -> ListCall:
    """Parse a standard List request (`parent`, `page_size`, `page_token`, and `filter` /
    `recursive` when the message has them). The page token is bound to everything that
    shapes the result, so it cannot be replayed against another query or caller."""
    caller = current_caller()
    parent = getattr(request, "parent", "")
    filter_text = getattr(request, "filter", "") if filter_fields is not None else ""
    recursive = str(getattr(request, "recursive", ""))
    parent_id = parse_name(parent, parent_collection, "parent") if parent else None
    where = compile_filter(filter_text, filter_fields or {})
    page = parse_page(
        request.page_size,
        request.page_token,
        caller=caller.principal.caller_key,
        method=method,
        query=(parent, filter_text, recursive),
    )
    scope = await caller.scope() if with_scope else EffectiveScope(caller.principal.subject, {})
    return ListCall(caller, scope, parent_id, where, page)
