"""Renewal reminders and expiry of an active account (one long-running workflow per account)."""
