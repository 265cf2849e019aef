"""A `SessionFeed` over decoded samples and events: runs them through the program's pipelines.

Replay and simulation both give decoded items (sample blocks and events, in order); this turns
them into the live screen's updates: the angle trace, the pipeline's events, link status.

What the user tells the session (next / previous exercise, calibrate, pause, mark) is applied at
the sensor-clock time of the last sample received, and handed to `record` (the live session's
recording) as an event; a replay's track applies the recorded ones at their time
(monitor.session.program_steps), and the keys still work on top of them.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import deque
from collections.abc import AsyncIterable, Callable
from datetime import datetime
from typing import Any

import numpy as np

from monitor.core import Event, EventKind, SampleBlock
from monitor.errors import MonitorError
from monitor.session import summary as session_summary
from monitor.session.program_steps import STEP_KINDS, Step, step_event
from monitor.tui.feed import Command, ExerciseView, FeedUpdate, LinkState, LinkStatus, Playback
from monitor.tui.track import ProgramTrack

PLOT_STEP_S = 0.05  # the pipeline is fed in pieces this long: the plot gets 20 points/s
RATE_WINDOW_S = 2.0  # received rate over the last seconds of sensor time
TRACE_STEP_S = 0.1  # the summary's angle trace keeps one point per this many seconds...
TRACE_POINTS_KEPT = 3000  # ...until it holds this many: then every other one, twice the step
SHOWN_GAP_S = 0.5  # data gaps at least this long get a line in the warnings panel
SUMMARY_GAP_S = 0.5  # and the summary lists them
EVENTS_KEPT = 256  # recent events: a data gap's reason is looked up among them when found
GAP_CONTEXT_SAMPLES = 8  # sample times kept from the previous block to find gaps at its edge
_LISTED_EVENTS = {
    EventKind.CONNECT,
    EventKind.DISCONNECT,
    EventKind.RECONNECT,
    EventKind.CLOCK_RESET,
    EventKind.MARKER,
}


class Restart:
    """Marks that the source starts over from its beginning (a replay skipped back)."""


RESTART = Restart()
Item = SampleBlock | Event | Restart


class PipelineFeed:
    """Decoded items -> `ProgramTrack` -> `FeedUpdate`s; see the module docstring."""

    def __init__(
        self,
        items: AsyncIterable[Item],
        new_track: Callable[[], ProgramTrack],
        *,
        title: str,
        sensor: session_summary.SensorInfo,
        source: str,
        recording: str = "",
        start: datetime | None = None,
        playback: Playback | None = None,
        primary_stream: str | None = None,
        on_close: Callable[[], Any] | None = None,
        record: Callable[[Event], None] | None = None,
    ) -> None:
        self.title = title
        self.playback = playback
        self.primary_stream = primary_stream
        self._new_track = new_track
        self.track = new_track()
        self.sensor = sensor
        self.source = source
        self.recording = recording
        self.start = start
        self.samples = 0
        self.events: deque[Event] = deque(maxlen=EVENTS_KEPT)
        self._items = items
        self._on_close = on_close
        self._record = record
        self._battery: int | None = None
        self._state = LinkState.CONNECTING
        self._closed = False
        self._start_over()

    def _start_over(self) -> None:
        self.track = self._new_track()
        self.samples = 0
        self.events.clear()
        self._rate_window: deque[tuple[int, int]] = deque()
        self._missing = 0
        self._last_t_ns: int | None = None
        self._trace_t: list[float] = []
        self._trace_deg: list[float] = []
        self._trace_step_s = TRACE_STEP_S
        self._first_t_ns: int | None = None
        self._recent_t = np.empty(0, dtype=np.int64)  # the primary stream's last sample times
        self._gaps: list[session_summary.Gap] = []
        self._pending: list[SampleBlock] = []  # primary samples not yet analysed
        self._deferred: list[FeedUpdate] = []  # analysed early (a key pressed), not yet handed on

    # --- SessionFeed ---------------------------------------------------------------------------
    async def updates(self):  # type: ignore[no-untyped-def]
        async for item in self._items:
            if self._closed:
                break
            while self._deferred:
                yield self._deferred.pop(0)
            if isinstance(item, Restart):
                self._start_over()
                yield FeedUpdate(t_s=0.0, status=self.status(), restart=True)
                continue
            update = self._event(item) if isinstance(item, Event) else self._samples(item)
            if update is not None:
                yield update
        while self._deferred:
            yield self._deferred.pop(0)
        if self._pending:
            yield self._analyse(samples=0)
        self.track.finish()
        self._state = LinkState.ENDED
        yield FeedUpdate(t_s=self._now_s(), events=self._track_news(), status=self.status())

    def exercise(self) -> ExerciseView:
        alternating = self.track.prescription.exercise.alternating
        return dataclasses.replace(self.track.view(), both_sides=alternating)

    def command(self, command: Command) -> str:
        """Apply a key at the last sample received and record it (a live session)."""
        now = self._now_s()
        t_ns = self._last_t_ns if self._last_t_ns is not None else 0
        match command:
            case Command.NEXT_EXERCISE | Command.PREVIOUS_EXERCISE:
                index = self.track.index + (1 if command is Command.NEXT_EXERCISE else -1)
                if not 0 <= index < len(self.track.prescriptions):
                    return "no more exercises that way"
                recorded = self._user_step(Step(t_ns, EventKind.PROGRAM_ITEM, item=index))
                return f"now: {self.track.prescription.exercise.name}{recorded}"
            case Command.CALIBRATE:
                recorded = self._user_step(Step(t_ns, EventKind.CALIBRATION))
                return f"lie still in the neutral pose, then do one slow rep{recorded}"
            case Command.MARK:
                text = f"moment marked at {now:.1f} s"
                marker = Event(t_ns, EventKind.MARKER, text, self._stream)
                return f"marked {now:.1f} s{self._note(marker)}"
            case Command.PAUSE:
                kind = EventKind.RESUME if self.track.paused else EventKind.PAUSE
                recorded = self._user_step(Step(t_ns, kind))
                if self.track.paused:
                    return f"paused: samples are recorded but not counted{recorded}"
                return f"counting again{recorded}"
        raise ValueError(f"unknown command {command!r}")

    async def close(self) -> None:
        self._closed = True
        if self._on_close is not None:
            result = self._on_close()
            if hasattr(result, "__await__"):
                await result

    def summary(self) -> session_summary.SessionSummary:
        trace = (
            session_summary.decimate_trace(self._trace_t, self._trace_deg)
            if self._trace_t
            else None
        )
        return self.track.summary(
            source=self.source,  # type: ignore[arg-type]
            sensor=self.sensor,
            start=self.start,
            input_name=self.recording or None,
            gaps=tuple(self._gaps),
            trace=trace,
        )

    # --- internals -----------------------------------------------------------------------------
    def status(self) -> LinkStatus:
        rate = None
        if len(self._rate_window) > 1:
            span_ns = self._rate_window[-1][0] - self._rate_window[0][0]
            counted = sum(n for _, n in list(self._rate_window)[1:])
            rate = counted / (span_ns / 1e9) if span_ns > 0 else None
        loss = 100 * self._missing / (self.samples + self._missing) if self.samples else None
        state = LinkState.PAUSED if self.track.paused else self._state
        playback = self.playback
        return LinkStatus(
            sensor=self.title,
            state=state,
            battery_pct=self._battery,
            rate_hz=rate,
            nominal_hz=self.sensor.sample_rate_hz,
            loss_pct=loss,
            recording=self.recording,
            position_s=playback.position_s if playback else None,
            duration_s=playback.duration_s if playback else None,
            speed=playback.speed_label if playback else "",
        )

    def _now_s(self) -> float:
        return self.track.session_s(self._last_t_ns) if self._last_t_ns is not None else 0.0

    @property
    def _stream(self) -> str:
        return self.primary_stream or ""

    def _user_step(self, step: Step) -> str:
        """Apply a step the user asked for: the samples received up to it are analysed first
        (as a replay of the recording will), then it is applied and recorded."""
        if self._pending:
            self._deferred.append(self._analyse(samples=0))
        self.track.apply(step)
        exercise = self.track.prescriptions[step.item] if step.item is not None else None
        return self._note(step_event(step, stream=self._stream, exercise=exercise))

    def _note(self, event: Event) -> str:
        """Keep a user's event and record it; "" or why it could not be recorded."""
        self.events.append(event)
        if self._record is None:
            return ""
        try:
            self._record(event)
        except MonitorError as error:
            return f" (not recorded: {error})"
        return ""

    def _track_news(self) -> tuple[Event, ...]:
        """The recorded steps the track applied since last asked, and those it had to ignore,
        as lines for the screen."""
        track = self.track
        news = [
            step_event(
                step,
                stream=self._stream,
                exercise=track.prescriptions[step.item] if step.item is not None else None,
            )
            for step in track.applied
        ]
        t_ns = self._last_t_ns if self._last_t_ns is not None else 0
        news += [Event(t_ns, EventKind.INFO, warning, self._stream) for warning in track.warnings]
        track.applied.clear()
        track.warnings.clear()
        return tuple(news)

    def _event(self, event: Event) -> FeedUpdate | None:
        self.events.append(event)
        if event.kind in STEP_KINDS:  # recorded steps: the track applies them at their time
            return FeedUpdate(t_s=self._now_s(), status=self.status())
        match event.kind:
            case EventKind.BATTERY:
                self._battery = int(event.data.get("percent", self._battery or 0))
            case EventKind.GAP:
                self._missing += int(event.data.get("missing_samples", 0))
            case EventKind.DISCONNECT if self._analysed(event):
                self._state = LinkState.RECONNECTING
            case EventKind.CONNECT | EventKind.RECONNECT if self._analysed(event):
                self._state = LinkState.STREAMING
        shown = (event,) if _worth_a_line(event) else ()
        return FeedUpdate(t_s=self._now_s(), events=shown, status=self.status())

    def _analysed(self, event: Event) -> bool:
        """Whether `event` concerns the sensor the screen counts (a second sensor's link
        losses are listed as warnings but leave the status line alone)."""
        return self.primary_stream is None or event.stream in ("", self.primary_stream)

    def _samples(self, block: SampleBlock) -> FeedUpdate | None:
        if len(block) == 0:
            return None
        if self.primary_stream is not None and block.stream != self.primary_stream:
            self.samples += len(block)  # a second sensor: counted and recorded, not analysed
            return FeedUpdate(t_s=self._now_s(), samples=len(block), status=self.status())
        self._state = LinkState.STREAMING
        self.samples += len(block)
        self._last_t_ns = int(block.t_ns[-1])
        self._find_gaps(block.t_ns)
        self._rate_window.append((self._last_t_ns, len(block)))
        while self._last_t_ns - self._rate_window[0][0] > RATE_WINDOW_S * 1e9:
            self._rate_window.popleft()
        if block.acc is None or block.gyro is None:
            return FeedUpdate(t_s=self._now_s(), samples=len(block), status=self.status())
        self._pending.append(block)
        step_ns = int(PLOT_STEP_S * 1e9)
        if self._last_t_ns // step_ns == int(self._pending[0].t_ns[0]) // step_ns:
            # Live blocks are a few samples each: the pipeline runs once per plot step instead.
            return FeedUpdate(t_s=self._now_s(), samples=len(block), status=self.status())
        return self._analyse(samples=len(block))

    def _analyse(self, samples: int) -> FeedUpdate:
        """Run the pending samples through the pipeline (chunking does not change its results)."""
        block = SampleBlock.concat(
            [SampleBlock(t_ns=b.t_ns, acc=b.acc, gyro=b.gyro) for b in self._pending]
        )
        self._pending.clear()
        analysis: list[Any] = []
        points_t: list[float] = []
        points_deg: list[float] = []
        for piece in _pieces(block, PLOT_STEP_S):
            fed_before = self.track.fed_t_ns
            analysis.extend(self.track.process(piece))
            if self.track.fed_t_ns != fed_before:  # not paused: the angle moved on
                points_t.append(self.track.session_s(int(piece.t_ns[-1])))
                points_deg.append(self.track.pipeline.angle_deg)
        if points_t:
            self._keep_trace_point(points_t[-1], points_deg[-1])
        return FeedUpdate(
            t_s=self._now_s(),
            angle_t_s=np.asarray(points_t),
            angle_deg=np.asarray(points_deg),
            analysis=tuple(analysis),
            events=self._track_news(),
            samples=samples,
            status=self.status(),
        )

    def _find_gaps(self, t_ns: np.ndarray) -> None:
        """Data gaps of the primary stream, found as its samples arrive (a session of hours keeps
        no sample times): each new block is searched with the last few times before it, and a
        gap's reason comes from the events received up to then (they precede the data)."""
        if self._first_t_ns is None:
            self._first_t_ns = int(t_ns[0])
        times = np.concatenate((self._recent_t, t_ns))
        self._recent_t = times[-GAP_CONTEXT_SAMPLES:]
        if times.size < 2 or np.diff(times).max() <= SUMMARY_GAP_S * 1e9:
            return
        seen_until = int(times[len(times) - len(t_ns) - 1]) if len(times) > len(t_ns) else None
        for gap in session_summary.data_gaps(times, self.events, min_gap_s=SUMMARY_GAP_S):
            start_ns = int(times[0]) + round(gap.start_s * 1e9)
            if seen_until is None or start_ns >= seen_until:
                start_s = (start_ns - self._first_t_ns) / 1e9
                self._gaps.append(gap.model_copy(update={"start_s": start_s}))

    def _keep_trace_point(self, t_s: float, deg: float) -> None:
        """One point per trace step for the summary's angle chart; a long session keeps every
        other point and doubles the step, so the trace stays under `TRACE_POINTS_KEPT`."""
        if self._trace_t and t_s - self._trace_t[-1] < self._trace_step_s:
            return
        if len(self._trace_t) >= TRACE_POINTS_KEPT:
            self._trace_t, self._trace_deg = self._trace_t[::2], self._trace_deg[::2]
            self._trace_step_s *= 2
        self._trace_t.append(t_s)
        self._trace_deg.append(deg)


def _worth_a_line(event: Event) -> bool:
    """Events the warnings panel lists: link losses, long gaps, the user's own marks. Short gaps
    from packet loss only feed the status line's loss figure."""
    if event.kind is EventKind.GAP:
        data = event.data
        seconds = data.get("duration_s", data.get("duration_ns", 0) / 1e9)
        return float(seconds) >= SHOWN_GAP_S
    return event.kind in _LISTED_EVENTS


def _pieces(block: SampleBlock, step_s: float) -> list[SampleBlock]:
    """`block` cut at every multiple of `step_s` of its own clock (chunking does not change what
    the pipeline computes, only how often we read its angle)."""
    step_ns = int(step_s * 1e9)
    buckets = block.t_ns // step_ns
    cuts = np.flatnonzero(np.diff(buckets)) + 1
    bounds = [0, *cuts.tolist(), len(block)]
    return [block.slice(a, b) for a, b in itertools.pairwise(bounds) if b > a]
