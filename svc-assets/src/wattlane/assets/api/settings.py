"""AssetSettingsService."""

from __future__ import annotations

import grpc
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.api.assets.v1 import settings_pb2, settings_pb2_grpc
from wattlane.assets import charging_points, inheritance, locations, organization_settings, tariffs
from wattlane.assets.models import OrganizationSettings
from wattlane.assets.runtime import Runtime
from wattlane.assets.scoped import owner_visible
from wattlane.core.caller import current_caller
from wattlane.core.errors import InvalidArgument
from wattlane.core.fieldmasks import mask_paths
from wattlane.core.names import parse_name

SUFFIX = "/assetSettings"


def _tenant_of(name: str, field: str) -> str:
    """`tenants/{id}` of `tenants/{id}/assetSettings`."""
    if not name.endswith(SUFFIX):
        raise InvalidArgument.field(field, "must look like tenants/{id}/assetSettings")
    tenant = name.removesuffix(SUFFIX)
    parse_name(tenant, "tenants", field)
    return tenant


def _message(row: OrganizationSettings) -> settings_pb2.OrganizationSettings:
    return settings_pb2.OrganizationSettings(
        name=organization_settings.settings_name(row.tenant_id),
        rate_plan=row.rate_plan,
        rate_plan_override=row.rate_plan_override,
        etag=str(row.version),
    )


def _value(effective: inheritance.Effective) -> settings_pb2.EffectiveValue:
    return settings_pb2.EffectiveValue(
        value=effective.value, level=settings_pb2.SettingLevel.Value(effective.level), source=effective.source
    )


class AssetSettingsServicer(settings_pb2_grpc.AssetSettingsServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def GetOrganizationSettings(
        self, request: settings_pb2.GetOrganizationSettingsRequest, context: grpc.aio.ServicerContext
    ) -> settings_pb2.OrganizationSettings:
        """An organization's own settings (`locations.read`)."""
        tenant = _tenant_of(request.name, "name")
        scope = await current_caller().scope()
        owner = await owner_visible(self.rt.directory, scope, tenant)
        async with self.rt.db.reader() as session:
            return _message(await organization_settings.get(session, scope, owner))

    async def UpdateOrganizationSettings(
        self, request: settings_pb2.UpdateOrganizationSettingsRequest, context: grpc.aio.ServicerContext
    ) -> settings_pb2.OrganizationSettings:
        """Sets an organization's rate plan reference or override flag (`locations.manage`)."""
        tenant = _tenant_of(request.settings.name, "settings.name")
        paths = mask_paths(request.update_mask, organization_settings.UPDATABLE)
        changes = {p: getattr(request.settings, p) for p in paths}
        scope = await current_caller().scope()
        owner = await owner_visible(self.rt.directory, scope, tenant)

        async def write(session: AsyncSession) -> settings_pb2.OrganizationSettings:
            row = await organization_settings.update(
                session, scope, owner, changes, etag=request.settings.etag
            )
            if "rate_plan" in changes or "rate_plan_override" in changes:
                field = "settings.rate_plan"
                await tariffs.check_reference(self.rt.tariffs, row.rate_plan, owner.path, field)
                capped = await tariffs.capped_points_below(session, owner_path=owner.path)
                await tariffs.check_max_prices(session, self.rt.tariffs, capped, field)
            await self.rt.audit.record(
                session, resource=request.settings.name, tenant_path=owner.path, changes=dict(changes)
            )
            return _message(row)

        return await self.rt.idempotency.once(request, settings_pb2.OrganizationSettings, write)

    async def GetEffectiveSettings(
        self, request: settings_pb2.GetEffectiveSettingsRequest, context: grpc.aio.ServicerContext
    ) -> settings_pb2.EffectiveSettings:
        """Effective values and the level each came from (`locations.read` / `stations.read`)."""
        collection = request.name.split("/", 1)[0]
        scope = await current_caller().scope()
        async with self.rt.db.reader() as session:
            if collection == "chargingPoints":
                point = await charging_points.get_in_scope(
                    session, scope, parse_name(request.name, "chargingPoints"), "stations.read"
                )
                location = await locations.get_in_scope(session, scope, point.location_id, "stations.read")
                rate, mode = await inheritance.effective(session, point.owner_path, location, point)
            elif collection == "locations":
                location = await locations.get_in_scope(
                    session, scope, parse_name(request.name, "locations"), "locations.read"
                )
                rate, mode = await inheritance.effective(session, location.owner_path, location)
            else:
                parse_name(request.name, "tenants")
                owner = await owner_visible(self.rt.directory, scope, request.name)
                scope.require("locations.read", owner.path, owner.name)
                rate, mode = await inheritance.effective(session, owner.path)
        return settings_pb2.EffectiveSettings(
            name=request.name, rate_plan=_value(rate), access_mode=_value(mode) if mode else None
        )
