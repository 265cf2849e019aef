"""Checks on a sensor's own frame clock shared by codecs that have one (PMD, Movesense)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from monitor.core import Event, EventKind


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
    known = previous_ns > 0
    step = times_ns - previous_ns
    reset = known & (step <= 0)
    gap = known & (step > expected_ns + np.maximum(2 * period_ns, 0.25 * expected_ns))
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
