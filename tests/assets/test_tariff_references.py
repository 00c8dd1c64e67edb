"""Rate plans reference billing's tariffs (asked through ResolveTariff of a fake billing built
from wattlane.api): an unknown tariff or one owned by another branch is INVALID_ARGUMENT naming
the field, billing down is UNAVAILABLE, no billing configured is FAILED_PRECONDITION; a public
point's maximum price per kWh holds against its effective tariff's highest energy price,
whichever level's change would break it."""

from __future__ import annotations

import secrets
from decimal import Decimal

import grpc
import pytest

from tests.support.assets import AssetsStack, Org
from wattlane.api.assets.v1 import charging_points_pb2 as cp_pb2
from wattlane.api.assets.v1 import locations_pb2, settings_pb2
from wattlane.assets import tariffs
from wattlane.assets.models import ChargingPoint
from wattlane.core.clients.assets import AssetsClient
from wattlane.core.errors import FailedPrecondition, field_violations

from .helpers import CP, location, mask, point

S = settings_pb2


def _tariff(stack: AssetsStack, owner_path: str, **fields: object) -> str:
    return stack.billing.add(f"tariffs/t{secrets.token_hex(5)}", owner_path, **fields)


async def _set_org(client: AssetsClient, org: str, plan: str) -> S.OrganizationSettings:
    return await client.settings.UpdateOrganizationSettings(
        S.UpdateOrganizationSettingsRequest(
            settings=S.OrganizationSettings(
                name=f"{org}/assetSettings", rate_plan=plan, rate_plan_override=True
            ),
            update_mask=mask("rate_plan", "rate_plan_override"),
        )
    )


async def _update_point(client: AssetsClient, name: str, **fields: object) -> cp_pb2.ChargingPoint:
    return await client.charging_points.UpdateChargingPoint(
        cp_pb2.UpdateChargingPointRequest(
            charging_point=CP(name=name, **fields),  # type: ignore[arg-type]
            update_mask=mask(*fields),
        )
    )


async def test_references_must_be_tariffs_visible_from_the_setting(
    assets_stack: AssetsStack, org: Org
) -> None:
    client = assets_stack.client(org.admin)
    own = _tariff(assets_stack, org.customer.path)  # the customer's: visible from its organization
    partners = _tariff(assets_stack, org.partner.path)
    elsewhere = _tariff(assets_stack, "/op/another-partner/")
    assert (await _set_org(client, org.org.name, own)).rate_plan == own
    assert (await _set_org(client, org.org.name, partners)).rate_plan == partners
    site = await location(client, org.org.name, rate_plan=own, rate_plan_override=True)
    station = await point(client, site.name, rate_plan=partners, rate_plan_override=True)
    for call, field in (
        (lambda plan: _set_org(client, org.org.name, plan), "settings.rate_plan"),
        (lambda plan: location(client, org.org.name, rate_plan=plan), "location.rate_plan"),
        (lambda plan: point(client, site.name, rate_plan=plan), "charging_point.rate_plan"),
        (lambda plan: _update_point(client, station.name, rate_plan=plan), "charging_point.rate_plan"),
    ):
        for plan in ("tariffs/none", elsewhere, "ratePlans/standard"):
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await call(plan)
            assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (field, plan)
            assert [v.field for v in field_violations(raised.value)] == [field]
    # Clearing a rate plan never needs billing.
    assert (await _set_org(client, org.org.name, "")).rate_plan == ""
    assert {r.owner_path for r in assets_stack.billing.requests if r.name == own} == {org.org.path}


async def test_billing_down_is_unavailable_and_changes_nothing(assets_stack: AssetsStack, org: Org) -> None:
    client = assets_stack.client(org.admin)
    tariff = _tariff(assets_stack, "/")
    assets_stack.billing.down = True
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await _set_org(client, org.org.name, tariff)
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        assets_stack.billing.down = False
    got = await client.settings.GetOrganizationSettings(
        S.GetOrganizationSettingsRequest(name=f"{org.org.name}/assetSettings")
    )
    assert got.rate_plan == ""


