"""Fixtures of the workflows' own tests (Temporal servers and the SMTP sink, from
wattlane.workflows.testing)."""

from wattlane.workflows.testing import mail_sink, temporal_dev, temporal_skipping  # noqa: F401 (fixtures)
