"""Temporal task queues: one per concern, served by the worker."""

from __future__ import annotations

ACCOUNTS = "accounts"
"""Approvals, renewals and user mails (identity's workflows)."""

BILLING = "billing"
"""Completed transactions handed on to billing."""

FIRMWARE = "firmware"
"""Firmware rollout campaigns (the CSMS's FirmwareCampaign workflows)."""