async def test_without_billing_a_rate_plan_is_a_failed_precondition_naming_the_field() -> None:
    with pytest.raises(FailedPrecondition) as raised:
        await tariffs.check_reference(None, "tariffs/t1", "/op/", "location.rate_plan")
    assert "location.rate_plan" in str(raised.value) and raised.value.reason == "BILLING_NOT_CONFIGURED"
    await tariffs.check_reference(None, "", "/op/", "location.rate_plan")  # none set: fine


async def test_a_public_points_maximum_price_holds_against_its_effective_tariff(
    assets_stack: AssetsStack, org: Org
) -> None:
    client = assets_stack.client(org.admin)
    cheap = _tariff(assets_stack, "/", max_energy_price="0.30")
    dear = _tariff(assets_stack, "/", max_energy_price="0.4500")
    in_sek = _tariff(assets_stack, "/", currency="SEK", max_energy_price="2.50")
    no_energy = _tariff(assets_stack, "/", max_energy_price="")  # time and flat only
    await _set_org(client, org.org.name, cheap)
    site = await location(client, org.org.name)
    public = await point(client, site.name, public=True, max_price_per_kwh=35, currency="EUR")  # 0.35 EUR
    private = await point(client, site.name)  # no maximum: any tariff

    def fields(raised: pytest.ExceptionInfo[grpc.aio.AioRpcError]) -> list[str]:
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        return [v.field for v in field_violations(raised.value)]

    # The organization's, the location's and the point's own rate plan may not go above it ...
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _set_org(client, org.org.name, dear)
    assert fields(raised) == ["settings.rate_plan"]
    assert "0.4500 EUR/kWh" in (raised.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.locations.UpdateLocation(
            locations_pb2.UpdateLocationRequest(
                location=locations_pb2.Location(name=site.name, rate_plan=dear, rate_plan_override=True),
                update_mask=mask("rate_plan", "rate_plan_override"),
            )
        )
    assert fields(raised) == ["location.rate_plan"]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _update_point(client, public.name, rate_plan=in_sek, rate_plan_override=True)
    assert fields(raised) == ["charging_point.rate_plan"]
    # ... nor may the maximum go below the tariff, nor a new public point start above it.
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _update_point(client, public.name, max_price_per_kwh=29)
    assert fields(raised) == ["charging_point.max_price_per_kwh"]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _update_point(client, private.name, public=True, max_price_per_kwh=20, currency="EUR")
    assert fields(raised) == ["charging_point.max_price_per_kwh"]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await point(client, site.name, public=True, max_price_per_kwh=10, currency="EUR")
    assert fields(raised) == ["charging_point.max_price_per_kwh"]
    # What keeps the maximum is accepted: exactly at it, a tariff without energy price, none.
    assert (await _update_point(client, public.name, max_price_per_kwh=30)).max_price_per_kwh == 30
    await _update_point(client, private.name, rate_plan=dear, rate_plan_override=True)  # not public
    await _set_org(client, org.org.name, no_energy)
    await _set_org(client, org.org.name, "")
    await _set_org(client, org.org.name, cheap)


def test_the_maximum_is_in_minor_units_of_its_currency() -> None:
    def violation(max_price: int, currency: str, tariff_price: str) -> bool:
        row = ChargingPoint(id="p", public=True, max_price_per_kwh=max_price, currency=currency)
        tariff = tariffs.TariffReference("tariffs/t", 1, currency, "/", Decimal(tariff_price))
        return tariffs.price_violation(row, tariff, "f") is not None

    assert not violation(35, "EUR", "0.35") and violation(35, "EUR", "0.3501")
    assert not violation(40, "JPY", "40") and violation(40, "JPY", "40.5")  # no minor unit
    assert not violation(350, "KWD", "0.350") and violation(350, "KWD", "0.351")  # three digits
