"""The TUI and the local history: a finished session is kept, the maintenance nudge is shown.

The real app under Textual's Pilot replays a bundled recording; the history is the real SQLite
database in the test's own data directory (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from textual.notifications import Notify
from textual.widgets import Static
from tui_helpers import PELVIC_TILT, MessageLog, replay_to_end, until

from monitor.session.history import default_path, open_history
from monitor.session.summary import ProgramRef, SessionSummary
from monitor.tui.adapt import analysis_messages
from monitor.tui.app import MonitorApp
from monitor.tui.feed import ScanRow
from monitor.tui.replay_feed import open_replay
from monitor.tui.screens import PickSensorScreen, SummaryScreen


def history_app(**kwargs: object) -> MonitorApp:
    return MonitorApp(translate=analysis_messages, muted=True, keep_history=True, **kwargs)  # type: ignore[arg-type]


def history_idle(app: MonitorApp) -> bool:
    """No history work running (finished workers leave the app's list)."""
    return all(w.is_finished for w in app.workers if w.group == "history")


def history_notes(log: MessageLog) -> list[str]:
    return [
        str(m.notification.message) for m in log.of(Notify) if "histor" in m.notification.message
    ]


async def finish_replay(app: MonitorApp, log: MessageLog) -> SessionSummary:
    async with app.run_test(size=(80, 24), message_hook=log) as pilot:
        await replay_to_end(pilot)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        await until(pilot, lambda: bool(history_notes(log)), timeout_s=60)
        return app.screen.summary  # type: ignore[attr-defined]


async def test_a_finished_replay_is_kept_once_in_the_history() -> None:
    for _ in range(2):  # the same recording again updates its session
        log = MessageLog()
        app = history_app(feed=open_replay(PELVIC_TILT, speed=None))
        shown = await finish_replay(app, log)
        assert "kept in your history" in history_notes(log)[0]
    with open_history() as history:
        sessions = history.sessions()
        assert len(sessions) == 1
        stored, recording = history.summary(sessions[0].id)
    assert sessions[0].source == "replay"
    assert recording == PELVIC_TILT.resolve()
    assert stored.rep_count == shown.rep_count > 0
    assert stored.session.start == shown.session.start


async def test_without_keep_history_nothing_is_written() -> None:
    app = MonitorApp(
        translate=analysis_messages, feed=open_replay(PELVIC_TILT, speed=None), muted=True
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await replay_to_end(pilot)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        await pilot.pause()
    assert not default_path().exists()


def lapsed_history(sample_days_ago: int) -> None:
    """One stored daily-program session, `sample_days_ago` days old."""
    from monitor.cli.export import summarize_file

    summary = summarize_file(PELVIC_TILT)
    start = datetime.now(UTC) - timedelta(days=sample_days_ago)
    program = ProgramRef(id="daily", sessions_per_week=7)
    meta = summary.session.model_copy(update={"start": start, "program": program})
    with open_history() as history:
        history.record(summary.model_copy(update={"session": meta}))


class NoSensors:
    async def scan(self) -> list[ScanRow]:
        await asyncio.sleep(0.1)  # a scan round takes time; the screen scans in a loop
        return []

    def open(self, row: ScanRow):  # type: ignore[no-untyped-def]
        raise AssertionError("nothing to open")


async def test_pick_screen_shows_the_nudge_when_the_program_lapsed() -> None:
    lapsed_history(5)
    app = history_app(scanner=NoSensors())
    async with app.run_test(size=(100, 24)) as pilot:
        assert isinstance(app.screen, PickSensorScreen)
        line = app.screen.query_one("#nudge", Static)
        await until(pilot, lambda: line.display)
        assert "No session for 5 days" in str(line.render())


async def test_pick_screen_has_no_nudge_on_schedule_and_creates_no_database() -> None:
    app = history_app(scanner=NoSensors())
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause()
        await until(pilot, lambda: history_idle(app))
        await pilot.pause()
        assert not app.screen.query_one("#nudge", Static).display
    assert not default_path().exists()


async def test_session_screen_notifies_the_nudge_at_start() -> None:
    lapsed_history(4)
    log = MessageLog()
    app = history_app(feed=open_replay(PELVIC_TILT, speed=1.0))
    async with app.run_test(size=(100, 24), message_hook=log) as pilot:
        await until(pilot, lambda: bool(log.of(Notify)), timeout_s=60)
        notes = [str(m.notification.message) for m in log.of(Notify)]
        assert any(note.startswith("No session for 4 days") for note in notes), notes
