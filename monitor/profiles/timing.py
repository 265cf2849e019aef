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
- Arrivals that run backwards by more than the tolerance mean the host's wall clock was set
  back (recordings stamped with `time.time_ns()`; the live app stamps on a monotonic clock):
  later arrivals are shifted to continue where the clock stood. A wall clock set forward
  looks exactly like a gap and is reported as one.

Everything is computed on a fixed origin (the first arrival after a reset) with numpy, so the
result does not depend on how notifications are split into batches, and one hour of data is a
handful of array operations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import minimum_filter1d

from monitor.core import Event, EventKind, SampleBlock


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
        self._last_arrival: int | None = None
        self._set_back_ns = 0  # total the host clock was set back by so far

    def _undo_clock_set_back(
        self, arrival: NDArray[np.int64], first: NDArray[np.int64], last: NDArray[np.int64]
    ) -> NDArray[np.int64]:
        """Arrivals with every step back of the host clock taken out: a notification arriving
        "before" the one ahead of it is taken to follow it back to back."""
        previous = np.concatenate(
            ([arrival[0] if self._last_arrival is None else self._last_arrival], arrival[last[:-1]])
        )
        self._last_arrival = int(arrival[-1])
        step = arrival[first] - previous
        sizes = last - first + 1
        shift = np.where(
            step < -self.gap_threshold_ns, -step + np.rint(self.period_ns * sizes), 0
        ).astype(np.int64)
        correction = self._set_back_ns + np.cumsum(shift)
        self._set_back_ns = int(correction[-1])
        return arrival + np.repeat(correction, sizes)

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
        arrival = self._undo_clock_set_back(arrival, group_first, group_last)
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


@dataclass(slots=True)
class _ChannelTimes:
    """Where one channel group stands on the session timeline."""

    last_raw: int | None = None  # newest decoder time kept
    last_out: int = 0  # its time on the session timeline
    host_lo: int = 0  # earliest arrival of the piece that brought it
    host_hi: int = 0  # latest arrival of that piece
    epoch: int = 0  # index of the clock stretch the channel is in


