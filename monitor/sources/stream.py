"""SensorStream: raw notifications of one sensor -> analysis-ready, aligned sample blocks.

The single path from bytes to samples shared by live BLE, replay, the simulator checks and
file analysis: the profile's decoder (codec, axis mapping, host clock, gap detection), the
session timeline (times that never run backwards across sensor clock resets and jumps, repeated
or late notifications dropped) and the channel aligner, so every block that comes out carries
every channel of the stream (acc + gyro, + mag where the sensor has one) on one timeline.

Sensor-clocked batches are decoded in pieces of at most twenty seconds of arrival time, cut on
a fixed grid of host time: the timeline judges a sensor clock step against the grid cells the
host saw pass, so its decisions do not depend on how a caller batches (live bursts, replay
windows). Finer cells would place a seam more precisely but cost a codec call each in bulk
decoding: 5 s cells made an hour of Polar or Movesense take 0.4-0.5 s to decode, 20 s cells
0.1-0.2 s, with the same fault-campaign results (clock resets, steps back, jumps).

A reconnect leaves a hole in the samples; the first samples after it come with a GAP event on
the stream's own clock (the link's events are on the host's), so the summary's gap finder can
name the reason for sensor-clocked streams too.
"""

from __future__ import annotations

import dataclasses
import itertools
import tomllib
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from monitor.core import Event, EventKind, NotificationBatch, SampleBlock
from monitor.core.align import CHANNEL_ORDER, ChannelAligner
from monitor.profiles.decoder import ProfileDecoder
from monitor.profiles.loader import parse_profile
from monitor.profiles.model import Profile
from monitor.profiles.timing import SessionTimeline
from monitor.session.recording import StreamInfo

_PROBE_SAMPLES = 64
PIECE_NS = 20_000_000_000  # resolution of the host time a sensor clock is checked against


class SensorStream:
    """Decodes and aligns one sensor's notifications.

    `name` labels the blocks and events that come out (the session's name for the sensor,
    e.g. "back"); it defaults to the profile stream's name. `channels` defaults to what the
    profile stream produces under `settings` (found by encoding and decoding a probe block).
    """

    def __init__(
        self,
        profile: Profile,
        settings: Mapping[str, Any] | None = None,
        stream: str | None = None,
        *,
        name: str | None = None,
        channels: Sequence[str] | None = None,
        max_bridge_ns: int = 250_000_000,
        max_pending_ns: int = 5_000_000_000,
    ) -> None:
        self.profile = profile
        self.decoder = ProfileDecoder(profile, settings, stream)
        self.name = name or self.decoder.stream.name
        if channels is None:
            channels = stream_channels(profile, self.decoder.settings, self.decoder.stream.name)
        self.channels = tuple(channels)
        self.timeline = SessionTimeline(
            {c: self.decoder.rate_hz(c) for c in CHANNEL_ORDER},
            sensor_clock=not self.decoder.host_clock,
            stream=self.name,
        )
        self.aligner = ChannelAligner(
            self.channels,
            stream=self.name,
            max_bridge_ns=max_bridge_ns,
            max_pending_ns=max_pending_ns,
        )
        self.bad_packets = 0
        self._last_t_ns: int | None = None  # newest aligned sample handed out
        self._reconnected_after: int | None = None  # that time, when a reconnect came since

    @classmethod
    def from_stream_info(cls, info: StreamInfo, **options: Any) -> SensorStream:
        """The stream a recording describes, decoded with the profile copy it carries.

        Raises ProfileError (an InputFileError) when that copy is not a valid profile.
        """
        source = f"profile {info.profile_id!r} stored for stream {info.name!r}"
        profile = _parse_profile_text(info.profile_toml, source)
        stream = info.profile_stream or None
        if stream is None and info.name in {s.name for s in profile.streams}:
            stream = info.name
        return cls(profile, info.settings, stream, name=info.name, **options)

    @property
    def rate_hz(self) -> float:
        """Nominal rate of the aligned output (the reference channel's rate)."""
        return self.decoder.rate_hz(self.channels[0])

    def feed(
        self, batches: NotificationBatch | Sequence[NotificationBatch]
    ) -> tuple[list[SampleBlock], list[Event]]:
        """Decode notification batches (any characteristics, arrival order) and align them.

        Pass the batches of one time window together: the aligner then sees every channel of
        the window at once. Never raises on bad bytes (they become BAD_PACKET events).
        """
        if isinstance(batches, NotificationBatch):
            batches = [batches]
        blocks: list[SampleBlock] = []
        events: list[Event] = []
        for batch in batches:
            # host-clocked times come from the arrivals: no host windows needed to judge them
            for piece in [batch] if self.decoder.host_clock else _host_pieces(batch):
                result = self.decoder.feed(piece)
                self.bad_packets += result.bad_packets
                events += [e for e in self._label(result.events) if not self._repeat(e)]
                cell = int(piece.host_t_ns[0]) // PIECE_NS * PIECE_NS
                for block in result.blocks:
                    placed, timeline_events = self.timeline.place(block, cell, cell + PIECE_NS)
                    blocks.append(placed)
                    events += timeline_events
        aligned, align_events = self.aligner.feed(blocks)
        return aligned, events + align_events + self._handed_out(aligned)

    def _repeat(self, event: Event) -> bool:
        """A codec's CLOCK_RESET that is only a repeated or late frame (the timeline drops its
        samples and says so): not worth a line on screen per duplicate."""
        if event.kind != EventKind.CLOCK_RESET or "previous_ns" not in event.data:
            return False
        step = event.data["timestamp_ns"] - event.data["previous_ns"]
        return -self.timeline.late_ns <= step <= 0

    def _handed_out(self, aligned: list[SampleBlock]) -> list[Event]:
        """Note the newest time handed out; the GAP across a reconnect once data is back (if
        the reconnect was quick enough that nothing was missed, none)."""
        aligned = [b for b in aligned if len(b)]
        if not aligned:
            return []
        before, self._last_t_ns = self._reconnected_after, int(aligned[-1].t_ns[-1])
        if before is None:
            return []
        self._reconnected_after = None
        after = int(aligned[0].t_ns[0])
        seconds = (after - before) / 1e9
        if seconds * self.rate_hz < 1.5:
            return []
        return [
            Event(
                before,
                EventKind.GAP,
                f"{self.name}: no samples for {seconds:.1f} s across a reconnect",
                self.name,
                {
                    "source": "timeline",
                    "cause": "reconnect",
                    "duration_s": round(seconds, 3),
                    "missing_samples": max(0, round(seconds * self.rate_hz) - 1),
                },
            )
        ]

    def flush(self) -> tuple[list[SampleBlock], list[Event]]:
        """End of the stream: emit what can still be aligned."""
        blocks, events = self.aligner.flush()
        return blocks, events + self._handed_out(blocks)

    def reset(self) -> tuple[list[SampleBlock], list[Event]]:
        """A new connection: emit what can be aligned, then forget the decoder's state (the
        session timeline carries on)."""
        blocks, events = self.aligner.flush()
        events += self._handed_out(blocks)
        self.decoder.reset()
        self._reconnected_after = self._last_t_ns
        return blocks, events

    def _label(self, events: list[Event]) -> list[Event]:
        return [
            e if e.stream == self.name else dataclasses.replace(e, stream=self.name) for e in events
        ]


