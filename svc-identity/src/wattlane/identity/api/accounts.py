"""AccountService, ApplicationService and LicenseService."""

from __future__ import annotations

import grpc
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.api.identity.v1 import accounts_pb2, accounts_pb2_grpc
from wattlane.contracts.approval import Decision
from wattlane.core.caller import current_caller
from wattlane.core.enums import enum_name
from wattlane.core.errors import FailedPrecondition, InvalidArgument, Unavailable
from wattlane.core.filtering import Field
from wattlane.core.listing import list_call
from wattlane.core.names import parse_name
from wattlane.identity import accounts, applications, licenses, messages
from wattlane.identity.models import Account, Application, Tenant
from wattlane.identity.plans import PLANS
from wattlane.identity.runtime import Runtime

ACCOUNT_FILTER = {
    "state": Field(Account.state, "enum", ["PENDING", "ACTIVE", "EXPIRED", "REJECTED"]),
    "plan": Field(Account.plan),
    "display_name": Field(Account.display_name),
}
APPLICATION_FILTER = {
    "state": Field(Application.state, "enum", list(applications.STATES)),
    "kind": Field(Application.kind, "enum", list(applications.KINDS)),
    "partner": Field(Application.partner_id, convert=lambda v: v.removeprefix("tenants/")),
    "customer": Field(Application.customer_id, convert=lambda v: v.removeprefix("tenants/")),
    "create_time": Field(Application.create_time, "timestamp"),
}


async def account_message(session: AsyncSession, row: Account) -> accounts_pb2.Account:
    """The account as read: effective state, usage and coverage."""
    customer = await session.get(Tenant, row.customer_id)
    assert customer is not None
    return messages.account(
        row,
        state=accounts.effective_state(row, customer.time_zone),
        used=await accounts.usage(session, row.id),
        organizations=await accounts.organizations_of(session, row.id),
    )


