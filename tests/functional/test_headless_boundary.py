"""The headless core never imports the UI or the Bluetooth stack (harlequin's boundary test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
HEADLESS_PACKAGES = ("monitor.analysis", "monitor.profiles", "monitor.core", "monitor.session")

_PROBE = """
import importlib, json, pkgutil, sys
imported = []
for package_name in sys.argv[1:]:
    package = importlib.import_module(package_name)
    imported.append(package_name)
    for info in pkgutil.walk_packages(package.__path__, package_name + "."):
        if info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)
        imported.append(info.name)
ui = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "bleak"))
print(json.dumps({"imported": imported, "forbidden": ui}))
"""


def test_headless_packages_import_neither_textual_nor_bleak() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *HEADLESS_PACKAGES],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
    )
    report = json.loads(result.stdout)
    assert set(HEADLESS_PACKAGES) <= set(report["imported"])
    assert report["forbidden"] == [], f"headless modules pulled in {report['forbidden']}"


def test_probe_detects_textual() -> None:
    """The check can fail: importing the TUI does pull textual in."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, "monitor.tui"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
    )
    assert "textual" in json.loads(result.stdout)["forbidden"][0]