def _host_pieces(batch: NotificationBatch) -> list[NotificationBatch]:
    """`batch` cut where its arrival times cross a multiple of PIECE_NS."""
    if len(batch) == 0:
        return []
    cell = batch.host_t_ns // PIECE_NS
    cuts = np.flatnonzero(cell[1:] != cell[:-1]) + 1
    if cuts.size == 0:
        return [batch]
    edges = [0, *cuts.tolist(), len(batch)]
    return [_slice(batch, a, b) for a, b in itertools.pairwise(edges)]


def _slice(batch: NotificationBatch, start: int, stop: int) -> NotificationBatch:
    offsets = batch.offsets[start : stop + 1]
    return NotificationBatch(
        characteristic=batch.characteristic,
        host_t_ns=batch.host_t_ns[start:stop],
        data=batch.data[int(offsets[0]) : int(offsets[-1])],
        offsets=offsets - offsets[0],
    )


def stream_channels(
    profile: Profile, settings: Mapping[str, Any] | None = None, stream: str | None = None
) -> tuple[str, ...]:
    """The channels a profile stream delivers under `settings`.

    Profiles do not list them, and they can depend on settings (a sensor with its gyro or
    magnetometer switched off), so they are found the way the data will flow: a probe block
    with every channel goes through the stream's encoder and decoder.
    """
    key = (profile.model_dump_json(), stream, repr(sorted((settings or {}).items())))
    if key not in _PROBED:
        _PROBED[key] = _run_probe(profile, dict(settings or {}), stream)
    return _PROBED[key]


_PROBED: dict[tuple[str, str | None, str], tuple[str, ...]] = {}


def _run_probe(profile: Profile, settings: dict[str, Any], stream: str | None) -> tuple[str, ...]:
    encoder = ProfileDecoder(profile, settings, stream)
    period_ns = int(1e9 / encoder.rate_hz())
    t_ns = np.int64(800_000_000_000_000_000) + np.arange(_PROBE_SAMPLES, dtype=np.int64) * period_ns
    values = {
        "acc": np.tile([0.1, -0.2, 9.7], (_PROBE_SAMPLES, 1)),
        "gyro": np.tile([0.01, -0.02, 0.03], (_PROBE_SAMPLES, 1)),
        "mag": np.tile([20.0, -5.0, 40.0], (_PROBE_SAMPLES, 1)),
    }
    for channels in (CHANNEL_ORDER, ("acc", "gyro"), ("acc",)):
        block = SampleBlock(t_ns=t_ns, **{c: values[c] for c in channels})
        try:
            notifications = [*encoder.session_preamble(), *encoder.encode(block)]
        except (ValueError, KeyError, TypeError, NotImplementedError):
            continue
        decoder = ProfileDecoder(profile, settings, stream)
        found = {c for b in decoder.decode_all(notifications).blocks for c in b.channels}
        if found:
            return tuple(c for c in CHANNEL_ORDER if c in found)
    return ("acc",)


@lru_cache(maxsize=32)
def _parse_profile_text(text: str, source: str) -> Profile:
    from monitor.profiles.errors import ProfileError

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(f"{source}: not valid TOML: {error}") from None
    return parse_profile(data, source)
