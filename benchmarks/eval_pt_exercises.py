"""Rep counting on real physiotherapy recordings, scored against the protocol's known counts.

Data: UCI Machine Learning Repository "Physical Therapy Exercises Dataset" (id 730,
doi:10.24432/C5JK60, CC BY 4.0); A. Yurtman and B. Barshan, "Automated evaluation of physical
therapy exercises using multi-template dynamic time warping on wearable sensor signals", Computer
Methods and Programs in Biomedicine 117(2):189-207, 2014, doi:10.1016/j.cmpb.2014.07.003.

Scoring (the data set README's convention): analyse the moving unit's file with the given exercise
(default `generic`); a detected rep belongs to the phase holding the midpoint of its start and end;
per recording the total against 30, per phase against 10; reps whose midpoint falls between the
annotated reps of subject 1 are reported as counted in idle stretches.

    python benchmarks/eval_pt_exercises.py [--data DIR] [--exercise generic] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

from monitor.analysis.pipeline import AnalysisPipeline
from monitor.core.samples import SampleBlock

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "pt-exercises"
CITATION = (
    "Data: UCI Physical Therapy Exercises Dataset (id 730, doi:10.24432/C5JK60, CC BY 4.0); "
    "Yurtman & Barshan 2014, doi:10.1016/j.cmpb.2014.07.003"
)
HELD_S = 2.0  # a rep held at least this long counts as a hold


def load_csv(path: Path) -> SampleBlock:
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    return SampleBlock(
        t_ns=np.round(table[:, 0] * 1e9).astype(np.int64), acc=table[:, 1:4], gyro=table[:, 4:7]
    )


def idle_stretches(record: dict) -> list[tuple[float, float]]:
    """Gaps of more than 3 s between annotated reps (subject 1 only)."""
    bounds = sorted((b["start_s"], b["end_s"]) for b in record.get("rep_boundaries") or [])
    return [(a[1], b[0]) for a, b in itertools.pairwise(bounds) if b[0] - a[1] > 3.0]


def evaluate(record: dict, data: Path, exercise: str, backend: str = "vqf") -> dict:
    name = f"s{record['subject']}_e{record['exercise']}_{record['moving_unit']}"
    block = load_csv(data / f"{name}.csv")
    pipeline = AnalysisPipeline(exercise, backend=backend)
    pipeline.process(block)
    summary = pipeline.summary()
    mids = np.array([(r.start_s + r.end_s) / 2 for r in summary.reps])
    holds = np.array([r.hold_s for r in summary.reps])
    phases = []
    for phase in record["phases"]:
        inside = (mids >= phase["start_s"]) & (mids < phase["end_s"])
        count = int(inside.sum())
        phases.append(
            {
                "execution": phase["execution"],
                "expected": phase["reps"],
                "counted": count,
                "error": count - phase["reps"],
                "held": int((holds[inside] >= HELD_S).sum()),
                "median_hold_s": float(np.median(holds[inside])) if count else 0.0,
            }
        )
    idle = sum(int(((mids > a) & (mids < b)).sum()) for a, b in idle_stretches(record))
    return {
        "recording": name,
        "description": record["description"],
        "expected": record["rep_count"],
        "counted": summary.rep_count,
        "error": summary.rep_count - record["rep_count"],
        "phases": phases,
        "idle_reps": idle if record.get("rep_boundaries") else None,
        "warnings": len(summary.warnings),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--exercise", default="generic")
    parser.add_argument("--backend", default="vqf", choices=["vqf", "imufusion"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    index = json.loads((args.data / "index.json").read_text())
    results = [evaluate(record, args.data, args.exercise, args.backend) for record in index]
    phase_errors = np.array([[p["error"] for p in r["phases"]] for r in results])
    totals = np.array([r["error"] for r in results])
    overall = {
        "recordings": len(results),
        "recording_exact_rate": float(np.mean(totals == 0)),
        "recording_within1_rate": float(np.mean(np.abs(totals) <= 1)),
        "recording_mae": float(np.mean(np.abs(totals))),
        "phase_exact_rate": float(np.mean(phase_errors == 0)),
        "phase_within1_rate": float(np.mean(np.abs(phase_errors) <= 1)),
        "phase_mae": float(np.mean(np.abs(phase_errors))),
        "holds_in_correct_phase": int(sum(r["phases"][0]["held"] for r in results)),
        "holds_in_fast_phase": int(sum(r["phases"][1]["held"] for r in results)),
        "idle_reps": int(sum(r["idle_reps"] or 0 for r in results)),
        "citation": CITATION,
    }
    if args.json:
        json.dump({"overall": overall, "recordings": results}, sys.stdout, indent=1)
        print()
        return 0
    print(f"exercise definition: {args.exercise}, orientation: {args.backend}")
    print(CITATION)
    print(f"{'recording':<12} {'total':>7}  {'correct':>9} {'fast':>9} {'low':>9}  holds(c/f) idle")
    for r in results:
        cells = " ".join(
            f"{p['counted']:>3}/{p['expected']:<2}({p['error']:+d})" for p in r["phases"]
        )
        idle = "-" if r["idle_reps"] is None else str(r["idle_reps"])
        held = f"{r['phases'][0]['held']}/{r['phases'][1]['held']}"
        total = f"{r['counted']:>3}/{r['expected']:<3}"
        print(f"{r['recording']:<12} {total} {cells}  {held:>9} {idle:>4}")
    for key, value in overall.items():
        if key != "citation":
            print(f"{key:<24} {value:.3f}" if isinstance(value, float) else f"{key:<24} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
