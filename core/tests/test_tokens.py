"""tokens: local verification of real Ed25519-signed JWTs, key refresh, the verification cache."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from wattlane.core import tokens as tokens_module
from wattlane.core.errors import Unauthenticated
from wattlane.core.testing.tokens import TokenMinter
from wattlane.core.tokens import Principal, TokenVerifier, principal_from_claims


@pytest.fixture
def minter() -> TokenMinter:
    """A fresh key per test: tests count its fetches."""
    return TokenMinter()


def user_claims(minter: TokenMinter, **overrides: Any) -> dict[str, Any]:
    """The claims of a user token, with `overrides` (None leaves a claim out)."""
    return minter.claims(**{"sub": "u1", "typ": "user", "tn": "t", "tp": "/t/", **overrides})


async def rejected(verifier: TokenVerifier, token: str) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as caught:
        await verifier.verify(token)
    return caught.value


async def test_user_token_gives_its_principal(minter: TokenMinter) -> None:
    claims = minter.claims(sub="u1", typ="user", tn="o9", tp="/op/p7/c4/o9/", ep=3)
    token = minter.sign(claims)
    principal = await minter.verifier().verify(token)
    assert principal == Principal(
        kind="user",
        subject="u1",
        token_id=claims["jti"],
        expires_at=float(claims["exp"]),
        token=token,
        tenant_id="o9",
        tenant_path="/op/p7/c4/o9/",
        epoch=3,
    )
    assert principal.caller_key == "user:u1"
    assert not principal.is_service
    assert token not in repr(principal)  # the bearer token never ends up in logs


async def test_service_token_gives_its_principal(minter: TokenMinter) -> None:
    token = minter.service_token("billing", ["identity.scopes.read", "licenses.consume"])
    principal = await minter.verifier().verify(token)
    assert principal.kind == "service"
    assert principal.is_service
    assert principal.service == "billing"
    assert principal.scopes == frozenset({"identity.scopes.read", "licenses.consume"})
    assert principal.caller_key == "service:billing"
    assert principal.tenant_path == ""


async def test_user_epoch_defaults_to_zero(minter: TokenMinter) -> None:
    principal = await minter.verifier().verify(minter.sign(user_claims(minter)))
    assert principal.epoch == 0


async def test_expired_token(minter: TokenMinter) -> None:
    error = await rejected(minter.verifier(), minter.user_token(ttl=-60))
    assert error.reason == "TOKEN_EXPIRED"
    assert error.message == "token has expired"


async def test_leeway_tolerates_small_clock_skew(minter: TokenMinter) -> None:
    token = minter.user_token(ttl=-2)
    assert (await minter.verifier(leeway=5).verify(token)).kind == "user"
    assert (await rejected(minter.verifier(leeway=0), token)).reason == "TOKEN_EXPIRED"


async def test_token_not_yet_valid(minter: TokenMinter) -> None:
    error = await rejected(minter.verifier(), minter.user_token(nbf=int(time.time()) + 3600))
    assert error.message.startswith("invalid token")


async def test_signature_of_another_key_under_our_kid(minter: TokenMinter) -> None:
    forger = TokenMinter(kid=minter.kid)
    error = await rejected(minter.verifier(), forger.user_token("u1"))
    assert error.message == "invalid token: Signature verification failed"
    assert error.reason == "UNAUTHENTICATED"


async def test_tampered_payload(minter: TokenMinter) -> None:
    header, payload, signature = minter.user_token("u1").split(".")
    other_payload = minter.user_token("admin").split(".")[1]
    error = await rejected(minter.verifier(), f"{header}.{other_payload}.{signature}")
    assert error.message.startswith("invalid token")
    assert payload != other_payload


async def test_none_algorithm(minter: TokenMinter) -> None:
    unsigned = jwt.encode(user_claims(minter), None, algorithm="none", headers={"kid": minter.kid})
    assert (await rejected(minter.verifier(), unsigned)).message == "token is not signed with a Wattlane key"


async def test_hmac_with_the_public_key_as_secret(minter: TokenMinter) -> None:
    """The classic algorithm confusion: HS256 keyed with the published public key."""
    public = minter.private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    forged = jwt.encode(user_claims(minter), public, algorithm="HS256", headers={"kid": minter.kid})
    assert (await rejected(minter.verifier(), forged)).message == "token is not signed with a Wattlane key"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def signed_with_header(minter: TokenMinter, header: dict[str, Any]) -> str:
    """A token with a hand-made header (PyJWT refuses some), properly signed by `minter`."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(user_claims(minter)).encode())}"
    return f"{signing_input}.{b64(minter.private_key.sign(signing_input.encode()))}"


