"""Root conftest: core's shared fixtures (databases, hypothesis profiles) for every test.

A project's own fixtures are imported by its tests' conftest.py (pytest loads plugins only from
the root); the cross-service ones by tests/conftest.py. So a project's tests cannot lean on a
peer's fixtures by accident."""

pytest_plugins = ["wattlane.core.testing.fixtures"]
