"""Replay: the live decode path on recordings, deterministic at every speed and window."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import numpy as np
import pytest

from monitor import cli
from monitor.core import EventKind, NotificationBatch, SampleBlock
from monitor.profiles.loader import load_profiles
from monitor.session.recording import read_recording
from monitor.sources.motion import Disconnect, Link, MotionScript, RepsSegment
from monitor.sources.replay import Replayer, replay, replay_all
from monitor.sources.simulate import simulate, write_recording
from monitor.sources.stream import SensorStream, stream_channels

PROFILES = sorted(load_profiles(include_user=False))
SCRIPT = MotionScript(
    segments=[RepsSegment(reps=2, hold_s=1, rest_s=1)],
    link=Link(
        drop_probability=0.02, drop_burst=3, disconnects=[Disconnect(at_s=5, duration_s=1.5)]
    ),
)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, object]]:
    folder = tmp_path_factory.mktemp("recordings")
    out = {}
    for profile_id in PROFILES:
        session = simulate(SCRIPT, profile_id, seed=5)
        path = folder / f"{profile_id}.mrec"
        write_recording(session, path)
        out[profile_id] = (path, session)
    return out


def same_samples(a: SampleBlock, b: SampleBlock) -> bool:
    return a.channels == b.channels and all(
        np.array_equal(getattr(a, c), getattr(b, c)) for c in ("t_ns", *a.channels)
    )


def gather(steps) -> dict[str, SampleBlock]:
    per_stream: dict[str, list[SampleBlock]] = {}
    for step in steps:
        for block in step.blocks:
            per_stream.setdefault(block.stream, []).append(block)
    return {name: SampleBlock.concat(blocks) for name, blocks in per_stream.items()}


@pytest.mark.parametrize("profile_id", PROFILES)
def test_replay_gives_the_same_samples_whatever_the_window_or_speed(recordings, profile_id):
    path, session = recordings[profile_id]
    bulk = replay_all(path)
    again = replay_all(path)
    name = session.stream
    samples = bulk.samples[name]
    assert len(samples) > 100
    assert same_samples(samples, again.samples[name])
    assert [e.to_json() for e in bulk.events] == [e.to_json() for e in again.events]
    recording = read_recording(path)
    for window_ns in (10_000_000, 100_000_000, 3_000_000_000):
        stepped = gather(Replayer(recording, window_ns=window_ns).steps())[name]
        assert same_samples(stepped, samples), window_ns

    async def paced() -> dict[str, SampleBlock]:
        return gather([step async for step in replay(recording, speed=None)])

    assert same_samples(asyncio.run(paced())[name], samples)


@pytest.mark.parametrize("profile_id", PROFILES)
def test_replayed_samples_are_the_decoders_aligned(recordings, profile_id):
    path, session = recordings[profile_id]
    result = replay_all(path)
    samples = result.samples[session.stream]
    assert samples.channels == stream_channels(session.profile, session.settings)
    assert np.all(np.diff(samples.t_ns) >= 0)  # host clocks may repeat a time, never go back
    # the reference channel comes through untouched: every replayed acc sample is one the
    # decoder produced from the same bytes (reset at the reconnect, as live)
    reconnect = next(e.t_ns for e in session.events if e.kind == EventKind.RECONNECT)
    decoder = session.decoder()
    reference = []
    for connected in (
        [n for n in session.notifications if n.host_t_ns < reconnect],
        [n for n in session.notifications if n.host_t_ns >= reconnect],
    ):
        decoder.reset()
        for characteristic in dict.fromkeys(n.characteristic for n in connected):
            mine = [n for n in connected if n.characteristic == characteristic]
            batch = NotificationBatch.from_payloads(
                characteristic, [n.data for n in mine], [n.host_t_ns for n in mine]
            )
            reference += [b for b in decoder.feed(batch).blocks if b.acc is not None]
    acc_t = np.concatenate([b.t_ns for b in reference])
    rows = {
        (t, *a) for b in reference for t, a in zip(b.t_ns.tolist(), b.acc.tolist(), strict=True)
    }
    replayed = zip(samples.t_ns.tolist(), samples.acc.tolist(), strict=True)
    assert all((t, *a) in rows for t, a in replayed)
    # most samples survive alignment; the simulated gyro is close to the clean truth
    assert len(samples) > 0.9 * len(acc_t)
    kinds = [e.kind for e in result.events]
    assert kinds.count(EventKind.RECONNECT) == 1
    # a multi-part frame cut by the disconnect may be the one undecodable packet, reported once
    bad = kinds.count(EventKind.BAD_PACKET)
    assert result.bad_packets == {session.stream: bad} and bad <= 1


def test_paced_replay_follows_the_recording_clock(recordings):
    path, _ = recordings[PROFILES[0]]
    recording = read_recording(path)
    span_s = (recording.host_t_ns[-1] - recording.host_t_ns[0]) / 1e9
    speed = span_s / 0.4  # the whole recording in about 0.4 s

    async def run() -> float:
        started = time.monotonic()
        async for _ in replay(recording, speed=speed):
            pass
        return time.monotonic() - started

    elapsed = asyncio.run(run())
    assert 0.35 <= elapsed < 5.0


def test_reconnect_resets_the_stream(recordings, monkeypatch):
    path, session = recordings[PROFILES[0]]
    resets = []
    original = SensorStream.reset

    def spy(self):
        resets.append(self.name)
        return original(self)

    monkeypatch.setattr(SensorStream, "reset", spy)
    replay_all(path)
    assert resets == [session.stream]


def run_cli(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(cli, "VERB_MODULES", ["replay"])
    return cli.main(argv)


def test_cli_prints_events_and_summary(recordings, monkeypatch, capsys):
    path, session = recordings[PROFILES[0]]
    assert run_cli(["replay", str(path), "--no-tui", "--speed", "max"], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "reconnect" in out
    samples = len(replay_all(path).samples[session.stream])
    assert f"{session.stream}: {samples} samples (" in out

    assert run_cli(["replay", str(path), "--no-tui", "--speed", "max", "--json"], monkeypatch) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sum(r["n"] for r in records if r["type"] == "samples") == samples
    summary = [r for r in records if r["type"] == "summary"]
    assert summary[0]["samples"] == samples and summary[0]["stream"] == session.stream
    assert any(r["type"] == "event" and r["kind"] == "reconnect" for r in records)


def test_cli_bad_file_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.mrec"
    bad.write_bytes(b"not a recording at all")
    assert run_cli(["replay", str(bad), "--no-tui"], monkeypatch) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not a monitor recording" in err
    with pytest.raises(SystemExit):
        run_cli(["replay", str(bad), "--speed", "0"], monkeypatch)


def test_cli_warns_about_a_torn_recording(recordings, tmp_path, monkeypatch, capsys):
    path, _ = recordings[PROFILES[0]]
    cut = tmp_path / "cut.mrec"
    cut.write_bytes(path.read_bytes()[:-7])
    assert run_cli(["replay", str(cut), "--no-tui", "--speed", "max"], monkeypatch) == 0
    assert "warning: " in capsys.readouterr().out


@pytest.mark.parametrize(
    ("profile_id", "settings", "channels"),
    [
        ("polar_h10", None, ("acc",)),  # the H10 has no gyroscope
        ("witmotion_wt901ble", None, ("acc", "gyro")),
        ("arduino_nano33_ble_sense", None, ("acc", "gyro", "mag")),
        ("movesense", {"measurement": "IMU6"}, ("acc", "gyro")),
        ("movesense", {"measurement": "IMU9"}, ("acc", "gyro", "mag")),
    ],
)
def test_stream_channels_follow_the_profile_and_its_settings(profile_id, settings, channels):
    profile = load_profiles(include_user=False)[profile_id]
    assert stream_channels(profile, settings) == channels
    stream = SensorStream(profile, settings, name="back")
    assert stream.channels == channels and stream.aligner.channels == channels
