"""TransactionService: transactions and their meter values, visible to the station owner's
subtree, the card owner's organization and the cardholder (ARCHITECTURE.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement

from wattlane.api.csms.v1 import transactions_pb2, transactions_pb2_grpc
from wattlane.core.caller import Caller, current_caller
from wattlane.core.db import Database
from wattlane.core.errors import InvalidArgument, NotFound, PermissionDenied
from wattlane.core.filtering import Field, compile_filter
from wattlane.core.listing import list_call
from wattlane.core.names import parse_name, parse_optional_name
from wattlane.core.paging import Page
from wattlane.core.scope import EffectiveScope
from wattlane.csms.api import transaction_views
from wattlane.csms.models import Transaction
from wattlane.csms.transactions import repository

PERMISSION = "transactions.read"
ALLOW_COLUMNS = {"locations": Transaction.location_id, "chargingPoints": Transaction.charging_point_id}
EXPORT_PAGE = 1000  # rows per query and per CSV chunk

FILTERS = {
    "station": Field(Transaction.identity, convert=lambda raw: raw.removeprefix("stations/")),
    "location": Field(Transaction.location_id, convert=lambda raw: raw.removeprefix("locations/")),
    "card": Field(Transaction.card_id, convert=lambda raw: raw.removeprefix("cards/")),
    "owner": Field(Transaction.owner_id, convert=lambda raw: raw.removeprefix("tenants/")),
    "card_owner": Field(Transaction.card_owner_id, convert=lambda raw: raw.removeprefix("tenants/")),
    "id_token": Field(Transaction.id_token),
    "protocol": Field(Transaction.protocol),
    "payer": Field(Transaction.payer),
    "start_time": Field(Transaction.start_time, "timestamp"),
    "stop_time": Field(Transaction.stop_time, "timestamp"),
}


def _user_id(caller: Caller) -> str:
    return "" if caller.principal.is_service else caller.principal.subject


def visible(scope: EffectiveScope, user_id: str) -> ColumnElement[bool]:
    """Rows the caller may read: the owner's path or the card owner's path inside the scope of
    `transactions.read`, or the caller's own card."""
    clauses = [
        scope.filter(PERMISSION, Transaction.owner_path, ALLOW_COLUMNS),
        scope.filter(PERMISSION, Transaction.card_owner_path),
    ]
    if user_id:
        clauses.append(Transaction.cardholder_id == user_id)
    return or_(*clauses)


def _require(scope: EffectiveScope, user_id: str, row: Transaction) -> None:
    """NOT_FOUND when the caller cannot see the row at all, PERMISSION_DENIED when it sees the
    station or card owner only through another permission."""
    name = transaction_views.transaction_name(row.id)
    places = [f"locations/{row.location_id}"] if row.location_id else []
    if user_id and row.cardholder_id == user_id:
        return
    if scope.can(PERMISSION, row.owner_path, [name, *places]):
        return
    if row.card_owner_path and scope.can(PERMISSION, row.card_owner_path, [name]):
        return
    if scope.visible(row.owner_path, [name, *places]) or (
        row.card_owner_path and scope.visible(row.card_owner_path, [name])
    ):
        raise PermissionDenied(PERMISSION, name)
    raise NotFound(name)


def _parse_id(name: str) -> int:
    raw = parse_name(name, "transactions")
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidArgument.field("name", "must look like transactions/{number}")
    return int(raw)


def _organization(parent_id: str | None) -> ColumnElement[bool] | None:
    """One organization's transactions: at its stations or paid with its cards."""
    if parent_id is None:
        return None
    return or_(Transaction.owner_id == parent_id, Transaction.card_owner_id == parent_id)


def _before_id(page: Page) -> int | None:
    """The transaction id a page token continues before (newest first)."""
    if page.after is None:
        return None
    key = page.after[0] if len(page.after) == 1 else None
    if not isinstance(key, int) or isinstance(key, bool) or key < 0:
        raise InvalidArgument.field("page_token", "belongs to a different query or caller")
    return key


def _full(view: int) -> bool:
    if view not in transactions_pb2.TransactionView.values():
        raise InvalidArgument.field("view", "is not a TransactionView")
    return view == transactions_pb2.FULL


class TransactionServicer(transactions_pb2_grpc.TransactionServiceServicer):
    """Reads of transactions, by visibility."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def GetTransaction(
        self, request: transactions_pb2.GetTransactionRequest, context: grpc.aio.ServicerContext
    ) -> transactions_pb2.Transaction:
        """Gets one transaction (`transactions.read` on its owner or card owner, or the cardholder)."""
        transaction_id = _parse_id(request.name)
        full = _full(request.view)
        caller = current_caller()
        scope = await caller.scope()
        async with self.db.reader() as session:
            row = await repository.get_transaction(session, transaction_id)
            if row is None:
                raise NotFound(transaction_views.transaction_name(transaction_id))
            _require(scope, _user_id(caller), row)
            samples = (await repository.meter_values_of(session, [row.id]))[row.id] if full else []
        return transaction_views.transaction(row, samples)

    async def ListTransactions(
        self, request: transactions_pb2.ListTransactionsRequest, context: grpc.aio.ServicerContext
    ) -> transactions_pb2.ListTransactionsResponse:
        """Lists visible transactions, newest first, one page."""
        full = _full(request.view)
        call = await list_call(request, f"ListTransactions/{int(full)}", filter_fields=FILTERS)
        where = [visible(call.scope, _user_id(call.caller)), call.where]
        if (organization := _organization(call.parent_id)) is not None:
            where.append(organization)
        if (before := _before_id(call.page)) is not None:
            where.append(Transaction.id < before)
        async with self.db.reader() as session:
            rows = await repository.list_transactions(session, and_(*where), call.page.size + 1)
            shown = rows[: call.page.size]
            samples = await repository.meter_values_of(session, [r.id for r in shown]) if full else {}
        return transactions_pb2.ListTransactionsResponse(
            transactions=[transaction_views.transaction(r, samples.get(r.id, [])) for r in shown],
            next_page_token=call.page.next_token(rows, lambda r: r.id),
        )

    async def ExportTransactions(
        self, request: transactions_pb2.ExportTransactionsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[transactions_pb2.ExportTransactionsResponse]:
        """Streams visible transactions as CSV, newest first, one query and chunk per 1,000 rows."""
        caller = current_caller()
        parent_id = parse_optional_name(request.parent, "tenants", "parent")
        where = [compile_filter(request.filter, FILTERS)]
        scope = await caller.scope()
        where.append(visible(scope, _user_id(caller)))
        if (organization := _organization(parent_id)) is not None:
            where.append(organization)
        before: int | None = None
        header = True
        while True:
            page_where = and_(*where, Transaction.id < before) if before is not None else and_(*where)
            # A short read per chunk: nothing is held open while the client reads the stream.
            async with self.db.reader(snapshot=False) as session:
                rows = await repository.list_transactions(session, page_where, EXPORT_PAGE)
            if rows or header:
                yield transactions_pb2.ExportTransactionsResponse(
                    csv=transaction_views.csv_chunk(rows, header=header)
                )
            header = False
            if len(rows) < EXPORT_PAGE:
                return
            before = rows[-1].id
