"""Replay a recording through the same decode path as a live sensor (SensorStream).

The recording is cut into pieces of `window_ns` of host time and at every recorded event
(`Recording.segments`); each piece's notifications go to their stream's SensorStream, so a
RECONNECT resets the decoder exactly where the live session did. The pieces do not depend on
pacing: real time, N x speed and as fast as possible give the same samples, bit for bit.

Recorded events are passed on, except those the decode path creates again from the bytes
(bad packets, clock resets, control responses, sample gaps, late samples dropped), so nothing
is reported twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from monitor.core import Event, EventKind, SampleBlock
from monitor.errors import InputFileError
from monitor.profiles.errors import ProfileError
from monitor.session.recording import Recording, read_recording
from monitor.sources.stream import SensorStream

DEFAULT_WINDOW_NS = 100_000_000  # 0.1 s pieces: smooth on screen, cheap enough at 4 x speed
BULK_WINDOW_NS = 60_000_000_000  # whole-file decoding: fewer, bigger numpy calls

_DECODED_KINDS = {EventKind.BAD_PACKET, EventKind.CLOCK_RESET, EventKind.CONTROL}


def _recreated_by_decoding(event: Event) -> bool:
    if event.kind in _DECODED_KINDS or event.data.get("source") == "timeline":
        return True
    # sample gaps come from the decoder; a gap with a cause is the link's (disconnected)
    return event.kind == EventKind.GAP and "cause" not in event.data


@dataclass(slots=True)
class ReplayStep:
    """What one piece of the recording produced; blocks are labelled with their stream."""

    host_t_ns: int  # recording host time at the end of the piece
    blocks: list[SampleBlock] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


class Replayer:
    """Decodes a recording piece by piece, deterministically."""

    def __init__(self, recording: Recording, *, window_ns: int = DEFAULT_WINDOW_NS) -> None:
        self.recording = recording
        self.window_ns = window_ns
        try:
            self.streams = {
                info.name: SensorStream.from_stream_info(info) for info in recording.header.streams
            }
        except ProfileError as error:
            raise InputFileError(f"{recording.path}: {error}") from None

    def steps(self) -> Iterator[ReplayStep]:
        recording = self.recording
        last_t = int(recording.host_t_ns[0]) if len(recording) else 0
        for start, stop, recorded in recording.segments(self.window_ns):
            step = ReplayStep(host_t_ns=last_t)
            for entry in recorded:
                event = entry.event
                step.host_t_ns = last_t = max(last_t, entry.host_t_ns)
                if event.kind == EventKind.RECONNECT and event.stream in self.streams:
                    self._collect(step, self.streams[event.stream].reset())
                if not _recreated_by_decoding(event):
                    step.events.append(event)
            if stop > start:
                step.host_t_ns = last_t = max(last_t, int(recording.host_t_ns[stop - 1]))
                for name, stream in self.streams.items():
                    batches = recording.batches(name, start, stop)
                    if batches:
                        self._collect(step, stream.feed(batches))
            yield step
        final = ReplayStep(host_t_ns=last_t)
        for stream in self.streams.values():
            self._collect(final, stream.flush())
        yield final

    @staticmethod
    def _collect(step: ReplayStep, produced: tuple[list[SampleBlock], list[Event]]) -> None:
        blocks, events = produced
        step.blocks += blocks
        step.events += events


@dataclass(slots=True)
class ReplayResult:
    """A whole recording decoded: per stream, its aligned samples; all events in order."""

    recording: Recording
    samples: dict[str, SampleBlock]
    events: list[Event]
    bad_packets: dict[str, int]
    rates_hz: dict[str, float]  # nominal rate of each stream's aligned samples


def replay_all(source: Recording | Path | str, *, window_ns: int = BULK_WINDOW_NS) -> ReplayResult:
    """Decode a recording at once (analysis, export); same samples as a paced replay."""
    recording = source if isinstance(source, Recording) else read_recording(source)
    replayer = Replayer(recording, window_ns=window_ns)
    blocks: dict[str, list[SampleBlock]] = {name: [] for name in replayer.streams}
    events: list[Event] = []
    for step in replayer.steps():
        for block in step.blocks:
            blocks[block.stream].append(block)
        events += step.events
    return ReplayResult(
        recording=recording,
        samples={name: concat_blocks(parts, name) for name, parts in blocks.items()},
        events=events,
        bad_packets={name: s.bad_packets for name, s in replayer.streams.items()},
        rates_hz={name: s.rate_hz for name, s in replayer.streams.items()},
    )


async def replay(
    source: Recording | Path | str,
    *,
    speed: float | None = 1.0,
    window_ns: int = DEFAULT_WINDOW_NS,
) -> AsyncIterator[ReplayStep]:
    """Replay paced on the recording's host clock: `speed` x real time, None = flat out."""
    recording = source if isinstance(source, Recording) else read_recording(source)
    if speed is not None and speed <= 0:
        raise ValueError(f"speed must be positive, got {speed}")
    started = time.monotonic()
    first_t: int | None = None
    for step in Replayer(recording, window_ns=window_ns).steps():
        if first_t is None:
            first_t = step.host_t_ns
        if speed is None:
            await asyncio.sleep(0)
        else:
            due = started + (step.host_t_ns - first_t) / 1e9 / speed
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        yield step


def concat_blocks(blocks: list[SampleBlock], stream: str) -> SampleBlock:
    """Join aligned blocks of one stream; extra arrays are kept where every block has them."""
    blocks = [b for b in blocks if len(b)]
    if not blocks:
        return SampleBlock(t_ns=[], stream=stream)
    common = set.intersection(*(set(b.extra) for b in blocks))
    if any(set(b.extra) != common for b in blocks):
        blocks = [
            SampleBlock(
                t_ns=b.t_ns,
                acc=b.acc,
                gyro=b.gyro,
                mag=b.mag,
                stream=b.stream,
                extra={k: v for k, v in b.extra.items() if k in common},
            )
            for b in blocks
        ]
    return SampleBlock.concat(blocks)
