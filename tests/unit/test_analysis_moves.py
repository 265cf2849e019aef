"""Small out-and-back movements seen in the whole orientation (monitor/analysis/moves.py)."""

from __future__ import annotations

import numpy as np
import pytest
from vqf import VQF

from monitor.analysis.moves import ReturnMoveFinder
from monitor.analysis.pipeline import AnalysisPipeline
from monitor.core.samples import SampleBlock
from tests.unit.motion_support import RATE, analyse, excursion, imu, ramp, still


def session(turns: np.ndarray) -> SampleBlock:
    """Three 30-degree tilt reps (the movement the self-calibration learns), then `turns`."""
    tilt = np.concatenate((still(3), *[excursion(30, 1.0, 2.0, 2.0) for _ in range(3)]))
    return imu(np.concatenate((tilt, np.zeros(len(turns)))), np.concatenate((0 * tilt, turns)))


def small_turns(count: int, degrees: float = 3.0) -> np.ndarray:
    return np.concatenate([excursion(degrees, 0.5, 4.0, 1.5) for _ in range(count)])


def test_finder_pairs_the_turn_out_with_the_turn_back():
    turns = np.concatenate((still(2), excursion(3.0, 0.5, 4.0, 2.0), excursion(2.0, 0.4, 0.0, 2.0)))
    block = imu(np.zeros(len(turns)), turns)
    quat = VQF(1 / RATE).updateBatch(
        np.ascontiguousarray(block.gyro), np.ascontiguousarray(block.acc)
    )["quat6D"]
    moves = ReturnMoveFinder(RATE).process(block.t_ns, quat)
    assert len(moves) == 2
    held, quick = moves
    assert held.angle_deg == pytest.approx(3.0, abs=0.4)
    assert held.held_s == pytest.approx(4.0, abs=0.6)
    assert quick.angle_deg == pytest.approx(2.0, abs=0.4)  # no pause at the far end: split there
    assert quick.held_s == pytest.approx(0.0, abs=0.2)
    assert held.end_ns < quick.start_ns


def test_small_turns_the_angle_cannot_see_are_reps_of_a_generic_movement():
    summary, _ = analyse(session(small_turns(5)))
    assert summary.rep_count == 8
    small = summary.reps[3:]
    assert all(r.peak_angle_deg == pytest.approx(3.0, abs=0.5) for r in small)
    assert all("short" in r.flags for r in small)  # under 70 % of the 30-degree first rep
    starts = 3 + 3 * 6.0 + np.arange(5) * 6.5
    assert [r.start_s for r in small] == pytest.approx(starts, abs=0.3)
    assert all(r.hold_s == pytest.approx(4.0, abs=0.6) for r in small)


def test_a_described_exercise_does_not_count_turns_off_its_movement():
    summary, _ = analyse(session(small_turns(5)), "knee_to_chest_single")
    assert summary.rep_count == 3


def test_one_off_turns_and_turns_that_stay_are_not_reps():
    turns = np.concatenate(
        (
            excursion(3.0, 0.5, 4.0, 6.0),  # two out-and-backs alike: fidgets, not a set
            excursion(2.5, 0.5, 4.0, 6.0),
            ramp(4.0, 0.5),  # a turn that stays: a new resting pose
            np.full(round(20 * RATE), 4.0),
            4.0 + ramp(1.0, 0.3),  # wobbles under the smallest move
            np.full(round(2 * RATE), 5.0),
            5.0 - ramp(1.0, 0.3),
            np.full(round(5 * RATE), 4.0),
        )
    )
    summary, _ = analyse(session(turns))
    assert summary.rep_count == 3


def test_turns_counted_alike_in_any_chunking():
    block = session(small_turns(4))
    whole, events = analyse(block)
    rng = np.random.default_rng(7)
    for _ in range(3):
        cuts = sorted(set(rng.integers(1, len(block), 25).tolist()))
        chunked, chunked_events = analyse(block, cuts=cuts)
        assert chunked == whole
        assert chunked_events == events
    assert whole.rep_count == 7


def test_moves_are_not_hoarded_while_the_analysis_is_not_calibrated():
    """Turns too small to learn an axis from: the pipeline never calibrates, and keeps none of
    the moves it found for a replay that can never include them (memory stays bounded)."""
    turns = small_turns(40)
    block = imu(np.zeros(len(turns)), turns)
    pipeline = AnalysisPipeline("generic")
    for start in range(0, len(block), 25):
        pipeline.process(block.slice(start, start + 25))
    assert pipeline.calibration is None and pipeline.rep_count == 0
    assert len(pipeline._moves) <= 1  # the finder found ~40; only the buffered ones may wait