class AccountServicer(accounts_pb2_grpc.AccountServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def ListPlans(
        self, request: accounts_pb2.ListPlansRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.ListPlansResponse:
        """The plans (tiers) an account can have."""
        current_caller()
        return accounts_pb2.ListPlansResponse(
            plans=[accounts_pb2.Plan(id=k, display_name=n, description=d) for k, (n, d) in PLANS.items()]
        )

    async def GetAccount(
        self, request: accounts_pb2.GetAccountRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.Account:
        """Gets one account (`accounts.read`)."""
        account_id = parse_name(request.name, "accounts")
        scope = await current_caller().scope()
        async with self.rt.db.reader() as session:
            return await account_message(
                session, await accounts.get_in_scope(session, scope, account_id, "accounts.read")
            )

    async def ListAccounts(
        self, request: accounts_pb2.ListAccountsRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.ListAccountsResponse:
        """Lists accounts at or below `parent`, or all in scope (`accounts.read`)."""
        call = await list_call(request, "ListAccounts", filter_fields=ACCOUNT_FILTER)
        page = call.page
        async with self.rt.db.reader() as session:
            rows = await accounts.customer_rows_in_scope(
                session, call.scope, Account, parent_id=call.parent_id, where=call.where, page=page
            )
            items = [await account_message(session, r) for r in rows[: page.size]]
        return accounts_pb2.ListAccountsResponse(
            accounts=items, next_page_token=page.next_token(rows, lambda r: r.id)
        )


class ApplicationServicer(accounts_pb2_grpc.ApplicationServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def CreateApplication(
        self, request: accounts_pb2.CreateApplicationRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.Application:
        """Requests an account change (`accounts.apply`); starts its approval workflow."""
        customer_id = parse_name(request.parent, "tenants", "parent")
        a = request.application
        n = a.new_account
        req = applications.Request(
            kind=enum_name(accounts_pb2.Application.Kind, a.kind, "application.kind"),
            account_id=parse_name(a.account, "accounts", "application.account") if a.account else None,
            new_account={
                "display_name": n.display_name,
                "plan": n.plan,
                "datapoints": n.datapoints,
                "period_months": n.period_months,
                "sector": n.sector,
                "rtc_lines": n.rtc_lines,
                "mail_domain": n.mail_domain,
                "comment": n.comment,
                "organizations": list(n.organizations),
            },
            datapoints=a.datapoints,
            plan=a.plan,
            months=a.months,
            comment=a.comment,
        )
        scope = await current_caller().scope()

        async def write(session: AsyncSession) -> accounts_pb2.Application:
            row, account = await applications.create(session, scope, customer_id, req, scope.subject)
            await self.rt.audit.record(
                session,
                resource=f"applications/{row.id}",
                tenant_path=row.customer_path,
                changes={"kind": row.kind, "account": f"accounts/{account.id}"},
            )
            return messages.application(row)

        result = await self.rt.idempotency.once(request, accounts_pb2.Application, write)
        if self.rt.approvals is not None:
            self.rt.approvals.kick()
        return result

    async def GetApplication(
        self, request: accounts_pb2.GetApplicationRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.Application:
        """Gets one application (`accounts.read`)."""
        application_id = parse_name(request.name, "applications")
        scope = await current_caller().scope()
        async with self.rt.db.reader() as session:
            return messages.application(
                await applications.get_in_scope(session, scope, application_id, "accounts.read")
            )

    async def ListApplications(
        self, request: accounts_pb2.ListApplicationsRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.ListApplicationsResponse:
        """Lists applications with filters on state, kind, partner and customer (`accounts.read`)."""
        call = await list_call(request, "ListApplications", filter_fields=APPLICATION_FILTER)
        page = call.page
        async with self.rt.db.reader() as session:
            rows = await accounts.customer_rows_in_scope(
                session, call.scope, Application, parent_id=call.parent_id, where=call.where, page=page
            )
        return accounts_pb2.ListApplicationsResponse(
            applications=[messages.application(r) for r in rows[: page.size]],
            next_page_token=page.next_token(rows, lambda r: r.id),
        )

    async def _decide(self, name: str, approve: bool, reason: str) -> accounts_pb2.Application:
        application_id = parse_name(name, "applications")
        caller = current_caller()
        scope = await caller.scope()
        async with self.rt.db.reader() as session:
            row = await applications.get_in_scope(session, scope, application_id, "accounts.approve")
        wanted = "APPROVED" if approve else "REJECTED"
        if row.state != "PENDING":
            if row.state == wanted and row.decided_by == caller.principal.subject:
                return messages.application(row)  # a retry of a decision that went through
            raise FailedPrecondition(f"{name} was already {row.state.lower()}", reason="ALREADY_DECIDED")
        if self.rt.approvals is None:
            raise Unavailable("approvals are not available on this identity instance")
        # No database transaction is held while the workflow applies the decision (its activity
        # writes through this same service).
        await self.rt.approvals.decide(
            application_id, Decision(f"users/{caller.principal.subject}", approve, reason)
        )
        async with self.rt.db.reader() as session:
            return messages.application(
                await applications.get_in_scope(session, scope, application_id, "accounts.read")
            )

    async def ApproveApplication(
        self, request: accounts_pb2.ApproveApplicationRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.Application:
        """Approves a pending application (`accounts.approve`); returns it decided."""
        return await self._decide(request.name, True, "")

    async def RejectApplication(
        self, request: accounts_pb2.RejectApplicationRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.Application:
        """Rejects a pending application with a reason (`accounts.approve`)."""
        if not request.reason.strip():
            raise InvalidArgument.field("reason", "is required to reject an application")
        return await self._decide(request.name, False, request.reason.strip())


class LicenseServicer(accounts_pb2_grpc.LicenseServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def PurchaseLicenses(
        self, request: accounts_pb2.PurchaseLicensesRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.LicensePurchase:
        """Buys a batch of licenses for an organization (`licenses.purchase`)."""
        org_id = parse_name(request.parent, "tenants", "parent")
        license_type = enum_name(accounts_pb2.LicenseType, request.type, "type")
        scope = await current_caller().scope()

        async def write(session: AsyncSession) -> accounts_pb2.LicensePurchase:
            row = await licenses.purchase(session, scope, org_id, license_type, request.quantity)
            await self.rt.audit.record(
                session,
                resource=f"licensePurchases/{row.id}",
                tenant_path=row.organization_path,
                changes={"type": row.type, "quantity": row.quantity},
            )
            return messages.license_purchase(row)

        return await self.rt.idempotency.once(request, accounts_pb2.LicensePurchase, write)

    async def ListLicensePurchases(
        self, request: accounts_pb2.ListLicensePurchasesRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.ListLicensePurchasesResponse:
        """An organization's purchases, oldest first (`licenses.read`)."""
        call = await list_call(request, "ListLicensePurchases")
        page = call.page
        if call.parent_id is None:
            raise InvalidArgument.field("parent", "is required (an organization)")
        async with self.rt.db.reader() as session:
            rows = await licenses.purchases_in_scope(session, call.scope, call.parent_id, page)
        return accounts_pb2.ListLicensePurchasesResponse(
            license_purchases=[messages.license_purchase(r) for r in rows[: page.size]],
            next_page_token=page.next_token(rows, lambda r: r.id),
        )

    async def ListLicensePools(
        self, request: accounts_pb2.ListLicensePoolsRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.ListLicensePoolsResponse:
        """Purchased, allocated and available licenses per type (`licenses.read`)."""
        org_id = parse_name(request.parent, "tenants", "parent")
        scope = await current_caller().scope()
        async with self.rt.db.reader() as session:
            pools = await licenses.pools_in_scope(session, scope, org_id)
        return accounts_pb2.ListLicensePoolsResponse(
            pools=[
                accounts_pb2.LicensePool(
                    type=accounts_pb2.LicenseType.Value(t), purchased=p, allocated=a, available=max(p - a, 0)
                )
                for t, (p, a) in pools.items()
            ]
        )

    async def ListLicenseAllocations(
        self, request: accounts_pb2.ListLicenseAllocationsRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.ListLicenseAllocationsResponse:
        """Which resources use the organization's licenses (`licenses.read`)."""
        call = await list_call(request, "ListLicenseAllocations")
        page = call.page
        if call.parent_id is None:
            raise InvalidArgument.field("parent", "is required (an organization)")
        async with self.rt.db.reader() as session:
            rows = await licenses.allocations_in_scope(session, call.scope, call.parent_id, page)
        return accounts_pb2.ListLicenseAllocationsResponse(
            license_allocations=[messages.license_allocation(r) for r in rows[: page.size]],
            next_page_token=page.next_token(rows, lambda r: (r.type, r.resource)),
        )
