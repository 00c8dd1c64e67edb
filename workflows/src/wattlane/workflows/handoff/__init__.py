"""Completed transactions handed on to billing, exactly once (one workflow per transaction)."""
