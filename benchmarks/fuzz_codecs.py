"""Malformed notifications against every bundled profile stream: thousands of cases each.

Each case spoils a run of 1-5 notifications of a clean stream (truncated, oversized, random,
bit-flipped, or sent on the wrong characteristic; kinds in turn) and feeds it through a fresh
ProfileDecoder, live-style or replay-style, checking the invariants of
tests/unit/fuzz_support.py: no exception, one BAD_PACKET event per bad packet and no more bad
packets than spoiled notifications, finite samples of shape (n, 3), times never backwards
unreported, and the clean notifications after the garbage decoding to exactly the clean
stream's samples. Prints per stream: cases, bad packets counted, spoiled notifications that
were ignored without a trace (not ours: other registers, other subscriptions, packet tails
awaiting more bytes), exceptions, violations (resync failures and the rest), time.

    python benchmarks/fuzz_codecs.py [--cases 5000] [--seed 1] [--stream polar_h10/acc]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "unit"))

from fuzz_support import fuzz_stream, streams


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5000, help="cases per stream")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--stream", action="append", help="profile/stream[+setting=value] (default: all)"
    )
    args = parser.parse_args()
    chosen = [name for name in streams() if not args.stream or name in args.stream]
    print(
        f"{'stream':38} {'cases':>6} {'bad pkts':>8} {'ignored':>7} "
        f"{'exceptions':>10} {'violations':>10} {'time s':>7}"
    )
    failed = False
    for name in chosen:
        tally = fuzz_stream(name, args.cases, args.seed)
        print(
            f"{name:38} {tally.cases:6d} {tally.bad_packets:8d} "
            f"{tally.silent:7d} {tally.exceptions:10d} {tally.violations:10d} "
            f"{tally.seconds:7.1f}",
            flush=True,
        )
        for example in tally.examples:
            print(f"    {example}")
        failed |= bool(tally.exceptions or tally.violations)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
