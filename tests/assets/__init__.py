"""Tests of the assets service."""
