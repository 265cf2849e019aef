"""Orientation of the sensor from accelerometer + gyroscope, block by block.

The pipeline uses VQF (Laidig & Seel 2023, the `vqf` package): its `updateBatch` loops in compiled
code, it estimates gyroscope bias both at rest and in motion, and on the real 25 Hz recordings and
on simulated truth it tracked the exercise angle at least as well as Fusion (`imufusion`), whose
Python API takes one sample per call (benchmarks/eval_simulated.py prints both). The Fusion backend
is kept for that comparison.

Both give the gravity direction in the sensor frame, which the calibration turns into an angle in
the plane of the exercise (heading drift of a 6-axis filter does not enter it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.spatial.transform import Rotation
from vqf import VQF

from monitor.core.samples import GRAVITY, FloatArray

Backend = Literal["vqf", "imufusion"]

# Time constant of VQF's accelerometer correction. Exercise movements are slow, so gravity can
# be trusted more than VQF's default (3 s) assumes: 1.5 s cut the mean angle error on simulated
# sessions (2 deg/s gyro bias, 3x noise) from 1.3 to 0.9 deg and kept the real recordings'
# counts; shorter (1 s) found fewer holds there (benchmarks/eval_simulated.py,
# benchmarks/eval_pt_exercises.py).
TAU_ACC_S = 1.5


@dataclass(frozen=True, slots=True)
class OrientationOutput:
    quat: FloatArray  # (n, 4) scalar first, sensor to earth
    gravity: FloatArray  # (n, 3) unit vector "up" in the sensor frame
    rest: np.ndarray  # (n,) bool: the filter detected rest (VQF only; False for Fusion)


class OrientationFilter:
    """Stateful 6-axis orientation filter; `process` continues where the last block ended."""

    def __init__(
        self, rate_hz: float, backend: Backend = "vqf", tau_acc_s: float = TAU_ACC_S
    ) -> None:
        if not 1.0 <= rate_hz <= 2000.0:
            raise ValueError(f"sample rate {rate_hz} Hz out of range")
        self.rate_hz = rate_hz
        self.backend = backend
        self.tau_acc_s = tau_acc_s
        self.reset()

    def reset(self) -> None:
        period = 1.0 / self.rate_hz
        if self.backend == "vqf":
            self._vqf = VQF(period, tauAcc=self.tau_acc_s)
        elif self.backend == "imufusion":
            import imufusion  # test extra only: used to compare with VQF

            self._ahrs = imufusion.Ahrs()
            self._ahrs.set_sample_period(period)
        else:
            raise ValueError(f"unknown orientation backend {self.backend!r}")

    def restart(self) -> None:
        """Samples stopped for a while (a lost link): whatever the segment did meanwhile, the
        orientation integrated so far no longer holds. Start again from the next accelerometer
        samples, keeping VQF's gyro bias estimate (the sensor is the same)."""
        if self.backend != "vqf":
            self.reset()
            return
        bias, sigma = self._vqf.getBiasEstimate()
        self._vqf.resetState()
        self._vqf.setBiasEstimate(bias, sigma)

    def process(self, gyro: FloatArray, acc: FloatArray) -> OrientationOutput:
        """gyro rad/s (n, 3), acc m/s^2 (n, 3) at the filter's rate."""
        n = gyro.shape[0]
        if n == 0:
            empty = np.empty((0, 3))
            return OrientationOutput(np.empty((0, 4)), empty, np.empty(0, dtype=bool))
        if self.backend == "vqf":
            out = self._vqf.updateBatch(
                np.ascontiguousarray(gyro, dtype=np.float64),
                np.ascontiguousarray(acc, dtype=np.float64),
            )
            quat = out["quat6D"]
            rest = out["restDetected"].astype(bool)
        else:
            quat = np.empty((n, 4))
            gyro_dps = np.degrees(gyro)
            acc_g = acc / GRAVITY
            for i in range(n):  # Fusion has no batch call
                self._ahrs.update_no_magnetometer(gyro_dps[i], acc_g[i])
                quat[i] = self._ahrs.get_quaternion()  # w, x, y, z
            rest = np.zeros(n, dtype=bool)
        return OrientationOutput(quat, gravity_in_sensor_frame(quat), rest)


def gravity_in_sensor_frame(quat: FloatArray) -> FloatArray:
    """Earth's up axis seen from the sensor: third row of the rotation matrix, vectorised."""
    w, x, y, z = quat[:, 0], quat[:, 1], quat[:, 2], quat[:, 3]
    up = np.stack((2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)), axis=1)
    return up / np.linalg.norm(up, axis=1, keepdims=True)


def rotation_of(quat: FloatArray) -> Rotation:
    return Rotation.from_quat(quat, scalar_first=True)
