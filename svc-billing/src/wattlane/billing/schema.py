"""Where billing's migrations live, for `upgrade on start` and the `migrate` command."""

from wattlane.core.migrations import MigrationSet

MIGRATIONS = MigrationSet(
    service="billing",
    versions_package="wattlane.billing.migrations",
    metadata="wattlane.billing.models:Base.metadata",
)
