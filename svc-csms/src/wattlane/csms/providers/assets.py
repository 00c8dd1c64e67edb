"""Providers backed by assets' internal API (`AssetsInternalService`).

Station credentials: assets hands out a *verifier* (HMAC-SHA256 key digest and its salt, never
the key), cached here so Basic auth is checked locally in microseconds. A failed check refetches
the verifier once (rate-limited per station), so a station whose key was just rotated gets in
with the new key and the old key stops working. NOT_FOUND means an unknown station (HTTP 404 at
the handshake, recorded as unclaimed by the registry); a verifier that cannot be refreshed
during an outage is used while it lasts (`stale_ttl`).

Access decisions come from `DecideAccess`; the CSMS's `CachingAccessDecider` in front of this one
keeps known cards working during a short outage.

SendLocalList takes the cards assets lists for a station (`ListLocalAuthorizations`).
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc

from wattlane.api.assets.v1 import internal_pb2, internal_pb2_grpc
from wattlane.core.errors import FailedPrecondition, Unavailable
from wattlane.core.timestamps import from_timestamp
from wattlane.csms.providers.interfaces import (
    AccessDecision,
    AccessStatus,
    ConnectionAttempt,
    ProviderUnavailable,
    StationOwner,
)

logger = logging.getLogger(__name__)

_PAYER = {
    internal_pb2.AccessDecision.FREE: "free",
    internal_pb2.AccessDecision.CARDHOLDER: "cardholder",
    internal_pb2.AccessDecision.ROAMING: "roaming",
}
_STATUS = {
    internal_pb2.AccessDecision.ACCEPTED: AccessStatus.ACCEPTED,
    internal_pb2.AccessDecision.BLOCKED: AccessStatus.BLOCKED,
    internal_pb2.AccessDecision.INVALID: AccessStatus.INVALID,
    internal_pb2.AccessDecision.EXPIRED: AccessStatus.EXPIRED,
}


def key_digest(salt: bytes, password: bytes) -> bytes:
    """HMAC-SHA256(salt, password): how assets stores an AuthorizationKey's verifier."""
    return hmac.new(salt, password, hashlib.sha256).digest()


def _id_of(name: str, collection: str) -> str:
    prefix = collection + "/"
    return name[len(prefix) :] if name.startswith(prefix) else name


@dataclass(frozen=True, slots=True)
class _Cached:
    fetched_at: float
    credential: internal_pb2.StationCredential | None  # None: assets said NOT_FOUND


