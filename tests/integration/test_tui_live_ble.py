"""The live screen over Bluetooth: the real app (Pilot) -> the live feed -> LiveSession -> the real
bleak client -> BlueZ D-Bus mock -> a fake Polar Verity Sense streaming simulated reps.

What a user sees: the rep count on screen reaches the reps the sensor made, the status line
names the sensor, a lost link shows "reconnecting" and the count carries on once it is back, and
quitting runs the sensor's stop sequence before the summary."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bluez_harness.bus import BlueZMock
from bluez_harness.sensors import sensor_from_session
from textual.widgets import Digits

from monitor.core import EventKind
from monitor.profiles.loader import get_profile
from monitor.session.recording import read_recording
from monitor.sources.ble import LinkPolicy
from monitor.sources.live import SensorRequest
from monitor.sources.motion import IdleSegment, MotionScript, RepsSegment
from monitor.sources.simulate import simulate
from monitor.tui.feed import LinkState
from monitor.tui.live_feed import open_live
from monitor.tui.messages import LinkChanged, RepCounted
from monitor.tui.screens.summary import SummaryScreen
from monitor.tui.widgets import StatusBar
from tests.functional.tui_helpers import MessageLog, live_screen, make_app, until

EXERCISE = "pelvic_tilt"  # prescribed 5 reps a set: all of them fit in the first set
REPS = 5
LOST_AFTER_REP = 2
PROFILE = "polar_verity_sense"  # sensor clock: the motion keeps its timing at any delivery pace
SPEED = 4.0
# The link is lost and back during a still pause after the second rep (9 s to the next rep,
# shorter than a set break), so no rep is cut and all five stay in the first set.
SCRIPT = MotionScript(
    exercise=EXERCISE,
    lead_in_s=3,
    lead_out_s=2,
    segments=[
        RepsSegment(reps=LOST_AFTER_REP, rest_s=2.0, hold_s=0.5),
        IdleSegment(duration_s=7.0, shift_deg=0.0),
        RepsSegment(reps=REPS - LOST_AFTER_REP, rest_s=2.0, hold_s=0.5),
    ],
    link={"latency_ms": 0, "jitter_ms": 0},
)
POLICY = LinkPolicy(
    find_timeout_s=10, reconnect_backoff_s=0.05, max_backoff_s=0.2, give_up_after_s=30
)
TIMEOUT_S = 120.0


def shown_reps(app) -> int:  # type: ignore[no-untyped-def]
    return int(live_screen(app).query_one("#rep-digits", Digits).value)


def status_line(app) -> str:  # type: ignore[no-untyped-def]
    return str(live_screen(app).query_one(StatusBar).render())


async def test_live_screen_counts_reconnects_and_stops_the_sensor(
    bluez: BlueZMock, tmp_path: Path
) -> None:
    profile = get_profile(PROFILE)
    session = simulate(SCRIPT, PROFILE, seed=1)
    assert len(session.truth.reps) == REPS
    sensor, firmware = await sensor_from_session(bluez, 1, profile, session, speed=SPEED)
    record = tmp_path / "live.mrec"
    request = SensorRequest(sensor.address, profile, "back", settings=session.settings)
    feed = open_live([request], target=EXERCISE, record=record, policy=POLICY)
    log = MessageLog()
    app = make_app(feed)
    async with app.run_test(size=(120, 40), message_hook=log) as pilot:
        await until(pilot, lambda: "streaming" in status_line(app), TIMEOUT_S)
        assert sensor.address in status_line(app) and profile.name in status_line(app)

        await until(pilot, lambda: shown_reps(app) >= LOST_AFTER_REP, TIMEOUT_S)
        await sensor.vanish()  # out of range during the pause after the second rep
        await until(pilot, lambda: "reconnecting" in status_line(app), TIMEOUT_S)
        assert shown_reps(app) == LOST_AFTER_REP
        # away while its stream runs on (under load the app's loop can hold the pacing task
        # until the sensor is back, and nothing would be lost)
        await until(pilot, lambda: sensor.dropped > 0, TIMEOUT_S)
        await sensor.start()
        await until(pilot, lambda: "streaming" in status_line(app), TIMEOUT_S)
        await until(pilot, lambda: shown_reps(app) == REPS, TIMEOUT_S)
        await asyncio.wait_for(sensor.wait_stream_done(), TIMEOUT_S)

        told_before_quit = len(firmware.commands)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, SummaryScreen), TIMEOUT_S)

    # The app was told: reps 1-2, link lost, link back, reps 3-5 of the same count.
    told = [
        m.count if isinstance(m, RepCounted) else m.status.state
        for m in log.messages
        if isinstance(m, RepCounted | LinkChanged)
    ]
    lost = told.index(LinkState.RECONNECTING)
    back = told.index(LinkState.STREAMING, lost)
    assert [c for c in told[:lost] if isinstance(c, int)] == list(range(1, LOST_AFTER_REP + 1))
    assert [c for c in told[back:] if isinstance(c, int)] == list(
        range(LOST_AFTER_REP + 1, REPS + 1)
    )
    assert sensor.dropped > 0  # the sensor really was away
    # Quitting ran the profile's stop sequence (each measurement stopped), the last thing the
    # sensor was told.
    stream = profile.stream(session.stream)
    steps = profile.resolve_steps(stream.stop, session.settings, stream.codes)
    stop = [step.data for step in steps if step.data]
    assert stop and firmware.commands[told_before_quit:] == stop
    recorded = read_recording(record)
    assert recorded.header.exercise == EXERCISE  # replay analyses it as that by default
    kinds = [e.event.kind for e in recorded.events]
    assert kinds.index(EventKind.DISCONNECT) < kinds.index(EventKind.RECONNECT)
