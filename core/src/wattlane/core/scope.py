"""Effective scope: what a caller may do where, and the SQL filter every query applies.

Identity computes, per user, for each permission the subtree paths (and optional resource
allow-lists) where it holds it. Services cache that per token and filter every query in SQL;
an id outside the scope reads as NOT_FOUND, a visible one without the permission as
PERMISSION_DENIED (`require`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import and_, false, or_, true
from sqlalchemy.sql.elements import ColumnElement

from wattlane.core.errors import NotFound, PermissionDenied
from wattlane.core.orm import SqlColumn
from wattlane.core.tokens import Principal

# Upper bound for a path prefix range: '~' sorts after every character an id or '/' can hold.
PATH_END = "~"

# Collections a member's grant can be restricted to ("restrict a member to chosen locations or
# devices"). Other resources (tenants, users, cards, ...) are not subject to allow-lists.
RESTRICTABLE_COLLECTIONS = ("locations", "chargingPoints")


def is_restrictable(resource_name: str) -> bool:
    return resource_name.split("/", 1)[0] in RESTRICTABLE_COLLECTIONS


@dataclass(frozen=True, slots=True)
class Grant:
    """A permission held at `path` (and below it when `subtree`), optionally only for the
    resources named in `allowed` (e.g. `locations/L1`), as a restricted member's grant is."""

    path: str
    subtree: bool = True
    allowed: frozenset[str] | None = None

    def covers(self, path: str) -> bool:
        return path.startswith(self.path) if self.subtree else path == self.path

    def admits(self, path: str, resource_names: Iterable[str] = ()) -> bool:
        """True when a resource at `path` with these names (itself and its parents, e.g. a
        charging point and its location) is inside. An allow-list only restricts resources
        that are (or sit in) locations or charging points."""
        if not self.covers(path):
            return False
        if self.allowed is None:
            return True
        names = [n for n in resource_names if is_restrictable(n)]
        return not names or any(name in self.allowed for name in names)


def normalize_grants(grants: Iterable[Grant]) -> tuple[Grant, ...]:
    """Drop grants already implied by an unrestricted subtree grant above them; stable order."""
    # The allow-list breaks ties so equal-ranked grants keep one order (normalizing is idempotent).
    unique = sorted(
        set(grants),
        key=lambda g: (g.path, not g.subtree, g.allowed is not None, sorted(g.allowed or ())),
    )
    kept: list[Grant] = []
    for grant in unique:
        if any(k.subtree and k.allowed is None and grant.path.startswith(k.path) for k in kept):
            continue
        kept.append(grant)
    return tuple(kept)