class AssetsStations:
    """A `StationCredentials` asking assets for verifiers and caching them."""

    def __init__(
        self,
        stub: internal_pb2_grpc.AssetsInternalServiceAsyncStub,
        *,
        ttl: float = 300.0,
        stale_ttl: float = 3600.0,
        unknown_ttl: float = 5.0,
        refetch_interval: float = 1.0,
        timeout: float = 5.0,
        max_entries: int = 200_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stub = stub
        self._ttl = ttl
        self._stale_ttl = stale_ttl
        self._unknown_ttl = unknown_ttl
        self.refetch_interval = refetch_interval  # seconds between refetches after failed checks
        self._timeout = timeout
        self._max_entries = max_entries
        self._clock = clock
        self._cache: collections.OrderedDict[str, _Cached] = collections.OrderedDict()
        self.unclaimed: collections.deque[ConnectionAttempt] = collections.deque(maxlen=10_000)
        self.fetches = 0

    async def _fetch(self, identity: str) -> _Cached:
        self.fetches += 1
        now = self._clock()
        try:
            credential = await self._stub.GetStationCredential(
                internal_pb2.GetStationCredentialRequest(identity=identity), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.NOT_FOUND:
                raise ProviderUnavailable(f"assets: {error.code().name}: {error.details()}") from None
            entry = _Cached(now, None)
        else:
            entry = _Cached(now, credential)
        self._cache[identity] = entry
        self._cache.move_to_end(identity)
        if len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)
        return entry

    async def _get(self, identity: str) -> _Cached:
        entry = self._cache.get(identity)
        if entry is not None:
            age = self._clock() - entry.fetched_at
            if age < (self._ttl if entry.credential is not None else self._unknown_ttl):
                return entry
        try:
            return await self._fetch(identity)
        except ProviderUnavailable:
            usable = entry is not None and entry.credential is not None
            if usable and self._clock() - entry.fetched_at < self._stale_ttl:  # type: ignore[union-attr]
                logger.warning("assets unavailable; using the cached verifier of %s", identity)
                return entry  # type: ignore[return-value]
            raise

    async def _recheck(self, identity: str, entry: _Cached) -> internal_pb2.StationCredential | None:
        """After a failed check: fetch again (a rotation), at most once per `refetch_interval`."""
        if self._clock() - entry.fetched_at < self.refetch_interval:
            return None
        try:
            return (await self._fetch(identity)).credential
        except ProviderUnavailable:
            return None

    async def is_known(self, identity: str) -> bool:
        """True when assets has a charging point with this identity."""
        return (await self._get(identity)).credential is not None

    async def verify_password(self, identity: str, password: bytes) -> bool:
        """Check HMAC-SHA256(key_salt, password) against the cached digest (refetch once on failure)."""
        entry = await self._get(identity)
        if entry.credential is not None and _password_ok(entry.credential, password):
            return True
        fresh = await self._recheck(identity, entry)
        return fresh is not None and _password_ok(fresh, password)

    async def verify_certificate(self, identity: str, subject_cn: str) -> bool:
        """The certificate's CN must be the charging point's configured subject."""
        entry = await self._get(identity)
        if entry.credential is not None and _certificate_ok(entry.credential, subject_cn):
            return True
        fresh = await self._recheck(identity, entry)
        return fresh is not None and _certificate_ok(fresh, subject_cn)

    async def record_unclaimed(self, attempt: ConnectionAttempt) -> None:
        """Kept in memory only (the database registry records them when it is configured)."""
        self.unclaimed.append(attempt)

    async def owner(self, identity: str) -> StationOwner | None:
        """The owning organization, location and charging point from the cached credential."""
        entry = self._cache.get(identity)
        credential = entry.credential if entry is not None else None
        if credential is None:
            try:
                credential = (await self._get(identity)).credential
            except ProviderUnavailable:
                return None
        if credential is None or not credential.owner:
            return None
        return StationOwner(
            owner_id=_id_of(credential.owner, "tenants"),
            owner_path=credential.owner_path,
            location_id=_id_of(credential.location, "locations"),
            charging_point_id=_id_of(credential.charging_point, "chargingPoints"),
        )


def _password_ok(credential: internal_pb2.StationCredential, password: bytes) -> bool:
    if not credential.key_digest:
        return False  # no key set: only a client certificate can connect
    return hmac.compare_digest(credential.key_digest, key_digest(credential.key_salt, password))


def _certificate_ok(credential: internal_pb2.StationCredential, subject_cn: str) -> bool:
    return bool(credential.certificate_subject) and hmac.compare_digest(
        credential.certificate_subject.encode(), subject_cn.encode()
    )


class AssetsAccess:
    """An `AccessDecider` asking assets' `DecideAccess`."""

    def __init__(
        self, stub: internal_pb2_grpc.AssetsInternalServiceAsyncStub, *, timeout: float = 5.0
    ) -> None:
        self._stub = stub
        self._timeout = timeout

    async def decide(self, identity: str, id_token: str, token_type: str) -> AccessDecision:
        """Ask assets; NOT_FOUND (no such station) is Invalid; anything else is an outage."""
        try:
            reply = await self._stub.DecideAccess(
                internal_pb2.DecideAccessRequest(identity=identity, id_token=id_token, token_type=token_type),
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return AccessDecision(AccessStatus.INVALID, reason="unknown station")
            raise ProviderUnavailable(f"assets: {error.code().name}: {error.details()}") from None
        return AccessDecision(
            _STATUS.get(reply.status, AccessStatus.INVALID),
            reason=reply.reason or None,
            expires_at=from_timestamp(reply.card_expire_time) if reply.HasField("card_expire_time") else None,
            payer=_PAYER.get(reply.payer, ""),
            card=reply.card,
            card_owner=reply.card_owner,
            card_owner_path=reply.card_owner_path,
            cardholder=reply.cardholder,
            rate_plan=reply.rate_plan,
            time_zone=reply.time_zone,
        )


class AssetsLocalLists:
    """SendLocalList's source: the local authorization list assets keeps for a station."""

    def __init__(self, stub: internal_pb2_grpc.AssetsInternalServiceAsyncStub) -> None:
        self._stub = stub

    async def __call__(self, identity: str) -> internal_pb2.LocalAuthorizationList:
        """The station's list; FAILED_PRECONDITION when assets has no such charging point,
        UNAVAILABLE when it cannot answer."""
        request = internal_pb2.ListLocalAuthorizationsRequest(identity=identity)
        try:
            reply: internal_pb2.LocalAuthorizationList = await self._stub.ListLocalAuthorizations(request)
        except grpc.aio.AioRpcError as exc:
            # Said to the caller as what it means for them, never as an internal error.
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise FailedPrecondition(
                    f"assets has no charging point with OCPP identity {identity}",
                    reason="NO_CHARGING_POINT",
                ) from None
            raise Unavailable(f"assets could not give the local list ({exc.code().name})") from None
        return reply
