"""Firmware rollout campaigns: each station's progress, followed from its own notifications."""
