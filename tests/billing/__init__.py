"""Billing beside the other services: costs shown on stations from billing's real pricing."""
