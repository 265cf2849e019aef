"""Checks on a sensor's own frame clock shared by codecs that have one (PMD, Movesense)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from monitor.core import Event, EventKind

# How far a frame's clock may step beyond its arrival time's step, or back: more than BLE
# latency and sensor buffering explain, so a frame beyond it carries a corrupt timestamp.
MAX_CLOCK_JUMP_NS = 10_000_000_000


def clock_steps(
    times_ns: NDArray[np.int64],
    previous_ns: NDArray[np.int64],
    expected_ns: NDArray[np.float64],
    period_ns: float,
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(clock went back or stood still, frames missing before this one): see `clock_events`."""
    known = previous_ns > 0
    step = times_ns - previous_ns
    reset = known & (step <= 0)
    gap = known & (step > expected_ns + np.maximum(2 * period_ns, 0.25 * expected_ns))
    return reset, gap


def clock_events(
    times_ns: NDArray[np.int64],
    previous_ns: NDArray[np.int64],
    expected_ns: NDArray[np.float64],
    period_ns: float,
    stream: str,
    label: str,
) -> list[Event]:
    """CLOCK_RESET where a frame time does not advance, GAP where frames are missing.

    `times_ns[k]` is a frame's reference time and `previous_ns[k]` the one before it (0 when
    unknown); `expected_ns[k]` is how far apart they should be (samples between them x
    period). A gap is a step longer than expected by more than two sample periods and a
    quarter of the expected step, so BLE-independent sensor jitter never raises one.
    """
    reset, gap = clock_steps(times_ns, previous_ns, expected_ns, period_ns)
    step = times_ns - previous_ns
    events: list[Event] = []
    for i in np.flatnonzero(reset | gap):  # in frame order
        if reset[i]:
            events.append(
                Event(
                    int(times_ns[i]),
                    EventKind.CLOCK_RESET,
                    f"{label}: sensor clock went from {previous_ns[i]} to {times_ns[i]} ns",
                    stream,
                    {"previous_ns": int(previous_ns[i]), "timestamp_ns": int(times_ns[i])},
                )
            )
            continue
        missing = round(float(step[i] - expected_ns[i]) / period_ns)
        events.append(
            Event(
                int(previous_ns[i]),
                EventKind.GAP,
                f"{label}: about {missing} samples missing before {times_ns[i]} ns",
                stream,
                {"from_ns": int(previous_ns[i]), "to_ns": int(times_ns[i]), "missing": missing},
            )
        )
    return events


@dataclass(slots=True)
class ClockGuard:
    """Rejects frames whose timestamp no running sensor clock could have produced.

    Frame and notification times both follow real time, so between consecutive frames the
    sensor clock cannot run ahead of the arrival times by more than `MAX_CLOCK_JUMP_NS`, nor
    back by more. A frame that does is corrupt (PMD and GSP frames have no checksum): it is
    rejected and later frames are timed against the last good one. If the next frame agrees
    with the rejected one instead, the sensor clock really jumped: it is accepted as the new
    timeline (the caller reports the step as a CLOCK_RESET or GAP), one frame late.
    """

    last: tuple[int, int] | None = None  # (frame time, arrival) of the last accepted frame
    suspect: tuple[int, int] | None = None  # the last rejected frame

    def reset(self) -> None:
        self.last = self.suspect = None

    def accept(
        self, times_ns: NDArray[np.int64], arrival_ns: NDArray[np.int64]
    ) -> NDArray[np.bool_]:
        """Which of these frames (in arrival order) to keep; remembers them for the next call."""
        times = np.asarray(times_ns, dtype=np.int64)
        arrival = np.asarray(arrival_ns, dtype=np.int64)
        if not times.size:
            return np.zeros(0, dtype=bool)
        if self.last is not None:  # the common case, in one numpy step: all consistent
            # float64: a corrupt time near 2**63 must not wrap around in the subtraction
            chain = np.concatenate(([self.last[0]], times)).astype(np.float64)
            arrived = np.concatenate(([self.last[1]], arrival)).astype(np.float64)
            if _consistent(np.diff(chain), np.diff(arrived)).all():
                self.last, self.suspect = (int(times[-1]), int(arrival[-1])), None
                return np.ones(times.size, dtype=bool)
        keep = np.zeros(times.size, dtype=bool)
        for i, frame in enumerate(zip(times.tolist(), arrival.tolist(), strict=True)):
            candidates = [before for before in (self.last, self.suspect) if before is not None]
            if self.last is None or any(
                _consistent(frame[0] - before[0], frame[1] - before[1]) for before in candidates
            ):
                keep[i], self.last, self.suspect = True, frame, None
            else:
                self.suspect = frame
        return keep


def _consistent(step_ns, arrival_step_ns):  # type: ignore[no-untyped-def] - ints or arrays
    return (step_ns >= -MAX_CLOCK_JUMP_NS) & (step_ns - arrival_step_ns <= MAX_CLOCK_JUMP_NS)