@dataclass(frozen=True)
class EffectiveScope:
    """Per permission, the grants a caller holds. Immutable; cached per token."""

    subject: str
    grants: Mapping[str, tuple[Grant, ...]]
    expires_at: float = 0.0
    _all: tuple[Grant, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        merged = normalize_grants(g for gs in self.grants.values() for g in gs)
        object.__setattr__(self, "_all", merged)

    @classmethod
    def build(
        cls, subject: str, grants: Mapping[str, Iterable[Grant]], expires_at: float = 0.0
    ) -> EffectiveScope:
        return cls(subject, {p: normalize_grants(gs) for p, gs in grants.items()}, expires_at)

    def grants_for(self, permission: str) -> tuple[Grant, ...]:
        return self.grants.get(permission, ())

    @property
    def all_grants(self) -> tuple[Grant, ...]:
        """Every grant of every permission, merged (what the caller can see at all)."""
        return self._all

    def permissions(self) -> list[str]:
        return sorted(p for p, gs in self.grants.items() if gs)

    def can(self, permission: str, path: str, resource_names: Iterable[str] = ()) -> bool:
        """Does the caller hold `permission` on a resource at `path`?"""
        names = tuple(resource_names)
        return any(g.admits(path, names) for g in self.grants_for(permission))

    def can_everywhere_below(self, permission: str, path: str) -> bool:
        """Holds `permission` on the whole subtree at `path`, unrestricted (to grant it onwards)."""
        return any(
            g.subtree and g.allowed is None and path.startswith(g.path) for g in self.grants_for(permission)
        )

    def visible(self, path: str, resource_names: Iterable[str] = ()) -> bool:
        """Can the caller see a resource at `path` at all (through any permission)?"""
        names = tuple(resource_names)
        return any(g.admits(path, names) for g in self._all)

    def require(self, permission: str, path: str, resource: str, resource_names: Iterable[str] = ()) -> None:
        """Raise NotFound when invisible, PermissionDenied when visible without `permission`."""
        names = (resource, *resource_names)
        if self.can(permission, path, names):
            return
        if self.visible(path, names):
            raise PermissionDenied(permission, resource)
        raise NotFound(resource)

    def filter(
        self,
        permission: str | None,
        path_column: SqlColumn,
        allow_columns: Mapping[str, SqlColumn] | None = None,
    ) -> ColumnElement[bool]:
        """SQL condition selecting rows inside the scope of `permission` (None: any permission).

        `allow_columns` maps a collection (`locations`) to the row's column holding that
        collection's id, so restricted grants admit only rows of allowed resources."""
        grants = self._all if permission is None else self.grants_for(permission)
        return grants_filter(grants, path_column, allow_columns)


def grants_filter(
    grants: Iterable[Grant],
    path_column: SqlColumn,
    allow_columns: Mapping[str, SqlColumn] | None = None,
) -> ColumnElement[bool]:
    """OR of one condition per grant: a prefix range (index-friendly) or an exact path."""
    clauses: list[ColumnElement[bool]] = []
    for grant in grants:
        if grant.subtree:
            where = and_(path_column >= grant.path, path_column < grant.path + PATH_END)
        else:
            where = path_column == grant.path
        if grant.allowed is not None:
            where = and_(where, _allow_clause(grant.allowed, allow_columns or {}))
        clauses.append(where)
    if not clauses:
        return false()
    return or_(*clauses) if len(clauses) > 1 else clauses[0]


def _allow_clause(allowed: frozenset[str], columns: Mapping[str, SqlColumn]) -> ColumnElement[bool]:
    by_collection: dict[str, list[str]] = {}
    for name in allowed:
        collection, _, rid = name.partition("/")
        by_collection.setdefault(collection, []).append(rid)
    parts = [columns[c].in_(sorted(ids)) for c, ids in by_collection.items() if c in columns]
    if not columns:
        return true()  # this resource kind is not subject to allow-lists
    return or_(*parts) if parts else false()


ScopeFetcher = Callable[[Principal], Awaitable[EffectiveScope]]


def _retrieve(task: asyncio.Future[EffectiveScope]) -> None:
    """Mark a fetch's failure as seen even when every caller stopped waiting for it."""
    if not task.cancelled():
        task.exception()


class ScopeCache:
    """Effective scopes per token, kept for at most `ttl` seconds and never past the token's
    expiry; concurrent misses for one token share one fetch. A short ttl bounds how long a
    removed member's other-service access can outlive the removal."""

    def __init__(self, fetch: ScopeFetcher, *, ttl: float = 10.0, max_entries: int = 100_000) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[str, tuple[float, EffectiveScope]] = {}
        self._inflight: dict[str, asyncio.Future[EffectiveScope]] = {}

    async def get(self, principal: Principal) -> EffectiveScope:
        key = principal.token_id
        entry = self._entries.get(key)
        if entry is not None and entry[0] > time.time():
            return entry[1]
        pending = self._inflight.get(key)
        if pending is None:
            # The fetch is a task of its own: a caller that is cancelled (client gone, deadline)
            # stops waiting without cancelling the fetch the other callers wait for.
            pending = asyncio.ensure_future(self._load(key, principal))
            pending.add_done_callback(_retrieve)
            self._inflight[key] = pending
        return await asyncio.shield(pending)

    async def _load(self, key: str, principal: Principal) -> EffectiveScope:
        now = time.time()
        try:
            scope = await self._fetch(principal)
        finally:
            del self._inflight[key]
        if len(self._entries) >= self._max:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            if len(self._entries) >= self._max:
                self._entries.clear()
        self._entries[key] = (min(now + self._ttl, principal.expires_at), scope)
        return scope

    def invalidate(self, predicate: Callable[[str], bool] | None = None) -> None:
        """Forget cached scopes (all, or those whose subject matches)."""
        if predicate is None:
            self._entries.clear()
            return
        for key in [k for k, (_, s) in self._entries.items() if predicate(s.subject)]:
            del self._entries[key]
