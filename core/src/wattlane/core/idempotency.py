"""Idempotent writes keyed by (caller, method, request_id) with a hash of the request.

A retried request returns the first result; the same request id with a different body is
INVALID_ARGUMENT. The key row is claimed in the same transaction as the write, first, so a
concurrent duplicate waits on it and then replays the stored result instead of writing twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from google.protobuf.message import Message
from sqlalchemy import Column, LargeBinary, MetaData, String, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.core.clock import utcnow
from wattlane.core.db import Database
from wattlane.core.errors import InvalidArgument
from wattlane.core.orm import UTCDateTime

M = TypeVar("M", bound=Message)

MAX_REQUEST_ID = 128


def idempotency_table(metadata: MetaData) -> Table:
    """The idempotency key table, defined on a service's metadata (one per service database)."""
    return Table(
        "idempotency_keys",
        metadata,
        Column("caller", String(160), primary_key=True),
        Column("method", String(160), primary_key=True),
        Column("request_id", String(MAX_REQUEST_ID), primary_key=True),
        Column("request_hash", String(64), nullable=False),
        Column("response", LargeBinary, nullable=True),
        Column("create_time", UTCDateTime(), nullable=False, index=True),
    )


def request_digest(request: Message) -> str:
    """Deterministic hash of a request message."""
    return hashlib.sha256(request.SerializeToString(deterministic=True)).hexdigest()


def validate_request_id(request_id: str, field: str = "request_id") -> None:
    if len(request_id) > MAX_REQUEST_ID or not request_id.isprintable():
        raise InvalidArgument.field(field, f"must be at most {MAX_REQUEST_ID} printable characters")


class Idempotency:
    """Runs a write once per request id; see the module docstring."""

    def __init__(self, db: Database, table: Table) -> None:
        self._db = db
        self._table = table

    async def run(
        self,
        *,
        caller: str,
        method: str,
        request_id: str,
        request: Message,
        response_type: type[M],
        write: Callable[[AsyncSession], Awaitable[M]],
    ) -> M:
        """Execute `write` in one transaction, or replay the result of its first success."""
        if not request_id:
            async with self._db.transaction() as session:
                return await write(session)
        validate_request_id(request_id)
        digest = request_digest(request)
        key = {"caller": caller, "method": method, "request_id": request_id}
        t = self._table
        for _ in range(3):
            try:
                async with self._db.transaction() as session:
                    row = await self._stored(session, caller, method, request_id)
                    if row is not None:
                        return self._replay(row.request_hash, row.response, digest, response_type)
                    await session.execute(insert(t).values(**key, request_hash=digest, create_time=utcnow()))
                    result = await write(session)
                    await session.execute(
                        update(t)
                        .where(t.c.caller == caller, t.c.method == method, t.c.request_id == request_id)
                        .values(response=result.SerializeToString(deterministic=True))
                    )
                    return result
            except IntegrityError as exc:
                # Only a lost race on our own key is retried (re-read and replay); anything else
                # is the write's own constraint failing and propagates.
                if "idempotency_keys" not in str(exc.orig) and "pk_idempotency_keys" not in str(exc):
                    raise
        raise RuntimeError("idempotency key contention did not settle")

    async def once(
        self, request: Message, response_type: type[M], write: Callable[[AsyncSession], Awaitable[M]]
    ) -> M:
        """`run` for the current RPC: caller and method from the call context, `request_id`
        from the request message."""
        caller, method, request_id = _current_key(request)
        return await self.run(
            caller=caller,
            method=method,
            request_id=request_id,
            request=request,
            response_type=response_type,
            write=write,
        )

    async def replay(self, request: Message, response_type: type[M]) -> M | None:
        """The stored result of the current RPC's request id, or None when it has not run yet.

        For writes in several steps (e.g. a remote allocation before the final transaction): a
        retry must replay before redoing the first step; the last step still goes through
        `once`, which settles a race between two concurrent first tries."""
        caller, method, request_id = _current_key(request)
        if not request_id:
            return None
        validate_request_id(request_id)
        async with self._db.reader() as session:
            row = await self._stored(session, caller, method, request_id)
        if row is None:
            return None
        return self._replay(row.request_hash, row.response, request_digest(request), response_type)

    async def _stored(self, session: AsyncSession, caller: str, method: str, request_id: str) -> Any:
        """The stored (request_hash, response) of a key, or None."""
        t = self._table
        query = select(t.c.request_hash, t.c.response).where(
            t.c.caller == caller, t.c.method == method, t.c.request_id == request_id
        )
        return (await session.execute(query)).one_or_none()

    @staticmethod
    def _replay(stored_hash: str, response: bytes | None, digest: str, response_type: type[M]) -> M:
        if stored_hash != digest:
            raise InvalidArgument.field("request_id", "was already used for a different request")
        if response is None:  # cannot happen: the claim and the response commit together
            raise RuntimeError("idempotency record without a response")
        return response_type.FromString(response)

    async def purge(self, session: AsyncSession, older_than_seconds: float) -> int:
        """Forget keys older than the retention period; returns how many were removed."""
        import datetime as dt

        cutoff = utcnow() - dt.timedelta(seconds=older_than_seconds)
        result = await session.execute(delete(self._table).where(self._table.c.create_time < cutoff))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _current_key(request: Message) -> tuple[str, str, str]:
    """(caller, method, request_id) of the current RPC."""
    from wattlane.core.caller import current_principal
    from wattlane.core.context import method_var

    principal = current_principal()
    return (
        principal.caller_key if principal else "anonymous",
        method_var.get(),
        getattr(request, "request_id", ""),
    )
