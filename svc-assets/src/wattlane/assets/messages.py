"""Rows → API messages (one place, so every RPC shows a resource the same way)."""

from __future__ import annotations

from wattlane.api.assets.v1 import charging_points_pb2, locations_pb2, settings_pb2
from wattlane.assets.models import ChargingPoint, Connector, Location
from wattlane.core.timestamps import to_timestamp

CP = charging_points_pb2.ChargingPoint


def access_mode(value: str) -> settings_pb2.AccessMode.ValueType:
    """An AccessMode enum value from its stored name ('' is unspecified)."""
    return settings_pb2.AccessMode.Value(value) if value else settings_pb2.ACCESS_MODE_UNSPECIFIED


def location(row: Location) -> locations_pb2.Location:
    """A location row as the API shows it."""
    return locations_pb2.Location(
        name=f"locations/{row.id}",
        parent=f"tenants/{row.owner_id}",
        display_name=row.display_name,
        address=locations_pb2.Address(
            street=row.street, postal_code=row.postal_code, city=row.city, country=row.country
        ),
        time_zone=row.time_zone,
        latitude=row.latitude,
        longitude=row.longitude,
        grid_capacity_w=row.grid_capacity_w,
        rate_plan=row.rate_plan,
        rate_plan_override=row.rate_plan_override,
        access_mode=access_mode(row.access_mode),
        owner_path=row.owner_path,
        create_time=to_timestamp(row.create_time),
        update_time=to_timestamp(row.update_time),
        etag=str(row.version),
    )


def charging_point(row: ChargingPoint) -> charging_points_pb2.ChargingPoint:
    """A charging point row as the API shows it (never the key, only whether one is set)."""
    return CP(
        name=f"chargingPoints/{row.id}",
        location=f"locations/{row.location_id}",
        ocpp_identity=row.ocpp_identity,
        vendor=row.vendor,
        model=row.model,
        serial_number=row.serial_number,
        alias=row.alias,
        current_type=CP.CurrentType.Value(row.current_type),
        max_power_w=row.max_power_w,
        ocpp_version=row.ocpp_version,
        onboarding=CP.Onboarding.Value(row.onboarding),
        public=row.public,
        charging_enabled=row.charging_enabled,
        rate_plan=row.rate_plan,
        rate_plan_override=row.rate_plan_override,
        access_mode=access_mode(row.access_mode),
        access_mode_override=row.access_mode_override,
        max_price_per_kwh=row.max_price_per_kwh,
        currency=row.currency,
        certificate_subject=row.certificate_subject,
        has_authorization_key=row.key_digest is not None,
        credential_version=row.credential_version,
        owner=f"tenants/{row.owner_id}",
        owner_path=row.owner_path,
        first_seen_time=to_timestamp(row.first_seen_time),
        create_time=to_timestamp(row.create_time),
        update_time=to_timestamp(row.update_time),
        etag=str(row.version),
    )


def connector(row: Connector) -> charging_points_pb2.Connector:
    """A connector row as the API shows it."""
    return charging_points_pb2.Connector(
        name=f"connectors/{row.id}",
        charging_point=f"chargingPoints/{row.charging_point_id}",
        evse_id=row.evse_id,
        connector_id=row.connector_id,
        type=charging_points_pb2.Connector.Type.Value(row.type),
        max_power_w=row.max_power_w,
        create_time=to_timestamp(row.create_time),
    )
