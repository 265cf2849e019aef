"""Simulated motion written in other apps' formats, for the importer tests."""

from __future__ import annotations

from functools import cache

import numpy as np

from monitor.core import SampleBlock
from monitor.sources.motion import Motion, MotionScript, RepsSegment, synthesize

REPS = 4
UNIX_START_NS = 1_767_600_000_000_000_000  # 2026-01-05T08:00:00Z


@cache
def motion(rate_hz: float) -> Motion:
    """Four pelvic tilts sampled at `rate_hz` (one plan: the same movement at any rate)."""
    script = MotionScript(exercise="pelvic_tilt", segments=[RepsSegment(reps=REPS)])
    return synthesize(script, rate_hz, seed=3)


def channel(rate_hz: float, name: str, t0_ns: int = UNIX_START_NS) -> SampleBlock:
    """One channel of the measured samples at `rate_hz`, on a clock starting at `t0_ns`."""
    samples = motion(rate_hz).samples
    return SampleBlock(t_ns=samples.t_ns + t0_ns, **{name: getattr(samples, name)})


def shifted(block: SampleBlock, offset_ns: int) -> SampleBlock:
    return SampleBlock(t_ns=block.t_ns + offset_ns, acc=block.acc, gyro=block.gyro, mag=block.mag)


def interp_to(block: SampleBlock, name: str, t_ns: np.ndarray) -> np.ndarray:
    values = getattr(block, name)
    return np.column_stack([np.interp(t_ns, block.t_ns, values[:, i]) for i in range(3)])
