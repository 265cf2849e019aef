"""Virtual sensor speed: seconds of computing per simulated hour, per bundled profile.

Each profile simulates the same knee-to-chest session (sets of 10 reps with 5 s holds, rests,
1 % bursty packet loss) at the supported rate nearest 100 Hz: motion model, the profile's
encoder, link model. Prints the time split into motion and the whole `simulate()` call.

    python benchmarks/bench_simulate.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import time

from monitor.profiles.loader import load_profiles
from monitor.sources.motion import Link, MotionScript, RepsSegment, plan_motion
from monitor.sources.simulate import simulate


def session_script(minutes: float) -> MotionScript:
    sets = max(1, round(minutes * 60 / 180))  # ~3 minutes per set of 10 with its rest
    return MotionScript(
        segments=[RepsSegment(sets=sets, reps=10, hold_s=5, set_rest_s=60)],
        link=Link(drop_probability=0.01, drop_burst=3),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="session length per profile")
    args = parser.parse_args()
    script = session_script(args.minutes)

    started = time.perf_counter()
    plan = plan_motion(script, seed=1)
    plan.ideal(plan.grid(100.0))
    motion_s = time.perf_counter() - started
    hours = plan.duration_s / 3600
    print(
        f"session {plan.duration_s / 60:.1f} min; motion model alone at 100 Hz: "
        f"{motion_s / hours:.2f} s per simulated hour"
    )
    print(f"{'profile':28s} {'rate Hz':>8s} {'notifications':>13s} {'s per hour':>11s}")
    for profile_id in sorted(load_profiles(include_user=False)):
        started = time.perf_counter()
        session = simulate(script, profile_id, seed=1)
        elapsed = time.perf_counter() - started
        rate = len(session.clean[0]) / session.plan.duration_s
        print(
            f"{profile_id:28s} {rate:8.0f} {len(session.notifications):13d} {elapsed / hours:11.2f}"
        )


if __name__ == "__main__":
    main()
