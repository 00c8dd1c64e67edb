"""Rows and domain values → API messages (one place, so every RPC shows a resource the same
way; the domain modules never see a message)."""

from __future__ import annotations

from wattlane.api.assets.v1 import charging_points_pb2, internal_pb2, locations_pb2, settings_pb2
from wattlane.assets.access import AccessDecision, AccessStatus, Payer
from wattlane.assets.credentials import StationCredential
from wattlane.assets.local_lists import LocalAuthorizationList
from wattlane.assets.models import ChargingPoint, Connector, Location
from wattlane.core.timestamps import to_timestamp

CP = charging_points_pb2.ChargingPoint
D = internal_pb2.AccessDecision
_STATUS = {status: D.Status.Value(status.value) for status in AccessStatus}
_PAYER = {None: D.PAYER_UNSPECIFIED} | {payer: D.Payer.Value(payer.value) for payer in Payer}


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


def access_decision(decision: AccessDecision) -> internal_pb2.AccessDecision:
    """An access decision as DecideAccess and ExplainAccess answer it (DecideAccess is on every
    Authorize: one constructor call)."""
    card = decision.card
    if card is None:
        return D(
            status=_STATUS[decision.status],
            payer=_PAYER[decision.payer],
            reason=decision.reason,
            charging_point=decision.charging_point,
            owner_path=decision.owner_path,
            rate_plan=decision.rate_plan,
            access_mode=decision.access_mode,
            time_zone=decision.time_zone,
        )
    return D(
        status=_STATUS[decision.status],
        payer=_PAYER[decision.payer],
        reason=decision.reason,
        charging_point=decision.charging_point,
        owner_path=decision.owner_path,
        card_owner=card.owner,
        card_owner_path=card.owner_path,
        cardholder=card.holder or "",
        card=card.name,
        rate_plan=decision.rate_plan,
        card_expire_time=to_timestamp(card.expire_time),
        access_mode=decision.access_mode,
        time_zone=decision.time_zone,
    )


def local_authorization_list(local_list: LocalAuthorizationList) -> internal_pb2.LocalAuthorizationList:
    """A local authorization list as ListLocalAuthorizations answers it."""
    return internal_pb2.LocalAuthorizationList(
        charging_point=local_list.charging_point,
        access_mode=local_list.access_mode,
        entries=[
            internal_pb2.LocalAuthorization(
                id_token=entry.id_token,
                status=_STATUS[entry.status],
                expire_time=to_timestamp(entry.expire_time),
            )
            for entry in local_list.entries
        ],
        truncated=local_list.truncated,
    )


def station_credential(credential: StationCredential) -> internal_pb2.StationCredential:
    """A station's credential verifier as GetStationCredential answers it."""
    return internal_pb2.StationCredential(
        identity=credential.identity,
        charging_point=credential.charging_point,
        location=credential.location,
        owner=credential.owner,
        owner_path=credential.owner_path,
        key_salt=credential.key_salt,
        key_digest=credential.key_digest,
        certificate_subject=credential.certificate_subject,
        credential_version=credential.credential_version,
        ocpp_version=credential.ocpp_version,
    )
