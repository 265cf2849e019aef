"""Decode throughput per bundled profile stream, and one hour of 100 Hz data end to end.

Data comes from each profile's own encoder (what the firmware would send), batched per
characteristic in chunks of 2000 notifications as replay feeds them. Prints samples/s.

    python benchmarks/bench_decode.py [--seconds 3600]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np

from monitor.core import GRAVITY, Notification, NotificationBatch, SampleBlock
from monitor.profiles.decoder import ProfileDecoder
from monitor.profiles.loader import load_profiles

CHUNK = 2000


def motion(seconds: float, rate_hz: float) -> SampleBlock:
    n = int(seconds * rate_hz)
    rng = np.random.default_rng(1)
    return SampleBlock(
        t_ns=1_000_000_000_000 + np.rint(np.arange(n) * 1e9 / rate_hz).astype(np.int64),
        acc=rng.normal(0, 2, (n, 3)) * GRAVITY,
        gyro=rng.normal(0, 1, (n, 3)),
        mag=rng.normal(0, 30, (n, 3)),
    )


def batches(notifications: list[Notification]) -> list[NotificationBatch]:
    by_characteristic: dict[str, list[Notification]] = defaultdict(list)
    for notification in notifications:
        by_characteristic[notification.characteristic].append(notification)
    out = []
    for characteristic, items in by_characteristic.items():
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            out.append(
                NotificationBatch.from_payloads(
                    characteristic, [n.data for n in chunk], [n.host_t_ns for n in chunk]
                )
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3600.0, help="length of the data")
    args = parser.parse_args()
    print(
        f"{'profile/stream':<32} {'rate':>6} {'samples':>9} {'notifs':>8} "
        f"{'decode s':>9} {'samples/s':>12}"
    )
    for profile in load_profiles(include_user=False).values():
        for stream in profile.streams:
            decoder = ProfileDecoder(profile, stream=stream.name)
            rate = (
                100.0
                if 100 in stream.choices.get(stream.rate_setting, [100])
                else decoder.rate_hz()
            )
            if rate != decoder.rate_hz():
                decoder = ProfileDecoder(profile, {stream.rate_setting: rate}, stream.name)
            block = motion(args.seconds, rate)
            notifications = [*decoder.session_preamble(), *decoder.encode(block)]
            work = batches(notifications)
            decoder.reset()
            start = time.perf_counter()
            decoded = sum(
                len(b) for batch in work for b in decoder.feed(batch).blocks if b.channels
            )
            elapsed = time.perf_counter() - start
            print(
                f"{profile.id + '/' + stream.name:<32} {rate:>6g} {decoded:>9} "
                f"{len(notifications):>8} {elapsed:>9.3f} {decoded / elapsed:>12,.0f}"
            )


if __name__ == "__main__":
    main()
