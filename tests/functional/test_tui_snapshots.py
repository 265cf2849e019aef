"""SVG snapshots of every screen at 80x24 and 120x40 (pytest-textual-snapshot).

Each screen is drawn from a capture of a real replay of a bundled recording (capture_feed.py), so
the pictures change when the screens change, not when the analysis is tuned (the behaviour tests
run the real analysis). Update after a deliberate change with
`pytest tests/functional --snapshot-update`, and look at the SVGs before committing them.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from capture_feed import CapturedFeed, CapturedPlayback
from textual.pilot import Pilot
from tui_helpers import TRUNK_ROTATION, make_app, replay_to_end, until

from monitor.tui.adapt import analysis_messages
from monitor.tui.app import MonitorApp
from monitor.tui.feed import ScanRow
from monitor.tui.screens import SummaryScreen

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


async def _at_end(pilot: Pilot) -> None:
    await replay_to_end(pilot)
    pilot.app.clear_notifications()
    await pilot.pause()


async def _at_summary(pilot: Pilot) -> None:
    await _at_end(pilot)
    await pilot.press("q")
    await until(pilot, lambda: isinstance(pilot.app.screen, SummaryScreen))
    pilot.app.clear_notifications()
    await pilot.pause()


def _replay_feed() -> CapturedFeed:
    feed = CapturedFeed()
    feed.playback = CapturedPlayback(feed.summary().session.duration_s)
    return feed


@pytest.mark.parametrize("size", SIZES)
def test_live_screen(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(CapturedFeed()), terminal_size=size, run_before=_at_end)


@pytest.mark.parametrize("size", SIZES)
def test_replay_screen(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(_replay_feed()), terminal_size=size, run_before=_at_end)


@pytest.mark.parametrize("size", SIZES)
def test_summary_screen(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(_replay_feed()), terminal_size=size, run_before=_at_summary)


def test_capture_is_of_the_bundled_recording() -> None:
    feed = CapturedFeed()
    assert (TRUNK_ROTATION.parent / feed.data["recording"]).is_file()
    summary = feed.summary()
    assert summary.session.input_name == TRUNK_ROTATION.name
    assert summary.rep_count > 0 and summary.gaps


class ListedSensors:
    """What a BLE scan found, as the pick-a-sensor screen receives it (no radio in CI)."""

    rows: ClassVar[list[ScanRow]] = [
        ScanRow("Polar Sense B5A1C92F", "A0:9E:1A:B5:A1:C9", -58, "polar_verity_sense", 81),
        ScanRow("WT901BLE68", "E4:71:3C:02:11:7D", -71, "witmotion_wt901ble"),
        ScanRow("", "5C:F3:70:88:20:01", -90, None),
    ]

    async def scan(self):  # type: ignore[no-untyped-def]
        import asyncio

        await asyncio.sleep(3600)  # one round is shown; the next never comes during the test
        return []

    def open(self, row: ScanRow):  # type: ignore[no-untyped-def]
        raise AssertionError("not connecting in a snapshot")


@pytest.mark.parametrize("size", SIZES)
def test_pick_sensor_screen(snap_compare, size: tuple[int, int]) -> None:
    scanner = ListedSensors()
    app = MonitorApp(translate=analysis_messages, scanner=scanner, muted=True)

    async def shown(pilot: Pilot) -> None:
        pilot.app.screen.show(scanner.rows)  # type: ignore[attr-defined]
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=shown)


def test_snapshots_are_committed() -> None:
    """Every snapshot test has its picture next to it (a missing one would pass silently)."""
    folder = Path(__file__).parent / "__snapshots__" / Path(__file__).stem
    names = {p.stem for p in folder.glob("*.svg")}
    for screen in ("live", "replay", "summary", "pick_sensor"):
        for size in ("80x24", "120x40"):
            assert f"test_{screen}_screen[{size}]" in names
