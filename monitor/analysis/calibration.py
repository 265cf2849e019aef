"""From gravity directions to the segment's angle in the plane of the exercise.

A still neutral pose fixes the reference gravity direction; the axis of motion is the principal
axis of the angular velocity over the first movement (the guided first rep, or simply the first
rep when no explicit step is made). The angle is then the rotation of gravity about that axis, seen
in the sensor frame: independent of how the sensor is strapped on and free of heading drift.
When the axis is close to vertical (a seated trunk rotation with the sensor on the chest), gravity
cannot see the movement: the angle is then the orientation filter's turn about the axis from the
neutral pose, which carries the filter's slow heading drift (the rep detector's rest pose follows
it between reps).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from monitor.analysis.results import Calibration
from monitor.core.samples import FloatArray

MIN_PLANE_QUALITY = 0.35  # below: the movement is nearly horizontal, gravity cannot resolve it


def segment_angle_deg(
    gravity: FloatArray, quat: FloatArray, calibration: Calibration
) -> FloatArray:
    """The segment's signed angle from neutral about the calibrated axis: from gravity, or from
    the orientation when the calibration says gravity cannot resolve it."""
    if calibration.neutral_orientation is None:
        return plane_angle_deg(gravity, calibration)
    return turn_angle_deg(quat, calibration)


def turn_angle_deg(quat: FloatArray, calibration: Calibration) -> FloatArray:
    """Turn about the axis from the neutral orientation (the twist of the relative rotation),
    signed like `plane_angle_deg` (gravity turns against the sensor)."""
    w0, x0, y0, z0 = calibration.neutral_orientation
    w, x, y, z = quat[:, 0], quat[:, 1], quat[:, 2], quat[:, 3]
    # conj(neutral) * quat: the rotation from the neutral pose, in the neutral sensor frame
    rw = w0 * w + x0 * x + y0 * y + z0 * z
    rx = w0 * x - x0 * w - y0 * z + z0 * y
    ry = w0 * y + x0 * z - y0 * w - z0 * x
    rz = w0 * z - x0 * y + y0 * x - z0 * w
    ax, ay, az = calibration.axis
    along = rx * ax + ry * ay + rz * az
    return -np.degrees(2 * np.arctan2(along * np.sign(rw + (rw == 0)), np.abs(rw)))


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
    neutral_quat: FloatArray | None = None
    _quat_tail: FloatArray = field(default_factory=lambda: np.empty((0, 4)))
    _buffer: list[tuple[np.ndarray, FloatArray, FloatArray, FloatArray]] = field(
        default_factory=list
    )

    def update(
        self,
        t_ns: np.ndarray,
        gravity: FloatArray,
        gyro: FloatArray,
        still: np.ndarray,
        quat: FloatArray,
    ) -> tuple[Calibration, int] | None:
        """Once both are known: (calibration, index of the first sample after the buffer)."""
        n = len(t_ns)
        need = max(1, round(self.neutral_still_s * self.rate_hz))
        repose = max(need, round(self.repose_s * self.rate_hz))
        # the orientation half a still run's minimum before its end: settled, not yet moving
        # (the still flags lag the movement's start); the samples before the block included
        settled = round(self.neutral_still_s * self.rate_hz / 2)
        history = np.concatenate((self._quat_tail, quat))
        self._quat_tail = history[-settled - 1 :]
        behind = len(history) - n - settled
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
                    self._set_neutral(int(t_ns[stop - 1]), history[max(0, behind + stop - 1)])
                elif self.neutral is not None:
                    self._keep(t_ns[i:stop], gravity[i:stop], gyro[i:stop], quat[i:stop])
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
                    self._keep(t_ns[i:stop], gravity[i:stop], gyro[i:stop], quat[i:stop])
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

    def buffer_start_ns(self) -> int | None:
        """Time of the first sample kept (None: nothing kept, no neutral pose yet)."""
        return int(self._buffer[0][0][0]) if self._buffer else None

    def buffered(self) -> tuple[np.ndarray, FloatArray, FloatArray, FloatArray]:
        """Samples kept since the neutral pose: t_ns, gravity, gyro, orientation."""
        if not self._buffer:
            return np.empty(0, np.int64), np.empty((0, 3)), np.empty((0, 3)), np.empty((0, 4))
        return tuple(np.concatenate(parts) for parts in zip(*self._buffer, strict=True))

    def _set_neutral(self, t_ns: int, quat: FloatArray) -> None:
        mean = self._still_sum / max(self._still_run, 1)
        self.neutral = mean / np.linalg.norm(mean)
        self.neutral_quat = quat.copy()
        self.neutral_t_ns = t_ns
        self._cov = np.zeros((3, 3))
        self._turned_deg = 0.0
        self._buffer.clear()

    def _keep(
        self, t_ns: np.ndarray, gravity: FloatArray, gyro: FloatArray, quat: FloatArray
    ) -> None:
        self._buffer.append((t_ns.copy(), gravity.copy(), gyro.copy(), quat.copy()))
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
        calibration = make_calibration(
            self.neutral, axis, method="self", t_s=0.0, neutral_quat=self.neutral_quat
        )
        _, gravity, _, quat = self.buffered()
        angles = segment_angle_deg(gravity, quat, calibration)
        extreme = float(angles[np.argmax(np.abs(angles))]) if angles.size else 1.0
        if extreme < 0:
            calibration = make_calibration(
                self.neutral, -axis, method="self", t_s=0.0, neutral_quat=self.neutral_quat
            )
        return calibration.model_copy(update={"rom_deg": round(abs(extreme), 6)})


def make_calibration(
    neutral_gravity: FloatArray,
    axis: FloatArray,
    *,
    method: str,
    t_s: float,
    rom_deg: float = 0.0,
    neutral_quat: FloatArray | None = None,
) -> Calibration:
    """A calibration from a neutral gravity direction and an axis; when the axis is too close
    to vertical for gravity to resolve (`MIN_PLANE_QUALITY`) and the neutral orientation is
    known, the angle will come from the orientation (`neutral_orientation`)."""
    # Rounded so sums taken over differently split blocks give the very same calibration.
    axis = np.round(np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis), 9)
    neutral = np.asarray(neutral_gravity, dtype=np.float64)
    neutral = np.round(neutral / np.linalg.norm(neutral), 9)
    quality = float(np.linalg.norm(neutral - (neutral @ axis) * axis))
    orientation = None
    if quality < MIN_PLANE_QUALITY and neutral_quat is not None:
        q = np.asarray(neutral_quat, dtype=np.float64)
        orientation = tuple(float(x) for x in np.round(q / np.linalg.norm(q), 9))
    return Calibration(
        neutral_gravity=tuple(float(x) for x in neutral),
        axis=tuple(float(x) for x in axis),
        rom_deg=round(rom_deg, 6),
        method=method,
        t_s=t_s,
        plane_quality=round(quality, 6),
        neutral_orientation=orientation,
    )
