"""`generic` against the truth on simulated sessions of every exercise in the library.

`generic` is what a user picks for a movement the library does not describe, and what CSV from
other tools is analysed with. Each library exercise is simulated (two sets of 8 reps with 3 s
holds, then a 20 s idle stretch with the motion model's small posture shifts, random mounting,
noise and gyro bias) and analysed as `generic`; counted reps are matched one to one against the
truth (`score_reps`). Printed per exercise: matched / truth and invented reps over the seeds.

    python benchmarks/eval_generic.py [--seeds 3] [--profile metamotion_r]
"""

from __future__ import annotations

import argparse

from monitor.analysis.exercises import exercise_library
from monitor.analysis.pipeline import AnalysisPipeline
from monitor.sources.motion import IdleSegment, MotionScript, RepsSegment
from monitor.sources.simulate import score_reps, simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--profile", default="metamotion_r")
    args = parser.parse_args()
    totals = {"truth": 0, "matched": 0, "invented": 0}
    print(f"{'exercise':<24} {'matched/truth':>13} {'invented':>8}")
    for exercise in exercise_library(user_dir=None).values():
        if exercise.id == "generic":
            continue
        row = dict.fromkeys(totals, 0)
        for seed in range(args.seeds):
            script = MotionScript(
                exercise=exercise.id,
                segments=[
                    RepsSegment(sets=2, reps=8, hold_s=3, rest_s=2),
                    IdleSegment(duration_s=20),
                ],
            )
            session = simulate(script, args.profile, seed)
            pipeline = AnalysisPipeline("generic")
            for block in session.measured[:1]:
                pipeline.process(block)
            counted = [(r.start_s, r.end_s) for r in pipeline.summary().reps]
            score = score_reps(session, counted)
            row["truth"] += score.truth
            row["matched"] += score.matched
            row["invented"] += len(score.invented)
        for key in totals:
            totals[key] += row[key]
        side = " (to both sides)" if exercise.alternating else ""
        print(f"{exercise.id:<24} {row['matched']:>6}/{row['truth']:<6} {row['invented']:>8}{side}")
    print(
        f"\ntotal: {totals['matched']}/{totals['truth']} reps matched, "
        f"{totals['invented']} invented"
    )


if __name__ == "__main__":
    main()
