"""The TUI under live load: two sensors at 200 Hz through the live path, on screen, recorded.

Two virtual sensors (MetaMotion S at 200 Hz and Movesense IMU6 at 208 Hz, simulated knee to
chest reps with their BLE link model) deliver their byte-exact notifications in real time into the
live session's own per-sensor queues, exactly where bleak's notification callback puts them;
from there the real live path runs: record raw -> decode -> align -> the TUI's feed -> analysis ->
the screen (the real app, headless driver, 120x40). Only the radio is missing.

Prints: screen refresh rate (frames drawn per second of the angle plot), samples decoded live vs
samples the feed received vs samples decoded back from the recording written (per stream:
nothing may be dropped between the source and the recorder), notifications sent vs recorded,
and CPU use of the process as a share of one core. Goals: >= 15 fps, 0 dropped, < 25 % CPU.

    python benchmarks/bench_tui.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from monitor.core import Notification
from monitor.session.recording import RecordingHeader, RecordingWriter, read_recording
from monitor.session.summary import SensorInfo
from monitor.sources.live import LiveSession, SensorRequest
from monitor.sources.motion import MotionScript, RepsSegment
from monitor.sources.replay import replay_all
from monitor.sources.simulate import SimulatedSession, simulate
from monitor.tui.adapt import analysis_messages
from monitor.tui.app import MonitorApp
from monitor.tui.live_feed import LiveItems
from monitor.tui.pipeline_feed import PipelineFeed
from monitor.tui.track import ProgramTrack
from monitor.tui.widgets import AnglePlot

SENSORS = (("back", "metamotion_s"), ("thigh", "movesense"))
EXERCISE = "knee_to_chest_single"


class SimulatedRadio:
    """Stands in for the BLE links of a `LiveSession`: paces recorded notifications into the
    session's per-sensor queues (what `SensorLink`'s callback does) and runs its consumers."""

    def __init__(
        self, sessions: dict[str, SimulatedSession], record: Path, seconds: float, **callbacks
    ) -> None:
        requests = [
            SensorRequest(name, sim.profile, name, sim.stream, sim.settings)
            for name, sim in sessions.items()
        ]
        self.live = LiveSession(requests, exercise=None, **callbacks)
        self.sessions = sessions
        self.record = record
        self.seconds = seconds
        self.sent = dict.fromkeys(sessions, 0)
        self.sensors = self.live.sensors

    async def run(self, stop: asyncio.Event) -> None:
        live = self.live
        live.recorder = RecordingWriter(
            self.record,
            RecordingHeader(streams=[s.stream_info() for s in live.sensors], exercise=EXERCISE),
        )
        consumers = [asyncio.create_task(s.consume()) for s in live.sensors]
        try:
            await self._deliver(stop)
            await asyncio.sleep(0.2)  # let the consumers drain their queues
        finally:
            for consumer in consumers:
                consumer.cancel()
            for sensor in live.sensors:
                leftover = [sensor.queue.get_nowait() for _ in range(sensor.queue.qsize())]
                sensor.process(leftover)
                sensor.finish()
            live.recorder.close()

    async def _deliver(self, stop: asyncio.Event) -> None:
        queues = {s.name: s.queue for s in self.live.sensors}
        timeline = sorted(
            [
                (n.host_t_ns, name, n)
                for name, sim in self.sessions.items()
                for n in sim.notifications
            ],
            key=lambda entry: entry[:2],
        )
        first = timeline[0][0]
        started = time.monotonic()
        now_ns = time.time_ns()
        for host_t_ns, name, notification in timeline:
            offset_s = (host_t_ns - first) / 1e9
            if offset_s > self.seconds or stop.is_set():
                return
            wait = started + offset_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            stamped = Notification(
                notification.characteristic, notification.data, now_ns + host_t_ns - first
            )
            queues[name].put_nowait(stamped)
            self.sent[name] += 1


async def bench(seconds: float) -> None:
    script = MotionScript(
        exercise=EXERCISE, rate_hz=200.0, segments=[RepsSegment(sets=1, reps=4, hold_s=4.0)]
    )
    sessions = {
        name: simulate(script, profile, seed=i) for i, (name, profile) in enumerate(SENSORS)
    }
    with tempfile.TemporaryDirectory() as scratch:
        record = Path(scratch) / "bench.mrec"
        live_samples = dict.fromkeys(sessions, 0)
        radio: SimulatedRadio | None = None

        def make_session(on_event, on_samples):  # type: ignore[no-untyped-def]
            nonlocal radio

            def counted(stream, block):  # type: ignore[no-untyped-def]
                live_samples[stream] += len(block)
                on_samples(stream, block)

            radio = SimulatedRadio(sessions, record, seconds, on_event=on_event, on_samples=counted)
            return radio

        items = LiveItems(make_session)
        assert radio is not None
        first = SENSORS[0][0]
        feed = PipelineFeed(
            items,
            lambda: ProgramTrack(EXERCISE),
            title="bench",
            sensor=SensorInfo(
                profile=SENSORS[0][1], sample_rate_hz=radio.sensors[0].stream.rate_hz
            ),
            source="live",
            recording=str(record),
            primary_stream=first,
            on_close=items.stop,
        )
        app = MonitorApp(translate=analysis_messages, feed=feed, muted=True)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            plot = screen.query_one(AnglePlot)
            await pilot.pause(0.5)
            frames0, wall0, cpu0 = plot.frames, time.monotonic(), time.process_time()
            while not getattr(screen, "ended", False):
                await pilot.pause(0.25)
            wall = time.monotonic() - wall0
            cpu = time.process_time() - cpu0
            frames = plot.frames - frames0
            received = screen.samples_received  # type: ignore[attr-defined]
        recording = read_recording(record)
        recorded = replay_all(recording)

    print(f"bench_tui: 2 sensors x ~200 Hz through the live path and the screen, {wall:.1f} s")
    print(f"  screen refresh: {frames / wall:.1f} frames/s of the angle plot (goal >= 15)")
    print(f"  CPU: {100 * cpu / wall:.1f} % of one core (goal < 25 %)")
    for name, _profile in SENSORS:
        back = len(recorded.samples[name])
        notes = sum(1 for c in recording.channel if recording.channels[c].stream == name)
        print(
            f"  {name:5}: notifications sent {radio.sent[name]}, recorded {notes}; samples decoded "
            f"live {live_samples[name]}, decoded from the recording {back}, "
            f"dropped {live_samples[name] - back}"
        )
    total = sum(live_samples.values())
    print(
        f"  feed: {received} samples received of {total} decoded live (dropped {total - received})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to stream")
    asyncio.run(bench(parser.parse_args().seconds))


if __name__ == "__main__":
    main()
