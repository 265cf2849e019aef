"""A live session: one or two BLE sensors -> decoder -> analysis -> recording, with link quality.

Each sensor is a separate stream with its own `SensorLink` (monitor.sources.ble), queue,
decoder and, when an exercise or program is given, analysis pipeline. Every notification is
recorded raw before decoding, every link event is recorded, so a session that ends badly (lost
sensor, Ctrl-C, refused command) keeps everything received up to then. With two sensors, one
lost for good (not back within the reconnect time) is recorded as such and the session goes on
with the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.analysis.pipeline import AnalysisPipeline
from monitor.analysis.programs import Program
from monitor.analysis.results import AnalysisEvent
from monitor.core import Event, EventKind, Notification, NotificationBatch, SampleBlock
from monitor.errors import MonitorError
from monitor.profiles.model import Profile
from monitor.session.recording import RecordingHeader, RecordingWriter, StreamInfo
from monitor.sources.ble import LinkItem, LinkPolicy, SensorLink, host_now_ns
from monitor.sources.simulate import profile_text
from monitor.sources.stream import SensorStream

QUALITY_INTERVAL_S = 5.0


@dataclass(frozen=True)
class SensorRequest:
    """Which sensor to stream from (address or advertised name) and how to decode it."""

    target: str
    profile: Profile
    stream_name: str  # the session's name for it: "back", "thigh", or the profile stream's name
    profile_stream: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class LinkQuality:
    """Counters since the last report: received vs nominal sample rate, losses, battery."""

    notifications: int = 0
    samples: int = 0
    lost_samples: int = 0
    gaps: int = 0
    bad_packets: int = 0
    since_ns: int = field(default_factory=time.monotonic_ns)

    def report(self, stream: str, nominal_hz: float, battery: int | None) -> Event:
        elapsed_s = max(1e-9, (time.monotonic_ns() - self.since_ns) / 1e9)
        rate = self.samples / elapsed_s
        expected = self.samples + self.lost_samples
        loss = self.lost_samples / expected if expected else 0.0
        battery_text = "" if battery is None else f", battery {battery} %"
        return Event(
            host_now_ns(),
            EventKind.LINK_QUALITY,
            f"{stream}: {rate:.1f} of {nominal_hz:g} Hz, {100 * loss:.1f} % lost"
            f" ({self.gaps} gaps, {self.bad_packets} bad packets){battery_text}",
            stream,
            {
                "received_hz": round(rate, 2),
                "nominal_hz": nominal_hz,
                "notifications": self.notifications,
                "samples": self.samples,
                "lost_samples": self.lost_samples,
                "loss_ratio": round(loss, 4),
                "gaps": self.gaps,
                "bad_packets": self.bad_packets,
                "battery_percent": battery,
                "interval_s": round(elapsed_s, 3),
            },
        )


class _SensorSession:
    """One stream of the session: link -> queue -> SensorStream -> pipeline; out to callbacks."""

    def __init__(self, request: SensorRequest, session: LiveSession) -> None:
        self.request = request
        self.session = session
        self.name = request.stream_name
        self.stream = SensorStream(
            request.profile, request.settings, request.profile_stream, name=self.name
        )
        self.decoder = self.stream.decoder
        self.queue: asyncio.Queue[LinkItem] = asyncio.Queue()
        self.link = SensorLink(
            request.target,
            request.profile,
            self.decoder.stream,
            self.decoder.settings,
            self.queue,
            stream_name=self.name,
            policy=session.policy,
        )
        self.pipeline = (
            AnalysisPipeline(session.exercise, rate_hz=self.stream.rate_hz)
            if session.analyse and session.exercise is not None and "gyro" in self.stream.channels
            else None
        )
        self.quality = LinkQuality()

    def stream_info(self) -> StreamInfo:
        return StreamInfo.for_profile(
            self.name,
            self.request.profile.id,
            profile_text(self.request.profile),
            profile_stream=self.decoder.stream.name,
            settings=self.decoder.settings,
            device_name=self.link.info.name or self.request.target,
            device_address=self.link.info.address,
        )

    async def consume(self) -> None:
        """Process queued items in arrival order, a burst at a time."""
        while True:
            items = [await self.queue.get()]
            while not self.queue.empty():
                items.append(self.queue.get_nowait())
            self.process(items)

    def process(self, items: Sequence[LinkItem]) -> None:
        """Record and decode notifications, a run of one characteristic per batch; pass events.

        A RECONNECT resets the stream (decoder clocks, aligner) before the new connection's data.
        """
        batches: list[NotificationBatch] = []
        run: list[Notification] = []
        for item in [*items, None]:
            if run and (
                not isinstance(item, Notification) or item.characteristic != run[0].characteristic
            ):
                batches.append(self._record(run))
                run = []
            if isinstance(item, Notification):
                run.append(item)
                continue
            if batches:
                self._deliver(*self.stream.feed(batches), batches[-1].host_t_ns[-1])
                batches = []
            if isinstance(item, Event):
                self.session.emit(item)
                if item.kind == EventKind.RECONNECT:
                    self._deliver(*self.stream.reset(), item.t_ns)

    def finish(self) -> None:
        """End of session: what the aligner still holds."""
        self._deliver(*self.stream.flush(), host_now_ns())

    def _record(self, run: list[Notification]) -> NotificationBatch:
        recorder = self.session.recorder
        if recorder is not None:
            for n in run:
                recorder.write_notification(self.name, n.characteristic, n.data, n.host_t_ns)
        self.quality.notifications += len(run)
        return NotificationBatch.from_payloads(
            run[0].characteristic, [n.data for n in run], [n.host_t_ns for n in run]
        )

    def _deliver(self, blocks: list[SampleBlock], events: list[Event], host_t_ns: int) -> None:
        for event in events:
            if event.kind == EventKind.GAP:
                self.quality.gaps += 1
                missing = event.data.get("missing_samples", event.data.get("missing", 0))
                self.quality.lost_samples += int(missing)
            elif event.kind == EventKind.BAD_PACKET:
                self.quality.bad_packets += 1
            self.session.emit(event)
        for block in blocks:
            self.quality.samples += len(block)
            self.session.on_samples(self.name, block)
            if self.pipeline is not None:
                for analysis_event in self.pipeline.process(block):
                    self.session.on_analysis(self.name, analysis_event, int(host_t_ns))

    def lost_for_good(self, error: BaseException | None, others: Sequence[str]) -> None:
        """The link gave up: say so in the stream's order (after what it had queued)."""
        reason = str(error) if error is not None else f"{self.name}: link ended"
        self.queue.put_nowait(
            Event(
                host_now_ns(),
                EventKind.DISCONNECT,
                f"{reason}; the session goes on with {', '.join(others)}",
                self.name,
                {"gave_up": True},
            )
        )

    def report_quality(self) -> None:
        event = self.quality.report(self.name, self.stream.rate_hz, self.link.info.battery_percent)
        self.quality = LinkQuality()
        self.session.emit(event)


