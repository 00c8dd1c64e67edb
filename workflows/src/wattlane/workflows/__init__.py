"""Temporal workflows (pure orchestration) and activities (I/O) of Wattlane, and the worker."""
