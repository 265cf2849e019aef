"""Replay a recording on the live screen, with play/pause, speed and skip.

Decoding is the data path's own (`monitor.sources.replay.Replayer`: the recording in fixed pieces
of host time through SensorStream), so samples are bit-identical whatever the pacing; this module
only decides *when* each piece is handed on. Skipping forward runs the pieces in between flat out
(the analysis sees every sample, counts stay right); skipping back starts the replay and the
analysis again from the beginning and runs flat out to the new position.

The program steps recorded in the file (next / previous exercise, calibrate, pause) drive the
track at their sensor-clock time (monitor.session.program_steps); keys pressed during the replay
act at once, and the next recorded step applies on top of them (a recorded item step goes to its
item, whatever the keys did).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

from monitor.analysis.programs import Program
from monitor.session.program_steps import steps_from_events
from monitor.session.recording import Recording, read_recording
from monitor.session.summary import SensorInfo
from monitor.sources.replay import Replayer, ReplayStep
from monitor.tui.pipeline_feed import RESTART, Item, PipelineFeed, Restart
from monitor.tui.track import ProgramTrack

_POLL_S = 0.05  # how often a waiting replay looks at pause/speed/skip changes


class ReplayControl:
    """Paces a recording's replay steps on its host clock; implements `feed.Playback`."""

    def __init__(self, recording: Recording, speed: float | None = 1.0) -> None:
        self.recording = recording
        self.speed = speed
        self.paused = False
        first = int(recording.host_t_ns[0]) if len(recording) else 0
        last = int(recording.host_t_ns[-1]) if len(recording) else 0
        self._first_ns = first
        self._duration_ns = last - first
        self._position_ns = 0
        self._seek_ns: int | None = None
        self._anchor = (time.monotonic(), 0)  # (wall clock, recording position) of the pace

    # --- Playback ------------------------------------------------------------------------------
    def toggle_pause(self) -> bool:
        self.paused = not self.paused
        self._reanchor()
        return self.paused

    def set_speed(self, speed: float | None) -> None:
        self.speed = speed
        self._reanchor()

    def skip(self, seconds: float) -> None:
        base = self._seek_ns if self._seek_ns is not None else self._position_ns
        self._seek_ns = int(min(max(base + seconds * 1e9, 0), self._duration_ns))

    @property
    def position_s(self) -> float:
        return self._position_ns / 1e9

    @property
    def duration_s(self) -> float:
        return self._duration_ns / 1e9

    @property
    def speed_label(self) -> str:
        label = "max" if self.speed is None else f"{self.speed:g}x"
        return f"{label} paused" if self.paused else label

    # --- pacing --------------------------------------------------------------------------------
    async def steps(self, window_ns: int | None = None) -> AsyncIterator[ReplayStep | Restart]:
        """The replay's steps, each when it is due; `RESTART` before starting over (skip back)."""
        options = {} if window_ns is None else {"window_ns": window_ns}
        while True:
            went_back = False
            for step in Replayer(self.recording, **options).steps():
                position = step.host_t_ns - self._first_ns
                if self._seek_ns is not None and self._seek_ns < self._position_ns:
                    went_back = True
                    break
                self._position_ns = max(self._position_ns, position)
                if self._seek_ns is not None and position >= self._seek_ns:
                    self._seek_ns = None
                    self._reanchor()
                if self._seek_ns is None:
                    await self._until_due(position)
                else:
                    await asyncio.sleep(0)
                yield step
            if not went_back:
                return
            self._position_ns = 0
            yield RESTART

    def _reanchor(self) -> None:
        self._anchor = (time.monotonic(), self._position_ns)

    async def _until_due(self, position_ns: int) -> None:
        while True:
            if self._seek_ns is not None:
                return
            if self.paused:
                await asyncio.sleep(_POLL_S)
                continue
            if self.speed is None:
                await asyncio.sleep(0)
                return
            wall, at = self._anchor
            wait = wall + (position_ns - at) / 1e9 / self.speed - time.monotonic()
            if wait <= 0:
                await asyncio.sleep(0)
                return
            await asyncio.sleep(min(wait, _POLL_S))


async def replay_items(control: ReplayControl) -> AsyncIterator[Item]:
    """Steps as the feed's items: events first (they were recorded before the piece's data)."""
    async for step in control.steps():
        if isinstance(step, Restart):
            yield step
            continue
        for event in step.events:
            yield event
        for block in step.blocks:
            yield block


def open_replay(
    path: Path | str, *, speed: float | None = 1.0, target: str | Program | None = None
) -> PipelineFeed:
    """A feed replaying `path` analysed as `target` (an exercise id or a program); by default
    as the exercise the recording names."""
    recording = read_recording(path)
    header = recording.header
    first = header.streams[0]
    control = ReplayControl(recording, speed)

    steps = steps_from_events(recorded.event for recorded in recording.events)

    def new_track() -> ProgramTrack:  # a skip back starts over: a fresh track, the same steps
        return ProgramTrack(target or header.exercise or "generic", steps=steps)

    replayer_rate = Replayer(recording).streams[first.name].rate_hz
    sensor = SensorInfo(
        profile=first.profile_id,
        device=first.device_name or first.device_address or None,
        sample_rate_hz=replayer_rate,
    )
    return PipelineFeed(
        replay_items(control),
        new_track,
        title=first.device_name or first.profile_id,
        sensor=sensor,
        source="replay",
        recording=str(path),
        start=header.start_utc,
        playback=control,
        primary_stream=first.name,
    )
