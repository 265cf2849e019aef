"""Mutation fuzz of the text inputs through `monitor analyze` / `program check` (issue 7).

Writes a good session in each text format the monitor reads (generic CSV, MetaBase pair, Polar
Sensor Logger pair, phyphox folder) and the bundled profile, exercise and program files, then
runs many seeded random mutations of one file each (byte flips, odd tokens in a field, lines
dropped, duplicated or shuffled, truncation, header shuffles, blank lines, a stuck clock) through
the real CLI in-process. A case passes when the CLI exits 0, or 2 with exactly one
`monitor: error:` line, and every stderr line is a `monitor: ` line (no traceback, no numpy
warning). Prints the cases run, the outcomes and any failure.

    python benchmarks/fuzz_text_inputs.py [--cases 2000] [--seed 1]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import shutil
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

import numpy as np

TOKENS = [b"1e308", b"-1e308", b"1e-320", b"", b" ", b"0x10", b"1_000", b"+", b"-0", b"9" * 30]
TOKENS += [b'"', b"1e5", b"-", b"1,5", b"NaN", b"infinity", b"9223372036854775807", b"[", b"="]


def mutate(raw: bytes, rng: random.Random) -> bytes:
    lines = raw.split(b"\n")
    kind = rng.randrange(9)
    if kind == 0:  # flip bytes
        data = bytearray(raw)
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    if kind == 1:  # an odd token in one field
        sep = b";" if b";" in lines[0] else (b"," if b"," in lines[0] else b"=")
        row = rng.randrange(min(len(lines), 60))
        fields = lines[row].split(sep)
        fields[rng.randrange(len(fields))] = rng.choice(TOKENS)
        lines[row] = sep.join(fields)
        return b"\n".join(lines)
    if kind == 2:  # lines dropped
        start = rng.randrange(len(lines))
        return b"\n".join(lines[:start] + lines[start + rng.randint(1, 200) :])
    if kind == 3:  # a line repeated
        row = rng.randrange(len(lines))
        return b"\n".join(lines[:row] + [lines[row]] * rng.randint(2, 50) + lines[row:])
    if kind == 4:  # truncated anywhere
        return raw[: rng.randrange(len(raw))]
    if kind == 5:  # lines shuffled in a window
        start = rng.randrange(len(lines))
        window = lines[start : start + 10]
        rng.shuffle(window)
        return b"\n".join(lines[:start] + window + lines[start + 10 :])
    if kind == 6:  # the clock stuck
        return b"\n".join([lines[0], *lines[1:3] * 100])
    if kind == 7:  # blank lines, comments, lone CRs
        for _ in range(10):
            lines.insert(rng.randrange(1, len(lines)), rng.choice([b"", b"#x", b"   ", b"\r"]))
        return b"\n".join(lines)
    return b"\n".join(lines[: rng.randint(1, 6)])  # only the first rows


def write_inputs(folder: Path) -> dict[str, tuple[list[Path], Path, list[str]]]:
    """name -> (files a case may corrupt, the input, the CLI arguments after it)."""
    from monitor.analysis.exercises import BUNDLED_EXERCISES_DIR
    from monitor.core import SampleBlock
    from monitor.profiles.loader import bundled_profiles_dir
    from monitor.sources.importers import metabase, phyphox, polar_sensor_logger
    from monitor.sources.motion import MotionScript, RepsSegment, synthesize

    samples = synthesize(
        MotionScript(exercise="pelvic_tilt", segments=[RepsSegment(reps=4)]), 50.0, seed=3
    ).samples
    both = SampleBlock(samples.t_ns, acc=samples.acc, gyro=samples.gyro)
    analyze = ["--no-history", "--json", "--exercise", "pelvic_tilt"]
    inputs: dict[str, tuple[list[Path], Path, list[str]]] = {}
    for name in ("csv", "metabase", "polar", "phyphox", "toml"):
        (folder / name).mkdir(parents=True)
    csv = folder / "csv" / "session.csv"
    header = "time_s,acc_x_mps2,acc_y_mps2,acc_z_mps2,gyro_x_rads,gyro_y_rads,gyro_z_rads"
    rows = np.column_stack([samples.t_ns / 1e9, samples.acc, samples.gyro])
    np.savetxt(csv, rows, delimiter=",", header=header, comments="", fmt="%.6f")
    inputs["csv"] = ([csv], csv, ["analyze", "{input}", *analyze])
    pair = metabase.write(
        folder / "metabase",
        [SampleBlock(both.t_ns + 1_767_600_000 * 10**9, acc=both.acc, gyro=both.gyro)],
    )
    inputs["metabase"] = (pair, pair[0], ["analyze", "{input}", *analyze])
    pair = polar_sensor_logger.write(folder / "polar", [both])
    inputs["polar-sensor-logger"] = (pair, pair[0], ["analyze", "{input}", *analyze])
    export = phyphox.write(folder / "phyphox", [both])
    inputs["phyphox"] = (sorted(export.glob("*.csv")), export, ["analyze", "{input}", *analyze])
    profile = folder / "toml" / "profile.toml"
    shutil.copy(bundled_profiles_dir() / "witmotion_wt901ble.toml", profile)
    inputs["profile"] = ([profile], profile, ["profiles", "check", "{input}"])
    program = folder / "toml" / "program.toml"
    shutil.copy(BUNDLED_EXERCISES_DIR.parent / "programs" / "low_back_starter.toml", program)
    inputs["program"] = ([program], program, ["program", "check", "{input}"])
    user = Path(os.environ["MONITOR_CONFIG_DIR"]) / "exercises"
    user.mkdir(parents=True)
    exercise = user / "mine.toml"
    shutil.copy(BUNDLED_EXERCISES_DIR / "bridge.toml", exercise)
    inputs["user exercise"] = ([exercise], csv, ["analyze", "{input}", *analyze])
    return inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="fuzz-text-"))
    os.environ["MONITOR_CONFIG_DIR"] = str(base / "config")
    os.environ["MONITOR_DATA_DIR"] = str(base / "data")
    from monitor.cli import main as cli

    inputs = write_inputs(base / "inputs")
    originals = {f: f.read_bytes() for files, _given, _argv in inputs.values() for f in files}
    rng = random.Random(args.seed)
    outcomes: Counter[tuple[str, str]] = Counter()
    failures: list[str] = []
    started = time.perf_counter()
    for case in range(args.cases):
        name = rng.choice(list(inputs))
        files, given, argv = inputs[name]
        target = rng.choice(files)
        target.write_bytes(mutate(originals[target], rng))
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = cli([a.replace("{input}", str(given)) for a in argv])
            lines = err.getvalue().splitlines()
            errors = sum(line.startswith("monitor: error: ") for line in lines)
            good = code == 0 or (code == 2 and errors == 1)
            if not good or any(not line.startswith("monitor: ") for line in lines):
                failures.append(f"case {case} {name} {target.name}: exit {code}: {lines[:3]}")
            outcomes[(name, "ok" if code == 0 else "error")] += 1
        except BaseException as error:
            failures.append(f"case {case} {name} {target.name}: {traceback.format_exc(limit=3)}")
            outcomes[(name, type(error).__name__)] += 1
        target.write_bytes(originals[target])
    elapsed = time.perf_counter() - started
    shutil.rmtree(base)
    print(f"{args.cases} mutated inputs in {elapsed:.0f} s (seed {args.seed})")
    for name in inputs:
        counts = {k: v for (n, k), v in sorted(outcomes.items()) if n == name}
        print(f"  {name:20} " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(f"failures (traceback, exit code or stray stderr): {len(failures)}")
    for failure in failures[:20]:
        print("  " + failure)


if __name__ == "__main__":
    main()
