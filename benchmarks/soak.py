"""Soak: a long live session with two sensors at 200 Hz, run faster than real time.

Two virtual sensors (MetaMotion S on the back, WitMotion WT901BLE on the thigh, both 200 Hz,
simulated knee-to-chest sets with their BLE link model: latency, jitter, bursty packet loss)
deliver their byte-exact notifications into a `LiveSession`'s per-sensor queues, where bleak's
notification callback puts them. From there the real live path runs: record raw to a .mrec ->
decode -> align -> the TUI's live feed (`LiveItems` + `PipelineFeed`) -> the analysis pipeline ->
what the live screen keeps (the angle ring, the warnings panel); `--tui` drives the real app
headless instead. Session time is virtual: each step of `--step` seconds is delivered as soon as
the previous one has been processed, and link-quality reports come every 5 s of session time.

Each sensor's simulated session (a few minutes) repeats end to end on the host clock; both
profiles are host-clocked, so the decoded stream is continuous across repeats (a sensor-clocked
profile would see its clock jump back at every repeat).

Prints: RSS (VmRSS) and peak RSS (VmHWM) at 10 simulated minutes and at the end, the Python
heap's top growth sites between those moments (tracemalloc, started at 10 minutes), the sizes
of the long-lived buffers at both moments, event-loop lag (lateness of a 5 ms timer,
p50/p99/max) over the first and the last 10 minutes, reps counted vs simulated, wall time.

    python benchmarks/soak.py [--minutes 120] [--tui] [--no-tracemalloc]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_tui import SimulatedRadio

from monitor.core import Event, EventKind, Notification
from monitor.session.recording import read_recording
from monitor.session.summary import SensorInfo
from monitor.sources.motion import IdleSegment, Link, MotionScript, RepsSegment
from monitor.sources.simulate import SimulatedSession, simulate
from monitor.tui.adapt import analysis_messages
from monitor.tui.feed import Severity
from monitor.tui.live_feed import LiveItems
from monitor.tui.messages import AngleRing, RepCounted, SafetyWarning, WarningView
from monitor.tui.pipeline_feed import PipelineFeed
from monitor.tui.screens.live import _RING_CAPACITY
from monitor.tui.track import ProgramTrack
from monitor.tui.widgets.warnings_panel import WarningsPanel

SENSORS = (("back", "metamotion_s"), ("thigh", "witmotion_wt901ble"))
EXERCISE = "knee_to_chest_single"
CHECKPOINT_S = 600.0  # "10 minutes in": the baseline the end is compared with
QUALITY_INTERVAL_S = 5.0  # as LiveSession reports link quality
LAG_PROBE_S = 0.005


def cycle_script() -> MotionScript:
    """A few minutes of exercise that starts and ends at rest, so it can repeat seamlessly."""
    return MotionScript(
        exercise=EXERCISE,
        rate_hz=200.0,
        lead_in_s=5.0,
        segments=[RepsSegment(sets=2, reps=8, hold_s=3.0), IdleSegment(duration_s=20.0)],
        link=Link(drop_probability=0.002, drop_burst=3.0),
    )


class LoopedSensor:
    """A simulated session's notifications repeated end to end, on a shifted host clock.

    The start responses (the session preamble) are sent once, as a sensor sends them once per
    connection; every repeat shifts the rest by the session's length, so the sample clock runs
    on without a gap.
    """

    def __init__(self, profile_id: str, seed: int) -> None:
        self.session: SimulatedSession = simulate(cycle_script(), profile_id, seed=seed)
        notes = self.session.notifications
        self.preamble = len(self.session.decoder().session_preamble())
        self.offsets_ns = np.array([n.host_t_ns - self.session.host_t0_ns for n in notes])
        self.period_ns = round(self.session.plan.duration_s * 1e9)  # next sample, next repeat
        self.reps_per_cycle = len(self.session.truth.reps)
        self._cycle = 0
        self._index = 0

    def until(self, t_ns: int, host_t0_ns: int) -> list[Notification]:
        """The notifications that arrive before session time `t_ns`, stamped from `host_t0_ns`."""
        out: list[Notification] = []
        notes = self.session.notifications
        while True:
            base = self._cycle * self.period_ns
            stop = int(np.searchsorted(self.offsets_ns, t_ns - base, side="left"))
            out += [
                Notification(n.characteristic, n.data, host_t0_ns + base + int(offset))
                for n, offset in zip(
                    notes[self._index : stop], self.offsets_ns[self._index : stop], strict=True
                )
            ]
            self._index = stop
            if stop < len(notes):
                return out
            self._cycle += 1
            self._index = self.preamble

    def reps_simulated(self, t_ns: int) -> int:
        """Reps whose end falls before session time `t_ns`."""
        ends_ns = np.array([r.end_s for r in self.session.truth.reps]) * 1e9
        whole, part = divmod(t_ns, self.period_ns)
        return int(whole * self.reps_per_cycle + np.count_nonzero(ends_ns < part))


class LagProbe:
    """How late a 5 ms timer fires on the event loop, tagged with the session time reached;
    kept only within `windows` (session seconds), so the probe itself does not grow."""

    def __init__(self, now_s: Callable[[], float], windows: list[tuple[float, float]]) -> None:
        self.now_s = now_s
        self.windows = windows
        self.samples: list[tuple[float, float]] = []  # (session s, lateness s)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time()
            await asyncio.sleep(LAG_PROBE_S)
            now_s = self.now_s()
            if any(start <= now_s < end for start, end in self.windows):
                self.samples.append((now_s, loop.time() - asked - LAG_PROBE_S))

    def between(self, start_s: float, end_s: float) -> str:
        late = np.array([lag for t, lag in self.samples if start_s <= t < end_s]) * 1e3
        if late.size == 0:
            return "no samples"
        p50, p99 = np.percentile(late, [50, 99])
        return f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {late.max():.1f} ms (n={late.size})"


class AcceleratedRadio(SimulatedRadio):
    """The looped sensors' notifications delivered in virtual time: one `step_s` of session time
    at a time, the next as soon as the live path has drained the previous one."""

    def __init__(
        self,
        sensors: dict[str, LoopedSensor],
        record: Path,
        seconds: float,
        *,
        step_s: float,
        drained: Callable[[], bool],
        on_step: Callable[[float], None],
        **callbacks: Any,
    ) -> None:
        super().__init__(
            {name: s.session for name, s in sensors.items()}, record, seconds, **callbacks
        )
        self.looped = sensors
        self.step_s = step_s
        self.drained = drained
        self.on_step = on_step
        self.session_s = 0.0

    async def _deliver(self, stop: asyncio.Event) -> None:
        queues = {s.name: s.queue for s in self.live.sensors}
        host_t0_ns = time.time_ns()
        for sensor in self.live.sensors:
            sensor.process(
                [Event(host_t0_ns, EventKind.CONNECT, "connected (simulated)", sensor.name)]
            )
        steps = round(self.seconds / self.step_s)
        for step in range(1, steps + 1):
            if stop.is_set():
                return
            t_ns = round(step * self.step_s * 1e9)
            for name, looped in self.looped.items():
                for notification in looped.until(t_ns, host_t0_ns):
                    queues[name].put_nowait(notification)
                    self.sent[name] += 1
            while not self.drained():
                await asyncio.sleep(0)
            self.session_s = step * self.step_s
            if step % round(QUALITY_INTERVAL_S / self.step_s) == 0:
                for sensor in self.live.sensors:
                    sensor.report_quality()
            self.on_step(self.session_s)


class ScreenStandIn:
    """What the live screen keeps from the feed, without drawing it: the angle ring, the
    warnings panel's entries, the rep count shown."""

    def __init__(self) -> None:
        self.ring = AngleRing(_RING_CAPACITY)
        self.warnings = WarningsPanel().entries
        self.reps_shown = 0
        self.samples_received = 0

    async def pump(self, feed: PipelineFeed) -> None:
        async for update in feed.updates():
            self.samples_received += update.samples
            self.ring.extend(update.angle_t_s, update.angle_deg)
            for event in update.analysis:
                for message in analysis_messages(event):
                    if isinstance(message, RepCounted):
                        self.reps_shown += 1
                    elif isinstance(message, SafetyWarning):
                        self.warnings.append(message.warning)
            for event in update.events:
                view = WarningView(update.t_s, str(event.kind), Severity.INFO, event.message)
                self.warnings.append(view)


