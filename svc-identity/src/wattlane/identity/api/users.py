"""UserService."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.api.identity.v1 import users_pb2, users_pb2_grpc
from wattlane.core.caller import current_caller
from wattlane.core.enums import enum_name
from wattlane.core.errors import (
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from wattlane.core.fieldmasks import mask_paths
from wattlane.core.filtering import Field
from wattlane.core.listing import list_call
from wattlane.core.names import parse_name
from wattlane.core.timestamps import to_timestamp
from wattlane.identity import messages, revocations, roles, tenants, user_mails, users
from wattlane.identity.passwords import check_policy
from wattlane.identity.runtime import Runtime

STATE_NAMES = sorted(users.STATES)
_columns = users.USERS.c  # Core columns: ListUsers runs a plain (non-ORM) statement
FILTER_FIELDS = {
    "email": Field(_columns.email),
    "display_name": Field(_columns.display_name),
    "state": Field(_columns.state, "enum", STATE_NAMES),
    "locale": Field(_columns.locale),
    "create_time": Field(_columns.create_time, "timestamp"),
}
UPDATABLE = ("display_name", "locale", "state")


class UserServicer(users_pb2_grpc.UserServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def _user_id(self, name: str, field: str = "name") -> str:
        if name == "users/me":
            return current_caller().principal.subject
        return parse_name(name, "users", field)

    async def GetUser(
        self, request: users_pb2.GetUserRequest, context: grpc.aio.ServicerContext
    ) -> users_pb2.User:
        """Gets one user (`users.read`, or `users/me`)."""
        user_id = self._user_id(request.name)
        scope = await current_caller().scope()
        async with self.rt.db.reader() as session:
            return messages.user(
                await users.get_in_scope(session, scope, user_id, "users.read", self_allowed=True)
            )

    async def ListUsers(
        self, request: users_pb2.ListUsersRequest, context: grpc.aio.ServicerContext
    ) -> users_pb2.ListUsersResponse:
        """Lists users of a tenant (or its subtree), or everyone in scope (`users.read`)."""
        call = await list_call(request, "ListUsers", filter_fields=FILTER_FIELDS)
        page = call.page
        async with self.rt.db.reader(snapshot=False) as session:
            rows = await users.list_in_scope(
                session,
                call.scope,
                parent_id=call.parent_id,
                recursive=request.recursive,
                where=call.where,
                page=page,
                paths=self.rt.tenant_paths,
            )
        response = users_pb2.ListUsersResponse(next_page_token=page.next_token(rows, lambda r: r.id))
        add = response.users.add  # fields from dicts: cheaper than User messages to copy in
        for row in rows[: page.size]:
            add(**messages.user_fields(row))
        return response

    async def CreateUser(
        self, request: users_pb2.CreateUserRequest, context: grpc.aio.ServicerContext
    ) -> users_pb2.User:
        """Creates an INVITED user (`users.manage`) with its initial roles at its tenant, all in
        one transaction: a role the caller may not give refuses the whole request."""
        tenant_id = parse_name(request.parent, "tenants", "parent")
        role_ids = [parse_name(r, "roles", f"roles[{i}]") for i, r in enumerate(request.roles)]
        scope = await current_caller().scope()
        u = request.user

        async def write(session: AsyncSession) -> users_pb2.User:
            row = await users.create(
                session, scope, tenant_id, email=u.email, display_name=u.display_name, locale=u.locale
            )
            await self.rt.audit.record(
                session,
                resource=f"users/{row.id}",
                tenant_path=row.tenant_path,
                changes=["email", "display_name", "locale", "state"],
            )
            for role_id in dict.fromkeys(role_ids):
                # Same checks as CreateRoleBinding; a refusal rolls the user back with it.
                binding = await roles.bind(
                    session,
                    scope,
                    user_id=row.id,
                    role_id=role_id,
                    tenant_id=tenant_id,
                    propagate=True,
                    allowed_resources=[],
                )
                await self.rt.audit.record(
                    session,
                    resource=roles.binding_name(binding.id),
                    tenant_path=binding.tenant_path,
                    changes={"user": f"users/{row.id}", "role": f"roles/{role_id}", "propagate": True},
                )
            return messages.user(row)

        return await self.rt.idempotency.once(request, users_pb2.User, write)

    async def UpdateUser(
        self, request: users_pb2.UpdateUserRequest, context: grpc.aio.ServicerContext
    ) -> users_pb2.User:
        """Updates display name and locale (the user or `users.manage`) or state (`users.manage`)."""
        user_id = self._user_id(request.user.name, "user.name")
        paths = mask_paths(request.update_mask, UPDATABLE)
        changes: dict[str, object] = {}
        for path in paths:
            value = getattr(request.user, path)
            changes[path] = enum_name(users_pb2.User.State, value, "user.state") if path == "state" else value
        scope = await current_caller().scope()

        async def write(session: AsyncSession) -> users_pb2.User:
            row = await users.update(session, scope, user_id, changes, etag=request.user.etag)
            await self.rt.audit.record(
                session, resource=f"users/{row.id}", tenant_path=row.tenant_path, changes=sorted(changes)
            )
            return messages.user(row)

        result = await self.rt.idempotency.once(request, users_pb2.User, write)
        if "state" in changes:
            self.rt.forget_user(user_id)
        return result

    async def DeleteUser(
        self, request: users_pb2.DeleteUserRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """Removes a member; their access ends at once."""
        user_id = self._user_id(request.name)
        scope = await current_caller().scope()

        async def write(session: AsyncSession) -> empty_pb2.Empty:
            row = await users.remove(session, scope, user_id)
            await self.rt.audit.record(
                session, resource=f"users/{row.id}", tenant_path=row.tenant_path, changes=["delete_time"]
            )
            return empty_pb2.Empty()

        result = await self.rt.idempotency.once(request, empty_pb2.Empty, write)
        self.rt.forget_user(user_id)
        self.rt.forget_all_scopes()
        return result

    async def CreateInvitation(
        self, request: users_pb2.CreateInvitationRequest, context: grpc.aio.ServicerContext
    ) -> users_pb2.Invitation:
        """Issues a fresh invitation token for an INVITED user (`users.manage`)."""
        user_id = parse_name(request.user, "users", "user")
        scope = await current_caller().scope()
        async with self.rt.db.transaction() as session:
            user = await users.invited_in_scope(session, scope, user_id)
            token, expire = await users.issue_token(
                session, user, "INVITATION", self.rt.settings.invitation_ttl_seconds
            )
            await self.rt.audit.record(
                session, resource=f"users/{user.id}", tenant_path=user.tenant_path, changes=["invitation"]
            )
        return users_pb2.Invitation(user=request.user, token=token, expire_time=to_timestamp(expire))

    async def AcceptInvitation(
        self, request: users_pb2.AcceptInvitationRequest, context: grpc.aio.ServicerContext
    ) -> users_pb2.User:
        """Sets the password and activates an invited user. Public."""
        if not request.token:
            raise InvalidArgument.field("token", "is required")
        check_policy(request.password, "password")
        password_hash = await self.rt.passwords.hash(request.password)
        async with self.rt.db.transaction() as session:
            user = await users.redeem_token(session, request.token, "INVITATION")
            if user.state != "INVITED":
                raise InvalidArgument.field("token", "is invalid, already used or expired")
            user.password_hash, user.state = password_hash, "ACTIVE"
            user.version += 1
            await self.rt.audit.record(
                session,
                resource=f"users/{user.id}",
                tenant_path=user.tenant_path,
                changes=["state", "password"],
                actor=f"user:{user.id}",
            )
        return messages.user(user)

    async def CreatePasswordReset(
        self, request: users_pb2.CreatePasswordResetRequest, context: grpc.aio.ServicerContext
    ) -> users_pb2.PasswordReset:
        """Issues a password reset token for an admin-assisted reset (`users.manage`)."""
        user_id = parse_name(request.user, "users", "user")
        scope = await current_caller().scope()
        async with self.rt.db.transaction() as session:
            user = await users.get_in_scope(session, scope, user_id, "users.manage", for_update=True)
            token, expire = await users.issue_token(
                session, user, "PASSWORD_RESET", self.rt.settings.password_reset_ttl_seconds
            )
            await self.rt.audit.record(
                session, resource=f"users/{user.id}", tenant_path=user.tenant_path, changes=["password_reset"]
            )
        return users_pb2.PasswordReset(user=request.user, token=token, expire_time=to_timestamp(expire))

    async def ResetPassword(
        self, request: users_pb2.ResetPasswordRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """Sets a new password with a reset token; every earlier session ends. Public."""
        if not request.token:
            raise InvalidArgument.field("token", "is required")
        check_policy(request.new_password, "new_password")
        password_hash = await self.rt.passwords.hash(request.new_password)
        async with self.rt.db.transaction() as session:
            user = await users.redeem_token(session, request.token, "PASSWORD_RESET")
            user.password_hash = password_hash
            revocations.end_sessions(session, user)
            user.version += 1
            await self.rt.audit.record(
                session,
                resource=f"users/{user.id}",
                tenant_path=user.tenant_path,
                changes=["password"],
                actor=f"user:{user.id}",
            )
        self.rt.forget_user(user.id)
        return empty_pb2.Empty()

    async def SendInvitation(
        self, request: users_pb2.SendInvitationRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """Mails an INVITED user a fresh invitation link (`users.manage`)."""
        user_id = parse_name(request.user, "users", "user")
        scope = await current_caller().scope()
        async with self.rt.db.transaction() as session:
            user = await users.invited_in_scope(session, scope, user_id)
            await user_mails.queue(session, user, "INVITATION")
            await self.rt.audit.record(
                session,
                resource=f"users/{user.id}",
                tenant_path=user.tenant_path,
                changes=["invitation_mail"],
            )
        self._kick_mails()
        return empty_pb2.Empty()

    async def RequestPasswordReset(
        self, request: users_pb2.RequestPasswordResetRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """ "Forgot password": mails a reset link to an active user. Public; the same answer for
        unknown e-mails, and at most one mail per user per cooldown."""
        email = request.email.strip().lower()
        if not email:
            raise InvalidArgument.field("email", "is required")
        async with self.rt.db.transaction() as session:
            user = await users.active_by_email(session, email)
            if user is not None:
                queued = await user_mails.queue(
                    session,
                    user,
                    "PASSWORD_RESET",
                    cooldown_seconds=self.rt.settings.password_reset_mail_cooldown_seconds,
                )
                if queued is not None:
                    await self.rt.audit.record(
                        session,
                        resource=f"users/{user.id}",
                        tenant_path=user.tenant_path,
                        changes=["password_reset_mail"],
                        actor="anonymous",
                    )
        self._kick_mails()
        return empty_pb2.Empty()

    def _kick_mails(self) -> None:
        if self.rt.user_mails is not None:
            self.rt.user_mails.kick()

    async def ChangePassword(
        self, request: users_pb2.ChangePasswordRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """Changes the caller's password; all of the caller's tokens stop working."""
        principal = current_caller().principal
        if principal.is_service:
            raise Unauthenticated("only users have passwords")
        check_policy(request.new_password, "new_password")
        async with self.rt.db.reader() as session:
            user = await users.load(session, principal.subject)
        if user is None:
            raise NotFound(f"users/{principal.subject}")
        if not await self.rt.passwords.verify(user.password_hash, request.current_password):
            raise InvalidArgument.field("current_password", "is wrong")
        password_hash = await self.rt.passwords.hash(request.new_password)
        async with self.rt.db.transaction() as session:
            row = await users.load(session, principal.subject, for_update=True)
            assert row is not None
            row.password_hash = password_hash
            revocations.end_sessions(session, row)
            row.version += 1
            await self.rt.audit.record(
                session, resource=f"users/{row.id}", tenant_path=row.tenant_path, changes=["password"]
            )
        self.rt.forget_user(principal.subject)
        return empty_pb2.Empty()

    async def CreateEmployee(
        self, request: users_pb2.CreateEmployeeRequest, context: grpc.aio.ServicerContext
    ) -> users_pb2.Employee:
        """Creates an employee of a company organization, optionally with a home sub-organization."""
        org_id = parse_name(request.parent, "tenants", "parent")
        scope = await current_caller().scope()
        u = request.user

        async def write(session: AsyncSession) -> users_pb2.Employee:
            org = await tenants.get_in_scope(session, scope, org_id, "users.manage")
            await users.company_of(session, org)
            user = await users.create_unchecked(
                session, org, email=u.email, display_name=u.display_name, locale=u.locale
            )
            await roles.bind(
                session,
                None,
                user_id=user.id,
                role_id="employee",
                tenant_id=org.id,
                propagate=False,
                allowed_resources=[],
            )
            home = None
            if request.create_home_organization:
                home_name = request.home_organization_display_name or f"Home of {user.display_name}"
                if not scope.can("tenants.manage", org.path + "x/"):
                    raise PermissionDenied("tenants.manage", f"tenants/{org.id}")
                home = await tenants.create_child_unchecked(session, org, "ORGANIZATION", home_name, user.id)
                await roles.bind(
                    session,
                    None,
                    user_id=user.id,
                    role_id="organization-admin",
                    tenant_id=home.id,
                    propagate=True,
                    allowed_resources=[],
                )
            await self.rt.audit.record(
                session,
                resource=f"users/{user.id}",
                tenant_path=user.tenant_path,
                changes=["employee", *(["home_organization"] if home else [])],
            )
            return users_pb2.Employee(
                user=messages.user(user), home_organization=messages.tenant(home) if home else None
            )

        return await self.rt.idempotency.once(request, users_pb2.Employee, write)
