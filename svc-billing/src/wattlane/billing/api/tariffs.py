"""TariffService: tariffs owned by tenants, versioned; PreviewPrice."""

from __future__ import annotations

import datetime as dt

import grpc
from google.protobuf import empty_pb2
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.api.billing.v1 import tariffs_pb2, tariffs_pb2_grpc
from wattlane.billing import catalog, pricing
from wattlane.billing.api import convert
from wattlane.billing.documents import priced_document
from wattlane.billing.errors import PricingError
from wattlane.billing.models import TariffRow
from wattlane.billing.runtime import Runtime
from wattlane.billing.sessions import Session
from wattlane.core import validation
from wattlane.core.caller import current_caller
from wattlane.core.clock import utcnow
from wattlane.core.errors import InvalidArgument, NotFound
from wattlane.core.fieldmasks import mask_paths
from wattlane.core.filtering import Field
from wattlane.core.listing import list_call
from wattlane.core.names import parse_name
from wattlane.core.paging import parse_page
from wattlane.core.timestamps import instant, optional_instant

FILTER_FIELDS = {
    "purpose": Field(TariffRow.purpose, "enum", catalog.PURPOSES),
    "currency": Field(TariffRow.currency),
    "display_name": Field(TariffRow.display_name),
}
UPDATABLE = (
    "display_name",
    "type",
    "currency",
    "display_texts",
    "min_price",
    "max_price",
    "elements",
    "effective_from",
)
MAX_PAGE = 500


def _version_number(value: int) -> int:
    if value < 0:
        raise InvalidArgument.field("version", "must not be negative")
    return value


