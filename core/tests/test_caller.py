"""caller: the current RPC's principal and its lazily fetched scope."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from wattlane.core.caller import Caller, caller_var, current_caller, current_principal
from wattlane.core.errors import PermissionDenied, Unauthenticated
from wattlane.core.scope import EffectiveScope, Grant, ScopeCache
from wattlane.core.tokens import Principal

USER = Principal("user", "u1", "t1", 2e9, tenant_id="o9", tenant_path="/op/o9/")
SERVICE = Principal("service", "sa1", "t2", 2e9, service="billing", scopes=frozenset({"licenses.consume"}))


def scopes() -> tuple[ScopeCache, list[str]]:
    fetched: list[str] = []

    async def fetch(p: Principal) -> EffectiveScope:
        fetched.append(p.subject)
        return EffectiveScope.build(p.subject, {"x.read": [Grant(p.tenant_path)]})

    return ScopeCache(fetch), fetched


def test_no_caller_outside_an_authenticated_call() -> None:
    assert current_principal() is None
    with pytest.raises(Unauthenticated, match="requires a bearer token"):
        current_caller()


def test_the_current_caller_is_per_context() -> None:
    caller = Caller(USER)

    def inside() -> None:
        caller_var.set(caller)
        assert current_caller() is caller
        assert current_principal() is USER

    contextvars.copy_context().run(inside)
    assert current_principal() is None  # nothing leaks out of the call's context


async def test_user_scope_is_fetched_once_through_the_cache() -> None:
    cache, fetched = scopes()
    caller = Caller(USER, cache)
    first, second = await asyncio.gather(caller.scope(), caller.scope())
    assert first is second
    assert first.can("x.read", "/op/o9/a/")
    assert fetched == ["u1"]


async def test_service_tokens_have_no_tenant_scope() -> None:
    cache, fetched = scopes()
    with pytest.raises(PermissionDenied, match="'user token' is required"):
        await Caller(SERVICE, cache).scope()
    assert fetched == []


async def test_without_a_scope_cache_there_is_no_scope() -> None:
    with pytest.raises(PermissionDenied):
        await Caller(USER).scope()


def test_require_service_scope() -> None:
    Caller(SERVICE).require_service_scope("licenses.consume")
    with pytest.raises(PermissionDenied) as caught:
        Caller(SERVICE).require_service_scope("identity.scopes.read")
    assert caught.value.metadata == {"permission": "identity.scopes.read", "resource": "internal API"}
    with pytest.raises(PermissionDenied):
        Caller(USER).require_service_scope("licenses.consume")
