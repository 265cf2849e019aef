"""Only monitor/sources/ble.py talks to bleak (and bleak-retry-connector)."""

from __future__ import annotations

import ast
from pathlib import Path

MONITOR = Path(__file__).resolve().parents[2] / "monitor"
BLEAK_PACKAGES = {"bleak", "bleak_retry_connector"}


def bleak_importers() -> set[str]:
    found = set()
    for path in MONITOR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] in BLEAK_PACKAGES for name in names):
                found.add(path.relative_to(MONITOR.parent).as_posix())
    return found


def test_only_the_ble_source_imports_bleak() -> None:
    assert bleak_importers() == {"monitor/sources/ble.py"}
