"""Small out-and-back movements, found from the whole orientation rather than the plane angle.

The plane angle only sees what turns gravity about the learned axis. A rep made very small, or
turned about another axis (on a real recording, a "low amplitude" prone hip extension was a 3°
roll of the thigh, mostly about the vertical, where gravity cannot see it) leaves the angle at
rest. The orientation filter still integrates it: each bout of movement between two still spells
has a net rotation, and a rep is a bout out followed by one that turns back the same way
(`ReturnMoveFinder`). The rep detector decides whether such a move counts (`RepDetector.
return_move`): only for movements the exercise does not describe, only where the angle saw no
rep, and only once a like one repeats it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfilt, sosfilt_zi
from scipy.spatial.transform import Rotation

from monitor.core.samples import FloatArray

STILL_DPS = 2.0  # smoothed rotation speed under which the segment is still (between bouts)
SETTLE_S = 0.3  # still this long: the bout has ended
LOOKBACK_S = 0.25  # the smoothed speed rises this late: a bout starts this much earlier
MIN_DEG = 1.5  # net rotation of a bout that can be a move out or back
RETURN_COS = -0.6  # the bout back turns against the bout out: cosine of their rotation axes
RETURN_RATIO = (0.5, 2.0)  # ... by a rotation this many times the one out
MAX_HOLD_S = 12.0  # from the end of the bout out to the start of the bout back


@dataclass(frozen=True, slots=True)
class Bout:
    start_ns: int  # where it began (the smoothed speed is late: `LOOKBACK_S` before it rose)
    end_ns: int  # the first still sample after it
    rotation: FloatArray  # net rotation vector, degrees, in the sensor frame at its start
    peak_speed_dps: float

    @property
    def angle_deg(self) -> float:
        return float(np.linalg.norm(self.rotation))


@dataclass(frozen=True, slots=True)
class ReturnMove:
    """A bout out and the bout back; `found_ns` is the sample where the return had settled."""

    out: Bout
    back: Bout
    found_ns: int

    @property
    def start_ns(self) -> int:
        return self.out.start_ns

    @property
    def end_ns(self) -> int:
        return self.back.end_ns

    @property
    def angle_deg(self) -> float:
        return self.out.angle_deg

    @property
    def held_s(self) -> float:
        return (self.back.start_ns - self.out.end_ns) / 1e9

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9

    @property
    def peak_speed_dps(self) -> float:
        return max(self.out.peak_speed_dps, self.back.peak_speed_dps)

    def like(self, other: ReturnMove) -> bool:
        """The same movement again: about the same axis, as far and about as long."""
        a, b = self.out.rotation, other.out.rotation
        larger = max(self.angle_deg, other.angle_deg)
        cos = float(a @ b) / max(self.angle_deg * other.angle_deg, 1e-9)
        durations = sorted((self.duration_s, other.duration_s))
        return (
            cos >= 0.7
            and abs(self.angle_deg - other.angle_deg) <= 0.5 * larger
            and durations[0] >= 0.4 * durations[1]
        )


class ReturnMoveFinder:
    """Streams orientations (scalar-first quaternions, sensor to earth) into `ReturnMove`s.

    Causal and chunking invariant: the state carried between blocks is the last sample, the
    smoothing filter's state, the bout in progress and the bout out waiting for its return."""

    def __init__(self, rate_hz: float) -> None:
        self._sos = butter(2, min(1.5, 0.45 * rate_hz), fs=rate_hz, output="sos")
        self._lookback = max(1, round(LOOKBACK_S * rate_hz))
        self.restart()

    def restart(self) -> None:
        """Samples stopped (a lost signal): nothing before joins what comes next."""
        self._tail: tuple[np.ndarray, FloatArray] | None = None  # the last samples (lookback)
        self._zi = sosfilt_zi(self._sos) * 0.0
        self._bout_start: tuple[int, FloatArray] | None = None  # of the bout in progress
        self._bout_far: tuple[float, int, FloatArray] = (0.0, 0, np.zeros(4))
        self._bout_peak_dps = 0.0
        self._still_since_ns: int | None = None
        self._out: Bout | None = None

    def process(self, t_ns: np.ndarray, quat: FloatArray) -> list[ReturnMove]:
        if len(t_ns) == 0:
            return []
        if self._tail is None:
            self._tail = (t_ns[:1], quat[:1])
        # the block with the samples before it: sample k of the block is k + m here
        all_t = np.concatenate((self._tail[0], t_ns))
        all_quat = np.concatenate((self._tail[1], quat))
        m = len(self._tail[0])
        dt_s = np.maximum(np.diff(all_t[m - 1 :]) / 1e9, 1e-3)
        speed = _angle_deg(all_quat[m - 1 : -1], quat) / dt_s
        speed, self._zi = sosfilt(self._sos, speed, zi=self._zi)
        self._tail = (all_t[-self._lookback - 1 :], all_quat[-self._lookback - 1 :])
        still = speed < STILL_DPS
        moves: list[ReturnMove] = []
        runs = np.flatnonzero(np.diff(still)) + 1
        for a, b in zip([0, *runs], [*runs, len(t_ns)], strict=True):
            if not still[a]:
                if self._bout_start is None:
                    since = self._still_since_ns if self._still_since_ns is not None else 0
                    k = max(a + m - 1 - self._lookback, int(np.searchsorted(all_t, since)))
                    self._begin_bout(int(all_t[k]), all_quat[k])
                self._bout_peak_dps = max(self._bout_peak_dps, float(speed[a:b].max()))
                self._still_since_ns = None
                self._follow(t_ns[a:b], quat[a:b], moves)
                continue
            if self._still_since_ns is None:
                self._still_since_ns = int(t_ns[a])
            if self._bout_start is None:
                continue
            settled = np.flatnonzero(t_ns[a:b] - self._still_since_ns >= int(SETTLE_S * 1e9))
            if settled.size:
                k = a + int(settled[0])
                self._end_bout(self._still_since_ns, quat[k], int(t_ns[k]), moves)
                self._bout_start = None
        return moves

    def _begin_bout(self, t_ns: int, quat: FloatArray) -> None:
        self._bout_start = (t_ns, quat)
        self._bout_far = (0.0, t_ns, quat)
        self._bout_peak_dps = 0.0

    def _follow(self, t_ns: np.ndarray, quat: FloatArray, moves: list[ReturnMove]) -> None:
        """A bout that turns back on its way (out and back with no pause between) is two: it
        is split where it was furthest from its start."""
        i = 0
        while i < len(t_ns):
            angle = _angle_deg(self._bout_start[1][None, :], quat[i:])
            far = np.maximum.accumulate(np.maximum(angle, self._bout_far[0]))
            turned = np.flatnonzero((far >= MIN_DEG) & (angle < far - np.maximum(1.0, far / 2)))
            before = angle[: turned[0]] if turned.size else angle
            top = int(np.argmax(before)) if before.size else 0
            if before.size and before[top] > self._bout_far[0]:
                self._bout_far = (float(before[top]), int(t_ns[i + top]), quat[i + top])
            if not turned.size:
                return
            _, far_ns, far_quat = self._bout_far
            k = i + int(turned[0])
            self._end_bout(far_ns, far_quat, int(t_ns[k]), moves)
            self._begin_bout(far_ns, far_quat)
            i = k

    def _end_bout(self, end_ns: int, quat: FloatArray, found_ns: int, moves: list) -> None:
        start_ns, start = self._bout_start
        ends = Rotation.from_quat(np.stack((start, quat)), scalar_first=True)
        bout = Bout(
            start_ns=start_ns,
            end_ns=end_ns,
            rotation=(ends[0].inv() * ends[1]).as_rotvec(degrees=True),
            peak_speed_dps=self._bout_peak_dps,
        )
        if bout.angle_deg < MIN_DEG:
            return  # a wobble: neither a move nor in the way of one
        out = self._out
        if out is not None and bout.start_ns - out.end_ns <= MAX_HOLD_S * 1e9:
            cos = float(out.rotation @ bout.rotation) / (out.angle_deg * bout.angle_deg)
            ratio = bout.angle_deg / out.angle_deg
            if cos <= RETURN_COS and RETURN_RATIO[0] <= ratio <= RETURN_RATIO[1]:
                self._out = None
                moves.append(ReturnMove(out=out, back=bout, found_ns=found_ns))
                return
            if bout.angle_deg < 0.5 * out.angle_deg:
                return  # a smaller adjustment while out there
        self._out = bout


def _angle_deg(a: FloatArray, b: FloatArray) -> FloatArray:
    """Rotation angle between unit quaternions, row by row (or one row against many)."""
    dot = np.abs(a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1] + a[:, 2] * b[:, 2] + a[:, 3] * b[:, 3])
    return np.degrees(2 * np.arccos(np.minimum(dot, 1.0)))
