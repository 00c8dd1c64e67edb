"""What every List RPC does first, once: the caller and its scope, the parent, the filter and
the page (bound to the query), validated with errors naming the request's fields."""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    parse_parent: Callable[[str], str | None] | None = None,
) -> ListCall:
    """Parse a standard List request (`parent`, `page_size`, `page_token`, and `filter` /
    `recursive` when the message has them). The page token is bound to everything that
    shapes the result, so it cannot be replayed against another query or caller.

    `parse_parent` replaces the `{parent_collection}/{id}` parsing for parents with names of
    their own shape (e.g. `stations/{identity}` or `stations/-`); it raises INVALID_ARGUMENT."""
    caller = current_caller()
    parent = getattr(request, "parent", "")
    filter_text = getattr(request, "filter", "") if filter_fields is not None else ""
    recursive = str(getattr(request, "recursive", ""))
    if parse_parent is not None:
        parent_id = parse_parent(parent)
    else:
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
