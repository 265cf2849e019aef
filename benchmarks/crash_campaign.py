"""Crash campaign: SIGKILL the recorder and the history writer at random moments; print figures.

    python benchmarks/crash_campaign.py [--recorder-kills 300] [--history-kills 300]
                                        [--lanes 12] [--max-delay 3.0] [--seed 1]

The same campaign as tests/unit/test_crash_safety.py (its fork server, children and checks),
with more kills and longer runs. Per recorder kill: the file reads back as a whole prefix of
what was written, the loss (host time of the last entry handed to the writer minus that of the
last entry on disk; and the same from the kill itself), and replay + analysis equal to that
prefix written cleanly. Per history kill: the database opens, `PRAGMA integrity_check` is ok,
every session whose `record` returned is there.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "unit"))

import test_crash_safety as crash  # noqa: E402


def run_checks(kills, check) -> tuple[list[dict], list[str]]:
    results, failures = [], []
    for kill in kills:
        try:
            results.append(check(kill))
        except AssertionError as error:
            failures.append(f"{kill.command.get('path') or kill.command['db']}: {error!r}"[:300])
    return results, failures


def recorder(args: argparse.Namespace, folder: Path) -> None:
    rng = random.Random(args.seed)
    lanes = crash.recorder_lanes(folder, args.lanes, args.recorder_kills, rng, args.max_delay)
    started = time.monotonic()
    with crash.fork_server() as server:
        results, failures = run_checks(
            crash.campaign(server, lanes), lambda kill: crash.check_recording(kill, folder)
        )
    elapsed = time.monotonic() - started
    live = [r for r in results if r["phase"] == "live"]
    figures = {
        key: np.array([r[key] for r in live]) if live else np.zeros(1)
        for key in ("lost_age_s", "lost_span_s", "since_kill_s")
    }
    strays = sorted(p.name for p in folder.glob(".*.tmp"))
    total = len(results) + len(failures)
    print(f"recorder: {total} SIGKILLs in {elapsed:.0f} s, {args.lanes} at once")
    print(
        f"  phases: {sum(r['phase'] == 'before the file' for r in results)} before the file "
        f"existed, {sum(r['phase'] == 'start' for r in results)} writing the session so far, "
        f"{len(live)} recording live"
    )
    print(f"  read back as a whole prefix: {len(results)} of {len(results) + len(failures)}")
    print(f"  torn last chunk recovered: {sum(r.get('torn', False) for r in results)}")
    for key, text in (
        ("lost_age_s", "oldest lost entry handed to the writer before the kill"),
        ("lost_span_s", "session time lost (first to last lost entry)"),
        ("since_kill_s", "kill time minus host time of the last entry on disk"),
    ):
        values = figures[key]
        print(
            f"  {text}: max {values.max():.3f} s, p99 {np.percentile(values, 99):.3f} s, "
            f"mean {values.mean():.3f} s"
        )
    for profile in crash.PROFILES:
        since = [r["since_kill_s"] for r in live if r["profile"] == profile] or [0.0]
        print(f"    {profile}: kill time minus last entry on disk, max {max(since):.3f} s")
    reps = [r.get("reps", 0) for r in results]
    print(
        f"  replay + analysis equal to the prefix written cleanly: {len(results)}; reps in the "
        f"prefixes: {sum(reps)} (up to {max(reps, default=0)} in one)"
    )
    print(f"  stray temporary files: {len(strays)}")
    for failure in failures[:5]:
        print("  FAILED", failure)


def history(args: argparse.Namespace, folder: Path) -> None:
    rng = random.Random(args.seed)
    started = time.monotonic()
    with crash.fork_server() as server:
        lanes = crash.history_lanes(folder, min(args.lanes, 8), args.history_kills, rng)
        results, failures = run_checks(crash.campaign(server, lanes), crash.check_history)
    elapsed = time.monotonic() - started
    print(f"history: {len(results) + len(failures)} SIGKILLs in {elapsed:.0f} s")
    print(
        f"  opened and passed PRAGMA integrity_check: {len(results)} of "
        f"{len(results) + len(failures)}; killed before the database was open: "
        f"{sum(not r['opened'] for r in results)}"
    )
    print(
        f"  sessions whose record() returned before a kill: {sum(r['returned'] for r in results)}"
        f", every one stored with all its rows in {len(results)} checks, {len(failures)} failed"
    )
    for failure in failures[:5]:
        print("  FAILED", failure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recorder-kills", type=int, default=300)
    parser.add_argument("--history-kills", type=int, default=300)
    parser.add_argument("--lanes", type=int, default=12)
    parser.add_argument("--max-delay", type=float, default=3.0, help="recorder kill delay, s")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as base:
        if args.recorder_kills:
            (Path(base) / "rec").mkdir()
            recorder(args, Path(base) / "rec")
        if args.history_kills:
            (Path(base) / "db").mkdir()
            history(args, Path(base) / "db")


if __name__ == "__main__":
    main()
