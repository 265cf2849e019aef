"""The real app, under Textual's Pilot, replaying the bundled recordings.

What the screen is told (messages) must agree with the headless analysis of the same file, and
what it shows must follow: counts, hold timer, warnings newest first, link state, summary.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Digits, Label, ProgressBar
from tui_helpers import (
    PELVIC_TILT,
    TRUNK_ROTATION,
    MessageLog,
    live_screen,
    make_app,
    replay_to_end,
    until,
)

from monitor.analysis.pipeline import AnalysisPipeline
from monitor.analysis.results import HoldComplete, RepCounted, WarningRaised
from monitor.cli.demo import DEMO_PROGRAM
from monitor.core import EventKind
from monitor.session.summary import load_summary
from monitor.sources.inputs import open_input
from monitor.tui import messages
from monitor.tui.feed import LinkState
from monitor.tui.replay_feed import open_replay
from monitor.tui.screens import LiveScreen, SummaryScreen
from monitor.tui.widgets import WarningsPanel


def headless_events(path: Path, target: object = None) -> list:
    """The analysis events of the whole file in one block, without any UI."""
    loaded = open_input(path)
    pipeline = AnalysisPipeline(target or loaded.metadata.exercise)  # type: ignore[arg-type]
    events = []
    for block in loaded.blocks:
        events += pipeline.process(block)
    return events


async def test_replay_posts_what_the_analysis_finds_and_shows_it() -> None:
    expected = headless_events(PELVIC_TILT)
    expected_reps = [e for e in expected if isinstance(e, RepCounted)]
    expected_warnings = [e for e in expected if isinstance(e, WarningRaised)]
    assert expected_reps and expected_warnings  # the sample exercises both paths

    log = MessageLog()
    feed = open_replay(PELVIC_TILT, speed=None)
    app = make_app(feed)
    async with app.run_test(size=(80, 24), message_hook=log) as pilot:
        screen = await replay_to_end(pilot)

        reps = log.of(messages.RepCounted)
        assert [m.count for m in reps] == [e.rep.index for e in expected_reps]
        assert [round(m.t_s, 3) for m in reps] == [round(e.t_s, 3) for e in expected_reps]
        warnings = [m.warning for m in log.of(messages.SafetyWarning)]
        assert [w.message for w in warnings] == [e.warning.message for e in expected_warnings]

        # The big digits show the reps of the set in progress.
        view = feed.exercise()
        assert screen.query_one("#rep-digits", Digits).value == str(view.reps_done)
        assert view.reps_done == expected_reps[-1].rep.index
        # Newest warning first in the panel.
        panel = screen.query_one(WarningsPanel)
        assert [w.message for w in panel.entries][-1] == expected_warnings[-1].warning.message
        first_line = str(panel.render()).splitlines()[0]
        assert expected_warnings[-1].warning.message[:20] in first_line
        # Every sample of the file went through the feed.
        loaded = open_input(PELVIC_TILT)
        assert screen.samples_received == sum(len(b) for b in loaded.streams.values())
        assert log.of(messages.LinkChanged)[-1].status.state is LinkState.ENDED

        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        summary = app.screen.summary  # type: ignore[attr-defined]
        assert summary.rep_count == len(expected_reps)
        assert len(summary.warnings) == len(expected_warnings)
        table = app.screen.query_one(DataTable)
        row = table.get_row_at(0)
        assert row[0] == "Pelvic tilt"
        assert row[2].startswith(f"{len(expected_reps)}/")

        await pilot.press("c", "j")
        await until(pilot, lambda: len(app.screen.exported) == 2)  # type: ignore[attr-defined]
        csv_file, json_file = sorted(app.screen.exported)  # type: ignore[attr-defined]
        assert csv_file.stat().st_mode & 0o777 == 0o600
        assert len(csv_file.read_text().strip().splitlines()) == 1 + len(expected_reps)
        assert load_summary(json_file.read_text()) == summary


async def test_hold_timer_counts_to_the_prescription_and_cues_play(demo_recording: Path) -> None:
    expected = headless_events(demo_recording, DEMO_PROGRAM.prescriptions()[0])
    completed = [e for e in expected if isinstance(e, HoldComplete)]
    assert completed

    log = MessageLog()
    app = make_app(open_replay(demo_recording, speed=None, target=DEMO_PROGRAM))
    async with app.run_test(size=(80, 24), message_hook=log) as pilot:
        screen = await replay_to_end(pilot)
        progress = log.of(messages.HoldProgress)
        assert progress and all(m.target_s == 5.0 for m in progress)
        assert len(log.of(messages.HoldCompleted)) == len(completed)
        bar = screen.query_one("#hold-bar", ProgressBar)
        assert bar.total == 5.0
        assert bar.progress == pytest.approx(min(progress[-1].held_s, 5.0))
        label = str(screen.query_one("#hold-label", Label).render())
        assert "/5 s" in label
        # Cues were chosen for what happened, even muted (muted means: none played).
        assert app.cues.played == []
        kinds = {m.warning.kind for m in log.of(messages.SafetyWarning)}
        assert {"range_limit", "too_fast"} <= kinds


async def test_disconnect_shows_reconnecting_and_the_summary_marks_the_gap() -> None:
    log = MessageLog()
    app = make_app(open_replay(TRUNK_ROTATION, speed=None))
    async with app.run_test(size=(80, 24), message_hook=log) as pilot:
        await replay_to_end(pilot)
        states = [m.status.state for m in log.of(messages.LinkChanged)]
        assert LinkState.RECONNECTING in states
        assert states.index(LinkState.RECONNECTING) < len(states) - 1  # and streaming again
        kinds = [m.kind for m in log.of(messages.FeedEvent)]
        assert str(EventKind.DISCONNECT) in kinds and str(EventKind.RECONNECT) in kinds
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        gaps = app.screen.summary.gaps  # type: ignore[attr-defined]
        assert len(gaps) == 1
        assert gaps[0].duration_s == pytest.approx(2.0, abs=0.3)
        assert 18.0 < gaps[0].start_s < 22.0


async def test_count_hold_timer_and_warnings_stay_visible_at_80x24() -> None:
    app = make_app(open_replay(PELVIC_TILT, speed=None))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await replay_to_end(pilot)
        for selector in ("#rep-digits", "#hold", "#warnings", "#status"):
            region = screen.query_one(selector).region
            assert region.height > 0 and region.width > 0, selector
            assert region.bottom <= 24 and region.right <= 80, selector
        assert screen.query_one("#warnings").region.height >= 5


async def test_live_keys_mark_calibrate_pause_and_move_through_a_program(
    demo_recording: Path,
) -> None:
    from monitor.analysis.programs import load_program

    program = load_program(
        Path(__file__).parents[2] / "monitor/analysis/data/programs/low_back_starter.toml"
    )
    feed = open_replay(demo_recording, speed=None, target=program)
    feed.playback = None  # no replay controls: the screen is the live one, as for a sensor
    app = make_app(feed)
    log = MessageLog()
    async with app.run_test(size=(120, 40), message_hook=log) as pilot:
        screen = await replay_to_end(pilot)
        first = feed.exercise()
        assert (first.position, first.program_length) == (1, len(program.exercises))
        await pilot.press("n")
        assert feed.exercise().position == 2
        assert feed.exercise().name == program.prescriptions()[1].exercise.name
        await pilot.press("b", "b")  # the second press finds the start of the program
        assert feed.exercise().position == 1
        await pilot.press("m")
        assert feed.events[-1].kind is EventKind.MARKER
        counted = feed.exercise().reps_done
        reps = feed.track.pipeline.rep_count
        assert reps > 0
        await pilot.press("c")
        assert feed.events[-1].kind is EventKind.CALIBRATION
        # calibrating again keeps what was counted on screen and in the summary
        assert feed.exercise().reps_done == counted and feed.track.pipeline.rep_count == reps
        await pilot.press("p")
        assert feed.status().state is LinkState.PAUSED
        await pilot.press("p")
        assert feed.status().state is LinkState.ENDED
        await pilot.press("v")
        assert app.cues.muted is False
        assert type(live_screen(app)) is LiveScreen and screen is app.screen


async def test_replay_controls_pause_speed_and_skip() -> None:
    feed = open_replay(PELVIC_TILT, speed=1.0)
    control = feed.playback
    assert control is not None
    log = MessageLog()
    app = make_app(feed)
    async with app.run_test(size=(80, 24), message_hook=log) as pilot:
        await until(pilot, lambda: control.position_s > 0.3)
        await pilot.press("space")
        assert control.paused
        await pilot.pause(0.3)
        held = control.position_s
        await pilot.pause(0.5)
        assert control.position_s == held  # paused: the replay does not move
        await pilot.press("space")
        await pilot.press("right")  # +10 s, run flat out to get there
        await until(pilot, lambda: control.position_s >= held + 10)
        await pilot.press("4")
        assert control.speed_label == "4x"
        await pilot.press("left", "left")  # back 20 s: start over and catch up
        await until(pilot, lambda: bool(log.of(messages.Restarted)))
        await pilot.press("0")
        assert control.speed_label == "max"
        screen = await replay_to_end(pilot)
        # After starting over, the screen shows the whole session's count once, not twice.
        assert feed.exercise().reps_done == len(
            [e for e in headless_events(PELVIC_TILT) if isinstance(e, RepCounted)]
        )
        assert screen.samples_received >= feed.samples


async def test_cues_sound_for_reps_holds_and_warnings(demo_recording: Path) -> None:
    from monitor.tui.adapt import analysis_messages
    from monitor.tui.app import MonitorApp

    feed = open_replay(demo_recording, speed=None, target=DEMO_PROGRAM)
    app = MonitorApp(translate=analysis_messages, feed=feed)
    rings: list[str] = []
    app.cues._bell = lambda: rings.append("bell")  # count the terminal bells
    asked: list[str] = []
    play = app.cues.play

    def asking(cue, **words):  # type: ignore[no-untyped-def]
        asked.append(cue.name)
        play(cue, **words)

    app.cues.play = asking  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await replay_to_end(pilot)
        # At replay speed cues overlap: a warning may cut a rep's bell short, never the reverse.
        assert {"rep", "hold_complete"} <= set(asked)
        assert set(asked) & {"range_limit", "too_fast"}
        assert set(app.cues.played) <= set(asked) and rings
        await pilot.press("v")
        assert app.cues.muted
