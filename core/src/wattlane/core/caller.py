"""The caller of the current RPC: its verified principal and (lazily) its effective scope."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

from wattlane.core.errors import PermissionDenied, Unauthenticated
from wattlane.core.scope import EffectiveScope, ScopeCache
from wattlane.core.tokens import Principal


@dataclass
class Caller:
    """Set by the auth interceptor for every authenticated call."""

    principal: Principal
    scopes: ScopeCache | None = None

    async def scope(self) -> EffectiveScope:
        """The caller's effective scope (cached per token). Service tokens have no tenant scope."""
        if self.principal.is_service or self.scopes is None:
            raise PermissionDenied("user token", "")
        return await self.scopes.get(self.principal)

    def require_service_scope(self, scope: str) -> None:
        """Internal RPCs: only service tokens holding `scope` may call."""
        if not self.principal.is_service:
            raise PermissionDenied(scope, "internal API")
        if scope not in self.principal.scopes:
            raise PermissionDenied(scope, "internal API")


caller_var: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("wattlane_caller", default=None)


def current_caller() -> Caller:
    """The authenticated caller of this RPC; UNAUTHENTICATED if the method is anonymous."""
    caller = caller_var.get()
    if caller is None:
        raise Unauthenticated("this method requires a bearer token")
    return caller


def current_principal() -> Principal | None:
    """The principal of this RPC, or None for anonymous calls."""
    caller = caller_var.get()
    return caller.principal if caller is not None else None