class SessionTimeline:
    """Decoder times -> one increasing session timeline, whatever the sensor's clock does.

    A sensor clock can reset (a firmware restart: back to zero) or be set (a jump of hours),
    and a link can deliver a notification twice or after its successor. The analysis needs
    times that never run backwards and gaps that are as long as the data really stopped for.
    Per channel group the decoder's times go through unchanged (plus a per-stretch offset)
    except at a *seam*:

    - a time behind the newest one by at most `late_ns` is a repeated or late notification:
      its samples are dropped and counted;
    - a step back further than that, or a step forward longer than the host's clock can account
      for (the arrival window since the last sample, plus `slack_ns`), is a clock seam: the
      stretch after it is placed after the last sample by the time the host saw pass (at the
      resolution of the pieces fed, never less than one sample period). A CLOCK_RESET event
      says so; the summary's gap finder shows the hole with that reason.

    With `sensor_clock=False` (times made from arrivals by `HostClock`) the times are the
    host's own and a repeated notification cannot be told from a new one: only a step back
    (none is expected) is a seam, placed one period after the last sample.

    The first channel group to cross a seam decides the offset; the others take the same one
    when they cross it, so the channels stay aligned.
    """

    def __init__(
        self,
        rates_hz: dict[str, float],
        *,
        sensor_clock: bool,
        stream: str = "",
        late_ns: int = 1_500_000_000,
        slack_ns: int = 2_000_000_000,
    ) -> None:
        self.periods_ns = {channel: 1e9 / rate for channel, rate in rates_hz.items()}
        self.sensor_clock = sensor_clock
        self.stream = stream
        self.late_ns = late_ns
        self.slack_ns = slack_ns
        self.late_samples = 0
        self.seams = 0
        self._offsets = [0]  # per clock stretch: decoder time -> session time
        self._channels: dict[tuple[str, ...], _ChannelTimes] = {}

    def place(
        self, block: SampleBlock, host_lo_ns: int, host_hi_ns: int
    ) -> tuple[SampleBlock, list[Event]]:
        """`block` (decoded from notifications that arrived in [host_lo, host_hi]) on the
        session timeline, late samples removed."""
        n = len(block)
        if n == 0 or not block.channels:
            return block, []
        state = self._channels.setdefault(block.channels, _ChannelTimes())
        period = self.periods_ns[block.channels[0]]
        raw = block.t_ns
        out = np.empty(n, dtype=np.int64)
        keep = np.zeros(n, dtype=bool)
        events: list[Event] = []
        position = 0
        while position < n:
            part = raw[position:]
            before = part[0] - 1 if state.last_raw is None else state.last_raw
            previous = np.maximum.accumulate(np.concatenate(([before], part[:-1])))
            step = part - previous
            if self.sensor_clock:
                elapsed_bound = max(host_hi_ns - state.host_lo, 0) + self.slack_ns
                seams = np.flatnonzero((step > elapsed_bound) | (step < -self.late_ns))
            else:
                seams = np.flatnonzero(step < 0)
            stop = int(seams[0]) if seams.size else part.size
            kept = step[:stop] > 0 if self.sensor_clock else np.ones(stop, dtype=bool)
            offset = self._offsets[state.epoch]
            out[position : position + stop] = part[:stop] + offset
            keep[position : position + stop] = kept
            if kept.any():
                state.last_raw = max(before, int(part[:stop][kept].max()))
                state.last_out = int(out[position : position + stop][kept][-1])
                state.host_lo, state.host_hi = host_lo_ns, host_hi_ns
            self.late_samples += int(stop - kept.sum())
            position += stop
            if position < n:
                events += self._seam(state, int(raw[position]), host_lo_ns, host_hi_ns, period)
        late = n - int(keep.sum())
        if late:
            events.append(
                Event(
                    int(out[keep][0]) if keep.any() else state.last_out,
                    EventKind.INFO,
                    f"{late} late or repeated samples dropped "
                    "(a notification delivered twice or out of order)",
                    self.stream,
                    {"late_samples": late, "source": "timeline"},
                )
            )
        channels = {c: getattr(block, c)[keep] for c in block.channels}
        extra = {k: v[keep] for k, v in block.extra.items()}
        placed = SampleBlock(t_ns=out[keep], stream=block.stream, extra=extra, **channels)
        return placed, events

    def _seam(
        self,
        state: _ChannelTimes,
        raw_first: int,
        host_lo_ns: int,
        host_hi_ns: int,
        period: float,
    ) -> list[Event]:
        """Start the next clock stretch for this channel group at decoder time `raw_first`."""
        previous_raw = state.last_raw
        state.last_raw = raw_first - 1  # the stretch's first sample is kept
        state.epoch += 1
        if state.epoch < len(self._offsets):  # another channel group found this seam first
            return []
        seen_ns = (host_lo_ns + host_hi_ns) // 2 - (state.host_lo + state.host_hi) // 2
        if not self.sensor_clock:  # the host's clock itself stepped: it saw nothing useful
            seen_ns = 0
        placed_ns = state.last_out + max(round(period), seen_ns)
        self._offsets.append(placed_ns - raw_first)
        self.seams += 1
        jump_ns = raw_first - (previous_raw if previous_raw is not None else raw_first)
        after_s = (placed_ns - state.last_out) / 1e9
        return [
            Event(
                placed_ns,
                EventKind.CLOCK_RESET,
                f"sensor clock {'went back' if jump_ns < 0 else 'jumped'} by "
                f"{abs(jump_ns) / 1e9:.1f} s; samples continue {after_s:.1f} s after the last "
                "ones (the time the host saw pass)",
                self.stream,
                {
                    "source": "timeline",
                    "clock_step_ns": jump_ns,
                    "placed_after_ns": placed_ns - state.last_out,
                },
            )
        ]
