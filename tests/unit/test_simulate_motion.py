"""Physics of the virtual sensor's motion model, checked against independent numerics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import cumulative_trapezoid
from scipy.spatial.transform import Rotation

from monitor.core import GRAVITY
from monitor.errors import InputFileError
from monitor.sources.motion import (
    EXERCISES,
    IdleSegment,
    MotionScript,
    Noise,
    Phase,
    RepsSegment,
    RepVariation,
    Slip,
    synthesize,
)

QUIET = Noise(acc_mps2=0, gyro_rads=0, mag_ut=0, gyro_bias_dps=(0, 0, 0))


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_still_sensor_feels_only_gravity(exercise: str) -> None:
    motion = synthesize(MotionScript(exercise=exercise, mounting_deg="random"), 100, seed=3)
    still = motion.truth.speed_dps == 0
    assert still.sum() > 300  # lead-in, rests, holds between sways
    norm = np.linalg.norm(motion.clean.acc[still], axis=1)
    assert np.allclose(norm, GRAVITY, atol=0.05)
    assert np.allclose(motion.clean.gyro[still], 0.0, atol=1e-9)


@pytest.mark.parametrize("exercise", ["knee_to_chest", "trunk_rotation", "bridge"])
@pytest.mark.parametrize("rate", [25, 100, 400])
def test_gyro_about_the_axis_integrates_to_the_truth_angle(exercise: str, rate: int) -> None:
    script = MotionScript(exercise=exercise, mounting_deg=(30, -50, 120), noise=QUIET)
    motion = synthesize(script, rate, seed=5)
    truth = motion.truth
    rate_about_axis = motion.clean.gyro @ truth.axis_sensor
    angle = np.degrees(cumulative_trapezoid(rate_about_axis, truth.t_s, initial=0.0))
    # Off-axis posture shifts perturb the projection a little; trapezoid error shrinks with rate.
    assert np.max(np.abs(angle - truth.angle_deg)) < (0.6 if rate == 25 else 0.2)


def test_acc_and_gyro_match_numerical_derivatives_of_the_pose() -> None:
    """Finite differences of an independently rebuilt pose give the same gyro and specific force."""
    script = MotionScript(
        exercise="partial_situp",
        mounting_deg=(10, 20, 30),
        noise=QUIET,
        segments=[IdleSegment(duration_s=6, shift_deg=4), RepsSegment(reps=2)],
    )
    rate = 400
    motion = synthesize(script, rate, seed=11)
    truth, clean = motion.truth, motion.clean
    kind = script.kind
    axis = np.asarray(kind.axis) / np.linalg.norm(kind.axis)
    # Position of the sensor in the world: the pose model with the off-axis shifts removed is
    # exact only where the shift track is still, i.e. during the reps segment.
    reps = truth.phase != Phase.IDLE
    neutral = Rotation.from_matrix([[0, 0, 1], [0, -1, 0], [1, 0, 0]])
    segment = neutral * Rotation.from_rotvec(np.radians(truth.angle_deg)[:, None] * axis)
    lever = np.asarray(kind.lever_arm_m)
    position = segment.apply(lever)
    accel = np.gradient(np.gradient(position, 1 / rate, axis=0), 1 / rate, axis=0)
    sensor = segment * motion.mounting
    expected_acc = sensor.inv().apply(accel + np.array([0.0, 0.0, GRAVITY]))
    inner = reps & np.roll(reps, 2) & np.roll(reps, -2)
    assert np.max(np.abs(expected_acc[inner] - clean.acc[inner])) < 0.01
    relative = (sensor[:-1].inv() * sensor[1:]).as_rotvec() * rate
    mid_gyro = (clean.gyro[:-1] + clean.gyro[1:]) / 2
    assert np.max(np.abs(relative[inner[:-1]] - mid_gyro[inner[:-1]])) < 1e-3


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31), st.sampled_from(sorted(EXERCISES)))
def test_gyro_magnitude_does_not_depend_on_mounting(seed: int, exercise: str) -> None:
    base = synthesize(MotionScript(exercise=exercise, noise=QUIET), 50, seed=seed)
    turned = synthesize(
        MotionScript(exercise=exercise, noise=QUIET, mounting_deg="random"), 50, seed
    )
    assert not np.allclose(base.clean.gyro, turned.clean.gyro)
    np.testing.assert_allclose(
        np.linalg.norm(base.clean.gyro, axis=1),
        np.linalg.norm(turned.clean.gyro, axis=1),
        atol=1e-9,
    )
    np.testing.assert_allclose(base.truth.angle_deg, turned.truth.angle_deg)


def test_truth_reps_follow_the_script_including_variations() -> None:
    script = MotionScript(
        exercise="knee_to_chest",
        segments=[
            RepsSegment(
                sets=2,
                reps=5,
                hold_s=5,
                variations=[
                    RepVariation(set=1, rep=3, rom_deg=110, label="overdone"),
                    RepVariation(set=2, rep=2, peak_speed_dps=250, hold_s=0, label="too_fast"),
                ],
            )
        ],
    )
    truth = synthesize(script, 52, seed=1).truth
    assert [(r.set, r.rep) for r in truth.reps] == [(s, r) for s in (1, 2) for r in range(1, 6)]
    overdone = truth.reps[2]
    assert overdone.label == "overdone" and abs(overdone.peak_angle_deg - 110) < 2
    fast = truth.reps[6]
    assert fast.label == "too_fast" and fast.hold_s == 0
    assert fast.peak_speed_dps == pytest.approx(250, rel=0.02)
    normal = [r for r in truth.reps if not r.label]
    assert all(abs(r.hold_s - 5) < 1e-9 for r in normal)
    assert all(r.peak_speed_dps < 100 for r in normal)
    assert set(np.unique(truth.rep)) == set(range(11))
    holding = truth.phase == Phase.HOLD
    assert np.all(np.abs(truth.angle_deg[holding]) > 50)


def test_alternating_exercise_takes_sides_in_turn() -> None:
    truth = synthesize(MotionScript(exercise="trunk-rotation"), 100, seed=2).truth
    assert [r.side for r in truth.reps] == ["right", "left", "right", "left", "right"]
    assert all((r.peak_angle_deg > 0) == (r.side == "left") for r in truth.reps)


def test_same_seed_same_samples_other_seed_other_noise() -> None:
    script = MotionScript(mounting_deg="random")
    first, again, other = (synthesize(script, 100, s) for s in (7, 7, 8))
    np.testing.assert_array_equal(first.samples.acc, again.samples.acc)
    np.testing.assert_array_equal(first.samples.gyro, again.samples.gyro)
    assert not np.array_equal(first.samples.gyro, other.samples.gyro)


def test_gyro_bias_is_added_as_scripted() -> None:
    script = MotionScript(noise=Noise(gyro_rads=0, gyro_bias_dps=(1.0, -2.0, 0.5)))
    motion = synthesize(script, 100, seed=0)
    np.testing.assert_allclose(
        motion.samples.gyro - motion.clean.gyro,
        np.broadcast_to(np.radians([1.0, -2.0, 0.5]), motion.clean.gyro.shape),
    )


def test_script_loads_from_toml_and_reports_bad_fields(tmp_path: Path) -> None:
    good = tmp_path / "s.toml"
    good.write_text(
        'exercise = "pelvic-tilt"\nrate_hz = 52\n'
        '[[segments]]\ntype = "idle"\nduration_s = 3\n'
        '[[segments]]\ntype = "reps"\nreps = 3\nhold_s = 2\n'
    )
    script = MotionScript.load(good)
    assert script.exercise == "pelvic_tilt" and len(script.segments) == 2
    bad = tmp_path / "bad.toml"
    bad.write_text('[[segments]]\ntype = "reps"\nreps = -1\n')
    with pytest.raises(InputFileError, match=r"bad.toml: segments\.0\.reps"):
        MotionScript.load(bad)
    with pytest.raises(InputFileError, match="unknown exercise"):
        unknown = tmp_path / "u.json"
        unknown.write_text('{"exercise": "moonwalk"}')
        MotionScript.load(unknown)


def test_the_documented_example_script_runs(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "simulator.md").read_text()
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.toml"
    path.write_text(example)
    script = MotionScript.load(path)
    truth = synthesize(script, 52, seed=0).truth
    labels = [r.label for r in truth.reps]
    assert len(labels) == 10 and {"overdone", "too_fast", "hold_released_early"} <= set(labels)


def test_a_slip_turns_the_sensor_on_the_segment_and_the_gyro_sees_it() -> None:
    slip = Slip(at_s=2.0, rotation_deg=(0, 25, 0), duration_s=0.5)
    script = MotionScript(
        noise=QUIET, lead_in_s=4, segments=[RepsSegment(reps=1)], mounting_deg=(10, 0, 30)
    )
    plain = synthesize(script, 200, seed=1)
    slipped = synthesize(script.model_copy(update={"slips": [slip]}), 200, seed=1)
    np.testing.assert_array_equal(plain.truth.angle_deg, slipped.truth.angle_deg)
    before, after = int(1.5 * 200), int(3.0 * 200)  # still lead-in on both sides of the slip
    np.testing.assert_allclose(slipped.clean.acc[before], plain.clean.acc[before], atol=1e-12)
    turned = Rotation.from_euler("xyz", (0, 25, 0), degrees=True)
    np.testing.assert_allclose(
        slipped.clean.acc[after], turned.inv().apply(plain.clean.acc[after]), atol=1e-9
    )
    turn = cumulative_trapezoid(slipped.clean.gyro[before : after + 1], dx=1 / 200, axis=0)[-1]
    np.testing.assert_allclose(np.degrees(turn), [0, 25, 0], atol=0.05)
    with pytest.raises(ValueError, match="starts before"):
        MotionScript(slips=[slip, Slip(at_s=2.2, rotation_deg=(5, 0, 0))])


def test_gyro_bias_walks_when_scripted() -> None:
    steady = Noise(gyro_rads=0, gyro_bias_dps=(0, 0, 0))
    walking = steady.model_copy(update={"gyro_bias_walk_dps": 0.05})
    script = MotionScript(noise=walking, segments=[IdleSegment(duration_s=600)])
    motion = synthesize(script, 50, seed=4)
    drift = np.degrees(motion.samples.gyro - motion.clean.gyro)
    assert np.all(drift[0] == 0)
    # sd after 600 s: 0.05 * sqrt(600) = 1.2 deg/s per axis, reached in small steps
    assert 0.1 < np.abs(drift[-1]).max() < 6
    assert np.abs(np.diff(drift, axis=0)).max() < 0.05
    still = synthesize(script.model_copy(update={"noise": steady}), 50, seed=4)
    np.testing.assert_array_equal(still.samples.gyro, still.clean.gyro)
