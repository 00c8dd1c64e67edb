"""TariffService on the running service: CRUD, immutable versions, validation naming the field,
scopes, PreviewPrice."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from wattlane.api.billing.v1 import tariffs_pb2
from wattlane.billing.service_testing import Billing, billing_fixture, energy_tariff  # noqa: F401 (a fixture)
from wattlane.core.errors import field_violations
from wattlane.core.timestamps import to_timestamp

UTC = dt.UTC


async def create(billing: Billing, tariff: tariffs_pb2.Tariff | None = None, **kw: str) -> tariffs_pb2.Tariff:
    client = billing.client(billing.admin)
    created: tariffs_pb2.Tariff = await client.tariffs.CreateTariff(
        tariffs_pb2.CreateTariffRequest(parent=billing.org.name, tariff=tariff or energy_tariff(), **kw)
    )
    return created


async def invalid(call: object) -> list[str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    return [v.field for v in field_violations(caught.value)]


async def test_create_get_list_delete(billing: Billing) -> None:
    created = await create(billing)
    assert created.name.startswith("tariffs/")
    assert created.parent == billing.org.name
    assert created.version == 1 and created.etag == "1"
    assert created.purpose == tariffs_pb2.CHARGING
    assert created.elements[0].price_components[0].price == "0.30"
    assert created.elements[0].price_components[0].vat == "21"
    viewer = billing.client(billing.viewer)
    got = await viewer.tariffs.GetTariff(tariffs_pb2.GetTariffRequest(name=created.name))
    assert got == created
    listed = await viewer.tariffs.ListTariffs(tariffs_pb2.ListTariffsRequest(parent=billing.org.name))
    assert [t.name for t in listed.tariffs] == [created.name]
    filtered = await viewer.tariffs.ListTariffs(tariffs_pb2.ListTariffsRequest(filter='currency = "USD"'))
    assert list(filtered.tariffs) == []
    # A viewer may read but not delete; the admin may.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await viewer.tariffs.DeleteTariff(tariffs_pb2.DeleteTariffRequest(name=created.name))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    admin = billing.client(billing.admin)
    await admin.tariffs.DeleteTariff(tariffs_pb2.DeleteTariffRequest(name=created.name))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await viewer.tariffs.GetTariff(tariffs_pb2.GetTariffRequest(name=created.name))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_create_is_idempotent_by_request_id(billing: Billing) -> None:
    first = await create(billing, request_id="r-1")
    again = await create(billing, request_id="r-1")
    assert again.name == first.name
    listed = await billing.client(billing.admin).tariffs.ListTariffs(tariffs_pb2.ListTariffsRequest())
    assert len(listed.tariffs) == 1


async def test_update_creates_an_immutable_version(billing: Billing) -> None:
    created = await create(billing)
    admin = billing.client(billing.admin)
    changed = energy_tariff("0.45", display_name="Peak")
    changed.name = created.name
    v2 = await admin.tariffs.UpdateTariff(
        tariffs_pb2.UpdateTariffRequest(tariff=changed, update_mask=FieldMask(paths=["elements"]))
    )
    assert v2.version == 2
    assert v2.display_name == "Standard"  # not in the mask
    assert v2.elements[0].price_components[0].price == "0.45"
    # Version 1 is unchanged and still readable.
    v1 = await admin.tariffs.GetTariff(tariffs_pb2.GetTariffRequest(name=created.name, version=1))
    assert v1.elements[0].price_components[0].price == "0.30"
    # A version in the future does not apply now.
    later = dt.datetime.now(UTC) + dt.timedelta(days=3)
    future = tariffs_pb2.Tariff(
        name=created.name, display_name="Next year", effective_from=to_timestamp(later)
    )
    v3 = await admin.tariffs.UpdateTariff(
        tariffs_pb2.UpdateTariffRequest(
            tariff=future, update_mask=FieldMask(paths=["display_name", "effective_from"])
        )
    )
    assert v3.version == 3 and v3.effective_from.seconds == int(later.timestamp())
    now = await admin.tariffs.GetTariff(tariffs_pb2.GetTariffRequest(name=created.name))
    assert now.version == 2
    versions = await admin.tariffs.ListTariffVersions(
        tariffs_pb2.ListTariffVersionsRequest(name=created.name, page_size=2)
    )
    assert [v.version for v in versions.versions] == [3, 2]
    rest = await admin.tariffs.ListTariffVersions(
        tariffs_pb2.ListTariffVersionsRequest(
            name=created.name, page_size=2, page_token=versions.next_page_token
        )
    )
    assert [v.version for v in rest.versions] == [1] and not rest.next_page_token
    # A stale etag is refused.
    stale = tariffs_pb2.Tariff(name=created.name, display_name="x", etag="1")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await admin.tariffs.UpdateTariff(
            tariffs_pb2.UpdateTariffRequest(tariff=stale, update_mask=FieldMask(paths=["display_name"]))
        )
    assert caught.value.code() == grpc.StatusCode.ABORTED


async def test_effective_from_in_the_past_is_refused(billing: Billing) -> None:
    created = await create(billing)
    past = dt.datetime.now(UTC) - dt.timedelta(days=1)
    tariff = tariffs_pb2.Tariff(name=created.name, effective_from=to_timestamp(past))
    admin = billing.client(billing.admin)
    request = tariffs_pb2.UpdateTariffRequest(tariff=tariff, update_mask=FieldMask(paths=["effective_from"]))
    assert await invalid(admin.tariffs.UpdateTariff(request)) == ["tariff.effective_from"]


def _component(**kw: object) -> tariffs_pb2.PriceComponent:
    base: dict[str, object] = {"type": tariffs_pb2.ENERGY, "price": "0.25", "step_size": 1}
    base.update(kw)
    return tariffs_pb2.PriceComponent(**base)  # type: ignore[arg-type]


def _with(component: tariffs_pb2.PriceComponent | None = None, **kw: object) -> tariffs_pb2.Tariff:
    restrictions = kw.pop("restrictions", None)
    element = tariffs_pb2.TariffElement(price_components=[component or _component()])
    if restrictions is not None:
        element.restrictions.CopyFrom(restrictions)  # type: ignore[arg-type]
    base: dict[str, object] = {"display_name": "T", "currency": "EUR", "elements": [element]}
    base.update(kw)
    return tariffs_pb2.Tariff(**base)  # type: ignore[arg-type]


R = tariffs_pb2.TariffRestrictions
P0 = "tariff.elements[0].price_components[0]"
_UNKNOWN_DAY = R(day_of_week=[9])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("tariff", "expected"),
    [
        (_with(currency="EUX"), "tariff.currency"),
        (_with(_component(price="-0.10")), f"{P0}.price"),
        (_with(_component(price="abc")), f"{P0}.price"),
        (_with(_component(step_size=0)), f"{P0}.step_size"),
        (_with(_component(vat="101")), f"{P0}.vat"),
        (_with(_component(vat="-1")), f"{P0}.vat"),
        (_with(_component(type=0)), f"{P0}.type"),
        (_with(_component(type=42)), f"{P0}.type"),
        (_with(restrictions=R(start_time="25:00")), "tariff.elements[0].restrictions.start_time"),
        (_with(restrictions=R(end_time="7:5")), "tariff.elements[0].restrictions.end_time"),
        (
            _with(restrictions=R(start_date="2026-05-01", end_date="2026-05-01")),
            "tariff.elements[0].restrictions.end_date",
        ),
        (_with(restrictions=_UNKNOWN_DAY), "tariff.elements[0].restrictions.day_of_week[0]"),
        (_with(elements=[]), "tariff.elements"),
        (_with(display_name=""), "tariff.display_name"),
        (_with(type=77), "tariff.type"),
        (_with(purpose=9), "tariff.purpose"),
    ],
)
async def test_bad_tariffs_name_the_field(
    billing: Billing, tariff: tariffs_pb2.Tariff, expected: str
) -> None:
    assert expected in await invalid(create(billing, tariff))


async def test_out_of_range_timestamps_name_the_field(billing: Billing) -> None:
    tariff = energy_tariff()
    tariff.effective_from.seconds = 10**13  # far beyond the year 9999
    assert await invalid(create(billing, tariff)) == ["tariff.effective_from"]
    created = await create(billing)
    viewer = billing.client(billing.viewer)
    request = tariffs_pb2.PreviewPriceRequest(tariff=created.name, time_zone="UTC", energy_wh=1000)
    request.start_time.seconds = -(10**13)
    request.stop_time.seconds = 0
    assert await invalid(viewer.tariffs.PreviewPrice(request)) == ["start_time"]


async def test_home_reimbursement_rates_are_energy_only_and_owned_by_an_organization(
    billing: Billing,
) -> None:
    rate = energy_tariff("0.28", display_name="Home charging")
    rate.purpose = tariffs_pb2.HOME_REIMBURSEMENT
    created = await create(billing, rate)
    assert created.purpose == tariffs_pb2.HOME_REIMBURSEMENT
    await create(billing)  # a charging tariff beside it
    listed = await billing.client(billing.viewer).tariffs.ListTariffs(
        tariffs_pb2.ListTariffsRequest(filter="purpose = HOME_REIMBURSEMENT")
    )
    assert [t.name for t in listed.tariffs] == [created.name]
    flat = _with(
        _component(type=tariffs_pb2.FLAT, price="1", step_size=0), purpose=tariffs_pb2.HOME_REIMBURSEMENT
    )
    assert await invalid(create(billing, flat)) == [f"{P0}.type"]
    partner_admin = billing.identity.user(
        billing.partner, {"billing.read": [billing.partner], "billing.manage": [billing.partner]}
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await billing.client(partner_admin).tariffs.CreateTariff(
            tariffs_pb2.CreateTariffRequest(parent=billing.partner.name, tariff=rate)
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # Purpose is immutable, and a reimbursement rate is versioned like any tariff.
    update = energy_tariff("0.31")
    update.name = created.name
    v2 = await billing.client(billing.admin).tariffs.UpdateTariff(
        tariffs_pb2.UpdateTariffRequest(tariff=update, update_mask=FieldMask(paths=["elements"]))
    )
    assert v2.version == 2 and v2.purpose == tariffs_pb2.HOME_REIMBURSEMENT


def _off_peak() -> tariffs_pb2.Tariff:
    """0.20/kWh from 21:00 to 07:00, otherwise 0.40/kWh; a session fee of 1.00 (VAT 21%)."""
    night = tariffs_pb2.TariffElement(
        price_components=[_component(price="0.20", vat="21")],
        restrictions=R(start_time="21:00", end_time="07:00"),
    )
    day = tariffs_pb2.TariffElement(
        price_components=[
            _component(price="0.40", vat="21"),
            _component(type=tariffs_pb2.FLAT, price="1.00", vat="21", step_size=0),
        ]
    )
    return _with(elements=[night, day])


async def test_preview_price_of_a_sunday_evening(billing: Billing) -> None:
    created = await create(billing, _off_peak())
    viewer = billing.client(billing.viewer)
    # 22 kWh from 17:40 to 21:10 on Sunday 2026-12-06 in Amsterdam (UTC+1): 3.5 h at constant power.
    start = dt.datetime(2026, 12, 6, 16, 40, tzinfo=UTC)
    stop = dt.datetime(2026, 12, 6, 20, 10, tzinfo=UTC)
    request = tariffs_pb2.PreviewPriceRequest(
        tariff=created.name,
        time_zone="Europe/Amsterdam",
        energy_wh=22_000,
        start_time=to_timestamp(start),
        stop_time=to_timestamp(stop),
    )
    priced = await viewer.tariffs.PreviewPrice(request)
    assert [(p.start_time.ToDatetime(UTC), p.end_time.ToDatetime(UTC)) for p in priced.periods] == [
        (start, dt.datetime(2026, 12, 6, 20, 0, tzinfo=UTC)),
        (dt.datetime(2026, 12, 6, 20, 0, tzinfo=UTC), stop),
    ]
    # 200 of the 210 minutes by day at 0.40/kWh, 10 at night at 0.20/kWh, plus the flat fee 1.00.
    day, night = (Decimal(p.energy_wh) for p in priced.periods)
    assert day + night == 22_000
    assert abs(day - Decimal(22_000 * 200) / 210) < 1
    expected = day / 1000 * Decimal("0.40") + night / 1000 * Decimal("0.20") + Decimal("1.00")
    assert Decimal(priced.total_cost.excl_vat) == expected
    assert Decimal(priced.total_cost.incl_vat) == expected * Decimal("1.21")
    assert priced.tariff == created.name and priced.tariff_version == 1
    assert priced.time_zone == "Europe/Amsterdam"
    # Readings form gives the same answer.
    readings = tariffs_pb2.SessionReadings(
        start_time=to_timestamp(start),
        stop_time=to_timestamp(stop),
        energy=[
            tariffs_pb2.EnergySample(time=to_timestamp(start), wh=0),
            tariffs_pb2.EnergySample(time=to_timestamp(stop), wh=22_000),
        ],
    )
    again = await viewer.tariffs.PreviewPrice(
        tariffs_pb2.PreviewPriceRequest(tariff=created.name, time_zone="Europe/Amsterdam", readings=readings)
    )
    assert again.total_cost == priced.total_cost
    bad = tariffs_pb2.PreviewPriceRequest(tariff=created.name, time_zone="Mars/Olympus", energy_wh=1)
    assert await invalid(viewer.tariffs.PreviewPrice(bad)) == ["time_zone"]
