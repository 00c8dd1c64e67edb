"""OCPP connector statuses → the platform's status vocabulary."""

from __future__ import annotations

from typing import Final

from wattlane.csms.providers.interfaces import PlatformStatus

# 1.6 ChargePointStatus. A car that is plugged in but not drawing power (Preparing, SuspendedEV,
# SuspendedEVSE, Finishing) occupies the connector; Reserved keeps it from other drivers too.
STATUS_16: Final[dict[str, PlatformStatus]] = {
    "Available": PlatformStatus.AVAILABLE,
    "Preparing": PlatformStatus.OCCUPIED,
    "Charging": PlatformStatus.CHARGING,
    "SuspendedEV": PlatformStatus.OCCUPIED,
    "SuspendedEVSE": PlatformStatus.OCCUPIED,
    "Finishing": PlatformStatus.OCCUPIED,
    "Reserved": PlatformStatus.OCCUPIED,
    "Unavailable": PlatformStatus.UNAVAILABLE,
    "Faulted": PlatformStatus.FAULTED,
}

# 2.0.1 ConnectorStatusEnumType. 2.0.1 reports charging through TransactionEvent (chargingState),
# not through StatusNotification, so no value here maps to CHARGING.
STATUS_201: Final[dict[str, PlatformStatus]] = {
    "Available": PlatformStatus.AVAILABLE,
    "Occupied": PlatformStatus.OCCUPIED,
    "Reserved": PlatformStatus.OCCUPIED,
    "Unavailable": PlatformStatus.UNAVAILABLE,
    "Faulted": PlatformStatus.FAULTED,
}
