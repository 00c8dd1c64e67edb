"""Password hashing with argon2id (argon2-cffi), off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from wattlane.core.errors import InvalidArgument

MIN_LENGTH = 10
MAX_LENGTH = 256


def check_policy(password: str, field: str) -> None:
    """INVALID_ARGUMENT naming `field` unless the password is long enough (and not absurdly long)."""
    if len(password) < MIN_LENGTH:
        raise InvalidArgument.field(field, f"must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidArgument.field(field, f"must be at most {MAX_LENGTH} characters")


class Passwords:
    """Hashes and verifies passwords; the work runs in a thread so the loop keeps serving."""

    def __init__(self, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        # Verified against when the e-mail is unknown, so both paths cost the same time.
        self._dummy = self._hasher.hash("wattlane-timing-equalizer")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(stored or self._dummy, password) and stored is not None
            except (VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(check)

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)
