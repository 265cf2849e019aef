"""Live sensors on the screen: the data path's `LiveSession` feeding the program's pipelines.

`LiveSession` (monitor.sources.live) owns the Bluetooth links, decoding and the recording; it
hands each decoded block and event to callbacks, which only enqueue. The feed drains the queue
on the UI's loop (one asyncio loop for bleak and Textual) and runs the analysis itself, so next /
previous exercise and calibrate work as in a replay. Every block the session decodes reaches the
feed: the queue is unbounded and drained completely on every wake-up. What the user tells the
feed (next exercise, calibrate, pause, mark) goes into the session's recording as events
(`LiveItems.record`), so a replay or analysis of the file follows the same program steps.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from monitor.analysis.programs import Program
from monitor.core import Event, EventKind, SampleBlock
from monitor.errors import MonitorError
from monitor.session.summary import SensorInfo
from monitor.tui.feed import ScanRow
from monitor.tui.pipeline_feed import Item, PipelineFeed
from monitor.tui.track import ProgramTrack

_ENDED = object()


class LiveItems:
    """Runs a `LiveSession` and yields what it decodes, in order; `stop()` ends it cleanly."""

    def __init__(self, make_session: Any) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.session = make_session(on_event=self._event, on_samples=self._samples)
        self.stop_event = asyncio.Event()
        self.error: MonitorError | None = None
        self._task: asyncio.Task[None] | None = None
        self._unrecorded: list[Event] = []  # told before the recording was opened

    def _event(self, event: Event) -> None:
        self.queue.put_nowait(event)

    def _samples(self, stream: str, block: SampleBlock) -> None:
        self.queue.put_nowait(block)

    async def _run(self) -> None:
        try:
            await self.session.run(self.stop_event)
        except MonitorError as error:
            self.error = error
            self.queue.put_nowait(Event(0, EventKind.DISCONNECT, f"session ended: {error}"))
        finally:
            self.queue.put_nowait(_ENDED)

    def record(self, event: Event) -> None:
        """Write a user's event into the session's recording (kept until the recording is
        opened, once the sensors stream; dropped after the session ended: no samples follow)."""
        if self._task is not None and self._task.done():
            return
        self._unrecorded.append(event)
        self._write_unrecorded()

    def _write_unrecorded(self) -> None:
        recorder = self.session.recorder
        if recorder is not None and self._unrecorded:
            events, self._unrecorded = self._unrecorded, []
            for event in events:
                recorder.write_event(event)

    async def __aiter__(self) -> AsyncIterator[Item]:
        self._task = asyncio.get_running_loop().create_task(self._run())
        while True:
            item = await self.queue.get()
            if item is _ENDED:
                return
            if self._unrecorded:
                self._write_unrecorded()
            yield item

    async def stop(self) -> None:
        self.stop_event.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def open_live(
    requests: Sequence[Any],
    *,
    target: str | Program | None,
    record: Path | None,
    policy: Any = None,
) -> PipelineFeed:
    """A feed over live sensors (`SensorRequest`s); the first sensor is the one analysed."""
    from monitor.sources.live import LiveSession

    def make_session(**callbacks: Any) -> Any:
        return LiveSession(
            requests, exercise=target, analyse=False, record=record, policy=policy, **callbacks
        )

    items = LiveItems(make_session)
    first = requests[0]
    sensor = SensorInfo(
        profile=first.profile.id,
        device=first.target,
        sample_rate_hz=items.session.sensors[0].stream.rate_hz,
    )
    return PipelineFeed(
        items,
        lambda: ProgramTrack(target or "generic"),
        title=f"{first.profile.name} {first.target}",
        sensor=sensor,
        source="live",
        recording=str(record) if record else "",
        primary_stream=first.stream_name,
        on_close=items.stop,
        record=items.record if record is not None else None,
    )


class BleScanner:
    """The pick-a-sensor screen's scanner: bleak scans through the data path's `scan`."""

    def __init__(self, *, target: str | Program | None, record: Path | None, policy: Any) -> None:
        self.target = target
        self.record = record
        self.policy = policy
        self.round_s = 3.0

    async def scan(self) -> list[ScanRow]:
        from monitor.profiles.loader import load_profiles
        from monitor.sources.ble import scan

        found = await scan(list(load_profiles().values()), self.round_s)
        return [
            ScanRow(f.name, f.address, f.rssi, f.profiles[0] if f.profiles else None) for f in found
        ]

    def open(self, row: ScanRow) -> PipelineFeed:
        from monitor.profiles.loader import get_profile
        from monitor.sources.live import SensorRequest

        if row.profile is None:
            raise MonitorError(f"{row.name or row.address}: no firmware profile recognises it")
        profile = get_profile(row.profile)
        request = SensorRequest(row.address, profile, profile.stream().name)
        return open_live([request], target=self.target, record=self.record, policy=self.policy)
