"""Merge per-channel sample blocks of one stream onto one timeline.

Many sensors send each channel on its own: Polar ACC and GYRO frames, the Arduino firmware's
separate characteristics, MetaWear's separate registers, a polled WitMotion magnetometer. The
analysis wants every sample to carry every channel. The aligner takes the reference channel's
times (acc where the stream has it) and fills the other channels by linear interpolation
between their two neighbouring samples.

It is causal and bounded: a reference sample waits until every channel it lacks has a sample
at or after its time, then it is emitted; secondary samples are kept only as far back as the
next reference sample needs. Nothing is bridged silently: a reference sample whose neighbours in
a channel are more than `max_bridge_ns` apart is dropped and reported as a GAP event, and one
still waiting `max_pending_ns` after newer reference samples arrived (a stalled channel) too.
Samples before a channel's first sample and after its last at `flush()` are dropped and only
counted (`dropped_samples`): they are the edges of a connection, not gaps.

The output depends only on the samples, not on how they were split into blocks, as long as the
channels' blocks arrive within `max_pending_ns` of each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from monitor.core.events import Event, EventKind
from monitor.core.samples import SampleBlock

CHANNEL_ORDER = ("acc", "gyro", "mag")

_LEADING, _INTERIOR, _STALLED, _TRAILING = range(4)
_REASONS = {
    _INTERIOR: "{channel} has a gap of {gap_ms:.0f} ms",
    _STALLED: "{channel} stopped arriving",
}
_REASON_NAMES = {_INTERIOR: "gap", _STALLED: "stalled"}


@dataclass(slots=True)
class _Problems:
    reason: NDArray[np.int64]  # -1: aligned, else _LEADING/_INTERIOR/_STALLED/_TRAILING
    channel: NDArray[np.int64]  # index of the channel that was missing
    span_ns: NDArray[np.int64]  # distance between that channel's neighbours


class ChannelAligner:
    """Aligns the `channels` of one stream on the reference channel's sample times."""

    def __init__(
        self,
        channels: Sequence[str],
        *,
        stream: str = "",
        max_bridge_ns: int = 250_000_000,
        max_pending_ns: int = 5_000_000_000,
    ) -> None:
        unknown = set(channels) - set(CHANNEL_ORDER)
        if unknown or not channels:
            raise ValueError(f"channels must be among {CHANNEL_ORDER}, got {list(channels)}")
        self.channels = tuple(c for c in CHANNEL_ORDER if c in channels)
        self.reference = self.channels[0]
        self.secondaries = self.channels[1:]
        self.stream = stream
        self.max_bridge_ns = max_bridge_ns
        self.max_pending_ns = max_pending_ns
        self.dropped_samples = 0
        self.reset()

    def reset(self) -> None:
        """Forget everything pending (after a reconnect or a clock reset)."""
        self._t = np.empty(0, dtype=np.int64)
        self._values = {c: np.empty((0, 3)) for c in self.channels}
        self._given = {c: np.empty(0, dtype=bool) for c in self.channels}
        self._extra: dict[str, np.ndarray] | None = None
        self._sec_t = {c: np.empty(0, dtype=np.int64) for c in self.secondaries}
        self._sec_values = {c: np.empty((0, 3)) for c in self.secondaries}
        self._last_t: dict[str, int] = {}
        self._open_run: tuple[int, str] | None = None

    def feed(self, blocks: Sequence[SampleBlock]) -> tuple[list[SampleBlock], list[Event]]:
        """Take decoded blocks (any channels, time order per channel); return aligned ones."""
        out: list[SampleBlock] = []
        events: list[Event] = []
        for block in blocks:
            if len(block) == 0:
                continue
            if self._goes_backwards(block):
                self._drain(True, out, events)
                self.reset()
            if getattr(block, self.reference) is not None:
                self._add_reference(block, out)
            else:
                self._add_secondary(block)
            for channel in block.channels:
                self._last_t[channel] = int(block.t_ns[-1])
        self._drain(False, out, events)
        return out, events

    def flush(self) -> tuple[list[SampleBlock], list[Event]]:
        """End of stream: emit what can be aligned, drop the rest, and start over."""
        out: list[SampleBlock] = []
        events: list[Event] = []
        self._drain(True, out, events)
        self.reset()
        return out, events

    def _goes_backwards(self, block: SampleBlock) -> bool:
        first = int(block.t_ns[0])
        return any(first < self._last_t.get(c, first) for c in block.channels)

    def _add_reference(self, block: SampleBlock, out: list[SampleBlock]) -> None:
        complete = all(getattr(block, c) is not None for c in self.channels)
        if complete and self._t.size == 0:
            self._keep_secondaries_from(int(block.t_ns[-1]))
            out.append(self._restrict(block))
            return
        n = len(block)
        self._t = np.concatenate((self._t, block.t_ns))
        for channel in self.channels:
            values = getattr(block, channel)
            given = values is not None
            self._values[channel] = np.concatenate(
                (self._values[channel], values if given else np.full((n, 3), np.nan))
            )
            self._given[channel] = np.concatenate((self._given[channel], np.full(n, given)))
        if self._extra is None:
            self._extra = {k: np.asarray(v) for k, v in block.extra.items()}
        else:
            self._extra = {
                k: np.concatenate((v, block.extra.get(k, np.full((n, *v.shape[1:]), np.nan))))
                for k, v in self._extra.items()
            }

    def _add_secondary(self, block: SampleBlock) -> None:
        for channel in block.channels:
            if channel in self._sec_t:
                self._sec_t[channel] = np.concatenate((self._sec_t[channel], block.t_ns))
                self._sec_values[channel] = np.concatenate(
                    (self._sec_values[channel], getattr(block, channel))
                )

    def _restrict(self, block: SampleBlock) -> SampleBlock:
        """The block with exactly this stream's channels."""
        if block.channels == self.channels and block.stream == self.stream:
            return block
        return SampleBlock(
            t_ns=block.t_ns,
            **{c: getattr(block, c) for c in self.channels},
            stream=self.stream,
            extra=block.extra,
        )

    def _drain(self, final: bool, out: list[SampleBlock], events: list[Event]) -> None:
        t = self._t
        if t.size == 0:
            return
        ready = t.size
        if not final:
            limit = np.iinfo(np.int64).max
            for channel in self.secondaries:
                if not self._given[channel].all():
                    sec_t = self._sec_t[channel]
                    limit = min(limit, int(sec_t[-1]) if sec_t.size else np.iinfo(np.int64).min)
            ready = int(np.searchsorted(t, limit, side="right"))
            stale = int(np.searchsorted(t, t[-1] - self.max_pending_ns, side="left"))
            ready = max(ready, stale)
        if ready == 0:
            return
        values, problems = self._interpolate(t[:ready], final)
        valid = problems.reason < 0
        if valid.any():
            keep = slice(None) if valid.all() else valid
            out.append(
                SampleBlock(
                    t_ns=t[:ready][keep],
                    **{c: v[keep] for c, v in values.items()},
                    stream=self.stream,
                    extra={k: v[:ready][keep] for k, v in (self._extra or {}).items()},
                )
            )
        self._report(t[:ready], problems, events)
        self._keep_secondaries_from(int(t[ready - 1]))
        self._t = t[ready:]
        for channel in self.channels:
            self._values[channel] = self._values[channel][ready:]
            self._given[channel] = self._given[channel][ready:]
        if self._t.size == 0:
            self._extra = None
        elif self._extra is not None:
            self._extra = {k: v[ready:] for k, v in self._extra.items()}

    def _interpolate(
        self, t: NDArray[np.int64], final: bool
    ) -> tuple[dict[str, np.ndarray], _Problems]:
        """Channel values at `t`, and why samples that cannot be aligned cannot."""
        n = t.size
        problems = _Problems(
            reason=np.full(n, -1, dtype=np.int64),
            channel=np.zeros(n, dtype=np.int64),
            span_ns=np.zeros(n, dtype=np.int64),
        )
        values = {}
        for index, channel in enumerate(self.channels):
            given = self._given[channel][:n]
            stored = self._values[channel][:n]
            if given.all():
                values[channel] = stored
                continue
            need = ~given
            filled = values[channel] = stored.copy()
            why, span = self._coverage(channel, t, final)
            ok = need & (why < 0)
            if ok.any():
                sec_t, sec_values = self._sec_t[channel], self._sec_values[channel]
                # exact in float64: offsets from the first sample are integers below 2**53
                x = (sec_t - sec_t[0]).astype(np.float64)
                at = (t[ok] - sec_t[0]).astype(np.float64)
                for axis in range(3):
                    filled[ok, axis] = np.interp(at, x, sec_values[:, axis])
            first = need & (why >= 0) & (problems.reason < 0)
            problems.reason[first] = why[first]
            problems.channel[first] = index
            problems.span_ns[first] = span[first]
        return values, problems

    def _coverage(
        self, channel: str, t: NDArray[np.int64], final: bool
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Per time: -1 if `channel` can be interpolated there, else why not; the gap spans."""
        sec_t = self._sec_t[channel]
        why = np.full(t.size, -1, dtype=np.int64)
        span = np.zeros(t.size, dtype=np.int64)
        if sec_t.size == 0:
            why[:] = _TRAILING if final else _STALLED
            return why, span
        why[t < sec_t[0]] = _LEADING
        why[t > sec_t[-1]] = _TRAILING if final else _STALLED
        gaps = np.flatnonzero(np.diff(sec_t) > self.max_bridge_ns)
        if gaps.size:
            starts = np.searchsorted(t, sec_t[gaps], side="right")
            stops = np.searchsorted(t, sec_t[gaps + 1], side="left")
            for gap, start, stop in zip(
                gaps.tolist(), starts.tolist(), stops.tolist(), strict=True
            ):
                why[start:stop] = _INTERIOR
                span[start:stop] = sec_t[gap + 1] - sec_t[gap]
        return why, span

    def _report(self, t: NDArray[np.int64], problems: _Problems, events: list[Event]) -> None:
        """One GAP event per run of dropped samples (a run continuing across calls: one)."""
        reason = problems.reason
        key = reason * len(self.channels) + problems.channel
        change = np.flatnonzero(np.diff(key) != 0) + 1
        for start, stop in zip(
            np.concatenate(([0], change)).tolist(),
            np.concatenate((change, [key.size])).tolist(),
            strict=True,
        ):
            why = int(reason[start])
            if why < 0:
                self._open_run = None
                continue
            self.dropped_samples += stop - start
            channel = self.channels[int(problems.channel[start])]
            if why not in _REASONS or self._open_run == (why, channel):
                continue
            self._open_run = (why, channel)
            detail = _REASONS[why].format(channel=channel, gap_ms=problems.span_ns[start] / 1e6)
            events.append(
                Event(
                    t_ns=int(t[start]),
                    kind=EventKind.GAP,
                    message=f"{self.reference} samples dropped: {detail}",
                    stream=self.stream,
                    data={"channel": channel, "reason": _REASON_NAMES[why]},
                )
            )

    def _keep_secondaries_from(self, t_ns: int) -> None:
        """Drop secondary samples older than the left neighbour of time `t_ns`."""
        for channel in self.secondaries:
            sec_t = self._sec_t[channel]
            if sec_t.size < 2:
                continue
            first = max(int(np.searchsorted(sec_t, t_ns, side="right")) - 1, 0)
            first = max(first, int(np.searchsorted(sec_t, sec_t[-1] - self.max_pending_ns)) - 1)
            if first > 0:
                self._sec_t[channel] = sec_t[first:]
                self._sec_values[channel] = self._sec_values[channel][first:]
