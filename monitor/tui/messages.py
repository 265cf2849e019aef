"""Messages from the feed pump to the screens, and the ring buffer the screen's timer pulls from.

High-rate data never becomes one message per sample: the angle trace goes into `AngleRing` and a
timer redraws from it at a fixed frame rate. Low-rate analysis events (a rep, a set, a warning) are
messages, so tests can assert exactly what the app was told. Messages that only carry the latest
value (`HoldProgress`, `LinkChanged`) collapse a burst to the newest (`can_replace`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from textual.message import Message

from monitor.tui.feed import LinkStatus, Severity


class AngleRing:
    """The last `capacity` angle samples (time s, degrees), appended block-wise."""

    def __init__(self, capacity: int) -> None:
        self._t = np.full(capacity, np.nan)
        self._deg = np.full(capacity, np.nan)
        self._end = 0  # total samples ever appended
        self.version = 0  # bumped on every append, so readers can skip unchanged frames

    @property
    def capacity(self) -> int:
        return self._t.shape[0]

    def extend(self, t_s: NDArray[np.float64], deg: NDArray[np.float64]) -> None:
        n = t_s.shape[0]
        if n == 0:
            return
        if n >= self.capacity:
            t_s, deg, n = t_s[-self.capacity :], deg[-self.capacity :], self.capacity
        idx = (self._end + np.arange(n)) % self.capacity
        self._t[idx] = t_s
        self._deg[idx] = deg
        self._end += n
        self.version += 1

    def window(self, seconds: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Samples of the last `seconds` (by sample time), oldest first."""
        count = min(self._end, self.capacity)
        idx = (self._end - count + np.arange(count)) % self.capacity
        t, deg = self._t[idx], self._deg[idx]
        if count:
            keep = t >= t[-1] - seconds
            t, deg = t[keep], deg[keep]
        return t, deg

    def clear(self) -> None:
        self._t[:] = np.nan
        self._deg[:] = np.nan
        self._end = 0
        self.version += 1


class RepCounted(Message):
    """The pipeline counted a rep."""

    def __init__(self, t_s: float, count: int, peak_deg: float | None) -> None:
        super().__init__()
        self.t_s = t_s
        self.count = count
        self.peak_deg = peak_deg


class SetCompleted(Message):
    def __init__(self, t_s: float, set_index: int, reps: int) -> None:
        super().__init__()
        self.t_s = t_s
        self.set_index = set_index
        self.reps = reps


class HoldProgress(Message):
    """Time held so far in the target zone; only the newest matters."""

    def __init__(self, t_s: float, held_s: float, target_s: float) -> None:
        super().__init__()
        self.t_s = t_s
        self.held_s = held_s
        self.target_s = target_s

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, HoldProgress)


class HoldCompleted(Message):
    def __init__(self, t_s: float, held_s: float) -> None:
        super().__init__()
        self.t_s = t_s
        self.held_s = held_s


@dataclass(frozen=True, slots=True)
class WarningView:
    t_s: float
    kind: str
    severity: Severity
    message: str


class SafetyWarning(Message):
    def __init__(self, warning: WarningView) -> None:
        super().__init__()
        self.warning = warning


class ExerciseChanged(Message):
    """The exercise in progress (or its prescription view) changed; re-read it from the feed."""


class LinkChanged(Message):
    """The link's state or battery changed (rates and counts are drawn by the frame timer)."""

    def __init__(self, status: LinkStatus) -> None:
        super().__init__()
        self.status = status

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LinkChanged)


class FeedEvent(Message):
    """A link or user event worth a line (disconnect, reconnect, marker, calibration)."""

    def __init__(self, t_s: float, kind: str, message: str) -> None:
        super().__init__()
        self.t_s = t_s
        self.kind = kind
        self.message = message


class Restarted(Message):
    """The source started over (a replay skipped back): what is shown so far is void."""


class FeedEnded(Message):
    """The source has no more data (end of recording, or the sensor gave up)."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason
