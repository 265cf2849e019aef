"""Sensor faults end to end through BlueZ (real bleak client, BlueZoo, fake sensors playing the
simulator's byte-exact sessions): a disconnect storm, duplicated and reordered notifications,
a second sensor vanishing for good. The session goes on, the gaps are recorded, the times handed
to the analysis never run backwards, and the reps counted match the simulator's truth: none
invented, none lost except where the data itself had a hole."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from bluez_harness.bus import BlueZMock
from bluez_harness.collect import Collected
from bluez_harness.sensors import sensor_from_session

from monitor.core import EventKind, SampleBlock
from monitor.profiles.loader import load_profiles
from monitor.profiles.model import Profile
from monitor.session.recording import read_recording
from monitor.session.summary import data_gaps
from monitor.sources.ble import LinkPolicy
from monitor.sources.live import LiveSession, SensorRequest
from monitor.sources.motion import MotionScript, RepsSegment
from monitor.sources.replay import replay_all
from monitor.sources.simulate import SimulatedSession, score_reps, simulate

PROFILES = load_profiles(include_user=False)
EXERCISE = "pelvic_tilt"
SPEED = 4.0  # the fake sensors play the sessions this many times faster (sensor clocks do not)
STORM = 10
WAIT_S = 60.0  # generous: the machine running the suite may be saturated


def reps_session(profile_id: str, reps: int, seed: int, **link: float) -> SimulatedSession:
    script = MotionScript(
        exercise=EXERCISE,
        lead_in_s=3,
        lead_out_s=1,
        segments=[RepsSegment(reps=reps, hold_s=1, rest_s=1)],
        link={"latency_ms": 0, "jitter_ms": 0, **link},
    )
    return simulate(script, profile_id, seed=seed)


def policy(give_up_after_s: float = 20.0) -> LinkPolicy:
    return LinkPolicy(
        find_timeout_s=10,
        reconnect_backoff_s=0.05,
        max_backoff_s=0.2,
        give_up_after_s=give_up_after_s,
    )


async def until(condition, timeout_s: float = WAIT_S) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def streaming(live: LiveSession) -> AsyncIterator[asyncio.Task[None]]:
    """Run the session; on the way out stop it and wait for it to end cleanly (when the test
    fails inside, cancel it: no session keeps running into the mock's teardown)."""
    stop = asyncio.Event()
    task = asyncio.create_task(live.run(stop))
    try:
        yield task
    except BaseException:
        task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, 10)
        raise
    await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(task, WAIT_S)  # raises the session's error, if it had one


def assert_reps_hold(live: LiveSession, session: SimulatedSession, samples: SampleBlock) -> int:
    """Counted reps against the truth, reps touched by a hole in the samples excused."""
    pipeline = live.pipeline("back")
    assert pipeline is not None and pipeline.t0_ns is not None
    origin_s = (pipeline.t0_ns - session.sensor_t0_ns) / 1e9
    counted = [(r.start_s + origin_s, r.end_s + origin_s) for r in pipeline.summary().reps]
    first_s = (int(samples.t_ns[0]) - session.sensor_t0_ns) / 1e9
    holes = [
        (first_s + g.start_s - 1.0, first_s + g.start_s + g.duration_s + 1.0)
        for g in data_gaps(samples.t_ns, [], min_gap_s=0.1)
    ]
    score = score_reps(session, counted, windows=holes)
    assert score.invented == [], f"reps counted where nothing happened: {score.invented}"
    assert score.missed_unexposed == [], f"reps lost without a hole in the data: {score.missed}"
    return score.matched


def assert_replay_is_live(record: Path, samples: SampleBlock) -> None:
    replayed = replay_all(record).samples["back"]
    np.testing.assert_array_equal(replayed.t_ns, samples.t_ns)


async def test_disconnect_storm_session_goes_on_and_counts_hold(
    bluez: BlueZMock, tmp_path: Path
) -> None:
    profile = PROFILES["polar_verity_sense"]  # sensor clock: times survive the reconnects
    session = reps_session(profile.id, reps=10, seed=1)
    sensor, firmware = await sensor_from_session(bluez, 1, profile, session, speed=SPEED)
    out, record = Collected(), tmp_path / "storm.mrec"
    live = one_sensor_session(sensor.address, profile, session, record, out)
    link = live.sensors[0].link
    async with streaming(live):  # no error: the session goes on through the storm
        await until(lambda: sensor.sent >= 10)
        for dropped in range(STORM):
            await until(
                lambda k=dropped: out.count(EventKind.RECONNECT) == k and link.connected.is_set()
            )
            await asyncio.sleep(0.2)
            if dropped % 2:
                await sensor.drop_link()  # the link drops; back at once
            else:
                await sensor.vanish()  # out of range for a moment: frames are lost
                await asyncio.sleep(0.3)
                await sensor.start()
        await until(lambda: out.count(EventKind.RECONNECT) == STORM)
        await asyncio.wait_for(sensor.wait_stream_done(), WAIT_S)

    start = next(s.data for s in link.start_steps if s.data)
    assert firmware.commands.count(start) == STORM + 1
    events = [e.event for e in read_recording(record).events]
    kinds = [e.kind for e in events]
    assert kinds.count(EventKind.DISCONNECT) == kinds.count(EventKind.RECONNECT) == STORM
    link_gaps = [e for e in events if e.kind == EventKind.GAP and e.data.get("cause")]
    assert sum(e.data["cause"] == "disconnect" for e in link_gaps) == STORM
    assert sum(e.data["cause"] == "reconnect" for e in link_gaps) >= STORM // 2
    samples = out.block()
    assert (np.diff(samples.t_ns) > 0).all()
    # Every hole in the samples is shown with its reason (a reconnect quick enough to miss no
    # frame leaves none).
    gaps = data_gaps(samples.t_ns, out.events, min_gap_s=0.1)
    assert len(gaps) >= STORM // 2 and all("across a reconnect" in g.reason for g in gaps)
    assert assert_reps_hold(live, session, samples) >= 10 - STORM // 2
    assert_replay_is_live(record, samples)


