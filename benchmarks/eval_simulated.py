"""Angle accuracy and warning recall/precision/latency on simulated sessions with known truth.

Sessions come from the virtual sensor's motion model (monitor.sources.motion): minimum-jerk
reps about the exercise axis, the sensor strapped on at a random rotation, white noise and a
constant gyro bias, sampled at 25-200 Hz. Every session has one overdone rep (range limit),
one rushed rep (too fast), one hold cut short and one rep more than prescribed; the truth says
when each condition became true.

    python benchmarks/eval_simulated.py [--sessions 4] [--backend vqf|imufusion]
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from monitor.analysis.exercises import Dose, Limits, Prescription, exercise_library
from monitor.analysis.pipeline import AnalysisPipeline
from monitor.analysis.results import WarningKind, WarningRaised
from monitor.sources.motion import MotionScript, Noise, RepsSegment, RepVariation, plan_motion

EXERCISES = ("knee_to_chest_single", "bridge", "hamstring_stretch", "prone_press_up")
RATES = (25.0, 50.0, 100.0, 200.0)
ROM, LIMIT, MAX_SPEED, HOLD, REPS = 50.0, 65.0, 90.0, 5.0, 5
BLOCK_S = 0.05  # samples arrive in 50 ms blocks, as from BLE notifications


def script(exercise: str, rate_hz: float, noise_scale: float, bias_dps: float) -> MotionScript:
    reps = RepsSegment(
        sets=1,
        reps=REPS + 1,
        rom_deg=ROM,
        rom_jitter_deg=1.0,
        up_s=2.0,
        down_s=2.0,
        hold_s=HOLD + 1.0,
        rest_s=2.0,
        variations=[
            RepVariation(rep=2, rom_deg=ROM + 25, label="overdone"),
            RepVariation(rep=3, up_s=0.5, down_s=0.6, label="too_fast"),
            RepVariation(rep=4, hold_s=2.0, label="hold_short"),
        ],
    )
    return MotionScript(
        exercise=exercise,
        rate_hz=rate_hz,
        mounting_deg="random",
        segments=[reps],
        noise=Noise(
            acc_mps2=0.02 * noise_scale,
            gyro_rads=0.002 * noise_scale,
            gyro_bias_sd_dps=bias_dps,
        ),
    )


def crossings(t_s: np.ndarray, value: np.ndarray, limit: float, rearm: float) -> list[float]:
    """Times `value` goes over `limit`, counting again only after it fell under `rearm`."""
    out, armed = [], True
    for k in np.flatnonzero((value > limit) | (value < rearm)):
        if armed and value[k] > limit:
            out.append(float(t_s[k]))
            armed = False
        elif not armed and value[k] < rearm:
            armed = True
    return out


def expected_warnings(truth, t_s: np.ndarray) -> list[tuple[WarningKind, float, float]]:
    """(kind, earliest, latest) sensor time for each warning the truth calls for.

    Range and speed: when the truth crosses the limit (latency is measured from there). Hold
    released early: when the truth angle leaves the hold by the detector's wobble tolerance.
    Too many reps: any time during the extra rep.
    """
    angle, speed = np.abs(truth.angle_deg), truth.speed_dps
    out = [(WarningKind.RANGE_LIMIT, t, t) for t in crossings(t_s, angle, LIMIT, LIMIT - 3)]
    out += [(WarningKind.TOO_FAST, t, t) for t in crossings(t_s, speed, MAX_SPEED, 0.8 * MAX_SPEED)]
    for rep in truth.reps:
        if rep.hold_s < HOLD:
            held = angle[np.searchsorted(t_s, rep.hold_start_s)]
            after = np.flatnonzero(
                (t_s > rep.hold_start_s) & (np.abs(angle - held) > max(4.0, 0.15 * held))
            )
            out.append((WarningKind.HOLD_RELEASED_EARLY, t_s[after[0]], t_s[after[0]]))
        if rep.rep > REPS:
            out.append((WarningKind.TOO_MANY_REPS, rep.start_s, rep.end_s))
    return out


def run_session(exercise: str, rate: float, seed: int, noise: float, bias: float, backend: str):
    plan = plan_motion(script(exercise, rate, noise, bias), seed)
    t_s = plan.grid(rate)
    block = plan.measured(plan.ideal(t_s))
    truth = plan.truth(t_s)
    library = exercise_library()
    prescription = Prescription(
        exercise=library[exercise],
        dose=Dose(reps=REPS, sets=1, hold_s=HOLD),
        limits=Limits(rom_limit_deg=LIMIT, max_speed_dps=MAX_SPEED),
    )
    pipeline = AnalysisPipeline(prescription, backend=backend)
    step = max(1, round(rate * BLOCK_S))
    angles_t, angles, warnings = [], [], []
    for start in range(0, len(block), step):
        events = pipeline.process(block.slice(start, start + step))
        t_ns, angle = pipeline.last_angles
        angles_t.append(t_ns)
        angles.append(angle)
        warnings += [e.warning for e in events if isinstance(e, WarningRaised)]
    t_ns = np.concatenate(angles_t)
    index = np.searchsorted(block.t_ns, t_ns)
    measured = np.concatenate(angles)
    error = measured - truth.angle_deg[index]
    rms = float(np.sqrt(np.mean(error**2)))
    expected = expected_warnings(truth, t_s)
    return rms, pipeline.summary().rep_count, len(truth.reps), expected, warnings


def match(expected: list, raised: list) -> tuple[int, int, int, list[float]]:
    """Pairs warnings with expectations of the same kind; latency where the truth has a time.

    A warning matches from 50 ms before `earliest` (sampling of the truth) to 1 s after
    `latest`; returns hits, expected, raised (scored kinds), latencies (s).
    """
    candidates = [w for w in raised if w.kind in _SCORED]
    used: set[int] = set()
    latencies = []
    for kind, earliest, latest in expected:
        for i, warning in enumerate(candidates):
            if i in used or warning.kind != kind:
                continue
            if earliest - 0.05 <= warning.t_s <= latest + 1.0:
                used.add(i)
                if earliest == latest:
                    latencies.append(warning.t_s - earliest)
                break
    return len(used), len(expected), len(candidates), latencies


_SCORED = {
    WarningKind.RANGE_LIMIT,
    WarningKind.TOO_FAST,
    WarningKind.HOLD_RELEASED_EARLY,
    WarningKind.TOO_MANY_REPS,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2, help="random mountings per case")
    parser.add_argument("--backend", default="vqf", choices=["vqf", "imufusion"])
    args = parser.parse_args(argv)
    cases = list(itertools.product(EXERCISES, RATES, [(1.0, 0.3), (3.0, 2.0)]))
    print(f"orientation backend: {args.backend}")
    print(f"{'exercise':<22}{'Hz':>5} {'noise':>6} {'bias':>5}  rms deg  reps    warnings")
    all_rms, hits, expected_n, raised_n, latencies, count_errors = [], 0, 0, 0, [], 0
    for (exercise, rate, (noise, bias)), seed in itertools.product(cases, range(args.sessions)):
        rms, counted, truth_reps, expected, raised = run_session(
            exercise, rate, seed, noise, bias, args.backend
        )
        h, e, r, lat = match(expected, raised)
        all_rms.append(rms)
        hits, expected_n, raised_n = hits + h, expected_n + e, raised_n + r
        latencies += lat
        count_errors += counted != truth_reps
        print(
            f"{exercise:<22}{rate:>5.0f} {noise:>5.0f}x {bias:>5.1f}  {rms:7.2f}  "
            f"{counted:>2}/{truth_reps:<2}  {h}/{e} expected, {r} raised"
        )
    lat_ms = np.array(latencies) * 1000
    print(f"sessions               {len(all_rms)}")
    print(f"angle RMS error        mean {np.mean(all_rms):.2f} deg, max {np.max(all_rms):.2f} deg")
    print(f"sessions counted wrong {count_errors}")
    print(f"warning recall         {hits / max(expected_n, 1):.3f} ({hits}/{expected_n})")
    print(f"warning precision      {hits / max(raised_n, 1):.3f} ({hits}/{raised_n})")
    if lat_ms.size:
        print(
            f"warning latency        median {np.median(lat_ms):.0f} ms, "
            f"p95 {np.percentile(lat_ms, 95):.0f} ms, max {lat_ms.max():.0f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
