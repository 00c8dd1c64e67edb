"""Sign-in and tokens: user logins, logout, service accounts and their tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from wattlane.core.clock import utcnow
from wattlane.core.errors import AlreadyExists, InvalidArgument, NotFound, RateLimited, Unauthenticated
from wattlane.core.ids import new_id
from wattlane.core.tokens import Principal
from wattlane.core.validation import MAX_EMAIL_LENGTH
from wattlane.identity import revocations
from wattlane.identity.models import LoginThrottle, RevokedToken, ServiceAccount, User
from wattlane.identity.runtime import Runtime

_SERVICE = re.compile(r"^[a-z][a-z0-9-]{1,62}$")
_SCOPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: float


def issue_user_token(rt: Runtime, user: User) -> IssuedToken:
    token, expires_at, _ = rt.keys.sign(
        {"sub": user.id, "typ": "user", "tn": user.tenant_id, "tp": user.tenant_path, "ep": user.auth_epoch},
        rt.settings.access_token_ttl_seconds,
    )
    return IssuedToken(token, expires_at)


async def login(rt: Runtime, email: str, password: str) -> tuple[User, IssuedToken]:
    """Verify e-mail and password; the same answer for an unknown e-mail and a wrong password.

    After `login_max_failures` failures within the window the e-mail is locked out for
    `login_lockout_seconds` (RESOURCE_EXHAUSTED with RetryInfo), even with the right password,
    so guessing stays slow; a successful sign-in clears the count."""
    if not email or not password:
        raise InvalidArgument.field("email" if not email else "password", "is required")
    key = email.strip().lower()
    if len(key) > MAX_EMAIL_LENGTH:  # no account has it, and the throttle could not count it
        raise InvalidArgument.field("email", f"is longer than an e-mail address can be ({MAX_EMAIL_LENGTH})")
    async with rt.db.reader() as session:
        user = (
            await session.execute(select(User).where(User.email == key, User.delete_time.is_(None)))
        ).scalar_one_or_none()
        throttle = await session.get(LoginThrottle, key)
    now = utcnow()
    if throttle is not None and throttle.locked_until is not None and throttle.locked_until > now:
        raise _locked_out(throttle.locked_until - now)
    ok = await rt.passwords.verify(user.password_hash if user else None, password)
    if user is None or not ok:
        locked_until = await _record_failure(rt, key, now)
        if locked_until is not None:
            raise _locked_out(locked_until - now)
        raise Unauthenticated("e-mail or password is wrong", reason="BAD_CREDENTIALS")
    if user.state != "ACTIVE":
        raise Unauthenticated(f"this user cannot sign in ({user.state.lower()})", reason="USER_NOT_ACTIVE")
    rehash = bool(user.password_hash and rt.passwords.needs_rehash(user.password_hash))
    if throttle is not None or rehash:
        new_hash = await rt.passwords.hash(password) if rehash else None
        async with rt.db.transaction() as session:
            await session.execute(delete(LoginThrottle).where(LoginThrottle.email == key))
            row = await session.get(User, user.id) if new_hash else None
            if row is not None:
                row.password_hash = new_hash
    return user, issue_user_token(rt, user)


def _locked_out(remaining: dt.timedelta) -> RateLimited:
    minutes = max(1, math.ceil(remaining.total_seconds() / 60))
    return RateLimited(
        f"too many failed sign-ins for this e-mail; try again in {minutes} minute{'s' * (minutes != 1)}",
        remaining.total_seconds(),
        reason="LOGIN_LOCKED",
    )


async def _record_failure(rt: Runtime, key: str, now: dt.datetime) -> dt.datetime | None:
    """Count a failed sign-in; returns the lockout end when this failure starts one."""
    settings = rt.settings
    window = dt.timedelta(seconds=settings.login_failure_window_seconds)
    for attempt in range(2):
        try:
            async with rt.db.transaction() as session:
                row = await session.get(LoginThrottle, key, with_for_update=True)
                if row is None:
                    row = LoginThrottle(email=key, failures=0, window_start=now, locked_until=None)
                    session.add(row)
                elif now - row.window_start > window or (row.locked_until and row.locked_until <= now):
                    row.failures, row.window_start, row.locked_until = 0, now, None
                row.failures += 1
                if row.failures >= settings.login_max_failures:
                    row.locked_until = now + dt.timedelta(seconds=settings.login_lockout_seconds)
                return row.locked_until
        except IntegrityError:
            # Two first failures raced to insert the row; the second pass finds it.
            if attempt:
                raise
    return None


async def logout(rt: Runtime, principal: Principal) -> None:
    """Revoke the presented token until it would have expired anyway."""
    async with rt.db.transaction() as session:
        if await session.get(RevokedToken, principal.token_id) is None:
            session.add(
                RevokedToken(
                    token_id=principal.token_id,
                    user_id=principal.subject,
                    expire_time=dt.datetime.fromtimestamp(principal.expires_at, dt.UTC),
                )
            )
            revocations.record_token(
                session,
                principal.subject,
                principal.token_id,
                dt.datetime.fromtimestamp(principal.expires_at, dt.UTC),
            )
    rt.verifier.forget(lambda p: p.token_id == principal.token_id)
    rt.scopes.invalidate(lambda subject: subject == principal.subject)


def secret_hash(secret: str) -> str:
    # Secrets are 256-bit random values, so a plain hash is enough (no password stretching).
    return hashlib.sha256(secret.encode()).hexdigest()


def validate_service_account(service: str, scopes: Sequence[str]) -> tuple[str, list[str]]:
    if not _SERVICE.match(service):
        raise InvalidArgument.field("service_account.service", "must be a lower-case name like 'assets'")
    if not scopes:
        raise InvalidArgument.field("service_account.scopes", "must name at least one internal scope")
    for i, scope in enumerate(scopes):
        if not _SCOPE.match(scope):
            raise InvalidArgument.field(
                f"service_account.scopes[{i}]", "must look like 'identity.datapoints'"
            )
    return service, sorted(set(scopes))


async def create_service_account(
    rt: Runtime, service: str, scopes: Sequence[str], secret: str | None = None, *, upsert: bool = False
) -> tuple[ServiceAccount, str]:
    """Create (or, with `upsert`, re-key) a service account; returns it and its secret."""
    service, scopes = validate_service_account(service, scopes)
    secret = secret or secrets.token_urlsafe(32)
    async with rt.db.transaction() as session:
        existing = (
            await session.execute(
                select(ServiceAccount).where(
                    ServiceAccount.service == service, ServiceAccount.delete_time.is_(None)
                )
            )
        ).scalar_one_or_none()
        if existing is not None and not upsert:
            raise AlreadyExists(f"a service account for {service!r} already exists")
        if existing is not None:
            existing.secret_hash, existing.scopes = secret_hash(secret), scopes
            return existing, secret
        account = ServiceAccount(
            id=new_id(), service=service, secret_hash=secret_hash(secret), scopes=scopes, create_time=utcnow()
        )
        session.add(account)
    return account, secret


async def issue_service_token(rt: Runtime, client_id: str, client_secret: str) -> IssuedToken:
    """A service token for valid credentials; the client id is `serviceAccounts/{id}` or the
    service name."""
    if client_id.startswith("serviceAccounts/"):
        match = ServiceAccount.id == client_id.removeprefix("serviceAccounts/")
    else:
        match = ServiceAccount.service == client_id
    async with rt.db.reader() as session:
        account = (
            await session.execute(select(ServiceAccount).where(match, ServiceAccount.delete_time.is_(None)))
        ).scalar_one_or_none()
    if account is None or not hmac.compare_digest(account.secret_hash, secret_hash(client_secret)):
        raise Unauthenticated("client id or secret is wrong", reason="BAD_CREDENTIALS")
    token, expires_at, _ = rt.keys.sign(
        {"sub": account.id, "typ": "service", "svc": account.service, "scp": list(account.scopes)},
        rt.settings.service_token_ttl_seconds,
    )
    return IssuedToken(token, expires_at)


async def delete_service_account(rt: Runtime, account_id: str) -> ServiceAccount:
    async with rt.db.transaction() as session:
        account = await session.get(ServiceAccount, account_id)
        if account is None or account.delete_time is not None:
            raise NotFound(f"serviceAccounts/{account_id}")
        account.delete_time = utcnow()
        return account
