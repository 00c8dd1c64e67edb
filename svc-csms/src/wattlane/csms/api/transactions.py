"""TransactionService: transactions and their meter values, visible to the station owner's
subtree, the card owner's organization and the cardholder (`transactions/visibility.py`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from wattlane.api.csms.v1 import transactions_pb2, transactions_pb2_grpc
from wattlane.contracts import scopes
from wattlane.core.audit_api import TenantPathResolver
from wattlane.core.caller import Caller, current_caller
from wattlane.core.db import Database
from wattlane.core.errors import InvalidArgument, NotFound, Unavailable
from wattlane.core.filtering import Field, compile_filter
from wattlane.core.listing import list_call
from wattlane.core.names import parse_name
from wattlane.csms.api import transaction_views
from wattlane.csms.models import Transaction
from wattlane.csms.names import parse_transaction_name
from wattlane.csms.transactions import repository, visibility

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


def _full(view: int) -> bool:
    if view not in transactions_pb2.TransactionView.values():
        raise InvalidArgument.field("view", "is not a TransactionView")
    return view == transactions_pb2.FULL


class TransactionServicer(transactions_pb2_grpc.TransactionServiceServicer):
    """Reads of transactions, by visibility."""

    def __init__(self, db: Database, directory: TenantPathResolver | None = None) -> None:
        self.db = db
        self.directory = directory

    async def _parent_path(self, parent: str) -> str | None:
        """The path of a `parent` tenant the caller can see (NOT_FOUND otherwise, as for any
        tenant of another branch); None without a parent."""
        if not parent:
            return None
        parse_name(parent, "tenants", "parent")
        if self.directory is None:
            raise Unavailable("listing by parent needs identity's directory", reason="NO_DIRECTORY")
        return await self.directory.path_of(parent)

    async def GetTransaction(
        self, request: transactions_pb2.GetTransactionRequest, context: grpc.aio.ServicerContext
    ) -> transactions_pb2.Transaction:
        """Gets one transaction (`transactions.read` on its owner or card owner, or the
        cardholder; any transaction for a service token holding `csms.transactions`)."""
        transaction_id = parse_transaction_name(request.name)
        full = _full(request.view)
        caller = current_caller()
        async with self.db.reader() as session:
            if caller.principal.is_service:
                # Billing prices every completed transaction, whoever owns it.
                caller.require_service_scope(scopes.CSMS_TRANSACTIONS)
                row = await repository.get_transaction(session, transaction_id)
                if row is None:
                    raise NotFound(request.name)
            else:
                scope = await caller.scope()
                row = await visibility.transaction_in_scope(session, scope, _user_id(caller), transaction_id)
            samples = (await repository.meter_values_of(session, [row.id]))[row.id] if full else []
            states = (await repository.charging_states_of(session, [row.id]))[row.id] if full else []
        return transaction_views.transaction(row, samples, states)

    async def ListTransactions(
        self, request: transactions_pb2.ListTransactionsRequest, context: grpc.aio.ServicerContext
    ) -> transactions_pb2.ListTransactionsResponse:
        """Lists visible transactions, newest first, one page."""
        full = _full(request.view)
        call = await list_call(request, f"ListTransactions/{int(full)}", filter_fields=FILTERS)
        before = visibility.before_id(call.page)
        parent_path = await self._parent_path(request.parent)
        async with self.db.reader() as session:
            rows = await visibility.list_visible(
                session,
                call.scope,
                _user_id(call.caller),
                call.where,
                parent_path=parent_path,
                before=before,
                limit=call.page.size + 1,
            )
            shown = rows[: call.page.size]
            ids = [r.id for r in shown]
            samples = await repository.meter_values_of(session, ids) if full else {}
            states = await repository.charging_states_of(session, ids) if full else {}
        return transactions_pb2.ListTransactionsResponse(
            transactions=[
                transaction_views.transaction(r, samples.get(r.id, []), states.get(r.id, [])) for r in shown
            ],
            next_page_token=call.page.next_token(rows, lambda r: r.id),
        )

    async def ExportTransactions(
        self, request: transactions_pb2.ExportTransactionsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[transactions_pb2.ExportTransactionsResponse]:
        """Streams visible transactions as CSV, newest first, one query and chunk per 1,000 rows."""
        caller = current_caller()
        if request.parent:
            parse_name(request.parent, "tenants", "parent")
        where = compile_filter(request.filter, FILTERS)
        scope = await caller.scope()
        parent_path = await self._parent_path(request.parent)
        before: int | None = None
        header = True
        while True:
            # A short read per chunk: nothing is held open while the client reads the stream.
            async with self.db.reader(snapshot=False) as session:
                rows = await visibility.list_visible(
                    session,
                    scope,
                    _user_id(caller),
                    where,
                    parent_path=parent_path,
                    before=before,
                    limit=EXPORT_PAGE,
                )
            if rows or header:
                yield transactions_pb2.ExportTransactionsResponse(
                    csv=transaction_views.csv_chunk(rows, header=header)
                )
            header = False
            if len(rows) < EXPORT_PAGE:
                return
            before = rows[-1].id
