"""The rep counter on angle traces with a known answer: where the rest pose is, and which
movements count as reps of an exercise the library does not describe (`generic`)."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.analysis.reps import DetectorSettings, RepDetector
from monitor.analysis.results import RepCounted

RATE = 50.0


def bump(peak: float, rise_s: float = 1.0, hold_s: float = 1.0, rest_s: float = 2.0) -> np.ndarray:
    """Rest, a smooth rise to `peak`, a hold, a smooth return."""
    ramp = (1 - np.cos(np.linspace(0, np.pi, int(rise_s * RATE)))) / 2
    return np.concatenate(
        [
            np.zeros(int(rest_s * RATE)),
            peak * ramp,
            np.full(int(hold_s * RATE), peak),
            peak * ramp[::-1],
        ]
    )


def run(angle: np.ndarray, tilt: np.ndarray | None = None, **settings) -> tuple[RepDetector, list]:
    t_ns = (np.arange(angle.size) * 1e9 / RATE).astype(np.int64)
    speed = np.gradient(angle) * RATE
    still = np.abs(speed) < 10.0
    detector = RepDetector(DetectorSettings(rate_hz=RATE, **settings), reference_deg=30.0)
    events = detector.process(t_ns, angle, speed, still, tilt)
    return detector, [e for e in events if isinstance(e, RepCounted)]


def test_a_movement_counts_once_it_repeats() -> None:
    angle = np.concatenate([bump(30), bump(32), bump(29), np.zeros(100)])
    detector, counted = run(angle, confirm_by_repeat=True)
    assert [r.index for r in detector.reps] == [1, 2, 3]
    # the first rep is counted at the end of the second, the others at their own end
    assert counted[0].t_s == counted[1].t_s == counted[1].rep.end_s
    assert counted[2].t_s == counted[2].rep.end_s
    assert detector.calibration_rom_deg == pytest.approx(detector.reps[0].peak_angle_deg, abs=0.1)


def test_one_off_shifts_and_off_plane_movements_are_not_reps() -> None:
    lone = np.concatenate([bump(40, hold_s=4), np.zeros(700)])  # then a set break
    unlike = np.concatenate([bump(15, hold_s=0.3), bump(60, hold_s=4)])
    off_plane = np.concatenate([bump(30), bump(31)])
    angle = np.concatenate([lone, unlike, off_plane, np.zeros(100)])
    tilt = np.zeros(angle.size)
    tilt[lone.size + unlike.size :] = 45.0 * (angle[lone.size + unlike.size :] > 5)
    detector, counted = run(angle, tilt, confirm_by_repeat=True)
    assert detector.reps == [] and counted == []
    assert detector.sets == []
    # the same movements count when the exercise says what to expect
    detector, _ = run(angle, tilt)
    assert len(detector.reps) == 5


def test_reps_start_wherever_the_person_rests() -> None:
    """Resting lower than the first rest pose (against the exercise's direction) moves the rest
    pose there: smaller reps from the new, lower rest still count."""
    first = bump(30)
    lower = np.full(100, -12.0)
    small = np.concatenate([bump(16, rest_s=1.0) - 12.0 for _ in range(3)])
    angle = np.concatenate([first, lower, small, np.full(100, -12.0)])
    detector, _ = run(angle)
    assert len(detector.reps) == 4
    assert detector.baseline < -10


def test_a_rep_ends_where_the_person_turns_back_short_of_the_rest_pose() -> None:
    """Fast reps that return only most of the way (no pause at the bottom) are separate reps."""
    ramp = (1 - np.cos(np.linspace(0, np.pi, 25))) / 2
    swing = np.concatenate([15 + 45 * ramp, 15 + 45 * ramp[::-1]])  # 15 <-> 60 deg, no pause
    angle = np.concatenate(
        [
            np.zeros(100),
            60 * ramp,
            60 * ramp[::-1] + 0.0,
            *[swing] * 4,
            15 * ramp[::-1],
            np.zeros(100),
        ]
    )
    detector, _ = run(angle)
    assert len(detector.reps) == 5
