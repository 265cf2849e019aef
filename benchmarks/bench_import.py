"""Speed of the importers: an hour of 100 Hz accelerometer + gyroscope in each app's format.

Writes the hour with each format's writer into a temporary folder, then times `open_input` on it
(parse, timestamp checks, pairing, putting both sensors on one clock).

    python benchmarks/bench_import.py [--minutes 60]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from monitor.core import GRAVITY, SampleBlock
from monitor.sources.importers import metabase, phyphox, polar_sensor_logger
from monitor.sources.inputs import open_input

RATE_HZ = 100.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    minutes = parser.parse_args().minutes
    n = int(minutes * 60 * RATE_HZ)
    rng = np.random.default_rng(0)
    t_ns = np.arange(n, dtype=np.int64) * int(1e9 / RATE_HZ) + 820_000_000_000_000_000
    acc = SampleBlock(t_ns=t_ns, acc=rng.normal(0, 0.5, (n, 3)) + np.array([0, 0, GRAVITY]))
    gyro = SampleBlock(t_ns=t_ns + 3_000_000, gyro=rng.normal(0, 0.2, (n, 3)))
    print(f"{minutes:g} min at {RATE_HZ:g} Hz, accelerometer + gyroscope ({n} samples each)")
    with tempfile.TemporaryDirectory() as tmp:
        for name, module, target in (
            ("metabase", metabase, Path(tmp, "metabase")),
            ("polar-sensor-logger", polar_sensor_logger, Path(tmp, "psl")),
            ("phyphox (zip)", phyphox, Path(tmp, "phyphox.zip")),
        ):
            if not target.suffix:
                target.mkdir()
            module.write(target, [acc, gyro])
            files = [target] if target.is_file() else [p for p in target.rglob("*") if p.is_file()]
            size = sum(p.stat().st_size for p in files)
            start = time.perf_counter()
            loaded = open_input(target)
            seconds = time.perf_counter() - start
            samples = len(loaded.blocks[0])
            print(
                f"{name:22s} {seconds:6.2f} s  {samples / seconds / 1e3:7.0f} k samples/s  "
                f"({size / 1e6:.0f} MB)"
            )


if __name__ == "__main__":
    main()