@dataclass
class Soak:
    """One soak run: the live path, its feed and the figures gathered along the way."""

    minutes: float
    record: Path
    step_s: float = 0.1
    tui: bool = False
    trace_heap: bool = True
    on_checkpoint: Callable[[Soak, float], None] | None = None
    checkpoints_s: tuple[float, ...] = (CHECKPOINT_S,)
    sensors: dict[str, LoopedSensor] = field(init=False)
    radio: AcceleratedRadio = field(init=False)
    feed: PipelineFeed = field(init=False)
    items: LiveItems = field(init=False)
    screen: Any = None
    lag: LagProbe = field(init=False)
    memory: dict[str, dict[str, int]] = field(default_factory=dict)
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    heap_growth: list[str] = field(default_factory=list)
    heap_span: str = ""
    wall_s: float = 0.0

    def __post_init__(self) -> None:
        self.sensors = {name: LoopedSensor(p, seed) for seed, (name, p) in enumerate(SENSORS)}

        def make_session(**callbacks: Any) -> AcceleratedRadio:
            self.radio = AcceleratedRadio(
                self.sensors,
                self.record,
                self.minutes * 60,
                step_s=self.step_s,
                drained=self._drained,
                on_step=self._on_step,
                **callbacks,
            )
            return self.radio

        self.items = LiveItems(make_session)
        first = SENSORS[0][0]
        self.feed = PipelineFeed(
            self.items,
            lambda: ProgramTrack(EXERCISE),
            title="soak",
            sensor=SensorInfo(
                profile=SENSORS[0][1], sample_rate_hz=self.radio.sensors[0].stream.rate_hz
            ),
            source="live",
            recording=str(self.record),
            primary_stream=first,
            on_close=self.items.stop,
        )
        self.lag = LagProbe(lambda: self.radio.session_s, [self.first_window, self.last_window])
        self._marks = sorted(self.checkpoints_s)
        self._traced = False
        self._cpu_s: dict[str, float] = {}  # process CPU time at the lag windows' edges

    def _drained(self) -> bool:
        """Nothing queued from the links to the screen (the app's messages included)."""
        queues = [s.queue for s in self.radio.live.sensors] + [self.items.queue]
        if self.tui and self.screen is not None:
            queues.append(self.screen._message_queue)
        return all(q.empty() for q in queues)

    def _on_step(self, session_s: float) -> None:
        for name, edge_s in (("first", self.first_window[1]), ("last", self.last_window[0])):
            if name not in self._cpu_s and session_s >= edge_s - 1e-9:
                self._cpu_s[name] = time.process_time()
        if self._marks and session_s >= self._marks[0] - 1e-9:
            self._marks.pop(0)
            self.checkpoint(f"{session_s / 60:g} min")
            if self.on_checkpoint is not None:
                self.on_checkpoint(self, session_s)
        if not self.trace_heap:
            return
        if not self._traced and session_s >= CHECKPOINT_S - 1e-9:
            self._traced = True
            tracemalloc.start()
        elif tracemalloc.is_tracing() and session_s >= self.trace_until_s - 1e-9:
            self._stop_tracing()

    @property
    def first_window(self) -> tuple[float, float]:
        return (0.0, min(CHECKPOINT_S, self.minutes * 60))

    @property
    def last_window(self) -> tuple[float, float]:
        end_s = self.minutes * 60
        return (max(end_s - CHECKPOINT_S, 0.0), end_s + 1)

    @property
    def trace_until_s(self) -> float:
        """The heap is traced from 10 minutes to 11 minutes before the end, so the last 10
        minutes' loop lag is measured at full speed like the first's, and without the
        snapshot's pause."""
        return max(self.minutes * 60 - CHECKPOINT_S - 60, CHECKPOINT_S)

    def _stop_tracing(self) -> None:
        self.heap_growth = top_heap(tracemalloc.take_snapshot())
        self.heap_span = f"{CHECKPOINT_S / 60:g} to {self.radio.session_s / 60:g} min"
        tracemalloc.stop()

    def checkpoint(self, label: str) -> None:
        self.memory[label] = memory_kib()
        self.sizes[label] = buffer_sizes(self)

    async def run(self) -> None:
        started = time.monotonic()
        self._cpu_s["start"] = time.process_time()
        probe = asyncio.create_task(self.lag.run())
        try:
            if self.tui:
                await self._run_app()
            else:
                self.screen = ScreenStandIn()
                await self.screen.pump(self.feed)
                self._ended()
        finally:
            probe.cancel()
            self.wall_s = time.monotonic() - started

    def _ended(self) -> None:
        self._cpu_s["end"] = time.process_time()
        if tracemalloc.is_tracing():
            self._stop_tracing()
        self.checkpoint("end")

    async def _run_app(self) -> None:
        from monitor.tui.app import MonitorApp

        app = MonitorApp(translate=analysis_messages, feed=self.feed, muted=True)
        async with app.run_test(size=(120, 40)) as pilot:
            self.screen = app.screen
            while not getattr(self.screen, "ended", False):
                await pilot.pause(0.5)
            self._ended()

    def cpu_per_minute(self) -> tuple[float, float]:
        """CPU seconds per session minute over the first and the last 10 minutes (less
        sensitive than loop lag to other processes sharing the machine)."""
        first_min = self.first_window[1] / 60
        last_min = min(self.minutes, CHECKPOINT_S / 60)
        return (
            (self._cpu_s["first"] - self._cpu_s["start"]) / first_min,
            (self._cpu_s["end"] - self._cpu_s["last"]) / last_min,
        )

    def reps(self) -> tuple[int, int]:
        """Reps the screen was told about vs reps the primary sensor simulated."""
        shown = (
            self.screen.reps_shown
            if isinstance(self.screen, ScreenStandIn)
            else self.feed.track.pipeline.rep_count
        )
        looped = self.sensors[SENSORS[0][0]]
        return shown, looped.reps_simulated(round(self.radio.session_s * 1e9))