@pytest.mark.parametrize("profile_id", ["polar_verity_sense", "movesense"])
async def test_duplicated_and_reordered_notifications(
    bluez: BlueZMock, tmp_path: Path, profile_id: str
) -> None:
    profile = PROFILES[profile_id]
    faults = {"duplicate_probability": 0.08, "reorder_probability": 0.08}
    session = reps_session(profile_id, reps=4, seed=2, **faults)
    assert session.faults["duplicated"] > 0 and session.faults["reordered"] > 0
    sensor, _ = await sensor_from_session(bluez, 1, profile, session, speed=SPEED)
    out, record = Collected(), tmp_path / "dup.mrec"
    live = one_sensor_session(sensor.address, profile, session, record, out)
    async with streaming(live):
        await asyncio.wait_for(sensor.wait_stream_done(), WAIT_S)

    assert sensor.dropped == 0
    sent = [data for _, data in sensor.sent_log]
    assert any(a == b for a, b in itertools.pairwise(sent))  # duplicates went out
    samples = out.block()
    assert (np.diff(samples.t_ns) > 0).all()
    # Repeated and swapped frames were found: dropped as late samples (Polar), or broken message
    # pairs counted as bad packets (Movesense sends each message in two parts).
    late = sum(e.data.get("late_samples", 0) for e in out.events)
    assert late + out.count(EventKind.BAD_PACKET) > 0
    assert_reps_hold(live, session, samples)
    assert_replay_is_live(record, samples)


async def test_second_sensor_vanishing_for_good_leaves_the_session_running(
    bluez: BlueZMock, tmp_path: Path
) -> None:
    back_profile, thigh_profile = PROFILES["polar_verity_sense"], PROFILES["witmotion_wt901ble"]
    back_session = reps_session(back_profile.id, reps=4, seed=3)
    thigh_session = reps_session(thigh_profile.id, reps=4, seed=4)
    back, _ = await sensor_from_session(bluez, 1, back_profile, back_session, speed=SPEED)
    thigh, _ = await sensor_from_session(bluez, 2, thigh_profile, thigh_session, speed=SPEED)
    out, record = Collected(), tmp_path / "two.mrec"
    live = LiveSession(
        [
            SensorRequest(back.address, back_profile, "back", settings=back_session.settings),
            SensorRequest(thigh.address, thigh_profile, "thigh", settings=thigh_session.settings),
        ],
        exercise=EXERCISE,
        record=record,
        policy=policy(give_up_after_s=1.0),
        on_event=out.event,
        on_samples=out.samples,
        quality_interval_s=0.5,
    )
    async with streaming(live) as task:
        await until(lambda: thigh.sent >= 20 and back.sent >= 5)
        await thigh.vanish()  # battery out: it never comes back
        await until(lambda: any(e.data.get("gave_up") for e in out.events))
        assert not task.done()  # the back sensor still streams
        await asyncio.wait_for(back.wait_stream_done(), WAIT_S)

    gave_up = next(e for e in out.events if e.data.get("gave_up"))
    assert gave_up.stream == "thigh" and "the session goes on with back" in gave_up.message
    assert out.count(EventKind.DISCONNECT, "back") == 0
    recorded = [e.event for e in read_recording(record).events]
    assert any(e.data.get("gave_up") and e.stream == "thigh" for e in recorded)
    samples = out.block("back")
    assert (np.diff(samples.t_ns) > 0).all()
    assert_reps_hold(live, back_session, samples)
    assert len(out.block("thigh")) > 0  # what the thigh sent before it vanished is kept
    assert_replay_is_live(record, samples)


def one_sensor_session(
    address: str, profile: Profile, session: SimulatedSession, record: Path, out: Collected
) -> LiveSession:
    """A live session with one sensor, "back", recorded and collected."""
    return LiveSession(
        [SensorRequest(address, profile, "back", settings=session.settings)],
        exercise=EXERCISE,
        record=record,
        policy=policy(),
        on_event=out.event,
        on_samples=out.samples,
    )
