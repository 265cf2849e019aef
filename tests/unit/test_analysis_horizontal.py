"""Movements about the vertical (a seated trunk rotation with the sensor on the chest): gravity
cannot see them, so the angle comes from the orientation filter's turn from the neutral pose."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.analysis.results import WarningKind
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
