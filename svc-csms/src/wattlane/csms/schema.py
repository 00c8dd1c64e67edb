"""Where the CSMS's migrations live, for `upgrade on start` and the `migrate` command."""

from wattlane.core.migrations import MigrationSet

MIGRATIONS = MigrationSet(
    service="csms",
    versions_package="wattlane.csms.migrations",
    metadata="wattlane.csms.models:Base.metadata",
)
