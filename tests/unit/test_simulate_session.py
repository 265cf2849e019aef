"""The virtual sensor end to end: profile encoding, link faults, recordings, CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monitor import cli
from monitor.core import EventKind, SampleBlock
from monitor.profiles.decoder import ProfileDecoder
from monitor.profiles.loader import load_profiles
from monitor.session.recording import read_recording
from monitor.sources.csv_import import read_csv
from monitor.sources.motion import Disconnect, Link, MotionScript, Noise, RepsSegment
from monitor.sources.replay import replay_all
from monitor.sources.simulate import lost_packets, simulate, write_recording


def main(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """`monitor ARGV` with only the simulate verb loaded (other verbs are not under test)."""
    monkeypatch.setattr(cli, "VERB_MODULES", ["simulate"])
    return cli.main(argv)


PROFILES = sorted(load_profiles(include_user=False))


def simulate_decoder_host_clock(profile_id: str) -> bool:
    return ProfileDecoder(load_profiles(include_user=False)[profile_id]).host_clock


QUIET = Noise(acc_mps2=0, gyro_rads=0, mag_ut=0, gyro_bias_dps=(0, 0, 0))
SHORT = [RepsSegment(reps=2, hold_s=1, rest_s=1)]
# Half a count of the coarsest bundled scale: Polar H10 acc 1 mG, WitMotion gyro 2000/32768
# deg/s, Thingy mag 1/16 uT (PROTOCOLS.md sections 1 to 3).
QUANTUM = {"acc": 9.80665e-3 / 2, "gyro": np.radians(2000 / 32768) / 2, "mag": 1 / 32}


def _decoded_channel(blocks: list[SampleBlock], channel: str) -> tuple[np.ndarray, np.ndarray]:
    parts = [b for b in blocks if getattr(b, channel) is not None]
    return (
        np.concatenate([b.t_ns for b in parts]),
        np.concatenate([getattr(b, channel) for b in parts]),
    )


@pytest.mark.parametrize("profile_id", PROFILES)
def test_decoding_the_stream_gives_back_the_clean_samples(profile_id: str) -> None:
    script = MotionScript(
        exercise="bridge", mounting_deg="random", noise=QUIET, segments=SHORT, lead_in_s=1
    )
    session = simulate(script, profile_id, seed=4)
    result = session.decoder().decode_all(session.notifications)
    assert result.bad_packets == 0
    assert not [e for e in result.events if e.kind == EventKind.GAP]
    host_clock = session.decoder().host_clock
    for clean in session.clean:
        for channel in clean.channels:
            t_ns, values = _decoded_channel(result.blocks, channel)
            expected = getattr(clean, channel)
            assert values.shape == expected.shape, channel
            assert np.max(np.abs(values - expected)) <= QUANTUM[channel] + 1e-6, channel
            lag_ms = (t_ns - clean.t_ns) / 1e6
            if host_clock:  # arrival-based clock: late by the link latency, never early
                assert np.all(np.diff(t_ns) >= 0)
                assert 0 <= np.median(lag_ms) < 100
            else:  # the sensor's own clock comes back to within its 1 ms tick
                assert np.max(np.abs(lag_ms)) <= 1.0


@pytest.mark.parametrize("profile_id", PROFILES)
def test_recording_replays_to_the_clean_samples(profile_id: str, tmp_path: Path) -> None:
    """Through the recording and SensorStream (decode + channel alignment), as the app reads it."""
    script = MotionScript(exercise="pelvic_tilt", noise=QUIET, segments=SHORT)
    session = simulate(script, profile_id, seed=2)
    path = tmp_path / "s.mrec"
    write_recording(session, path)
    replayed = replay_all(path)
    samples = replayed.samples[session.stream]
    assert replayed.bad_packets == {session.stream: 0}
    clean = session.clean[0]  # the channels at the reference rate (a slower mag is resampled)
    assert set(clean.channels) <= set(samples.channels)
    assert abs(len(samples) - len(clean)) <= 2  # the aligner may hold back the last samples
    n = min(len(samples), len(clean))
    for channel in clean.channels:
        expected = getattr(clean, channel)[:n]
        error = np.max(np.abs(getattr(samples, channel)[:n] - expected))
        # acc is the aligner's reference; a channel from its own characteristic (Arduino gyro)
        # has its own arrival clock and is interpolated: off by at most one sample step.
        step = 0.0 if channel == "acc" else np.max(np.abs(np.diff(expected, axis=0)))
        assert error <= QUANTUM[channel] + step + 1e-6, channel


@pytest.mark.parametrize("profile_id", PROFILES)
def test_same_seed_same_bytes(profile_id: str) -> None:
    script = MotionScript(segments=SHORT, link=Link(drop_probability=0.05, drop_burst=2))
    first, again = simulate(script, profile_id, seed=9), simulate(script, profile_id, seed=9)
    assert first.notifications == again.notifications
    other = simulate(script, profile_id, seed=10)
    assert first.notifications != other.notifications


def test_loss_bursts_have_the_scripted_share_and_length() -> None:
    link = Link(drop_probability=0.1, drop_burst=4)
    lost = lost_packets(200_000, link, np.random.default_rng(0))
    assert lost.mean() == pytest.approx(0.1, abs=0.01)
    starts = np.flatnonzero(np.diff(lost.astype(int)) == 1).size
    assert lost.sum() / starts == pytest.approx(4, rel=0.1)


@pytest.mark.parametrize("profile_id", PROFILES)
def test_lost_packets_and_disconnects_surface_as_gaps(profile_id: str) -> None:
    script = MotionScript(
        segments=[RepsSegment(reps=3)],
        link=Link(
            drop_probability=0.1, drop_burst=2, disconnects=[Disconnect(at_s=8, duration_s=2.5)]
        ),
    )
    session = simulate(script, profile_id, seed=1)
    assert session.lost
    assert [e.kind for e in session.events] == [
        EventKind.CONNECT,
        EventKind.DISCONNECT,
        EventKind.RECONNECT,
    ]
    offline = [
        n for n in session.notifications if 8.1e9 < n.host_t_ns - session.host_t0_ns < 10.4e9
    ]
    assert offline == []
    result = session.decoder().decode_all(session.notifications)
    gaps = [e for e in result.events if e.kind == EventKind.GAP]
    assert gaps, "the decoder must report the lost data"
    clean = session.clean[0]
    decoded = sum(len(b) for b in result.blocks if clean.channels[0] in b.channels)
    assert decoded < len(clean)


SENSOR_CLOCKED = [p for p in PROFILES if not simulate_decoder_host_clock(p)]


@pytest.mark.parametrize("profile_id", SENSOR_CLOCKED)
def test_sensor_clock_gaps_match_the_lost_packets_one_to_one(profile_id: str) -> None:
    """With a sensor clock every loss is found where it happened, and nothing else is."""
    script = MotionScript(segments=[RepsSegment(reps=3)], link=Link(drop_probability=0.1))
    session = simulate(script, profile_id, seed=5)
    result = session.decoder().decode_all(session.notifications)
    t0 = session.sensor_t0_ns
    found = [
        ((e.data["from_ns"] - t0) / 1e9, (e.data["to_ns"] - t0) / 1e9)
        for e in result.events
        if e.kind == EventKind.GAP
    ]
    lost = [(e.data["from_s"], e.data["to_s"]) for e in session.lost]
    # A loss in the last second has no later frame to reveal it.
    revealed = [run for run in lost if run[1] < session.plan.duration_s - 1.0]
    assert len(revealed) >= 3

    def overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return a[0] <= b[1] and b[0] <= a[1]

    assert all(any(overlaps(gap, run) for gap in found) for run in revealed)
    assert all(any(overlaps(gap, run) for run in lost) for gap in found)


def test_recording_holds_the_session_and_regenerates_identically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile_id = PROFILES[0]
    args = ["simulate", "--profile", profile_id, "--exercise", "pelvic-tilt", "--reps", "2"]
    args += ["--vary", "1:2:rom=25,label=overdone", "--drop", "0.02", "--seed", "3"]
    first, second = tmp_path / "a.mrec", tmp_path / "b.mrec"
    assert main([*args, "-o", str(first)], monkeypatch) == 0
    assert main([*args, "-o", str(second)], monkeypatch) == 0
    assert first.read_bytes() == second.read_bytes()
    recording = read_recording(first)
    assert recording.header.exercise == "pelvic_tilt"
    assert recording.header.streams[0].profile_id == profile_id
    kinds = [r.event.kind for r in recording.events]
    assert kinds[0] == EventKind.CONNECT
    truth = (tmp_path / "a.mrec.truth.csv").read_text().splitlines()
    assert truth[3] == "t_s,angle_deg,phase,set,rep"
    assert '"label":"overdone"' in truth[2]
    session = simulate(
        MotionScript.model_validate(
            {
                "exercise": "pelvic_tilt",
                "segments": [
                    {"reps": 2, "variations": [{"rep": 2, "rom_deg": 25, "label": "overdone"}]}
                ],
                "link": {"drop_probability": 0.02},
            }
        ),
        profile_id,
        seed=3,
    )
    assert len(recording) == len(session.notifications)
    assert len(truth) - 4 == len(session.truth.t_s)


def test_cli_refuses_to_overwrite_and_explains_bad_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "s.csv"
    base = ["simulate", "--profile", PROFILES[0], "--format", "csv", "--reps", "1", "-o", str(out)]
    assert main(base, monkeypatch) == 0
    header = out.read_text().splitlines()[1]
    assert header.startswith("time_s,acc_x_mps2,acc_y_mps2,acc_z_mps2,gyro_x_rads")
    imported = read_csv(out)  # what other tools' CSVs go through
    measured = simulate(MotionScript(segments=[RepsSegment(reps=1)]), PROFILES[0]).measured[0]
    assert np.allclose(imported.block.acc, measured.acc, atol=1e-6)
    assert np.allclose(imported.block.gyro, measured.gyro, atol=1e-6)
    assert main(base, monkeypatch) == 2
    assert "exists" in capsys.readouterr().err
    assert main([*base, "--force", "--mounting", "1,2"], monkeypatch) == 2
    assert "--mounting '1,2': expected 3" in capsys.readouterr().err
    assert main([*base, "--force", "--exercise", "moonwalk"], monkeypatch) == 2
    assert "unknown exercise" in capsys.readouterr().err
    assert main([*base, "--force", "--vary", "1:4:rom=90"], monkeypatch) == 2
    assert (
        "variation of set 1 rep 4: the segment has 1 set(s) of 1 rep(s)" in capsys.readouterr().err
    )
    assert main([*base, "--force", "--disconnect", "10"], monkeypatch) == 2
    assert "expected AT:DURATION" in capsys.readouterr().err
    assert main([*base, "--force", "--slip", "3:0,20"], monkeypatch) == 2
    assert "--slip '0,20': expected 3" in capsys.readouterr().err
    assert main([*base, "--force", "--slip", "3:0,20,0"], monkeypatch) == 0
    slips = (tmp_path / "s.csv.truth.csv").read_text().splitlines()[3]
    assert slips == '# slips: [{"at_s":3.0,"rotation_deg":[0.0,20.0,0.0],"duration_s":0.4}]'