class TariffServicer(tariffs_pb2_grpc.TariffServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def GetTariff(
        self, request: tariffs_pb2.GetTariffRequest, context: grpc.aio.ServicerContext
    ) -> tariffs_pb2.Tariff:
        """Gets a tariff: the version in force now, or the one named by `version` (`billing.read`)."""
        tariff_id = parse_name(request.name, "tariffs")
        number = _version_number(request.version)
        scope = await current_caller().scope()
        async with self.rt.db.reader() as session:
            return convert.tariff_message(
                await catalog.get_in_scope(session, scope, tariff_id, number=number)
            )

    async def ListTariffs(
        self, request: tariffs_pb2.ListTariffsRequest, context: grpc.aio.ServicerContext
    ) -> tariffs_pb2.ListTariffsResponse:
        """Lists the tariffs of a tenant (and below), or every one in scope, oldest first, each in
        its version in force now (`billing.read`)."""
        call = await list_call(request, "ListTariffs", filter_fields=FILTER_FIELDS)
        parent_path = None
        if request.parent:
            owner = await self.rt.directory.owner(request.parent)
            call.scope.require(catalog.READ, owner.path, request.parent)
            parent_path = owner.path
        page = call.page
        if page.size > MAX_PAGE:
            page = type(page)(MAX_PAGE, page.after, page.binding)
        async with self.rt.db.reader() as session:
            rows = await catalog.list_in_scope(
                session, call.scope, parent_path=parent_path, where=call.where, page=page, now=utcnow()
            )
        return tariffs_pb2.ListTariffsResponse(
            tariffs=[convert.tariff_message(v) for v in rows[: page.size]],
            next_page_token=page.next_token(rows, lambda v: v.tariff_id),
        )

    async def CreateTariff(
        self, request: tariffs_pb2.CreateTariffRequest, context: grpc.aio.ServicerContext
    ) -> tariffs_pb2.Tariff:
        """Creates a tariff (version 1) owned by a tenant (`billing.manage` there). A home-charging
        reimbursement rate (purpose HOME_REIMBURSEMENT) is owned by the employer organization and
        prices ENERGY only."""
        parse_name(request.parent, "tenants", "parent")
        spec = convert.tariff_spec(request.tariff)
        requested_from = optional_instant(request.tariff, "effective_from", "tariff.effective_from")
        scope = await current_caller().scope()
        owner = await self.rt.directory.owner(request.parent)
        if not scope.visible(owner.path):
            raise NotFound(request.parent)

        async def write(session: AsyncSession) -> tariffs_pb2.Tariff:
            version = await catalog.create(session, scope, owner, spec, requested_from)
            await self.rt.audit.record(
                session,
                resource=version.name,
                tenant_path=version.owner_path,
                changes={"version": 1, "display_name": spec.display_name, "purpose": spec.purpose},
            )
            return convert.tariff_message(version)

        return await self.rt.idempotency.once(request, tariffs_pb2.Tariff, write)

    async def UpdateTariff(
        self, request: tariffs_pb2.UpdateTariffRequest, context: grpc.aio.ServicerContext
    ) -> tariffs_pb2.Tariff:
        """Creates the next version of a tariff from its newest one and the fields in
        `update_mask` (`billing.manage`). Versions are immutable; the new one is in force from
        `effective_from` (default now, never in the past)."""
        tariff_id = parse_name(request.tariff.name, "tariffs", "tariff.name")
        paths = {p.split(".", 1)[0] for p in mask_paths(request.update_mask, UPDATABLE)}
        requested_from = None
        if "effective_from" in paths:
            requested_from = optional_instant(request.tariff, "effective_from", "tariff.effective_from")
        scope = await current_caller().scope()

        async def write(session: AsyncSession) -> tariffs_pb2.Tariff:
            latest = await catalog.latest(session, scope, tariff_id)
            merged = convert.tariff_message(latest)
            for path in paths - {"effective_from"}:
                merged.ClearField(path)  # type: ignore[arg-type]
                if path in ("display_texts", "elements"):
                    getattr(merged, path).extend(getattr(request.tariff, path))
                elif path in ("min_price", "max_price"):
                    if request.tariff.HasField(path):  # type: ignore[arg-type]
                        getattr(merged, path).CopyFrom(getattr(request.tariff, path))
                else:
                    setattr(merged, path, getattr(request.tariff, path))
            spec = convert.tariff_spec(merged)
            version = await catalog.add_version(
                session, scope, tariff_id, spec, requested_from, etag=request.tariff.etag
            )
            await self.rt.audit.record(
                session,
                resource=version.name,
                tenant_path=version.owner_path,
                changes={"version": version.version, "fields": sorted(paths)},
            )
            return convert.tariff_message(version)

        return await self.rt.idempotency.once(request, tariffs_pb2.Tariff, write)

    async def DeleteTariff(
        self, request: tariffs_pb2.DeleteTariffRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """Deletes a tariff (`billing.manage`): no new reference resolves to it; sessions already
        started with it and charge records keep their prices (versions and snapshots stay)."""
        tariff_id = parse_name(request.name, "tariffs")
        scope = await current_caller().scope()

        async def write(session: AsyncSession) -> empty_pb2.Empty:
            row = await catalog.delete(session, scope, tariff_id, etag=request.etag)
            await self.rt.audit.record(
                session,
                resource=catalog.tariff_name(row.id),
                tenant_path=row.owner_path,
                changes=["delete_time"],
            )
            return empty_pb2.Empty()

        return await self.rt.idempotency.once(request, empty_pb2.Empty, write)

    async def ListTariffVersions(
        self, request: tariffs_pb2.ListTariffVersionsRequest, context: grpc.aio.ServicerContext
    ) -> tariffs_pb2.ListTariffVersionsResponse:
        """Lists a tariff's versions, newest first (`billing.read`)."""
        tariff_id = parse_name(request.name, "tariffs")
        caller = current_caller()
        page = parse_page(
            request.page_size,
            request.page_token,
            caller=caller.principal.caller_key,
            method="ListTariffVersions",
            query=(request.name,),
            maximum=MAX_PAGE,
        )
        scope = await caller.scope()
        async with self.rt.db.reader() as session:
            rows = await catalog.list_versions(session, scope, tariff_id, page)
        return tariffs_pb2.ListTariffVersionsResponse(
            versions=[convert.tariff_message(v) for v in rows[: page.size]],
            next_page_token=page.next_token(rows, lambda v: v.version),
        )

    async def PreviewPrice(
        self, request: tariffs_pb2.PreviewPriceRequest, context: grpc.aio.ServicerContext
    ) -> tariffs_pb2.PricedSession:
        """Prices a described session with a tariff, showing its charging periods (`billing.read`):
        either `readings`, or `energy_wh` charged evenly from `start_time` to `stop_time`."""
        tariff_id = parse_name(request.tariff, "tariffs", "tariff")
        number = _version_number(request.version)
        time_zone = validation.time_zone(request.time_zone, "time_zone")
        session_data = preview_session(request)
        scope = await current_caller().scope()
        async with self.rt.db.reader() as session:
            if number:
                version = await catalog.get_in_scope(session, scope, tariff_id, number=number)
            else:
                await catalog.get_in_scope(session, scope, tariff_id)  # scope check
                version = await catalog.version_at(session, tariff_id, session_data.start)
        return price_message(version, session_data, time_zone)


def preview_session(request: tariffs_pb2.PreviewPriceRequest) -> Session:
    """The session PreviewPrice describes (readings, or the simple form)."""
    if request.HasField("readings"):
        session_data = convert.session_from_readings(request.readings)
        if session_data.stop is None:
            raise InvalidArgument.field("readings.stop_time", "is required to preview a price")
        return session_data
    if not request.HasField("start_time"):
        raise InvalidArgument.field("start_time", "is required (or give readings)")
    if not request.HasField("stop_time"):
        raise InvalidArgument.field("stop_time", "is required (or give readings)")
    start = instant(request.start_time, "start_time")
    stop = instant(request.stop_time, "stop_time")
    return convert.simple_session(request.energy_wh, start, stop)


def price_message(
    version: catalog.TariffVersion, session_data: Session, time_zone: str, until: dt.datetime | None = None
) -> tariffs_pb2.PricedSession:
    """Price a session with a stored version, as the API answers."""
    try:
        priced = pricing.price(version.spec.tariff, session_data, time_zone, until=until)
    except PricingError as error:
        raise convert.pricing_error(error, "readings.") from None
    return convert.priced_message(
        priced_document(
            priced,
            version.spec.tariff,
            tariff_name=version.name,
            version=version.version,
            time_zone=time_zone,
        )
    )
