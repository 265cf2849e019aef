"""A steady per-sample clock from host arrival times, for sensors that send no timestamps.

BLE delivers notifications late by a variable latency (waiting for the next connection
event, retransmissions, the host's scheduler), often several at once. The sensor itself samples
at a steady rate. So the clock assumes sample k was taken at `origin + floor + k * period`,
where `floor` follows the lowest recent arrival latency: for each notification, the lag
`u = arrival - k_last * period` is computed and `floor` is the minimum of `u` over the last
`window` notifications.

- A burst of N samples arriving together is spread backwards from its arrival at `period`.
- A notification that arrives late (jitter) does not move the clock: its neighbours keep the
  floor low. One that arrives early pulls the clock back at once (the floor is a minimum), and
  times never run backwards (running maximum).
- Lost notifications make every later arrival late by the samples that never came, so the
  floor steps up and stays up. A step above the tolerance is reported as a gap with the
  estimated number of missing samples; the clock jumps forward, nothing is bridged.

Everything is computed on a fixed origin (the first arrival after a reset) with numpy, so the
result does not depend on how notifications are split into batches, and one hour of data is a
handful of array operations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import minimum_filter1d


@dataclass(frozen=True, slots=True)
class ClockGap:
    """Samples found missing before sample `index` of the stamped array."""

    index: int
    t_ns: int
    missing_samples: int
    duration_ns: int


class HostClock:
    """Turns per-sample host arrival times into a steady sample clock (see module doc)."""

    def __init__(self, rate_hz: float, window: int = 32, gap_tolerance_ms: float = 25.0) -> None:
        if rate_hz <= 0:
            raise ValueError(f"rate must be positive, got {rate_hz}")
        self.period_ns = 1e9 / rate_hz
        self.window = window
        self.gap_threshold_ns = max(gap_tolerance_ms * 1e6, 1.5 * self.period_ns)
        self.reset()

    def reset(self) -> None:
        """Forget the stream (after a reconnect): the next arrival starts a new timeline."""
        self._origin_ns: int | None = None
        self._origin_index = 0
        self._count = 0
        self._history = np.empty(0, dtype=np.float64)
        self._last_floor = 0.0
        self._last_t: int | None = None

    def stamp(self, arrival_ns: NDArray[np.int64]) -> tuple[NDArray[np.int64], list[ClockGap]]:
        """Sample times for samples whose notifications arrived at `arrival_ns` (one per sample).

        Consecutive samples with the same arrival time came in one notification.
        """
        arrival = np.asarray(arrival_ns, dtype=np.int64)
        n = arrival.shape[0]
        if n == 0:
            return np.empty(0, dtype=np.int64), []
        new_group = np.empty(n, dtype=bool)
        new_group[0] = True
        np.not_equal(arrival[1:], arrival[:-1], out=new_group[1:])
        group_of_sample = np.cumsum(new_group) - 1
        group_first = np.flatnonzero(new_group)
        group_last = np.append(group_first[1:] - 1, n - 1)
        last_index = self._count + group_last
        if self._origin_ns is None:
            self._origin_ns = int(arrival[0])
            self._origin_index = int(last_index[0])
        lag = (arrival[group_last] - self._origin_ns).astype(np.float64) - self.period_ns * (
            last_index - self._origin_index
        )

        padded = np.concatenate(
            (np.full(self.window - 1 - self._history.shape[0], np.inf), self._history, lag)
        )
        # Trailing-window minimum: floor[j] = min(lag[j - window + 1 .. j]).
        floor = minimum_filter1d(padded, self.window, origin=(self.window - 1) // 2)
        floor = floor[self.window - 1 :]
        previous_floor = np.concatenate(([self._last_floor], floor[:-1]))
        if self._last_t is None:
            previous_floor[0] = floor[0]

        sample_index = self._count + np.arange(n) - self._origin_index
        times = floor[group_of_sample] + self.period_ns * sample_index
        t_ns = self._origin_ns + np.rint(times).astype(np.int64)
        if self._last_t is not None:
            np.maximum(t_ns, self._last_t, out=t_ns)
        np.maximum.accumulate(t_ns, out=t_ns)

        steps = floor - previous_floor
        gaps = [
            ClockGap(
                index=int(group_first[g]),
                t_ns=int(t_ns[group_first[g]]),
                missing_samples=max(1, round(float(steps[g]) / self.period_ns)),
                duration_ns=round(float(steps[g])),
            )
            for g in np.flatnonzero(steps > self.gap_threshold_ns)
        ]

        self._history = padded[-(self.window - 1) :] if self.window > 1 else self._history
        self._history = self._history[np.isfinite(self._history)]
        self._last_floor = float(floor[-1])
        self._count += n
        self._last_t = int(t_ns[-1])
        return t_ns, gaps
