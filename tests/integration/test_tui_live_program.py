"""A program session on the live screen over Bluetooth, then its recording replayed and analysed.

The real app (Pilot) -> the live feed -> LiveSession -> the real bleak client -> BlueZ D-Bus mock
-> a fake Polar Verity Sense streaming two segments of simulated reps. Between them the user
presses `n` (and `c`, `m`, `p` `p`): the recording must hold those steps at the time of the last
sample the screen had, `monitor analyze --program` must give each item the reps made during it,
and a replay of the recording must go to the second exercise at the very same time, ending with
the same summary as the live screen.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from bluez_harness.bus import BlueZMock
from bluez_harness.sensors import sensor_from_session
from textual.widgets import Digits

from monitor.analysis.programs import load_program
from monitor.cli import main
from monitor.core import EventKind
from monitor.profiles.loader import get_profile
from monitor.session.program_steps import STEP_KINDS
from monitor.session.recording import read_recording
from monitor.sources.ble import LinkPolicy
from monitor.sources.inputs import open_input
from monitor.sources.live import SensorRequest
from monitor.sources.motion import IdleSegment, MotionScript, RepsSegment
from monitor.sources.simulate import simulate
from monitor.tui.live_feed import open_live
from monitor.tui.messages import FeedEvent
from monitor.tui.replay_feed import open_replay
from monitor.tui.screens.summary import SummaryScreen
from monitor.tui.widgets import ExerciseHeader, StatusBar
from tests.functional.tui_helpers import MessageLog, live_screen, make_app, replay_to_end, until

PROGRAM = """
name = "Knee to chest, one leg then both"

[[exercises]]
exercise = "knee_to_chest_single"
reps = 2
hold_s = 0.5

[[exercises]]
exercise = "knee_to_chest_double"
reps = 2
hold_s = 0.5
"""
FIRST, SECOND = 2, 2
PROFILE = "polar_verity_sense"  # sensor clock: the motion keeps its timing at any delivery pace
SPEED = 4.0
# `n` is pressed once the first item's reps are on screen, during the 12 s idle (3 s at 4x).
SCRIPT = MotionScript(
    exercise="knee_to_chest_single",
    lead_in_s=3,
    lead_out_s=2,
    segments=[
        RepsSegment(reps=FIRST, rest_s=2.0, hold_s=0.5),
        IdleSegment(duration_s=12.0, shift_deg=0.0),
        RepsSegment(reps=SECOND, rest_s=2.0, hold_s=0.5),
    ],
    link={"latency_ms": 0, "jitter_ms": 0},
)
POLICY = LinkPolicy(find_timeout_s=10, reconnect_backoff_s=0.05, max_backoff_s=0.2)
TIMEOUT_S = 120.0


def shown_reps(app) -> int:  # type: ignore[no-untyped-def]
    return int(live_screen(app).query_one("#rep-digits", Digits).value)


def shown(app, widget) -> str:  # type: ignore[no-untyped-def]
    return str(live_screen(app).query_one(widget).render())


async def test_keys_on_the_live_screen_are_recorded_and_replayed_at_their_time(
    bluez: BlueZMock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program_file = tmp_path / "knees.toml"
    program_file.write_text(PROGRAM, encoding="utf-8")
    program = load_program(program_file)
    profile = get_profile(PROFILE)
    session = simulate(SCRIPT, PROFILE, seed=2)
    truth = session.truth.reps
    sensor, _firmware = await sensor_from_session(bluez, 1, profile, session, speed=SPEED)
    record = tmp_path / "live.mrec"
    request = SensorRequest(sensor.address, profile, "back", settings=session.settings)
    feed = open_live([request], target=program, record=record, policy=POLICY)
    app = make_app(feed)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "streaming" in shown(app, StatusBar), TIMEOUT_S)
        await until(pilot, lambda: shown_reps(app) >= FIRST, TIMEOUT_S)
        await pilot.press("n", "c", "m", "p", "p")
        assert "Double knee to chest" in shown(app, ExerciseHeader)
        await until(pilot, lambda: shown_reps(app) == SECOND, TIMEOUT_S)
        await asyncio.wait_for(sensor.wait_stream_done(), TIMEOUT_S)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, SummaryScreen), TIMEOUT_S)
        live_summary = app.screen.summary  # type: ignore[attr-defined]
    assert [e.adherence.reps_done for e in live_summary.exercises] == [FIRST, SECOND]

    # The recording holds the keys, in order, at the last sample the screen had received.
    recorded = read_recording(record)
    assert recorded.header.program == program.id  # the file says what the session was
    told = [e.event for e in recorded.events if e.event.stream == "back"]
    user = [e for e in told if e.kind in STEP_KINDS or e.kind is EventKind.MARKER]
    assert [e.kind for e in user] == [
        EventKind.PROGRAM_ITEM,
        EventKind.CALIBRATION,
        EventKind.MARKER,
        EventKind.PAUSE,
        EventKind.RESUME,
    ]
    assert user[0].data == {"item": 2, "exercise": "knee_to_chest_double"}
    first_sample_ns = int(open_input(record).blocks[0].t_ns[0])
    assert feed.track.session_t0_ns == first_sample_ns  # live and replay: one session clock
    pressed_s = (user[0].t_ns - first_sample_ns) / 1e9
    assert truth[FIRST - 1].start_s < pressed_s < truth[FIRST].start_s  # once rep 2 was counted

    # `monitor analyze --program` gives each item the reps made during it.
    capsys.readouterr()
    args = [str(record), "--program", str(program_file), "--json", "--no-history"]
    assert main(["analyze", *args]) == 0
    items = json.loads(capsys.readouterr().out)["items"]
    assert [item["rep_count"] for item in items] == [FIRST, SECOND]
    for item, reps in zip(items, (truth[:FIRST], truth[FIRST:]), strict=True):
        starts = [rep["start_s"] for rep in item["reps"]]
        assert starts == pytest.approx([rep.start_s for rep in reps], abs=1.0)

    # A replay goes to the second exercise when it reaches the same sample, and ends the same.
    replay = open_replay(record, speed=None, target=program)
    log = MessageLog()
    replay_app = make_app(replay)
    async with replay_app.run_test(size=(120, 40), message_hook=log) as pilot:
        await replay_to_end(pilot)
        assert "Double knee to chest" in shown(replay_app, ExerciseHeader)
        steps = [m for m in log.of(FeedEvent) if m.kind == str(EventKind.PROGRAM_ITEM)]
        assert len(steps) == 1 and "Double knee to chest" in steps[0].message
        assert steps[0].t_s == pytest.approx(pressed_s, abs=0.1)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(replay_app.screen, SummaryScreen))
        replayed = replay_app.screen.summary  # type: ignore[attr-defined]
    assert replay.track.session_t0_ns == first_sample_ns
    assert replayed.exercises == live_summary.exercises
