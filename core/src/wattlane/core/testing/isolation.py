"""The tenant-isolation proof every service runs its RPCs through.

A *world* is a tenant tree with actors (signed-in users) whose grants are known to the test.
For every (actor, target resource, probe RPC) the oracle says what must happen:

- target outside everything the actor can see → NOT_FOUND (indistinguishable from absent);
- visible but the probe's permission is not held there → PERMISSION_DENIED;
- otherwise the call is allowed: read probes must succeed, write probes are not executed (the
  world must stay unchanged so later probes mean something).

List probes are checked differently: whatever an actor lists must lie inside its sight.
A service adds its own probes and targets; the checking is the same for all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import grpc


@dataclass(frozen=True)
class Grant:
    """Permissions held at `path` (and below it when `subtree`)."""

    path: str
    subtree: bool
    permissions: frozenset[str]

    def covers(self, path: str) -> bool:
        return path.startswith(self.path) if self.subtree else path == self.path


@dataclass
class Actor:
    """A signed-in user of the world; `client` is whatever the probes call through."""

    label: str
    client: Any
    user_name: str = ""
    grants: list[Grant] = field(default_factory=list)

    def sees(self, path: str) -> bool:
        return any(g.covers(path) for g in self.grants)

    def holds(self, permission: str, path: str) -> bool:
        return any(g.covers(path) and permission in g.permissions for g in self.grants)


@dataclass(frozen=True)
class Target:
    """A resource of the world: its name, its collection and the tenant path that owns it."""

    name: str
    collection: str
    path: str
    owner_user: str = ""  # resources a user may always read about themselves (e.g. users/me)


@dataclass(frozen=True)
class Probe:
    """One RPC aimed at a target of `collection`, needing `permission` there."""

    name: str
    collection: str
    permission: str
    mode: Literal["read", "write"]
    call: Callable[[Actor, Target], Awaitable[Any]]
    self_allowed: bool = False  # the target's owner may do it regardless of permissions


@dataclass(frozen=True)
class ListProbe:
    """An RPC listing resources; returns (name, path) of every item the actor got back."""

    name: str
    call: Callable[[Actor], Awaitable[Iterable[tuple[str, str]]]]


@dataclass
class Violation:
    actor: str
    probe: str
    target: str
    expected: str
    got: str

    def __str__(self) -> str:
        return f"{self.probe} by {self.actor} on {self.target}: expected {self.expected}, got {self.got}"


def expected_outcome(actor: Actor, target: Target, probe: Probe) -> str:
    """What the oracle requires: NOT_FOUND, PERMISSION_DENIED or OK."""
    if probe.self_allowed and target.owner_user and target.owner_user == actor.user_name:
        return "OK"
    if not actor.sees(target.path):
        return "NOT_FOUND"
    if not actor.holds(probe.permission, target.path):
        return "PERMISSION_DENIED"
    return "OK"


_ATTEMPTS = 3


async def check_isolation(
    actors: Iterable[Actor],
    targets: Iterable[Target],
    probes: Iterable[Probe],
    list_probes: Iterable[ListProbe] = (),
    *,
    sees: Callable[[Actor, str, str], bool] | None = None,
    concurrency: int = 16,
) -> list[Violation]:
    """Run every applicable probe and return the violations (empty when isolated).

    `sees(actor, name, path)` may refine visibility for listed items (e.g. a user always
    sees themself); by default it is `actor.sees(path)`. Probes run `concurrency` at a time:
    none of them may change the world (allowed writes are skipped), so order does not matter;
    the caller compares a snapshot of the world before and after."""
    actors, targets, probes = list(actors), list(targets), list(probes)
    gate = asyncio.Semaphore(concurrency)

    async def probe_once(actor: Actor, target: Target, probe: Probe, expected: str) -> Violation | None:
        got = "OK"
        # A deadline is the machine being slow, not an answer about isolation: ask again (the
        # last answer still has to be the expected one).
        for _ in range(_ATTEMPTS):
            async with gate:
                got = "OK"
                try:
                    await probe.call(actor, target)
                except grpc.aio.AioRpcError as error:
                    got = error.code().name
            if got != "DEADLINE_EXCEEDED":
                break
        return None if got == expected else Violation(actor.label, probe.name, target.name, expected, got)

    async def list_once(actor: Actor, list_probe: ListProbe) -> list[Violation]:
        for attempt in range(_ATTEMPTS):
            async with gate:
                try:
                    items = list(await list_probe.call(actor))
                    break
                except grpc.aio.AioRpcError as error:
                    if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED and attempt + 1 < _ATTEMPTS:
                        continue
                    if error.code() == grpc.StatusCode.PERMISSION_DENIED:
                        return []
                    return [Violation(actor.label, list_probe.name, "-", "a list", error.code().name)]
        return [
            Violation(actor.label, list_probe.name, name, "not listed", "listed")
            for name, path in items
            if not (sees(actor, name, path) if sees else actor.sees(path))
        ]

    calls = []
    for actor in actors:
        for target in targets:
            for probe in probes:
                if probe.collection != target.collection:
                    continue
                expected = expected_outcome(actor, target, probe)
                if expected == "OK" and probe.mode == "write":
                    continue  # allowed writes would change the world; other tests cover them
                calls.append(probe_once(actor, target, probe, expected))
    found = [v for v in await asyncio.gather(*calls) if v is not None]
    for lists in await asyncio.gather(*(list_once(a, lp) for a in actors for lp in list_probes)):
        found.extend(lists)
    return found
