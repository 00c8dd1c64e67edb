"""Where assets' migrations live, for `upgrade on start` and the `migrate` command."""

from wattlane.core.migrations import MigrationSet

MIGRATIONS = MigrationSet(
    service="assets",
    versions_package="wattlane.assets.migrations",
    metadata="wattlane.assets.models:Base.metadata",
)
