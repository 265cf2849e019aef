"""Sensor faults on the virtual sensor: duplicated, reordered and lost notifications, disconnect
storms, clock jumps and resets. The session's samples must stay usable: times never run
backwards, gaps are recorded as events and found by the summary, and the reps counted match the
simulator's ground truth (none invented, none lost that no fault touched)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from monitor import cli
from monitor.analysis.pipeline import AnalysisPipeline
from monitor.core import EventKind, NotificationBatch, SampleBlock
from monitor.profiles.loader import load_profiles
from monitor.profiles.timing import HostClock, SessionTimeline
from monitor.session.recording import read_recording
from monitor.session.summary import data_gaps
from monitor.sources.motion import MotionScript
from monitor.sources.replay import Replayer, concat_blocks, replay_all
from monitor.sources.simulate import SimulatedSession, score_reps, simulate, write_recording
from monitor.sources.stream import SensorStream, stream_channels

PROFILES = load_profiles(include_user=False)
ANALYSED = sorted(p.id for p in PROFILES.values() if "gyro" in stream_channels(p))
SENSOR_CLOCKED = [p for p in ANALYSED if PROFILES[p].stream().timestamp == "sensor"]
EXERCISE = "pelvic_tilt"
STORM = [{"at_s": 8 + 3 * k, "duration_s": 0.5} for k in range(10)]  # 10 drops in 30 s
SECOND = 1_000_000_000


def script(**link: object) -> MotionScript:
    return MotionScript.model_validate(
        {
            "exercise": EXERCISE,
            "segments": [{"sets": 1, "reps": 6, "hold_s": 2, "rest_s": 2}],
            "link": link,
        }
    )


def analyse(session: SimulatedSession, path: Path) -> tuple[SampleBlock, list, list]:
    """Record, replay and analyse the session; (samples, events, counted reps in session s)."""
    write_recording(session, path)
    result = replay_all(path)
    block = result.samples[session.stream]
    pipeline = AnalysisPipeline(EXERCISE, rate_hz=result.rates_hz[session.stream])
    pipeline.process(block)
    origin_s = (pipeline.t0_ns - session.sensor_t0_ns) / 1e9
    counted = [(r.start_s + origin_s, r.end_s + origin_s) for r in pipeline.summary().reps]
    return block, result.events, counted


def assert_time_moves_on(session: SimulatedSession, samples: SampleBlock) -> None:
    """Never backwards; strictly forwards on a sensor clock (repeats are dropped there; a host
    clock can give two samples the same time when arrivals bunch up)."""
    steps = np.diff(samples.t_ns)
    assert (steps > 0).all() if not session.decoder().host_clock else (steps >= 0).all()


def assert_counts_hold(session: SimulatedSession, counted: list) -> None:
    score = score_reps(session, counted)
    assert score.invented == [], f"reps counted where nothing happened: {score.invented}"
    assert score.missed_unexposed == [], f"reps lost that no fault touched: {score.missed}"
    assert score.matched >= score.truth - len(score.exposed)


# --------------------------------------------------------------------------- the simulator


def test_simulator_duplicates_and_reorders_notifications_as_counted() -> None:
    clean = simulate(script(), "witmotion_wt901ble", seed=2)
    faulty = simulate(
        script(duplicate_probability=0.05, reorder_probability=0.05), "witmotion_wt901ble", seed=2
    )
    data = [n.data for n in clean.notifications]
    received = [n.data for n in faulty.notifications]
    twice = sum(a == b for a, b in itertools.pairwise(received))
    assert faulty.faults["duplicated"] == len(received) - len(data) > 0.03 * len(data)
    assert twice >= faulty.faults["duplicated"]
    assert sorted(set(received)) == sorted(set(data))  # the same packets, no new ones
    deduplicated = [d for i, d in enumerate(received) if i == 0 or d != received[i - 1]]
    moved = sum(a != b for a, b in zip(deduplicated, data, strict=False))
    assert moved >= 2 * faulty.faults["reordered"] > 0.03 * len(data)
    # arrival times stay in order: the swapped notifications took each other's slot
    stamps = [n.host_t_ns for n in faulty.notifications]
    assert stamps == sorted(stamps)


@pytest.mark.parametrize(
    ("profile_id", "jump", "expected_s"),
    [
        ("movesense", {"at_s": 10, "by_s": 3600}, 3600),
        ("movesense", {"at_s": 10, "reset": True}, None),
        ("witmotion_wt901ble", {"at_s": 10, "by_s": -30}, -30),
    ],
)
def test_simulator_clock_jumps_step_the_right_clock(profile_id, jump, expected_s) -> None:
    session = simulate(script(clock_jumps=[jump]), profile_id, seed=1)
    if session.decoder().host_clock:  # the host's clock stamps the arrivals
        times = np.array([n.host_t_ns for n in session.notifications])
        assert np.diff(times).min() == pytest.approx(expected_s * SECOND, abs=0.1 * SECOND)
        return
    blocks = session.decoder().decode_all(session.notifications).blocks
    t = np.concatenate([b.t_ns for b in blocks if b.acc is not None])
    steps = np.diff(t)
    seam = int(np.argmax(np.abs(steps)))
    if expected_s is None:  # restarted from zero at 10 s
        assert t[seam + 1] < 0.2 * SECOND
        assert (t[seam] - session.sensor_t0_ns) / SECOND == pytest.approx(10, abs=0.5)
    else:
        assert steps[seam] == pytest.approx(expected_s * SECOND, abs=0.5 * SECOND)


def test_simulate_cli_takes_fault_flags_and_reports_them(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(cli, "VERB_MODULES", ["simulate"])
    out = tmp_path / "f.mrec"
    argv = ["simulate", "--profile", "movesense", "--reps", "2", "--duplicate", "0.05"]
    argv += ["--reorder", "0.05", "--clock-jump", "12:3600", "--clock-reset", "20", "-o", str(out)]
    assert cli.main(argv) == 0
    line = capsys.readouterr().out
    assert "duplicated" in line and "reordered" in line and "2 clock jumps" in line
    assert len(read_recording(out)) > 100
    assert cli.main([*argv[:-2], "--clock-jump", "soon", "-o", str(tmp_path / "g.mrec")]) == 2
    assert capsys.readouterr().err.strip() == (
        "monitor: error: --clock-jump 'soon': expected AT:BY in seconds"
    )


# --------------------------------------------------------------------------- the timeline


def block(t_s: list[float], channel: str = "acc") -> SampleBlock:
    t = np.round(np.asarray(t_s) * SECOND).astype(np.int64)
    return SampleBlock(t_ns=t, **{channel: np.zeros((len(t), 3))})


def timeline() -> SessionTimeline:
    return SessionTimeline({"acc": 10.0, "gyro": 10.0}, sensor_clock=True, stream="back")


def test_repeated_and_late_samples_are_dropped_and_counted() -> None:
    line = timeline()
    line.place(block([1.0, 1.1, 1.2, 1.3]), 1 * SECOND, 1 * SECOND)
    again, events = line.place(block([1.2, 1.3, 1.4, 1.5]), 2 * SECOND, 2 * SECOND)
    np.testing.assert_array_equal(again.t_ns, [1_400_000_000, 1_500_000_000])
    assert [e.data["late_samples"] for e in events] == [2]
    assert line.late_samples == 2


def test_a_clock_reset_is_placed_after_the_time_the_host_saw_pass() -> None:
    line = timeline()
    line.place(block([500.0, 500.1, 500.2]), 100 * SECOND, 100 * SECOND)
    placed, events = line.place(block([0.0, 0.1, 0.2]), 103 * SECOND, 103 * SECOND)
    np.testing.assert_array_equal(placed.t_ns - placed.t_ns[0], [0, 100_000_000, 200_000_000])
    assert placed.t_ns[0] == 503_200_000_000  # 3 s after the last sample, as the host saw
    (reset,) = events
    assert reset.kind == EventKind.CLOCK_RESET and reset.data["clock_step_ns"] == -500.2 * SECOND


def test_a_forward_jump_is_a_seam_but_a_real_gap_is_kept() -> None:
    line = timeline()
    line.place(block([10.0, 10.1]), 10 * SECOND, 10 * SECOND)
    gap, events = line.place(block([15.0, 15.1]), 15 * SECOND, 15 * SECOND)
    assert events == [] and gap.t_ns[0] == 15 * SECOND  # the host saw 5 s pass too
    jumped, events = line.place(block([3615.2, 3615.3]), 15 * SECOND, 15 * SECOND)
    assert [e.kind for e in events] == [EventKind.CLOCK_RESET]
    assert jumped.t_ns[0] == 15_200_000_000  # one period on: nothing was missing


def test_every_channel_group_takes_the_offset_the_first_one_found() -> None:
    line = timeline()
    line.place(block([100.0, 100.1]), 5 * SECOND, 5 * SECOND)
    line.place(block([100.0, 100.1], "gyro"), 5 * SECOND, 5 * SECOND)
    acc, acc_events = line.place(block([0.0, 0.1]), 6 * SECOND, 6 * SECOND)
    gyro, gyro_events = line.place(block([0.0, 0.1], "gyro"), 6 * SECOND, 6 * SECOND)
    np.testing.assert_array_equal(acc.t_ns, gyro.t_ns)
    assert len(acc_events) == 1 and gyro_events == []


def test_host_clocked_times_only_move_on() -> None:
    line = SessionTimeline({"acc": 10.0}, sensor_clock=False)
    line.place(block([50.0, 50.1]), 50 * SECOND, 50 * SECOND)
    later, events = line.place(block([3650.0]), 3650 * SECOND, 3650 * SECOND)
    assert events == [] and later.t_ns[0] == 3650 * SECOND  # the host's gap is its own
    back, events = line.place(block([20.0, 20.1]), 20 * SECOND, 20 * SECOND)
    assert back.t_ns[0] == 3650.1 * SECOND and len(events) == 1


def test_host_clock_set_back_keeps_a_steady_clock() -> None:
    arrival = 5 * SECOND + np.arange(400) * 10_000_000
    arrival[200:] -= 3600 * SECOND  # the wall clock was set back an hour
    clock = HostClock(100.0)
    first, _ = clock.stamp(arrival[:150])
    second, gaps = clock.stamp(arrival[150:])
    t = np.concatenate([first, second])
    np.testing.assert_array_equal(np.diff(t), np.full(399, 10_000_000))
    assert gaps == []


# --------------------------------------------------------------------------- whole sessions

FAULTS = {
    "storm": {"disconnects": STORM},
    "duplicated+reordered": {"duplicate_probability": 0.05, "reorder_probability": 0.05},
    "burst drops": {"drop_probability": 0.05, "drop_burst": 8},
}


@pytest.mark.parametrize("profile_id", ANALYSED)
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_link_faults_keep_counts_and_time_in_order(profile_id, fault, tmp_path) -> None:
    session = simulate(script(**FAULTS[fault]), profile_id, seed=3)
    samples, events, counted = analyse(session, tmp_path / "s.mrec")
    assert_time_moves_on(session, samples)
    assert_counts_hold(session, counted)
    kinds = [e.kind for e in events]
    if fault == "storm":
        assert kinds.count(EventKind.DISCONNECT) == kinds.count(EventKind.RECONNECT) == 10
        gaps = data_gaps(samples.t_ns, events)
        assert len(gaps) == 10
        assert all("across a reconnect" in g.reason and g.duration_s >= 0.5 for g in gaps)
        reconnect_gaps = [e for e in events if e.data.get("cause") == "reconnect"]
        assert len(reconnect_gaps) == 10
    elif fault == "burst drops":
        assert EventKind.GAP in kinds
    else:  # a repeated or swapped frame is no clock reset
        assert EventKind.CLOCK_RESET not in kinds


@pytest.mark.parametrize("profile_id", SENSOR_CLOCKED)
@pytest.mark.parametrize(
    "jump",
    [{"at_s": 21.3, "reset": True}, {"at_s": 21.3, "by_s": 3600}, {"at_s": 21.3, "by_s": -40}],
)
def test_sensor_clock_jumps_leave_one_steady_timeline(profile_id, jump, tmp_path) -> None:
    session = simulate(script(clock_jumps=[jump]), profile_id, seed=4)
    samples, events, counted = analyse(session, tmp_path / "s.mrec")
    assert_time_moves_on(session, samples)
    # the session lasts as long as it did: no hour-long hole, no overlap
    span_s = (samples.t_ns[-1] - samples.t_ns[0]) / SECOND
    assert span_s == pytest.approx(session.plan.duration_s, abs=1.5)
    seams = [e for e in events if e.data.get("source") == "timeline"]
    assert [e.kind for e in seams] == [EventKind.CLOCK_RESET]
    assert_counts_hold(session, counted)


def test_everything_at_once_on_a_sensor_clock_replays_the_same_in_any_pieces(tmp_path) -> None:
    faults = {
        "drop_probability": 0.03,
        "drop_burst": 4,
        "duplicate_probability": 0.03,
        "reorder_probability": 0.03,
        "disconnects": STORM,
        "clock_jumps": [{"at_s": 40.2, "reset": True}],
    }
    session = simulate(script(**faults), "polar_verity_sense", seed=5)
    samples, events, counted = analyse(session, tmp_path / "s.mrec")
    assert_time_moves_on(session, samples)
    assert_counts_hold(session, counted)
    assert sum(e.data.get("late_samples", 0) for e in events) > 0
    paced = Replayer(read_recording(tmp_path / "s.mrec"), window_ns=SECOND // 10)
    pieces = [b for step in paced.steps() for b in step.blocks]
    np.testing.assert_array_equal(concat_blocks(pieces, session.stream).t_ns, samples.t_ns)


def test_live_batches_of_any_size_give_the_same_samples() -> None:
    """Live hands the stream whatever arrived since the last wake-up; duplicates and a reset
    included, the samples are those of one whole-session decode."""
    faults = {"duplicate_probability": 0.05, "clock_jumps": [{"at_s": 15, "reset": True}]}
    session = simulate(script(**faults), "movesense", seed=6)
    notes = session.notifications

    def run(sizes: np.ndarray) -> np.ndarray:
        stream = SensorStream(session.profile, session.settings)
        blocks, start = [], 0
        for size in sizes:
            part = notes[start : start + int(size)]
            start += int(size)
            batches = [
                NotificationBatch.single(n.characteristic, n.data, n.host_t_ns) for n in part
            ]
            blocks += stream.feed(batches)[0] if batches else []
        blocks += stream.flush()[0]
        return SampleBlock.concat(blocks).t_ns

    whole = run(np.array([len(notes)]))
    bursts = run(np.random.default_rng(1).integers(1, 6, size=len(notes)))
    np.testing.assert_array_equal(bursts, whole)
    assert (np.diff(whole) > 0).all()


def test_live_stamps_do_not_follow_the_system_clock_being_set(monkeypatch) -> None:
    from monitor.sources import ble

    before = ble.host_now_ns()
    monkeypatch.setattr(ble.time, "time_ns", lambda: 0)  # the system clock set back to 1970
    after = ble.host_now_ns()
    assert 0 <= after - before < SECOND
