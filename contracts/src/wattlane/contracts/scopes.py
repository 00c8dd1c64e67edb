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
IDENTITY_REVOCATIONS = "identity.revocations"
ASSETS_STATIONS = "assets.stations"
ASSETS_ACCESS = "assets.access"
CSMS_HANDOFF = "csms.handoff"
CSMS_UNCLAIMED = "csms.unclaimed"
CSMS_COMMANDS = "csms.commands"
CSMS_TRANSACTIONS = "csms.transactions"
CSMS_CAMPAIGNS = "csms.campaigns"
BILLING_RECORDS = "billing.records"
BILLING_TARIFFS = "billing.tariffs"
BILLING_PRICING = "billing.pricing"
BILLING_SETTLEMENT = "billing.settlement"

CATALOG: dict[str, str] = {
    IDENTITY_APPLICATIONS: "decide applications, read their notifications, expire accounts",
    IDENTITY_DATAPOINTS: "allocate and release an account's datapoints",
    IDENTITY_LICENSES: "allocate and release feature licenses",
    IDENTITY_MAIL: "prepare invitation and password-reset mails",
    IDENTITY_DIRECTORY: "resolve a tenant's owner path (path copies on other services' rows)",
    IDENTITY_REVOCATIONS: "follow revoked user tokens (logouts, ended sessions) to refuse them at once",
    ASSETS_STATIONS: "read station credentials (key verifiers) by OCPP identity",
    ASSETS_ACCESS: "decide and list which cards a charging point accepts",
    CSMS_HANDOFF: "record that a completed transaction was handed on",
    CSMS_UNCLAIMED: "read unclaimed station connection attempts (connected onboarding)",
    CSMS_COMMANDS: "forward a remote action to the CSMS process holding the station",
    CSMS_TRANSACTIONS: "read a transaction with its meter values (billing prices it)",
    CSMS_CAMPAIGNS: "drive firmware campaigns: send waves, read progress, record decisions",
    BILLING_RECORDS: "seal the charge record of a completed transaction",
    BILLING_TARIFFS: "resolve a tariff a setting references",
    BILLING_PRICING: "price a running session for what the station shows",
    BILLING_SETTLEMENT: "invoice a month's charge records (the monthly settlement)",
}

# Each internal service account and the scopes its tokens carry.
SERVICE_ACCOUNTS: dict[str, tuple[str, ...]] = {
    "worker": (
        IDENTITY_APPLICATIONS,
        IDENTITY_DATAPOINTS,
        IDENTITY_LICENSES,
        IDENTITY_MAIL,
        CSMS_HANDOFF,
        CSMS_CAMPAIGNS,
        BILLING_RECORDS,
        BILLING_SETTLEMENT,
    ),
    "assets": (
        IDENTITY_DIRECTORY,
        IDENTITY_DATAPOINTS,
        IDENTITY_LICENSES,
        IDENTITY_REVOCATIONS,
        CSMS_UNCLAIMED,
        BILLING_TARIFFS,
    ),
    "csms": (
        ASSETS_STATIONS,
        ASSETS_ACCESS,
        CSMS_COMMANDS,
        IDENTITY_DIRECTORY,
        IDENTITY_REVOCATIONS,
        BILLING_PRICING,
    ),
    "billing": (IDENTITY_DIRECTORY, IDENTITY_REVOCATIONS, CSMS_TRANSACTIONS, ASSETS_STATIONS),
}
