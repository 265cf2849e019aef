"""Speed of the analysis path: a 1-hour 100 Hz session, bytes to reps.

Plans a long knee-to-chest session with the virtual sensor's motion model, encodes it byte for
byte as a MetaMotion R streams it at 100 Hz (the profile's own encoder), then times in one run:
  * decode + align (SensorStream over 60 s windows of notifications),
  * the analysis pipeline on the aligned blocks (orientation + calibration + detection),
  * VQF's own batch call on the same samples (the floor any VQF-based analysis can reach),
and the per-block time of the pipeline when fed at live rates (one block per BLE notification
interval), with its p99.

    python benchmarks/bench_analysis.py [--minutes 60] [--profile metamotion_r] [--exercise ID]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np
from vqf import VQF

from monitor.analysis.orientation import TAU_ACC_S
from monitor.analysis.pipeline import AnalysisPipeline
from monitor.core.notifications import NotificationBatch
from monitor.core.samples import SampleBlock
from monitor.sources.motion import IdleSegment, MotionScript, RepsSegment, plan_motion
from monitor.sources.simulate import simulate
from monitor.sources.stream import SensorStream


def session_script(minutes: float, rate_hz: float) -> MotionScript:
    """Sets of 10 reps with 10 s holds and idle stretches, repeated to fill `minutes`."""
    block = [RepsSegment(sets=2, reps=10, hold_s=10.0), IdleSegment(duration_s=30.0)]
    per_block_s = 2 * 10 * 17.0 + 20 + 30
    return MotionScript(
        exercise="knee_to_chest_single",
        rate_hz=rate_hz,
        segments=block * max(1, round(minutes * 60 / per_block_s)),
    )


def batches(notifications: list, window_ns: int) -> list[list[NotificationBatch]]:
    """Notifications grouped per window of host time, one batch per characteristic."""
    windows: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    start = notifications[0].host_t_ns
    for n in notifications:
        windows[(n.host_t_ns - start) // window_ns][n.characteristic].append(n)
    return [
        [
            NotificationBatch.from_payloads(c, [n.data for n in ns], [n.host_t_ns for n in ns])
            for c, ns in window.items()
        ]
        for _, window in sorted(windows.items())
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--profile", default="metamotion_r")
    parser.add_argument(
        "--exercise",
        default="knee_to_chest_single",
        help="exercise analysed (generic also runs the out-and-back move finder)",
    )
    args = parser.parse_args(argv)

    print(f"encoding {args.minutes:g} min at {args.rate:g} Hz as {args.profile} sends it ...")
    # A 15-minute plan, repeated back to back on one continuous sensor clock and encoded by one
    # stateful encoder: the motion model evaluates a whole plan at once, which does not scale to
    # an hour in memory.
    script = session_script(min(args.minutes, 15.0), args.rate)
    # A short simulation fixes the profile, its settings and the channels sampled together.
    probe = simulate(script.model_copy(update={"segments": script.segments[:1]}), args.profile)
    plan = plan_motion(script, seed=1)
    repeats = max(1, round(args.minutes * 60 / plan.duration_s))
    measured = plan.measured(plan.ideal(plan.grid(args.rate)))
    channels = probe.measured[0].channels
    span_ns = int(measured.t_ns[-1] - measured.t_ns[0]) + round(1e9 / args.rate)
    encoder = probe.decoder()
    notifications = list(encoder.session_preamble())
    for k in range(repeats):
        part = SampleBlock(
            t_ns=measured.t_ns + k * span_ns, **{c: getattr(measured, c) for c in channels}
        )
        notifications += encoder.encode(part)
    truth_reps = len(plan.reps) * repeats
    windows = batches(notifications, 60_000_000_000)

    stream = SensorStream(probe.profile, probe.settings, probe.stream)
    begin = time.perf_counter()
    blocks: list[SampleBlock] = []
    for window in windows:
        blocks += stream.feed(window)[0]
    blocks += stream.flush()[0]
    decode_s = time.perf_counter() - begin

    samples = SampleBlock.concat([SampleBlock(t_ns=b.t_ns, acc=b.acc, gyro=b.gyro) for b in blocks])
    pipeline = AnalysisPipeline(args.exercise)
    begin = time.perf_counter()
    for block in blocks:
        pipeline.process(block)
    analysis_s = time.perf_counter() - begin
    summary = pipeline.summary()

    begin = time.perf_counter()
    VQF(1 / pipeline.rate_hz, tauAcc=TAU_ACC_S).updateBatch(
        np.ascontiguousarray(samples.gyro), np.ascontiguousarray(samples.acc)
    )
    vqf_s = time.perf_counter() - begin

    per_block = max(1, round(pipeline.rate_hz * 0.05))  # a block per 50 ms notification interval
    live = AnalysisPipeline(args.exercise)
    times = []
    for start in range(0, len(samples), per_block):
        chunk = samples.slice(start, start + per_block)
        begin = time.perf_counter()
        live.process(chunk)
        times.append(time.perf_counter() - begin)
    times_us = np.array(times) * 1e6

    hours = len(samples) / pipeline.rate_hz / 3600
    print(f"samples                 {len(samples)} ({hours:.2f} h at {pipeline.rate_hz:.1f} Hz)")
    print(f"reps counted / truth    {summary.rep_count} / {truth_reps}")
    print(f"decode + align          {decode_s:.3f} s")
    print(f"analysis pipeline       {analysis_s:.3f} s")
    print(f"end to end              {decode_s + analysis_s:.3f} s (goal < 1 s per hour)")
    print(f"VQF updateBatch alone   {vqf_s:.3f} s")
    print(f"pipeline / VQF batch    {analysis_s / vqf_s:.2f} x (goal <= 3 x)")
    print(
        f"live blocks of {per_block} samples: median {np.median(times_us):.0f} us, "
        f"p99 {np.percentile(times_us, 99):.0f} us, max {times_us.max():.0f} us "
        f"(budget {per_block / pipeline.rate_hz * 1e6:.0f} us)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
