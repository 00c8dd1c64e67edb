"""Typed clients of each service's public and internal gRPC APIs, for every caller: services,
the worker, the CLI and tests. Each is a set of generated stubs on one channel with core's
conventions (`wattlane.core.client`: bearer token, deadline, retries)."""
