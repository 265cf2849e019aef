"""Movements about the vertical (a seated trunk rotation with the sensor on the chest): gravity
cannot see them, so the angle comes from the orientation filter's turn from the neutral pose."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.analysis.results import Calibrated, WarningKind
from tests.unit.motion_support import analyse, excursion, imu, still

SETS = ((30.0, 6, (1.5, 3.0, 3.0)), (25.0, 5, (1.0, 2.0, 2.0)))  # degrees, reps, timing


def turns() -> np.ndarray:
    parts = [still(3)]
    for degrees, reps, timing in SETS:
        parts += [excursion(degrees, *timing) for _ in range(reps)] + [still(40)]
    return np.concatenate(parts)


def test_turns_about_the_vertical_are_counted_with_their_angle():
    yaw = turns()
    summary, events = analyse(imu(np.zeros(len(yaw)), yaw))
    calibration = summary.calibration
    assert calibration.plane_quality < 0.05 and calibration.neutral_orientation is not None
    assert [r.set_index for r in summary.reps] == [1] * 6 + [2] * 5
    peaks = [r.peak_angle_deg for r in summary.reps]
    assert peaks == pytest.approx([30.0] * 6 + [25.0] * 5, abs=1.5)
    assert [r.hold_s for r in summary.reps] == pytest.approx([3.5] * 6 + [2.3] * 5, abs=0.5)
    said = [e.warning for e in events if getattr(e, "kind", "") == "warning"]
    assert [w.kind for w in said if w.kind == WarningKind.CALIBRATION] == [WarningKind.CALIBRATION]
    assert "vertical" in said[0].message


def test_tilts_keep_the_gravity_angle():
    tilt = np.concatenate((still(3), *[excursion(30, 1.0, 2.0, 2.0) for _ in range(4)]))
    summary, _ = analyse(imu(tilt, np.zeros(len(tilt))))
    assert summary.calibration.neutral_orientation is None
    assert summary.rep_count == 4


def test_turn_angle_in_any_chunking():
    yaw = turns()
    block = imu(np.zeros(len(yaw)), yaw, seed=3)
    whole, events = analyse(block)
    rng = np.random.default_rng(11)
    for _ in range(3):
        cuts = sorted(set(rng.integers(1, len(block), 30).tolist()))
        assert analyse(block, cuts=cuts) == (whole, events)
    assert whole.rep_count == 11


def test_a_loss_of_signal_recalibrates_the_turn_angle():
    """The filter restarts after a hole, and its heading with it: the neutral orientation no
    longer holds, so the turn angle is learnt again from the next still pose and rep. (Kept,
    the old reference read the reps after a hole in a 30-degree hold as -0.5 and -5 degrees.)"""
    yaw = turns()
    block = imu(np.zeros(len(yaw)), yaw)
    hole = (block.t_ns > 23.4e9) & (block.t_ns < 25.0e9)  # 1.6 s lost in rep 3's hold
    kept = type(block)(t_ns=block.t_ns[~hole], acc=block.acc[~hole], gyro=block.gyro[~hole])
    summary, events = analyse(kept)
    calibrated = [e.t_s for e in events if isinstance(e, Calibrated)]
    assert calibrated[-1] > 25.0  # learnt again after the hole
    peaks = [r.peak_angle_deg for r in summary.reps]
    # the rep the hole cut is lost (where it was is unknown); every other one is measured
    assert peaks == pytest.approx([30.0] * 5 + [25.0] * 5, abs=1.5)
