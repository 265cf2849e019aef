"""Fixtures of the TUI tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def demo_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulated session `monitor demo --simulate` shows (holds long enough to complete)."""
    from monitor.cli.demo import simulate_sample

    return simulate_sample(tmp_path_factory.mktemp("demo"))