class LiveSession:
    """Runs the sensors until `stop` is set; the `on_*` callbacks see everything live.

    `on_event` gets link, decoder and link-quality events (all recorded), `on_analysis` the
    analysis events with the host arrival time of the notification that produced them, and
    `on_samples` each decoded block.
    """

    def __init__(
        self,
        requests: Sequence[SensorRequest],
        *,
        exercise: str | Program | None = None,
        analyse: bool = True,
        record: Path | None = None,
        policy: LinkPolicy | None = None,
        on_event: Callable[[Event], None] = lambda _e: None,
        on_analysis: Callable[[str, AnalysisEvent, int], None] = lambda _s, _e, _t: None,
        on_samples: Callable[[str, SampleBlock], None] = lambda _s, _b: None,
        quality_interval_s: float = QUALITY_INTERVAL_S,
    ) -> None:
        names = [r.stream_name for r in requests]
        if not requests or len(set(names)) != len(names):
            raise MonitorError(f"give one or more sensors with distinct stream names, got {names}")
        self.exercise = exercise  # named in the recording's header
        self.analyse = analyse  # False: the caller analyses `on_samples` itself (the screen)
        self.record_path = record
        self.policy = policy or LinkPolicy()
        self.on_event = on_event
        self.on_analysis = on_analysis
        self.on_samples = on_samples
        self.quality_interval_s = quality_interval_s
        self.recorder: RecordingWriter | None = None
        self.sensors = [_SensorSession(r, self) for r in requests]

    def emit(self, event: Event) -> None:
        if self.recorder is not None:
            self.recorder.write_event(event, event.t_ns)
        self.on_event(event)

    def pipeline(self, stream: str) -> AnalysisPipeline | None:
        return next(s.pipeline for s in self.sensors if s.name == stream)

    async def run(self, stop: asyncio.Event) -> None:
        """Stream until `stop`. A sensor refusing its start, or the last sensor still streaming
        lost for good, raises MonitorError after everything received so far has been processed
        and recorded; another sensor lost for good is an event and the session goes on."""
        stop_all = asyncio.Event()
        links = [asyncio.create_task(s.link.run(stop_all)) for s in self.sensors]
        consumers: list[asyncio.Task[None]] = []
        try:
            await _until_all_connected_or_failed(self.sensors, links)
            if self.record_path is not None:
                self.recorder = RecordingWriter(
                    self.record_path,
                    RecordingHeader(
                        streams=[s.stream_info() for s in self.sensors],
                        exercise=self.exercise if isinstance(self.exercise, str) else "",
                        program=self.exercise.id if isinstance(self.exercise, Program) else "",
                    ),
                )
            consumers = [asyncio.create_task(s.consume()) for s in self.sensors]
            watcher = asyncio.create_task(stop.wait())
            quality = asyncio.create_task(self._report_quality())
            await self._until_stopped_or_all_lost(watcher, links)
            watcher.cancel()
            quality.cancel()
            stop_all.set()
            await asyncio.gather(*links, return_exceptions=True)
            if not stop.is_set():
                failures = [t.exception() for t in links if t.done() and not t.cancelled()]
                error = next((e for e in failures if e is not None), None)
                if error is not None:
                    raise error
        finally:
            stop_all.set()
            for task in links:
                if not task.done():
                    task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*links, return_exceptions=True)
            for consumer in consumers:
                consumer.cancel()
            for sensor in self.sensors:  # whatever is still queued is processed and recorded
                leftover = [sensor.queue.get_nowait() for _ in range(sensor.queue.qsize())]
                sensor.process(leftover)
                sensor.finish()
            if self.recorder is not None:
                self.recorder.close()

    async def _until_stopped_or_all_lost(
        self, watcher: asyncio.Task[bool], links: Sequence[asyncio.Task[None]]
    ) -> None:
        streaming = dict(zip(links, self.sensors, strict=True))
        while streaming:
            done, _ = await asyncio.wait([watcher, *streaming], return_when=asyncio.FIRST_COMPLETED)
            if watcher in done:
                return
            for task in done:
                sensor = streaming.pop(task)
                if streaming:
                    sensor.lost_for_good(task.exception(), [s.name for s in streaming.values()])

    async def _report_quality(self) -> None:
        while True:
            await asyncio.sleep(self.quality_interval_s)
            for sensor in self.sensors:
                sensor.report_quality()


async def _until_all_connected_or_failed(
    sensors: Sequence[_SensorSession], links: Sequence[asyncio.Task[None]]
) -> None:
    """Wait until every sensor streams; the first failure (not found, refused...) is raised."""
    waits = [asyncio.create_task(s.link.connected.wait()) for s in sensors]
    try:
        pending = set(waits) | set(links)
        while not all(w.done() for w in waits):
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task in links:
                    task.result()  # raises the link's MonitorError
                    raise MonitorError("a sensor stopped before it started streaming")
    finally:
        for wait in waits:
            wait.cancel()
