"""Test support shared by every service's tests: databases, fixtures, the isolation harness.

Imported only by tests; nothing in a running service depends on it."""
