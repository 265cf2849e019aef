"""Synthetic IMU sessions for analysis tests: a sensor lying flat that tilts about its x axis
(gravity sees it) and turns about the vertical (gravity cannot), with noise and gyro bias."""

from __future__ import annotations

import itertools

import numpy as np
from scipy.spatial.transform import Rotation

from monitor.analysis.pipeline import AnalysisPipeline
from monitor.core.samples import GRAVITY, SampleBlock

RATE = 50.0


def ramp(degrees: float, seconds: float) -> np.ndarray:
    """A smooth (raised-cosine) move of `degrees`, sampled at RATE."""
    x = np.linspace(0.0, 1.0, round(seconds * RATE), endpoint=False)
    return degrees * (1 - np.cos(np.pi * x)) / 2


def excursion(degrees: float, move_s: float, hold_s: float, rest_s: float) -> np.ndarray:
    """Out by `degrees`, held, back, rested: one rep's angle trace."""
    return np.concatenate(
        (
            ramp(degrees, move_s),
            np.full(round(hold_s * RATE), degrees),
            degrees - ramp(degrees, move_s),
            np.zeros(round(rest_s * RATE)),
        )
    )


def still(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE))


def imu(tilt_deg: np.ndarray, yaw_deg: np.ndarray, seed: int = 0) -> SampleBlock:
    """Samples of a sensor lying flat that tilts about its x axis (gravity sees it) and turns
    about the vertical (gravity cannot see it), with sensor noise and a gyro bias."""
    rotation = Rotation.from_euler("zx", np.column_stack((yaw_deg, tilt_deg)), degrees=True)
    step = rotation[:-1].inv() * rotation[1:]
    gyro = np.vstack((step.as_rotvec() * RATE, np.zeros((1, 3))))
    acc = rotation.inv().apply([0.0, 0.0, GRAVITY])
    rng = np.random.default_rng(seed)
    gyro += rng.normal(0.0, np.radians(0.2), gyro.shape) + np.radians([0.3, -0.2, 0.4])
    acc += rng.normal(0.0, 0.02, acc.shape)
    t_ns = np.round(np.arange(len(tilt_deg)) / RATE * 1e9).astype(np.int64)
    return SampleBlock(t_ns=t_ns, acc=acc, gyro=gyro)


def analyse(block: SampleBlock, exercise: str = "generic", cuts: list[int] | None = None):
    pipeline = AnalysisPipeline(exercise)
    events = []
    edges = [0, *(cuts or []), len(block)]
    for a, b in itertools.pairwise(edges):
        events += pipeline.process(block.slice(a, b))
    return pipeline.summary(), events