async def test_hand_made_tokens_verify(minter: TokenMinter) -> None:
    token = signed_with_header(minter, {"alg": "EdDSA", "typ": "JWT", "kid": minter.kid})
    assert (await minter.verifier().verify(token)).subject == "u1"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"alg": "EdDSA"}, "token is not signed with a Wattlane key"),
        ({"alg": "EdDSA", "kid": 7}, "malformed bearer token"),  # PyJWT insists on a string kid
        ({"alg": "EdDSA", "kid": ["k"]}, "malformed bearer token"),
        ({"alg": "EdDSA", "kid": ""}, "token is signed with an unknown key"),
        ({"alg": "EdDSA", "kid": "other"}, "token is signed with an unknown key"),
        ({"alg": "ES256", "kid": "KID"}, "token is not signed with a Wattlane key"),
        ({"kid": "KID"}, "token is not signed with a Wattlane key"),
    ],
)
async def test_header_must_name_our_algorithm_and_a_known_kid(
    minter: TokenMinter, header: dict[str, Any], message: str
) -> None:
    header = {k: minter.kid if v == "KID" else v for k, v in header.items()}
    assert (await rejected(minter.verifier(), signed_with_header(minter, header))).message == message


@pytest.mark.parametrize(
    ("claim", "value"),
    [("aud", "someone-else"), ("aud", None), ("iss", "evil-identity"), ("iss", None)],
)
async def test_wrong_audience_or_issuer(minter: TokenMinter, claim: str, value: Any) -> None:
    token = minter.user_token("u1", **{claim: value})
    assert (await rejected(minter.verifier(), token)).message.startswith("invalid token")


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "jti", "typ"])
async def test_required_registered_claims(minter: TokenMinter, claim: str) -> None:
    error = await rejected(minter.verifier(), minter.sign(user_claims(minter, **{claim: None})))
    assert error.message.startswith("invalid token")
    assert claim in error.message


@pytest.mark.parametrize(
    "claims",
    [
        {"typ": "user", "tp": "/t/"},  # no home node
        {"typ": "user", "tn": "t"},  # no home path
        {"typ": "user", "tn": "t", "tp": "/t/", "ep": "three"},
        {"typ": "service"},  # no service name
        {"typ": "robot", "tn": "t", "tp": "/t/"},
    ],
)
async def test_malformed_wattlane_claims(minter: TokenMinter, claims: dict[str, Any]) -> None:
    token = minter.sign(minter.claims(sub="u1", **claims))
    assert (await rejected(minter.verifier(), token)).message == "token claims are malformed"


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "Bearer x", "\u00e9.\u00e9.\u00e9", "e30"])
async def test_garbage(minter: TokenMinter, token: str) -> None:
    assert (await rejected(minter.verifier(), token)).message == "malformed bearer token"


async def test_well_formed_but_empty_header(minter: TokenMinter) -> None:
    assert (
        await rejected(minter.verifier(), "e30.e30.")
    ).message == "token is not signed with a Wattlane key"


def test_principal_from_claims_directly() -> None:
    service = principal_from_claims({"typ": "service", "sub": "sa1", "jti": "j", "exp": 5, "svc": "csms"})
    assert service.scopes == frozenset()
    assert service.expires_at == 5.0
    with pytest.raises(Unauthenticated, match="malformed"):
        principal_from_claims({"typ": "service", "sub": "sa1", "jti": "j", "exp": "soon", "svc": "csms"})
    with pytest.raises(Unauthenticated, match="malformed"):
        principal_from_claims({})


# ---------------------------------------------------------------------------------------------
# Keys and the cache


