"""The chart rendered once per scenario and test session (helm template is the slow part)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.charts.tools import documents, render, scenarios


@pytest.fixture(scope="session")
def rendered_text() -> dict[str, str]:
    """Each CI scenario's rendered manifests, as YAML text."""
    return {name: render(name) for name in scenarios()}


@pytest.fixture(scope="session")
def rendered(rendered_text: dict[str, str]) -> dict[str, list[dict]]:  # type: ignore[type-arg]
    """Each CI scenario's rendered manifests, as objects."""
    return {name: documents(text) for name, text in rendered_text.items()}


@pytest.fixture(scope="session")
def rendered_files(
    rendered_text: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Each CI scenario's rendered manifests in a file (for the command-line checkers)."""
    folder = tmp_path_factory.mktemp("rendered")
    files = {}
    for name, text in rendered_text.items():
        files[name] = folder / f"{name}.yaml"
        files[name].write_text(text)
    return files
