"""RoleService."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.api.identity.v1 import roles_pb2, roles_pb2_grpc
from wattlane.core.caller import current_caller
from wattlane.core.errors import InvalidArgument
from wattlane.core.fieldmasks import mask_paths
from wattlane.core.filtering import Field
from wattlane.core.listing import list_call
from wattlane.core.names import parse_name
from wattlane.identity import messages, roles
from wattlane.identity.models import RoleBinding
from wattlane.identity.permissions import PERMISSIONS
from wattlane.identity.runtime import Runtime

BINDING_FILTER_FIELDS = {
    "user": Field(RoleBinding.user_id, convert=lambda v: v.removeprefix("users/")),
    "role": Field(RoleBinding.role_id, convert=lambda v: v.removeprefix("roles/")),
}


class RoleServicer(roles_pb2_grpc.RoleServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def ListPermissions(
        self, request: roles_pb2.ListPermissionsRequest, context: grpc.aio.ServicerContext
    ) -> roles_pb2.ListPermissionsResponse:
        """Every permission the platform knows."""
        current_caller()
        return roles_pb2.ListPermissionsResponse(
            permissions=[roles_pb2.Permission(name=n, description=d) for n, d in sorted(PERMISSIONS.items())]
        )

    async def GetRole(
        self, request: roles_pb2.GetRoleRequest, context: grpc.aio.ServicerContext
    ) -> roles_pb2.Role:
        """Gets a built-in role, or a custom role in scope (`roles.read`)."""
        role_id = parse_name(request.name, "roles")
        scope = await current_caller().scope()
        async with self.rt.db.reader() as session:
            return messages.role(await roles.get(session, scope, role_id))

    async def ListRoles(
        self, request: roles_pb2.ListRolesRequest, context: grpc.aio.ServicerContext
    ) -> roles_pb2.ListRolesResponse:
        """Built-in roles plus custom roles usable at `parent` (`roles.read`)."""
        call = await list_call(request, "ListRoles")
        if call.parent_id is None:
            raise InvalidArgument.field("parent", "is required (the tenant where the roles are used)")
        page = call.page
        async with self.rt.db.reader() as session:
            rows = await roles.list_usable(session, call.scope, call.parent_id, page)
        return roles_pb2.ListRolesResponse(
            roles=[messages.role(r) for r in rows[: page.size]],
            next_page_token=page.next_token(rows, lambda r: r.id),
        )

    async def CreateRole(
        self, request: roles_pb2.CreateRoleRequest, context: grpc.aio.ServicerContext
    ) -> roles_pb2.Role:
        """Creates a custom role at `parent` (`roles.manage`; no permission the caller lacks)."""
        tenant_id = parse_name(request.parent, "tenants", "parent")
        scope = await current_caller().scope()
        r = request.role

        async def write(session: AsyncSession) -> roles_pb2.Role:
            row = await roles.create(
                session,
                scope,
                tenant_id,
                display_name=r.display_name,
                description=r.description,
                permissions=list(r.permissions),
            )
            assert row.tenant_path is not None
            await self.rt.audit.record(
                session,
                resource=f"roles/{row.id}",
                tenant_path=row.tenant_path,
                changes={"display_name": row.display_name, "permissions": row.permissions},
            )
            return messages.role(row)

        return await self.rt.idempotency.once(request, roles_pb2.Role, write)

    async def UpdateRole(
        self, request: roles_pb2.UpdateRoleRequest, context: grpc.aio.ServicerContext
    ) -> roles_pb2.Role:
        """Updates a custom role (`roles.manage`)."""
        role_id = parse_name(request.role.name, "roles", "role.name")
        paths = mask_paths(request.update_mask, ("display_name", "description", "permissions"))
        changes = {
            p: (list(request.role.permissions) if p == "permissions" else getattr(request.role, p))
            for p in paths
        }
        scope = await current_caller().scope()

        async def write(session: AsyncSession) -> roles_pb2.Role:
            row = await roles.update(session, scope, role_id, changes, etag=request.role.etag)
            assert row.tenant_path is not None
            await self.rt.audit.record(
                session, resource=f"roles/{row.id}", tenant_path=row.tenant_path, changes=changes
            )
            return messages.role(row)

        result = await self.rt.idempotency.once(request, roles_pb2.Role, write)
        self.rt.forget_all_scopes()
        return result

    async def DeleteRole(
        self, request: roles_pb2.DeleteRoleRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """Deletes an unassigned custom role (`roles.manage`)."""
        role_id = parse_name(request.name, "roles")
        scope = await current_caller().scope()

        async def write(session: AsyncSession) -> empty_pb2.Empty:
            row = await roles.delete(session, scope, role_id)
            assert row.tenant_path is not None
            await self.rt.audit.record(
                session, resource=f"roles/{row.id}", tenant_path=row.tenant_path, changes=["delete_time"]
            )
            return empty_pb2.Empty()

        return await self.rt.idempotency.once(request, empty_pb2.Empty, write)

    async def CreateRoleBinding(
        self, request: roles_pb2.CreateRoleBindingRequest, context: grpc.aio.ServicerContext
    ) -> roles_pb2.RoleBinding:
        """Assigns a role to a user at a tenant (`users.manage`; no escalation)."""
        b = request.role_binding
        user_id = parse_name(b.user, "users", "role_binding.user")
        role_id = parse_name(b.role, "roles", "role_binding.role")
        tenant_id = parse_name(b.tenant, "tenants", "role_binding.tenant")
        scope = await current_caller().scope()

        async def write(session: AsyncSession) -> roles_pb2.RoleBinding:
            row = await roles.bind(
                session,
                scope,
                user_id=user_id,
                role_id=role_id,
                tenant_id=tenant_id,
                propagate=b.propagate,
                allowed_resources=list(b.allowed_resources),
            )
            await self.rt.audit.record(
                session,
                resource=f"roleBindings/{row.id}",
                tenant_path=row.tenant_path,
                changes={
                    "user": b.user,
                    "role": b.role,
                    "propagate": b.propagate,
                    "allowed_resources": list(row.allowed_resources),
                },
            )
            return messages.role_binding(row)

        result = await self.rt.idempotency.once(request, roles_pb2.RoleBinding, write)
        self.rt.forget_all_scopes()
        return result

    async def ListRoleBindings(
        self, request: roles_pb2.ListRoleBindingsRequest, context: grpc.aio.ServicerContext
    ) -> roles_pb2.ListRoleBindingsResponse:
        """Lists role assignments at and below `parent` (`users.read`)."""
        call = await list_call(request, "ListRoleBindings", filter_fields=BINDING_FILTER_FIELDS)
        page = call.page
        async with self.rt.db.reader() as session:
            rows = await roles.list_bindings(
                session, call.scope, parent_id=call.parent_id, where=call.where, page=page
            )
        return roles_pb2.ListRoleBindingsResponse(
            role_bindings=[messages.role_binding(r) for r in rows[: page.size]],
            next_page_token=page.next_token(rows, lambda r: r.id),
        )

    async def UpdateRoleBinding(
        self, request: roles_pb2.UpdateRoleBindingRequest, context: grpc.aio.ServicerContext
    ) -> roles_pb2.RoleBinding:
        """Changes propagation or the allow-list of an assignment (`users.manage`)."""
        binding_id = parse_name(request.role_binding.name, "roleBindings", "role_binding.name")
        paths = mask_paths(request.update_mask, ("propagate", "allowed_resources"))
        b = request.role_binding
        changes = {p: (list(b.allowed_resources) if p == "allowed_resources" else b.propagate) for p in paths}
        scope = await current_caller().scope()

        async def write(session: AsyncSession) -> roles_pb2.RoleBinding:
            row = await roles.update_binding(session, scope, binding_id, changes)
            await self.rt.audit.record(
                session, resource=f"roleBindings/{row.id}", tenant_path=row.tenant_path, changes=changes
            )
            return messages.role_binding(row)

        result = await self.rt.idempotency.once(request, roles_pb2.RoleBinding, write)
        self.rt.forget_all_scopes()
        return result

    async def DeleteRoleBinding(
        self, request: roles_pb2.DeleteRoleBindingRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """Removes a role assignment (`users.manage`)."""
        binding_id = parse_name(request.name, "roleBindings")
        scope = await current_caller().scope()

        async def write(session: AsyncSession) -> empty_pb2.Empty:
            row = await roles.unbind(session, scope, binding_id)
            await self.rt.audit.record(
                session, resource=f"roleBindings/{row.id}", tenant_path=row.tenant_path, changes=["delete"]
            )
            return empty_pb2.Empty()

        result = await self.rt.idempotency.once(request, empty_pb2.Empty, write)
        self.rt.forget_all_scopes()
        return result
