"""The whole live path through BlueZ: fake sensors built from every bundled profile and the
simulator's byte-exact streams -> bleak -> SensorLink -> decoder -> analysis -> recording."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bluez_harness.bus import BlueZMock
from bluez_harness.collect import Collected
from bluez_harness.peripheral import FakePeripheral
from bluez_harness.sensors import sensor_from_session

from monitor.analysis.results import AnalysisEvent, RepCounted
from monitor.core import EventKind, Notification, NotificationBatch, SampleBlock
from monitor.profiles.loader import load_profiles
from monitor.profiles.model import Profile
from monitor.session.recording import read_recording
from monitor.sources.ble import LinkPolicy
from monitor.sources.live import LiveSession, SensorRequest
from monitor.sources.motion import IdleSegment, MotionScript, RepsSegment
from monitor.sources.simulate import simulate
from monitor.sources.stream import SensorStream

PROFILES = load_profiles(include_user=False)
STEADY_LINK = {"latency_ms": 0, "jitter_ms": 0}
SHORT = MotionScript(
    lead_in_s=0.5, lead_out_s=0.3, segments=[IdleSegment(duration_s=1.0)], link=STEADY_LINK
)
SPEED = 4.0  # the fake sensor plays the simulated session this many times faster
FAST = LinkPolicy(
    find_timeout_s=10, reconnect_backoff_s=0.05, max_backoff_s=0.2, give_up_after_s=15
)


def offline_samples(
    profile: Profile, settings: dict[str, Any], notifications: list[Notification]
) -> SampleBlock:
    """What a SensorStream gives for `notifications` fed one at a time (the reference)."""
    stream = SensorStream(profile, settings)
    batches = [
        NotificationBatch.single(n.characteristic, n.data, n.host_t_ns) for n in notifications
    ]
    blocks, _ = stream.feed(batches)
    return SampleBlock.concat(blocks + stream.flush()[0])


async def run_session(live: LiveSession, *sensors: FakePeripheral) -> None:
    """Run until every sensor has played its stream; a session error is raised at once."""
    stop = asyncio.Event()
    task = asyncio.create_task(live.run(stop))
    streams = asyncio.gather(*(s.wait_stream_done() for s in sensors))
    await asyncio.wait([task, streams], timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        streams.cancel()
        task.result()
        raise AssertionError("the session ended before the sensors finished streaming")
    await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(task, 30)


async def test_scan_cli_lists_sensors_with_matching_profiles(bluez: BlueZMock) -> None:
    witmotion, thingy = PROFILES["witmotion_wt901ble"], PROFILES["nordic_thingy52"]
    first, _ = await sensor_from_session(bluez, 1, witmotion, simulate(SHORT, witmotion.id))
    second, _ = await sensor_from_session(bluez, 2, thingy, simulate(SHORT, thingy.id))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", "scan", "--timeout", "2", "--json",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0
    found = {f["address"]: f for f in json.loads(out)}
    assert found[first.address]["profiles"][0] == "witmotion_wt901ble"
    assert found[second.address]["profiles"][0] == "nordic_thingy52"
    assert found[first.address]["name"] == first.name
    assert found[first.address]["rssi"] < 0


@pytest.mark.parametrize("profile_id", sorted(PROFILES))
async def test_every_profile_connects_starts_and_streams(
    bluez: BlueZMock, profile_id: str, tmp_path: Path
) -> None:
    profile = PROFILES[profile_id]
    session = simulate(SHORT, profile_id, seed=3)
    sensor, firmware = await sensor_from_session(bluez, 1, profile, session, speed=SPEED)
    out = Collected()
    record = tmp_path / "live.mrec"
    live = LiveSession(
        [SensorRequest(sensor.name, profile, "back", settings=session.settings)],
        record=record,
        policy=FAST,
        on_event=out.event,
        on_samples=out.samples,
    )
    await run_session(live, sensor)

    # Every command of the profile's start sequence reached the sensor (and the stop one).
    start_writes = [s.data for s in live.sensors[0].link.start_steps if s.data is not None]
    assert firmware.commands[: len(start_writes)] == start_writes
    assert sensor.dropped == 0
    # The recording holds exactly the bytes the sensor sent, and the link events.
    recording = read_recording(record)
    assert recording.header.streams[0].profile_id == profile_id
    assert recording.header.streams[0].device_address == sensor.address
    kinds = {e.kind for e in out.events}
    assert {EventKind.CONNECT, EventKind.BATTERY} <= kinds
    recorded = [
        (
            int(recording.host_t_ns[i]),
            recording.channels[recording.channel[i]].characteristic,
            recording.data[recording.offsets[i] : recording.offsets[i + 1]],
        )
        for i in range(len(recording))
    ]
    for uuid in {u for u, _ in sensor.sent_log}:  # in order per characteristic
        assert [d for _, u, d in recorded if u == uuid] == [
            d for u, d in sensor.sent_log if u == uuid
        ]
    assert len(recorded) == len(sensor.sent_log)
    # Live samples are what decoding those bytes gives: the simulator's samples on a sensor
    # clock; on a host clock, what replaying the recording gives (arrival times differ).
    live_block = SampleBlock.concat(out.blocks["back"])
    if profile.stream(session.stream).timestamp == "sensor":
        reference = offline_samples(session.profile, session.settings, session.notifications)
    else:
        notifications = [Notification(c, d, t) for t, c, d in recorded]
        reference = offline_samples(session.profile, session.settings, notifications)
    assert len(live_block) == len(reference) > 0
    for channel in ("t_ns", *reference.channels):
        np.testing.assert_array_equal(getattr(live_block, channel), getattr(reference, channel))
    assert [e.event.kind for e in recording.events][:1] == [EventKind.CONNECT]


REPS = 3
EXERCISE = "pelvic_tilt"
COUNTING = MotionScript(
    exercise=EXERCISE,
    lead_in_s=3,
    lead_out_s=1,
    segments=[RepsSegment(reps=REPS, rest_s=0.5, hold_s=0.5)],
    link=STEADY_LINK,
)
COUNT_PROFILE = "polar_verity_sense"  # acc + gyro, delta-compressed, FACTOR, sensor clock
COUNT_SPEED = 4.0  # the sensor clock keeps the motion's timing whatever the delivery pace


class Reps:
    def __init__(self) -> None:
        self.by_stream: dict[str, list[int]] = {}

    def analysis(self, stream: str, event: AnalysisEvent, host_t_ns: int) -> None:
        if isinstance(event, RepCounted):
            self.by_stream.setdefault(stream, []).append(host_t_ns)


async def test_simulated_exercise_counts_right_through_the_live_path(
    bluez: BlueZMock, tmp_path: Path
) -> None:
    profile = PROFILES[COUNT_PROFILE]
    session = simulate(COUNTING, COUNT_PROFILE, seed=1)
    sensor, _ = await sensor_from_session(bluez, 1, profile, session, speed=COUNT_SPEED)
    reps, out = Reps(), Collected()
    live = LiveSession(
        [SensorRequest(sensor.address, profile, "back", settings=session.settings)],
        exercise=EXERCISE,
        record=tmp_path / "s.mrec",
        policy=FAST,
        on_event=out.event,
        on_analysis=reps.analysis,
        quality_interval_s=1.0,
    )
    await run_session(live, sensor)
    assert len(reps.by_stream["back"]) == REPS
    assert live.pipeline("back").rep_count == REPS
    quality = [e for e in out.events if e.kind == EventKind.LINK_QUALITY]
    assert quality, "link quality is reported while streaming"
    assert quality[0].data["nominal_hz"] == live.sensors[0].stream.rate_hz
    assert quality[0].data["battery_percent"] == 87
    recorded = read_recording(tmp_path / "s.mrec")
    assert EventKind.LINK_QUALITY in {e.event.kind for e in recorded.events}


async def test_disconnect_mid_rep_reconnects_and_counting_continues(
    bluez: BlueZMock, tmp_path: Path
) -> None:
    profile = PROFILES[COUNT_PROFILE]
    script = COUNTING.model_copy(update={"segments": [RepsSegment(reps=4, rest_s=0.5, hold_s=0.5)]})
    session = simulate(script, COUNT_PROFILE, seed=1)
    sensor, firmware = await sensor_from_session(bluez, 1, profile, session, speed=COUNT_SPEED)
    reps, out = Reps(), Collected()
    record = tmp_path / "gap.mrec"
    live = LiveSession(
        [SensorRequest(sensor.address, profile, "back", settings=session.settings)],
        exercise=EXERCISE,
        record=record,
        policy=FAST,
        on_event=out.event,
        on_analysis=reps.analysis,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(live.run(stop))
    async with asyncio.timeout(60):
        while len(reps.by_stream.get("back", [])) < 1:  # first rep counted: the second is next
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.4 / COUNT_SPEED)  # into the second rep's movement
    await sensor.vanish()  # out of range for a moment: about a second of motion is lost
    await asyncio.sleep(0.25)
    await sensor.start()
    await asyncio.wait_for(sensor.wait_stream_done(), 60)
    await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(task, 30)

    kinds = out.kinds("back")
    assert kinds.count(EventKind.DISCONNECT) == 1 and kinds.count(EventKind.RECONNECT) == 1
    reconnected_at = next(e.t_ns for e in out.events if e.kind == EventKind.RECONNECT)
    counted = reps.by_stream["back"]
    assert sensor.dropped > 0  # the sensor really was away
    # The same session's count carried on with reps after the gap (the rep the gap cut into
    # may be lost with it).
    assert 2 <= len(counted) <= 4
    assert sum(t > reconnected_at for t in counted) >= 1
    first_command = next(s.data for s in live.sensors[0].link.start_steps if s.data)
    assert firmware.commands.count(first_command) == 2  # the start sequence ran again
    recorded = read_recording(record)
    events = [e.event for e in recorded.events]
    gap = next(e for e in events if e.kind == EventKind.GAP and e.data.get("cause"))
    assert gap.data["cause"] == "disconnect" and gap.data["duration_s"] > 0
    assert [e.kind for e in events].index(EventKind.DISCONNECT) < [e.kind for e in events].index(
        EventKind.RECONNECT
    )
    data_uuids = {uuid for _, uuid, _ in firmware.items}
    received = sum(len(b) for b in recorded.batches("back") if b.characteristic in data_uuids)
    # Only the gap is missing (and at most a frame or two in flight as the link went down).
    assert 0 <= len(firmware.items) - sensor.dropped - received <= 2


async def test_two_sensors_at_once_are_separate_recorded_streams(
    bluez: BlueZMock, tmp_path: Path
) -> None:
    back_profile, thigh_profile = PROFILES["witmotion_wt901ble"], PROFILES["nordic_thingy52"]
    back_session = simulate(SHORT, back_profile.id, seed=4)
    thigh_session = simulate(SHORT, thigh_profile.id, seed=5)
    back, _ = await sensor_from_session(bluez, 1, back_profile, back_session, speed=SPEED)
    thigh, _ = await sensor_from_session(bluez, 2, thigh_profile, thigh_session, speed=SPEED)
    out = Collected()
    record = tmp_path / "two.mrec"
    live = LiveSession(
        [
            SensorRequest(back.name, back_profile, "back", settings=back_session.settings),
            SensorRequest(thigh.address, thigh_profile, "thigh", settings=thigh_session.settings),
        ],
        record=record,
        policy=FAST,
        on_event=out.event,
        on_samples=out.samples,
    )
    await run_session(live, back, thigh)
    for stream, session in (("back", back_session), ("thigh", thigh_session)):
        reference = offline_samples(session.profile, session.settings, session.notifications)
        assert len(SampleBlock.concat(out.blocks[stream])) == len(reference)
        assert EventKind.CONNECT in out.kinds(stream)
    recorded = read_recording(record)
    assert [s.name for s in recorded.header.streams] == ["back", "thigh"]
    assert {s.device_address for s in recorded.header.streams} == {back.address, thigh.address}
    assert recorded.batches("back") and recorded.batches("thigh")


async def test_live_cli_headless_json_and_ctrl_c_runs_the_stop_sequence(
    bluez: BlueZMock, tmp_path: Path
) -> None:
    profile = PROFILES["polar_h10"]
    script = MotionScript(segments=[IdleSegment(duration_s=30)], link=STEADY_LINK)
    sensor, firmware = await sensor_from_session(bluez, 1, profile, simulate(script, profile.id))
    record = tmp_path / "cli.mrec"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", "live", "--device", sensor.name, "--record", str(record),
        "--no-tui", "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(60):
        while sensor.sent < 5:  # recognised from its advertisement, connected, streaming
            await asyncio.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    lines = [json.loads(line) for line in out.decode().splitlines()]
    assert lines[0]["kind"] == "connect" and lines[0]["stream"] == "acc"
    stop_command = next(s.data for s in profile_stop_steps(profile) if s.data)
    assert firmware.commands[-1] == stop_command  # Ctrl-C ran the stop sequence
    recording = read_recording(record)
    assert recording.header.streams[0].profile_id == "polar_h10"
    assert len(recording) >= sensor.sent  # everything received was recorded


def profile_stop_steps(profile: Profile) -> list:
    stream = profile.stream()
    return profile.resolve_steps(stream.stop, stream.settings, stream.codes)
