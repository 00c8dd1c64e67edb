"""Signed JWTs: the claims every service understands, and local verification with a cache.

Identity signs with Ed25519 (EdDSA) keys it publishes as a JWKS; every other service verifies
locally (no network call per request) and caches the verified principal until the token expires.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt

from wattlane.core.errors import Unauthenticated

ISSUER = "wattlane-identity"
AUDIENCE = "wattlane"
ALGORITHM = "EdDSA"

Jwk = Mapping[str, Any]
KeySource = Callable[[], Awaitable[Iterable[Jwk]]]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as proven by a verified token."""

    kind: Literal["user", "service"]
    subject: str  # user id or service account id
    token_id: str
    expires_at: float
    token: str = field(repr=False, default="")  # forwarded to identity to fetch the scope
    tenant_id: str = ""  # user's home node
    tenant_path: str = ""
    epoch: int = 0  # user's auth epoch; bumping it revokes every token issued before
    service: str = ""  # service account name
    scopes: frozenset[str] = frozenset()  # fixed internal scopes of a service token
    on_behalf_of: str = ""  # user a service acts for, when it says so

    @property
    def caller_key(self) -> str:
        """Stable key of the caller for idempotency records and page-token binding."""
        return f"user:{self.subject}" if self.kind == "user" else f"service:{self.service}"

    @property
    def is_service(self) -> bool:
        return self.kind == "service"


def principal_from_claims(claims: Mapping[str, Any], token: str = "") -> Principal:
    """Build a Principal from verified claims; malformed claims are UNAUTHENTICATED."""
    try:
        kind = claims["typ"]
        if kind == "user":
            return Principal(
                kind="user",
                subject=str(claims["sub"]),
                token_id=str(claims["jti"]),
                expires_at=float(claims["exp"]),
                token=token,
                tenant_id=str(claims["tn"]),
                tenant_path=str(claims["tp"]),
                epoch=int(claims.get("ep", 0)),
            )
        if kind == "service":
            return Principal(
                kind="service",
                subject=str(claims["sub"]),
                token_id=str(claims["jti"]),
                expires_at=float(claims["exp"]),
                token=token,
                service=str(claims["svc"]),
                scopes=frozenset(claims.get("scp", ())),
            )
    except (KeyError, TypeError, ValueError):
        pass
    raise Unauthenticated("token claims are malformed")


class TokenVerifier:
    """Verifies bearer tokens against the published keys; caches results until expiry."""

    def __init__(
        self,
        key_source: KeySource,
        *,
        max_cache: int = 100_000,
        leeway: float = 5.0,
        refresh_interval: float = 30.0,
        is_revoked: Callable[[Principal], bool] | None = None,
    ) -> None:
        self._key_source = key_source
        self._keys: dict[str, Any] = {}
        self._cache: dict[str, Principal] = {}
        self._max_cache = max_cache
        self._leeway = leeway
        self._refresh_interval = refresh_interval
        self._last_refresh = -1e9
        self._refresh_lock = asyncio.Lock()
        self._is_revoked = is_revoked

    def load_keys(self, jwks: Iterable[Jwk]) -> None:
        """Replace the known keys with a JWKS key list."""
        keys = {}
        for jwk in jwks:
            keys[str(jwk["kid"])] = jwt.PyJWK(dict(jwk)).key
        self._keys = keys

    async def refresh_keys(self, force: bool = False) -> None:
        """Fetch the key set again, at most once per refresh interval unless forced."""
        async with self._refresh_lock:
            now = time.monotonic()
            if not force and now - self._last_refresh < self._refresh_interval:
                return
            self.load_keys(await self._key_source())
            self._last_refresh = now

    def forget(self, predicate: Callable[[Principal], bool]) -> None:
        """Drop cached verifications matching `predicate` (e.g. a removed user's tokens)."""
        for token in [t for t, p in self._cache.items() if predicate(p)]:
            del self._cache[token]

    async def verify(self, token: str) -> Principal:
        """Return the token's principal, or raise Unauthenticated (expired, forged, revoked)."""
        cached = self._cache.get(token)
        now = time.time()
        if cached is not None and cached.expires_at + self._leeway > now:
            if self._is_revoked is not None and self._is_revoked(cached):
                raise Unauthenticated("token has been revoked")
            return cached
        principal = await self._verify_uncached(token)
        if self._is_revoked is not None and self._is_revoked(principal):
            raise Unauthenticated("token has been revoked")
        if len(self._cache) >= self._max_cache:
            self._purge(now)
        self._cache[token] = principal
        return principal

    def _purge(self, now: float) -> None:
        expired = [t for t, p in self._cache.items() if p.expires_at + self._leeway <= now]
        for t in expired:
            del self._cache[t]
        if len(self._cache) >= self._max_cache:  # still full of live tokens: start over
            self._cache.clear()

    async def _verify_uncached(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("malformed bearer token") from None
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str):
            raise Unauthenticated("token is not signed with a Wattlane key")
        if kid not in self._keys:
            await self.refresh_keys()
            if kid not in self._keys:
                raise Unauthenticated("token is signed with an unknown key")
        try:
            claims = jwt.decode(
                token,
                self._keys[kid],
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "sub", "jti", "typ"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token has expired", reason="TOKEN_EXPIRED") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from None
        return principal_from_claims(claims, token)
