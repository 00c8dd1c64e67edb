"""IdentityInternalService: only service tokens with the named scope may call it."""

from __future__ import annotations

import datetime as dt

import grpc
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.api.identity.v1 import accounts_pb2, internal_pb2, internal_pb2_grpc
from wattlane.contracts import scopes as internal_scopes
from wattlane.core.caller import current_caller
from wattlane.core.clock import utcnow
from wattlane.core.enums import enum_name
from wattlane.core.errors import FailedPrecondition, InvalidArgument, NotFound
from wattlane.core.names import parse_name
from wattlane.core.timestamps import optional_instant, to_timestamp
from wattlane.identity import (
    applications,
    datapoints,
    licenses,
    messages,
    recipients,
    revocations,
    scopes,
    tenants,
    users,
)
from wattlane.identity.api.accounts import account_message
from wattlane.identity.models import Account, Application, Notification, Tenant, User, UserMail
from wattlane.identity.runtime import Runtime

_RESOURCE_MAX = 160


def _resource(value: str, field: str = "resource") -> str:
    if not value or len(value) > _RESOURCE_MAX or "/" not in value or not value.isprintable():
        raise InvalidArgument.field(field, "must be a resource name like chargingPoints/{id}")
    return value


def _date(value: str, field: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument.field(field, "must be a date YYYY-MM-DD") from None


class IdentityInternalServicer(internal_pb2_grpc.IdentityInternalServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def AllocateDatapoint(
        self, request: internal_pb2.AllocateDatapointRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.DatapointAllocation:
        """Allocates one datapoint for a resource (idempotent); RESOURCE_EXHAUSTED over quota."""
        current_caller().require_service_scope(internal_scopes.IDENTITY_DATAPOINTS)
        org_id = parse_name(request.organization, "tenants", "organization")
        resource = _resource(request.resource)
        for attempt in range(2):
            try:
                async with self.rt.db.transaction() as session:
                    row, used, allowed = await datapoints.allocate(session, org_id, resource)
                    return internal_pb2.DatapointAllocation(
                        account=f"accounts/{row.account_id}",
                        resource=row.resource,
                        used=used,
                        allowed=allowed,
                    )
            except IntegrityError:
                if attempt:  # a concurrent allocation of the same resource won: read it back
                    raise
        raise AssertionError("unreachable")

    async def ReleaseDatapoint(
        self, request: internal_pb2.ReleaseDatapointRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.ReleaseResponse:
        """Releases a resource's datapoint (no-op when not allocated)."""
        current_caller().require_service_scope(internal_scopes.IDENTITY_DATAPOINTS)
        resource = _resource(request.resource)
        async with self.rt.db.transaction() as session:
            return internal_pb2.ReleaseResponse(released=await datapoints.release(session, resource))

    async def AllocateLicense(
        self, request: internal_pb2.AllocateLicenseRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.LicenseAllocation:
        """Allocates one license of a type for a resource (idempotent); FAILED_PRECONDITION when none left."""
        current_caller().require_service_scope(internal_scopes.IDENTITY_LICENSES)
        org_id = parse_name(request.organization, "tenants", "organization")
        resource = _resource(request.resource)
        license_type = enum_name(accounts_pb2.LicenseType, request.type, "type")
        for attempt in range(2):
            try:
                async with self.rt.db.transaction() as session:
                    return messages.license_allocation(
                        await licenses.allocate(session, org_id, license_type, resource)
                    )
            except IntegrityError:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def ReleaseLicense(
        self, request: internal_pb2.ReleaseLicenseRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.ReleaseResponse:
        """Releases a resource's license (no-op when not allocated)."""
        current_caller().require_service_scope(internal_scopes.IDENTITY_LICENSES)
        resource = _resource(request.resource)
        license_type = enum_name(accounts_pb2.LicenseType, request.type, "type")
        async with self.rt.db.transaction() as session:
            return internal_pb2.ReleaseResponse(
                released=await licenses.release(session, license_type, resource)
            )

    async def DecideApplication(
        self, request: internal_pb2.DecideApplicationRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.DecideApplicationResponse:
        """Applies an approval decision (idempotent); the approval workflow's activity."""
        current_caller().require_service_scope(internal_scopes.IDENTITY_APPLICATIONS)
        application_id = parse_name(request.application, "applications", "application")
        actor = parse_name(request.actor, "users", "actor")
        decision = applications.Decision(
            request.approve,
            actor,
            request.reason,
            _date(request.effective_date, "effective_date"),
            optional_instant(request, "effective_time", "effective_time"),
        )
        async with self.rt.db.transaction() as session:
            row, account, changed = await applications.decide(session, application_id, decision)
            if changed:  # not on a retried activity's replay
                await self.rt.audit.record(
                    session,
                    resource=f"applications/{row.id}",
                    tenant_path=row.customer_path,
                    changes={"state": row.state, "account_state": account.state},
                    actor=f"user:{actor}",
                )
            customer = await session.get(Tenant, account.customer_id)
            assert customer is not None
            return internal_pb2.DecideApplicationResponse(
                application=messages.application(row),
                account=await account_message(session, account),
                time_zone=customer.time_zone,
            )

    async def CheckPermission(
        self, request: internal_pb2.CheckPermissionRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.CheckPermissionResponse:
        """Whether an active user holds a permission over a resource's tenant."""
        current_caller().require_service_scope(internal_scopes.IDENTITY_APPLICATIONS)
        user_id = parse_name(request.user, "users", "user")
        async with self.rt.db.reader() as session:
            path = await self._path_of(session, request.resource)
            scope = await scopes.scope_of_user(session, user_id)
        return internal_pb2.CheckPermissionResponse(
            allowed=scope is not None and scope.can(request.permission, path)
        )

    async def _path_of(self, session: AsyncSession, resource: str) -> str:
        collection = resource.split("/", 1)[0]
        if collection == "applications":
            app = await session.get(Application, parse_name(resource, "applications", "resource"))
            if app is None:
                raise NotFound(resource)
            return app.customer_path
        if collection == "accounts":
            account = await session.get(Account, parse_name(resource, "accounts", "resource"))
            if account is None:
                raise NotFound(resource)
            return account.customer_path
        tenant = await tenants.load(session, parse_name(resource, "tenants", "resource"))
        if tenant is None:
            raise NotFound(resource)
        return tenant.path

    async def GetMailContext(
        self, request: internal_pb2.GetMailContextRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.MailContext:
        """Recipients (with locales) and the brand to mail under."""
        current_caller().require_service_scope(internal_scopes.IDENTITY_APPLICATIONS)
        async with self.rt.db.reader() as session:
            application: Application | None = None
            if request.resource.startswith("applications/"):
                application = await session.get(
                    Application, parse_name(request.resource, "applications", "resource")
                )
                if application is None:
                    raise NotFound(request.resource)
                account = await session.get(Account, application.account_id)
            else:
                account = await session.get(Account, parse_name(request.resource, "accounts", "resource"))
            if account is None:
                raise NotFound(request.resource)
            customer = await session.get(Tenant, account.customer_id)
            assert customer is not None
            people: list[recipients.Recipient] = []
            if application is not None:
                requester = await session.get(User, application.requested_by)
                if requester is not None and requester.delete_time is None:
                    people.append(
                        recipients.Recipient(
                            requester.email, requester.display_name, requester.locale, "requester"
                        )
                    )
            else:
                people.extend(await recipients.account_admins(session, customer))
            if request.include_approvers:
                root = (await session.execute(select(Tenant).where(Tenant.parent_id.is_(None)))).scalar_one()
                people.extend(await recipients.approvers(session, root))
            brand = await recipients.brand_of(session, customer, self.rt.settings, account.mail_domain or "")
            return internal_pb2.MailContext(
                recipients=[
                    internal_pb2.MailContext.Recipient(
                        email=p.email, display_name=p.display_name, locale=p.locale, role=p.role
                    )
                    for p in people
                ],
                brand_name=brand.name,
                mail_domain=brand.mail_domain,
                primary_color=brand.primary_color,
                logo_url=brand.logo_url,
                account=await account_message(session, account),
                application=messages.application(application) if application else None,
                customer_display_name=customer.display_name,
            )

    async def PrepareUserMail(
        self, request: internal_pb2.PrepareUserMailRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.UserMail:
        """Issues the token of a queued invitation / reset mail and returns what to send."""
        current_caller().require_service_scope(internal_scopes.IDENTITY_MAIL)
        mail_id = parse_name(request.name, "userMails", "name")
        async with self.rt.db.transaction() as session:
            mail = await session.get(UserMail, mail_id)
            if mail is None:
                raise NotFound(request.name)
            user = await users.load(session, mail.user_id, for_update=True)
            wanted_state = "INVITED" if mail.kind == "INVITATION" else "ACTIVE"
            if user is None or user.state != wanted_state:
                raise FailedPrecondition(
                    f"{request.name} no longer applies: the user is removed or not {wanted_state.lower()}",
                    reason="USER_MAIL_OBSOLETE",
                )
            ttl = (
                self.rt.settings.invitation_ttl_seconds
                if mail.kind == "INVITATION"
                else self.rt.settings.password_reset_ttl_seconds
            )
            token, expire = await users.issue_token(session, user, mail.kind, ttl)
            tenant = await session.get(Tenant, user.tenant_id)
            assert tenant is not None
            brand = await recipients.brand_of(session, tenant, self.rt.settings)
        return internal_pb2.UserMail(
            name=request.name,
            kind=mail.kind,
            recipient=internal_pb2.MailContext.Recipient(
                email=user.email, display_name=user.display_name, locale=user.locale, role="user"
            ),
            token=token,
            expire_time=to_timestamp(expire),
            brand_name=brand.name,
            mail_domain=brand.mail_domain,
            primary_color=brand.primary_color,
            logo_url=brand.logo_url,
            tenant_display_name=tenant.display_name,
        )

    async def ExpireAccount(
        self, request: internal_pb2.ExpireAccountRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.Account:
        """Marks an account expired for the given expiry date (no-op if it was renewed)."""
        current_caller().require_service_scope(internal_scopes.IDENTITY_APPLICATIONS)
        account_id = parse_name(request.account, "accounts", "account")
        expiry = _date(request.expiry_date, "expiry_date")
        async with self.rt.db.transaction() as session:
            account = (
                await session.execute(select(Account).where(Account.id == account_id).with_for_update())
            ).scalar_one_or_none()
            if account is None:
                raise NotFound(request.account)
            if account.state == "ACTIVE" and account.expiry_date == expiry:
                account.state = "EXPIRED"
                account.version += 1
                await self.rt.audit.record(
                    session,
                    resource=request.account,
                    tenant_path=account.customer_path,
                    changes={"state": "EXPIRED"},
                    action="renewal/expire",
                )
            return await account_message(session, account)

    async def GetNotification(
        self, request: internal_pb2.GetNotificationRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.Notification:
        """Whether the notification with this key was sent."""
        current_caller().require_service_scope(internal_scopes.IDENTITY_APPLICATIONS)
        async with self.rt.db.reader() as session:
            row = await session.get(Notification, request.key)
        return internal_pb2.Notification(key=request.key, sent=row is not None)

    async def CompleteNotification(
        self, request: internal_pb2.CompleteNotificationRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.Notification:
        """Records that the notification with this key was sent (idempotent)."""
        current_caller().require_service_scope(internal_scopes.IDENTITY_APPLICATIONS)
        if not request.key or len(request.key) > 255:
            raise InvalidArgument.field("key", "must be 1-255 characters")
        try:
            async with self.rt.db.transaction() as session:
                if await session.get(Notification, request.key) is None:
                    session.add(
                        Notification(key=request.key, recipients=list(request.recipients), send_time=utcnow())
                    )
        except IntegrityError:
            pass  # recorded concurrently: the same fact
        return internal_pb2.Notification(key=request.key, sent=True)

    async def ResolveOwner(
        self, request: internal_pb2.ResolveOwnerRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.Owner:
        """The live tenant of `tenants/{id}` or `users/{id}` and its path (path copies elsewhere)."""
        current_caller().require_service_scope(internal_scopes.IDENTITY_DIRECTORY)
        async with self.rt.db.reader() as session:
            if request.name.startswith("users/"):
                user = await session.get(User, parse_name(request.name, "users"))
                if user is None or user.delete_time is not None:
                    raise NotFound(request.name)
                tenant = await tenants.load(session, user.tenant_id)
                display_name = user.display_name
            else:
                tenant = await tenants.load(session, parse_name(request.name, "tenants"))
                display_name = tenant.display_name if tenant else ""
        if tenant is None:
            raise NotFound(request.name)
        return internal_pb2.Owner(
            name=request.name,
            tenant=tenants.tenant_name(tenant.id),
            tenant_path=tenant.path,
            kind=tenant.kind,
            display_name=display_name,
            home_of=f"users/{tenant.owner_user_id}" if tenant.owner_user_id else "",
        )

    async def ListRevocations(
        self, request: internal_pb2.ListRevocationsRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.ListRevocationsResponse:
        """Revoked user tokens recorded since `since` (all in force when unset), oldest first;
        what services that verify tokens locally poll (`identity.revocations`)."""
        current_caller().require_service_scope(internal_scopes.IDENTITY_REVOCATIONS)
        since = optional_instant(request, "since", "since")
        read_time = utcnow()
        async with self.rt.db.reader(snapshot=False) as session:
            rows, truncated = await revocations.since(session, since)
        response = internal_pb2.ListRevocationsResponse(
            read_time=to_timestamp(rows[-1].revoke_time if truncated else read_time), truncated=truncated
        )
        for row in rows:
            response.revocations.add(
                user=users.user_name(row.user_id),
                token_id=row.token_id or "",
                epoch=row.epoch or 0,
                revoke_time=to_timestamp(row.revoke_time),
                expire_time=to_timestamp(row.expire_time),
            )
        return response
