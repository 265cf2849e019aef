"""From gravity directions to the segment's angle in the plane of the exercise.

A still neutral pose fixes the reference gravity direction; the axis of motion is the principal
axis of the angular velocity over the first movement (the guided first rep, or simply the first
rep when no explicit step is made). The angle is then the rotation of gravity about that axis, seen
in the sensor frame: independent of how the sensor is strapped on and free of heading drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from monitor.analysis.results import Calibration
from monitor.core.samples import FloatArray


def plane_angle_deg(gravity: FloatArray, calibration: Calibration) -> FloatArray:
    """Signed rotation (degrees) from the neutral pose about the calibrated axis."""
    axis = np.asarray(calibration.axis)
    neutral = np.asarray(calibration.neutral_gravity)
    u = neutral - (neutral @ axis) * axis
    u /= max(float(np.linalg.norm(u)), 1e-9)
    v = np.cross(axis, u)
    return np.degrees(np.arctan2(rows_dot(gravity, v), rows_dot(gravity, u)))


def axis_rate_dps(gyro: FloatArray, axis: FloatArray) -> FloatArray:
    """Angular rate about the axis, signed like the derivative of `plane_angle_deg`.

    Gravity is fixed in the world, so in the sensor frame it turns opposite to the sensor.
    """
    return -np.degrees(rows_dot(gyro, axis))


def out_of_plane_deg(gravity: FloatArray, axis: FloatArray) -> FloatArray:
    """Tilt of gravity along the axis: constant for a pure hinge movement."""
    return np.degrees(np.arcsin(np.clip(rows_dot(gravity, axis), -1.0, 1.0)))


def rows_dot(rows: FloatArray, vector: FloatArray) -> FloatArray:
    """Each row dotted with `vector`, element-wise so every row's result is bit-identical
    however the rows were split into blocks (a BLAS matrix product need not be)."""
    return rows[:, 0] * vector[0] + rows[:, 1] * vector[1] + rows[:, 2] * vector[2]


LONG_MOVE_DEG = 120.0  # turning without any pause: fix the axis after this much rotation


@dataclass
class SelfCalibrator:
    """Learns neutral and axis from the data: still pose, then the first clear movement.

    Feed it sample by sample in blocks (`update`); it holds the samples since the neutral pose
    (bounded by `max_buffer_s`) so the pipeline can replay the first rep once the axis is known.
    """

    rate_hz: float
    neutral_still_s: float = 1.0
    axis_learn_deg: float = 15.0
    repose_s: float = 3.0  # still this long before the axis is known: a new neutral pose
    min_axis_share: float = 0.6  # principal axis share of the angular-velocity energy
    max_buffer_s: float = 60.0
    _still_run: int = 0
    _still_sum: FloatArray = field(default_factory=lambda: np.zeros(3))
    neutral: FloatArray | None = None
    neutral_t_ns: int = 0
    _cov: FloatArray = field(default_factory=lambda: np.zeros((3, 3)))
    _turned_deg: float = 0.0
    _buffer: list[tuple[np.ndarray, FloatArray, FloatArray]] = field(default_factory=list)

    def update(
        self, t_ns: np.ndarray, gravity: FloatArray, gyro: FloatArray, still: np.ndarray
    ) -> tuple[Calibration, int] | None:
        """Once both are known: (calibration, index of the first sample after the buffer)."""
        n = len(t_ns)
        need = max(1, round(self.neutral_still_s * self.rate_hz))
        repose = max(need, round(self.repose_s * self.rate_hz))
        i = 0
        while i < n:
            changes = np.flatnonzero(still[i:] != still[i])
            stop = i + (int(changes[0]) if changes.size else n - i)
            if still[i]:
                if self.neutral is not None and self._moved_enough(gravity[i]):
                    found = self._try_axis()  # the first movement reached a pause
                    if found is not None:
                        return found, i
                self._still_run += stop - i
                self._still_sum += gravity[i:stop].sum(axis=0)
                settled = self._still_run >= need and self._turned_deg == 0.0
                if settled or (self._still_run >= repose and self.neutral is not None):
                    self._set_neutral(int(t_ns[stop - 1]))  # (new) neutral pose
                elif self.neutral is not None:
                    self._keep(t_ns[i:stop], gravity[i:stop], gyro[i:stop])
            else:
                self._still_run = 0
                self._still_sum = np.zeros(3)
                if self.neutral is not None:
                    turned = self._turned_deg + np.cumsum(
                        np.degrees(np.linalg.norm(gyro[i:stop], axis=1)) / self.rate_hz
                    )
                    long_enough = max(3 * self.axis_learn_deg, LONG_MOVE_DEG)
                    over = np.flatnonzero(turned >= long_enough)
                    long_move = over.size > 0 and self._turned_deg < long_enough
                    if long_move:
                        stop = i + int(over[0]) + 1
                    self._cov += gyro[i:stop].T @ gyro[i:stop]
                    self._turned_deg = float(turned[stop - i - 1])
                    self._keep(t_ns[i:stop], gravity[i:stop], gyro[i:stop])
                    if long_move:
                        found = self._try_axis()  # a long movement without a pause
                        if found is not None:
                            return found, stop
            i = stop
        return None

    def _moved_enough(self, gravity: FloatArray) -> bool:
        """Turned far enough to learn the axis from: by the moving samples' rotation, or, for a
        movement so slow that much of it looked still, by how far the pose now is from neutral."""
        if self._turned_deg == 0.0:
            return False
        away = np.degrees(np.arccos(np.clip(float(gravity @ self.neutral), -1.0, 1.0)))
        return max(self._turned_deg, away) >= self.axis_learn_deg

    def buffered(self) -> tuple[np.ndarray, FloatArray, FloatArray]:
        """Samples kept since the neutral pose: t_ns, gravity, gyro."""
        if not self._buffer:
            return np.empty(0, np.int64), np.empty((0, 3)), np.empty((0, 3))
        return tuple(np.concatenate(parts) for parts in zip(*self._buffer, strict=True))

    def _set_neutral(self, t_ns: int) -> None:
        mean = self._still_sum / max(self._still_run, 1)
        self.neutral = mean / np.linalg.norm(mean)
        self.neutral_t_ns = t_ns
        self._cov = np.zeros((3, 3))
        self._turned_deg = 0.0
        self._buffer.clear()

    def _keep(self, t_ns: np.ndarray, gravity: FloatArray, gyro: FloatArray) -> None:
        self._buffer.append((t_ns.copy(), gravity.copy(), gyro.copy()))
        limit = int(self.max_buffer_s * 1e9)
        while len(self._buffer) > 1 and self._buffer[-1][0][-1] - self._buffer[0][0][-1] > limit:
            self._buffer.pop(0)

    def _try_axis(self) -> Calibration | None:
        values, vectors = np.linalg.eigh(self._cov)
        share = values[-1] / max(values.sum(), 1e-12)
        if share < self.min_axis_share:
            self._cov = np.zeros((3, 3))
            self._turned_deg = 0.0
            return None
        axis = vectors[:, -1]
        calibration = make_calibration(self.neutral, axis, method="self", t_s=0.0)
        _, gravity, _ = self.buffered()
        angles = plane_angle_deg(gravity, calibration)
        extreme = float(angles[np.argmax(np.abs(angles))]) if angles.size else 1.0
        if extreme < 0:
            calibration = make_calibration(self.neutral, -axis, method="self", t_s=0.0)
        return calibration.model_copy(update={"rom_deg": round(abs(extreme), 6)})


def make_calibration(
    neutral_gravity: FloatArray,
    axis: FloatArray,
    *,
    method: str,
    t_s: float,
    rom_deg: float = 0.0,
) -> Calibration:
    # Rounded so sums taken over differently split blocks give the very same calibration.
    axis = np.round(np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis), 9)
    neutral = np.asarray(neutral_gravity, dtype=np.float64)
    neutral = np.round(neutral / np.linalg.norm(neutral), 9)
    quality = float(np.linalg.norm(neutral - (neutral @ axis) * axis))
    return Calibration(
        neutral_gravity=tuple(float(x) for x in neutral),
        axis=tuple(float(x) for x in axis),
        rom_deg=round(rom_deg, 6),
        method=method,
        t_s=t_s,
        plane_quality=round(quality, 6),
    )
