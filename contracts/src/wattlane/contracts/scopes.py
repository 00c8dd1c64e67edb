"""The one catalog of internal service scopes: what a service token may do at another service.

Internal RPCs check these names; `wattlane up`, the tests and the chart's bootstrap give each
service account the scopes listed in `SERVICE_ACCOUNTS`.
"""

from __future__ import annotations

IDENTITY_APPLICATIONS = "identity.applications"
IDENTITY_DATAPOINTS = "identity.datapoints"
IDENTITY_LICENSES = "identity.licenses"
IDENTITY_MAIL = "identity.mail"
IDENTITY_DIRECTORY = "identity.directory"
ASSETS_STATIONS = "assets.stations"
ASSETS_ACCESS = "assets.access"
CSMS_HANDOFF = "csms.handoff"
CSMS_UNCLAIMED = "csms.unclaimed"
CSMS_COMMANDS = "csms.commands"

CATALOG: dict[str, str] = {
    IDENTITY_APPLICATIONS: "decide applications, read their notifications, expire accounts",
    IDENTITY_DATAPOINTS: "allocate and release an account's datapoints",
    IDENTITY_LICENSES: "allocate and release feature licenses",
    IDENTITY_MAIL: "prepare invitation and password-reset mails",
    IDENTITY_DIRECTORY: "resolve a tenant's owner path (path copies on other services' rows)",
    ASSETS_STATIONS: "read station credentials (key verifiers) by OCPP identity",
    ASSETS_ACCESS: "decide and list which cards a charging point accepts",
    CSMS_HANDOFF: "record that a completed transaction was handed on",
    CSMS_UNCLAIMED: "read unclaimed station connection attempts (connected onboarding)",
    CSMS_COMMANDS: "forward a remote action to the CSMS process holding the station",
}

# Each internal service account and the scopes its tokens carry.
SERVICE_ACCOUNTS: dict[str, tuple[str, ...]] = {
    "worker": (IDENTITY_APPLICATIONS, IDENTITY_DATAPOINTS, IDENTITY_LICENSES, IDENTITY_MAIL, CSMS_HANDOFF),
    "assets": (IDENTITY_DIRECTORY, IDENTITY_DATAPOINTS, IDENTITY_LICENSES, CSMS_UNCLAIMED),
    "csms": (ASSETS_STATIONS, ASSETS_ACCESS, CSMS_COMMANDS, IDENTITY_DIRECTORY),
}
