"""Where identity's migrations live, for `upgrade on start` and the `migrate` command."""

from wattlane.core.migrations import MigrationSet

MIGRATIONS = MigrationSet(
    service="identity",
    versions_package="wattlane.identity.migrations",
    metadata="wattlane.identity.models:Base.metadata",
)
