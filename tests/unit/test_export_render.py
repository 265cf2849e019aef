"""The HTML export renders its charts in a real browser (headless Chromium), offline.

Skipped where no Chromium is installed (`apt-get install chromium`); docs/session-reports.md has
the manual check and a screenshot.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from monitor.session.export import BLUE, GREEN, RED, render
from monitor.session.summary import load_summary

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "golden" / "session.json"
CHROMIUM = next(
    (
        found
        for name in ("chromium", "chromium-browser", "google-chrome")
        if (found := shutil.which(name))
    ),
    None,
)


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)


def screenshot(page: Path, out: Path) -> np.ndarray:
    """Render `page` with networking disabled and return its pixels as 0-255 RGB."""
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            "--hide-scrollbars",
            "--proxy-server=127.0.0.1:9",  # any network fetch would fail: proves offline
            "--window-size=1100,1400",
            f"--screenshot={out}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return imread(out)[..., :3] * 255.0


def _pixels_near(image: np.ndarray, colour: np.ndarray, tolerance: float = 30.0) -> int:
    return int((np.abs(image - colour).max(axis=-1) < tolerance).sum())


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_chromium_draws_the_inline_charts(tmp_path):
    summary = load_summary(SAMPLE.read_text(encoding="utf-8"))
    page = tmp_path / "session.html"
    page.write_text(render(summary, "html"), encoding="utf-8")
    image = screenshot(page, tmp_path / "with-charts.png")

    # The same page with the charts taken out: what the tables and text alone draw.
    bare = tmp_path / "bare.html"
    html = page.read_text(encoding="utf-8")
    while "<svg" in html:
        html = html[: html.index("<svg")] + html[html.index("</svg>") + len("</svg>") :]
    bare.write_text(html, encoding="utf-8")
    without = screenshot(bare, tmp_path / "without-charts.png")

    zone = 255 - 0.15 * (255 - _rgb(GREEN))  # the target zone: green at 15% over white
    for name, colour in (("angle line and bars", _rgb(BLUE)), ("target zone", zone)):
        assert _pixels_near(image, colour, 12) > 2000, name
        assert _pixels_near(without, colour, 12) < 50, name
    assert _pixels_near(image, _rgb(RED)) > 300  # limit lines, the beyond-limit bar
