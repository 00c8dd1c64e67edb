"""Wattlane benchmarks: each subpackage measures one thing against a baseline measured in the
same run and prints the ratio (`python -m bench` runs them all, `python -m bench.<name>` one).

A benchmark subpackage exposes `main(argv) -> list[Target]`; targets are reported, never
enforced: the exit code is 0 even when one is missed.
"""