def memory_kib() -> dict[str, int]:
    """VmRSS and VmHWM (peak) of this process, in KiB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def buffer_sizes(soak: Soak) -> dict[str, int]:
    """Lengths of the long-lived structures of the live path, the feed and the screen."""
    feed, track = soak.feed, soak.feed.track
    pipeline = track.pipeline
    sizes = {
        "feed.events": len(feed.events),
        "feed.recent_times": len(feed._recent_t),
        "feed.gaps": len(feed._gaps),
        "feed.trace_points": len(feed._trace_t),
        "feed.pending": len(feed._pending),
        "feed.rate_window": len(feed._rate_window),
        "items.queue": soak.items.queue.qsize(),
        "pipeline.reps": pipeline.rep_count,
        "pipeline.warnings": len(pipeline.warnings),
    }
    for sensor in soak.radio.live.sensors:
        sizes[f"{sensor.name}.queue"] = sensor.queue.qsize()
        sizes[f"{sensor.name}.aligner_pending"] = len(sensor.stream.aligner._t)
    recorder = soak.radio.live.recorder
    sizes["recorder.buffered"] = len(recorder._payloads) if recorder is not None else 0
    screen = soak.screen
    if isinstance(screen, ScreenStandIn):
        sizes["screen.warnings"] = len(screen.warnings)
    elif screen is not None:  # the real app
        sizes["screen.warnings"] = len(screen.query_one(WarningsPanel).entries)
        sizes["app.notifications"] = len(screen.app._notifications)
        sizes["app.message_queue"] = screen._message_queue.qsize()
    return sizes


def top_heap(snapshot: tracemalloc.Snapshot, limit: int = 8) -> list[str]:
    """The allocation sites holding most of what was allocated since tracing started."""
    stats = snapshot.statistics("lineno")
    lines = []
    for stat in stats[:limit]:
        frame = stat.traceback[0]
        where = f"{frame.filename}:{frame.lineno}"
        lines.append(f"{stat.size / 1024:9.1f} KiB in {stat.count:7d} blocks  {where}")
    return lines


def report(soak: Soak) -> None:
    minutes = soak.minutes
    sent = sum(soak.radio.sent.values())
    print(
        f"soak: {minutes:g} simulated min, 2 sensors x 200 Hz, {sent} notifications, "
        f"{'real app headless' if soak.tui else 'feed + screen stand-in'}; "
        f"wall {soak.wall_s:.1f} s ({60 * minutes / soak.wall_s:.1f}x real time)"
    )
    for label, fields in soak.memory.items():
        rss, peak = fields["VmRSS"] / 1024, fields["VmHWM"] / 1024
        print(f"  {label:>8}: RSS {rss:.1f} MiB, peak {peak:.1f} MiB")
    if soak.heap_growth:
        print(f"  heap growth {soak.heap_span} (tracemalloc, top sites still holding it):")
        for line in soak.heap_growth:
            print(f"    {line}")
    every = list(soak.sizes)
    labels = list(dict.fromkeys([every[0], every[len(every) // 2], every[-1]]))
    print("  buffers " + " ".join(f"{label:>10}" for label in labels))
    for key in soak.sizes[labels[-1]]:
        print(f"  {key:<24}" + " ".join(f"{soak.sizes[lb].get(key, 0):>10}" for lb in labels))
    print(f"  loop lag, first 10 min: {soak.lag.between(*soak.first_window)}")
    print(f"  loop lag, last 10 min:  {soak.lag.between(*soak.last_window)}")
    first, last = soak.cpu_per_minute()
    print(f"  CPU per session minute: first 10 min {first:.2f} s, last 10 min {last:.2f} s")
    shown, simulated = soak.reps()
    print(f"  reps: {shown} counted on screen, {simulated} simulated")


def progress(soak: Soak, session_s: float) -> None:
    rss = soak.memory[f"{session_s / 60:g} min"]["VmRSS"] / 1024
    print(f"  ... {session_s / 60:g} min, RSS {rss:.1f} MiB", file=sys.stderr, flush=True)


async def soak_run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        record = Path(scratch) / "soak.mrec"
        soak = Soak(
            args.minutes,
            record,
            tui=args.tui,
            trace_heap=not args.no_tracemalloc,
            checkpoints_s=tuple(range(int(CHECKPOINT_S), int(args.minutes * 60), 600)),
            on_checkpoint=progress,
        )
        await soak.run()
        report(soak)
        recording = read_recording(record)
        print(
            f"  recording: {record.stat().st_size / 1e6:.1f} MB, {len(recording)} of "
            f"{sum(soak.radio.sent.values())} notifications sent read back"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=120.0, help="session time to simulate")
    parser.add_argument("--tui", action="store_true", help="drive the real app headless")
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip heap tracing")
    asyncio.run(soak_run(parser.parse_args()))


if __name__ == "__main__":
    main()
