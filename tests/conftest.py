"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Never touch the real user's config or data directories."""
    base = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("MONITOR_CONFIG_DIR", str(base / "config"))
    monkeypatch.setenv("MONITOR_DATA_DIR", str(base / "data"))