class Clock:
    """Stands in for the `time` module inside wattlane.core.tokens."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(tokens_module, "time", fake)
    return fake


async def test_keys_are_fetched_on_first_use(minter: TokenMinter) -> None:
    verifier = minter.verifier()
    assert minter.fetches == 0
    await verifier.verify(minter.user_token())
    await verifier.verify(minter.user_token())
    assert minter.fetches == 1


async def test_preloaded_keys_need_no_fetch(minter: TokenMinter) -> None:
    verifier = minter.verifier()
    verifier.load_keys([minter.jwk()])
    await verifier.verify(minter.user_token())
    assert minter.fetches == 0


async def test_unknown_kid_refreshes_once_per_interval(minter: TokenMinter, clock: Clock) -> None:
    published = [minter.jwk()]
    fetches = 0

    async def source() -> list[dict[str, str]]:
        nonlocal fetches
        fetches += 1
        return list(published)

    verifier = TokenVerifier(source, refresh_interval=30)
    await verifier.verify(minter.user_token())
    assert fetches == 1

    rotated = TokenMinter()
    token = rotated.user_token()
    # Not published yet, and within the interval: no second fetch for a storm of unknown kids.
    results = await asyncio.gather(*(verifier.verify(token) for _ in range(5)), return_exceptions=True)
    assert all(
        isinstance(r, Unauthenticated) and r.message == "token is signed with an unknown key" for r in results
    )
    assert fetches == 1

    published.append(rotated.jwk())  # identity rotates its key
    assert isinstance(await rejected(verifier, token), Unauthenticated)
    assert fetches == 1
    clock.offset += 31
    assert (await verifier.verify(token)).kind == "user"
    assert fetches == 2
    # Both keys are known now: tokens of either verify without fetching.
    await verifier.verify(minter.user_token())
    await verifier.verify(rotated.user_token())
    assert fetches == 2


async def test_concurrent_unknown_kids_share_one_refresh(minter: TokenMinter) -> None:
    release = asyncio.Event()
    fetches = 0

    async def slow_source() -> list[dict[str, str]]:
        nonlocal fetches
        fetches += 1
        await release.wait()
        return [minter.jwk()]

    verifier = TokenVerifier(slow_source)
    tasks = [asyncio.create_task(verifier.verify(minter.user_token())) for _ in range(5)]
    await asyncio.sleep(0.01)
    release.set()
    principals = await asyncio.gather(*tasks)
    assert fetches == 1
    assert len({p.token_id for p in principals}) == 5


async def test_forced_refresh(minter: TokenMinter) -> None:
    verifier = minter.verifier()
    await verifier.refresh_keys()
    await verifier.refresh_keys()
    assert minter.fetches == 1
    await verifier.refresh_keys(force=True)
    assert minter.fetches == 2


async def test_cache_hit_needs_no_key(minter: TokenMinter) -> None:
    verifier = minter.verifier(refresh_interval=3600)
    token = minter.user_token()
    first = await verifier.verify(token)
    verifier.load_keys([])  # the key is gone: only a cached verification can succeed
    assert await verifier.verify(token) is first
    assert (await rejected(verifier, minter.user_token())).message == "token is signed with an unknown key"


async def test_cache_is_not_used_past_expiry(minter: TokenMinter, clock: Clock) -> None:
    verifier = minter.verifier(refresh_interval=3600, leeway=5)
    token = minter.user_token(ttl=60)
    await verifier.verify(token)
    verifier.load_keys([])
    clock.offset = 63  # within the leeway: still served from the cache
    await verifier.verify(token)
    clock.offset = 67  # past expiry + leeway: verified again, which now fails
    await rejected(verifier, token)


async def test_forget_drops_cached_verifications(minter: TokenMinter) -> None:
    verifier = minter.verifier(refresh_interval=3600)
    mine, theirs = minter.user_token("u1"), minter.user_token("u2")
    await verifier.verify(mine)
    await verifier.verify(theirs)
    verifier.load_keys([])
    verifier.forget(lambda p: p.subject == "u1")
    await rejected(verifier, mine)
    assert (await verifier.verify(theirs)).subject == "u2"


async def test_is_revoked_hook(minter: TokenMinter) -> None:
    epochs = {"u1": 1}
    verifier = minter.verifier(is_revoked=lambda p: p.epoch < epochs.get(p.subject, 0))
    old = minter.user_token("u1", epoch=0)
    assert (await rejected(verifier, old)).message == "token has been revoked"
    current = minter.user_token("u1", epoch=1)
    await verifier.verify(current)
    epochs["u1"] = 2  # password changed: every earlier token is revoked, cached or not
    assert (await rejected(verifier, current)).message == "token has been revoked"
    await verifier.verify(minter.user_token("u1", epoch=2))


async def test_cache_is_bounded(minter: TokenMinter, clock: Clock) -> None:
    verifier = minter.verifier(max_cache=2, refresh_interval=3600, leeway=0)
    short = minter.user_token("short", ttl=10)
    a, b = minter.user_token("a"), minter.user_token("b")
    await verifier.verify(short)
    clock.offset = 20  # `short` has expired in the cache (jwt's own clock does not move)
    await verifier.verify(a)
    await verifier.verify(b)  # full: the expired entry makes room, `a` stays cached
    verifier.load_keys([])
    await verifier.verify(a)
    await verifier.verify(b)
    verifier.load_keys([minter.jwk()])
    c = minter.user_token("c")
    await verifier.verify(c)  # full of live tokens: start over
    verifier.load_keys([])
    await verifier.verify(c)
    await rejected(verifier, a)
