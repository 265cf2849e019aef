"""Sensor-fault campaign on the virtual sensor: every profile x every link and clock fault.

Each case simulates the same exercise session (ground truth known), injects the faults through
the simulator's link model, writes the recording, decodes it with the replay path (the live
path's SensorStream) and analyses it. Printed per case: faults injected, reps counted against
the truth (matched / missed / invented; "missed, untouched" are reps lost although no fault
touched them), GAP / CLOCK_RESET / late-sample events, gaps in the session summary, and
whether the times handed to the analysis ever ran backwards.

    python benchmarks/fault_campaign.py [--seeds 2] [--profile ID ...] [--case NAME ...]
                                        [--analyse-as generic]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from monitor.analysis.pipeline import AnalysisPipeline
from monitor.core import EventKind
from monitor.profiles.loader import load_profiles
from monitor.session.summary import data_gaps
from monitor.sources.motion import MotionScript, RepsSegment
from monitor.sources.replay import replay_all
from monitor.sources.simulate import SimulatedSession, score_reps, simulate, write_recording
from monitor.sources.stream import stream_channels

EXERCISE = "pelvic_tilt"
SCRIPT = MotionScript(
    exercise=EXERCISE,
    segments=[RepsSegment(sets=1, reps=10, hold_s=3, rest_s=2)],
)
STORM = [{"at_s": 10 + 3 * k, "duration_s": 0.5} for k in range(10)]  # 10 drops in 30 s
CASES: dict[str, dict] = {
    "none": {},
    "burst drops 5 %, bursts of 8": {"drop_probability": 0.05, "drop_burst": 8},
    "duplicates 5 %": {"duplicate_probability": 0.05},
    "reordered 5 %": {"reorder_probability": 0.05},
    "disconnect mid-rep 2 s": {"disconnects": [{"at_s": 15.5, "duration_s": 2}]},
    "storm: 10 disconnects in 30 s": {"disconnects": STORM},
    "clock jumps +1 h": {"clock_jumps": [{"at_s": 25, "by_s": 3600}]},
    "clock steps back 30 s": {"clock_jumps": [{"at_s": 25, "by_s": -30}]},
    "clock resets to zero": {"clock_jumps": [{"at_s": 25, "reset": True}]},
    "reset + storm + dup + reorder + drops": {
        "drop_probability": 0.03,
        "drop_burst": 4,
        "duplicate_probability": 0.03,
        "reorder_probability": 0.03,
        "disconnects": STORM,
        "clock_jumps": [{"at_s": 45.2, "reset": True}],
    },
}


def session_seconds(session: SimulatedSession, t_ns: np.ndarray) -> np.ndarray:
    """Session time of analysis times: host-clocked streams keep a forward host-clock step
    (it is indistinguishable from a gap), so it is taken out again here."""
    seconds = (t_ns - session.sensor_t0_ns) / 1e9
    if session.decoder().host_clock:
        for jump in sorted(session.script.link.clock_jumps, key=lambda j: j.at_s):
            if jump.by_s > 0 and not jump.reset:
                seconds = np.where(seconds >= jump.at_s + jump.by_s, seconds - jump.by_s, seconds)
    return seconds


def run_case(
    profile_id: str, link: dict, seed: int, folder: Path, analysed_as: str = EXERCISE
) -> dict:
    script = MotionScript.model_validate(
        {**SCRIPT.model_dump(), "link": {**SCRIPT.link.model_dump(), **link}}
    )
    session = simulate(script, profile_id, seed)
    path = folder / f"{profile_id}-{seed}.mrec"
    write_recording(session, path, overwrite=True)
    result = replay_all(path)
    name = result.recording.header.streams[0].name
    block = result.samples[name]
    pipeline = AnalysisPipeline(analysed_as, rate_hz=result.rates_hz[name])
    pipeline.process(block)
    reps = pipeline.summary().reps
    spans_ns = pipeline.t0_ns + np.array([(r.start_s, r.end_s) for r in reps]).reshape(-1, 2) * 1e9
    score = score_reps(session, session_seconds(session, spans_ns).tolist())
    events = result.events
    return {
        "faults": {k: v for k, v in session.faults.items() if v},
        "lost": sum(e.data["notifications"] for e in session.lost),
        "truth": score.truth,
        "matched": score.matched,
        "missed": len(score.missed),
        "untouched": len(score.missed_unexposed),
        "invented": len(score.invented),
        "gap_events": sum(e.kind == EventKind.GAP for e in events),
        "disconnects": sum(e.kind == EventKind.DISCONNECT for e in events),
        "clock": sum(e.kind == EventKind.CLOCK_RESET for e in events),
        "late": sum(e.data.get("late_samples", 0) for e in events),
        "summary_gaps": len(data_gaps(block.t_ns, events)),
        "backwards": int((np.diff(block.t_ns) < 0).sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--profile", action="append", default=[])
    parser.add_argument("--case", action="append", default=[])
    parser.add_argument(
        "--analyse-as",
        default=EXERCISE,
        help=f"exercise the analysis is told ({EXERCISE} is what was done; generic finds it)",
    )
    args = parser.parse_args()
    profiles = args.profile or [
        p.id for p in load_profiles(include_user=False).values() if "gyro" in stream_channels(p)
    ]  # the analysis needs a gyroscope (the Polar H10 has none)
    cases = {k: v for k, v in CASES.items() if not args.case or k in args.case}
    totals = dict.fromkeys(("truth", "matched", "untouched", "invented", "backwards"), 0)
    started = time.perf_counter()
    head = f"{'case':<38} {'profile':<26} reps ok/truth missed(untouched) invented"
    print(head + "  gaps disc clock late sum-gaps back  faults")
    with tempfile.TemporaryDirectory() as folder:
        for case, link in cases.items():
            for profile_id in profiles:
                for seed in range(args.seeds):
                    row = run_case(profile_id, link, seed, Path(folder), args.analyse_as)
                    for key in totals:
                        totals[key] += row[key]
                    faults = dict(row["faults"], lost_notifications=row["lost"])
                    print(
                        f"{case:<38} {profile_id:<26} {row['matched']:>4}/{row['truth']:<5} "
                        f"{row['missed']:>6}({row['untouched']}) {row['invented']:>8}  "
                        f"{row['gap_events']:>4} {row['disconnects']:>4} {row['clock']:>5} "
                        f"{row['late']:>4} {row['summary_gaps']:>8} {row['backwards']:>4}  "
                        f"{ {k: v for k, v in faults.items() if v} }",
                        flush=True,
                    )
    elapsed = time.perf_counter() - started
    print(
        f"\ntotal: {totals['matched']}/{totals['truth']} reps matched, "
        f"{totals['untouched']} missed untouched by a fault, {totals['invented']} invented, "
        f"{totals['backwards']} backward time steps handed to analysis ({elapsed:.0f} s)"
    )


if __name__ == "__main__":
    main()
