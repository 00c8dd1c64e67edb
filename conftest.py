"""Root conftest: the shared fixtures of wattlane.core.testing (and each service's testing
module) are available to every test in the monorepo."""

pytest_plugins = [
    "wattlane.core.testing.fixtures",
    "wattlane.identity.testing",
    "wattlane.workflows.testing",
]
