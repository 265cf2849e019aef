"""Real-time safety warnings that watch the angle and speed sample by sample.

Each monitor is causal and raises at the first sample where its condition holds, so the latency is
that of the signal it watches (the orientation filter and a short speed low-pass), well under
100 ms of sensor time. Monitors re-arm with hysteresis so one excursion gives one warning.
Rep-level warnings (hold released early, short of target, too many reps or sets) come from the
rep detector; imbalance, slip and signal loss from the functions here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from monitor.analysis.results import AnalysisWarning, Rep, WarningKind, WarningRaised


@dataclass
class ThresholdMonitor:
    """Raises when `value` goes over `limit`; re-arms once it is back under `limit - rearm`."""

    kind: WarningKind
    limit: float
    rearm: float
    template: str  # formatted with value= and limit=
    armed: bool = True

    def process(self, t_s: np.ndarray, value: np.ndarray) -> list[WarningRaised]:
        events: list[WarningRaised] = []
        i, n = 0, len(value)
        while i < n:
            if self.armed:
                hits = np.flatnonzero(value[i:] > self.limit)
                if not hits.size:
                    break
                i += int(hits[0])
                self.armed = False
                events.append(
                    warning_event(
                        self.kind,
                        float(t_s[i]),
                        self.template.format(value=value[i], limit=self.limit),
                        float(value[i]),
                    )
                )
            else:
                back = np.flatnonzero(value[i:] < self.limit - self.rearm)
                if not back.size:
                    break
                i += int(back[0])
                self.armed = True
        return events


def warning_event(
    kind: WarningKind, t_s: float, message: str, value: float | None
) -> WarningRaised:
    return WarningRaised(
        t_s=t_s, warning=AnalysisWarning(kind=kind, t_s=t_s, message=message, value=value)
    )


def imbalance_message(
    reps: list[Rep], set_index: int, sides: tuple[str, str], max_peak_ratio: float = 0.75
) -> str | None:
    """Imbalance between the two sides within a set of an alternating exercise, or None.

    Counts differ by two or more, or (with two reps per side) one side's mean range is under
    `max_peak_ratio` of the other's.
    """
    peaks: dict[str, list[float]] = {side: [] for side in sides}
    for rep in reps:
        if rep.set_index == set_index and rep.side in peaks:
            peaks[rep.side].append(abs(rep.peak_angle_deg))
    first, second = (peaks[side] for side in sides)
    if abs(len(first) - len(second)) >= 2:
        return f"uneven sides: {len(first)} {sides[0]} vs {len(second)} {sides[1]}"
    if len(first) >= 2 and len(second) >= 2:
        mean_first, mean_second = float(np.mean(first)), float(np.mean(second))
        if min(mean_first, mean_second) / max(mean_first, mean_second) < max_peak_ratio:
            return (
                f"uneven range: {sides[0]} {mean_first:.0f} deg vs {sides[1]} {mean_second:.0f} deg"
            )
    return None


@dataclass
class SignalWatch:
    """Flags gaps in sensor time longer than `max_gap_s` (and non-finite samples)."""

    max_gap_s: float
    last_t_ns: int | None = None

    def process(self, t_ns: np.ndarray, t0_ns: int) -> list[WarningRaised]:
        if t_ns.size == 0:
            return []
        previous = np.concatenate(([t_ns[0] if self.last_t_ns is None else self.last_t_ns], t_ns))
        gaps = np.diff(previous)
        self.last_t_ns = int(t_ns[-1])
        limit = int(self.max_gap_s * 1e9)
        events = []
        for k in np.flatnonzero(gaps > limit):
            lost_at = int(previous[k]) + limit
            events.append(
                warning_event(
                    WarningKind.SIGNAL_LOST,
                    (lost_at - t0_ns) / 1e9,
                    f"no samples for {gaps[k] / 1e9:.1f} s",
                    gaps[k] / 1e9,
                )
            )
        return events

    def silent_since(self, now_ns: int, t0_ns: int) -> WarningRaised | None:
        """For live use: call with the current sensor-clock time when no block has arrived."""
        if self.last_t_ns is None or now_ns - self.last_t_ns <= int(self.max_gap_s * 1e9):
            return None
        lost_at = self.last_t_ns + int(self.max_gap_s * 1e9)
        return warning_event(
            WarningKind.SIGNAL_LOST,
            (lost_at - t0_ns) / 1e9,
            f"no samples for {(now_ns - self.last_t_ns) / 1e9:.1f} s",
            (now_ns - self.last_t_ns) / 1e9,
        )
