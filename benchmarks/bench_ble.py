"""BLE live path through BlueZ (the test harness: dbus-daemon + BlueZoo + a fake sensor).

Prints
1. latency from a notification's arrival (host time stamped in the bleak callback) to the end
   of its processing (decode, align, analysis), p50/p99 over every notification, and from
   arrival to each analysis event (reps), for a simulated Polar Verity Sense session;
2. the highest notification rate the live path sustains without loss (WitMotion 20-byte
   packets: decode, record, align), stepping the rate up.

The fake sensor runs in the same process and event loop as the client, so figures include
its work: a real sensor costs the host less. Run: python benchmarks/bench_ble.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from bluez_harness.bus import BlueZMock  # noqa: E402
from bluez_harness.firmware import WitMotionFirmware  # noqa: E402
from bluez_harness.peripheral import paced, start_sensor  # noqa: E402
from bluez_harness.sensors import layout, sensor_from_session  # noqa: E402

from monitor.core import Notification  # noqa: E402
from monitor.profiles.loader import get_profile  # noqa: E402
from monitor.sources.ble import LinkPolicy  # noqa: E402
from monitor.sources.live import LiveSession, SensorRequest, _SensorSession  # noqa: E402
from monitor.sources.motion import IdleSegment, MotionScript, RepsSegment  # noqa: E402
from monitor.sources.simulate import simulate  # noqa: E402

STEADY = {"latency_ms": 0, "jitter_ms": 0}
POLICY = LinkPolicy(find_timeout_s=10, give_up_after_s=10)


def percentiles(values_ns: list[int]) -> str:
    ms = np.asarray(values_ns, dtype=np.float64) / 1e6
    return f"p50 {np.percentile(ms, 50):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms (n={len(ms)})"


def timed_processing(latencies: list[int]):
    """Wrap _SensorSession.process to time each notification from arrival to processed."""
    original = _SensorSession.process

    def process(self, items):
        original(self, items)
        done = time.time_ns()
        latencies.extend(done - i.host_t_ns for i in items if isinstance(i, Notification))

    return original, process


async def run_until_played(live: LiveSession, sensor) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(live.run(stop))
    await asyncio.wait_for(sensor.wait_stream_done(), 600)
    await asyncio.sleep(0.2)
    stop.set()
    await task


async def latency(bluez: BlueZMock, reps: int) -> None:
    profile = get_profile("polar_verity_sense")
    script = MotionScript(
        exercise="pelvic_tilt",
        lead_in_s=3,
        segments=[RepsSegment(reps=reps, rest_s=0.5, hold_s=0.5)],
        link=STEADY,
    )
    session = simulate(script, profile.id, seed=2)
    sensor, _ = await sensor_from_session(bluez, 1, profile, session, speed=1.0)
    processed: list[int] = []
    events: list[int] = []

    def on_analysis(_stream: str, event, host_t_ns: int) -> None:
        if event.kind == "rep":
            events.append(time.time_ns() - host_t_ns)

    live = LiveSession(
        [SensorRequest(sensor.address, profile, "back", settings=session.settings)],
        exercise="pelvic_tilt",
        policy=POLICY,
        on_analysis=on_analysis,
    )
    original, wrapped = timed_processing(processed)
    _SensorSession.process = wrapped
    try:
        await run_until_played(live, sensor)
    finally:
        _SensorSession.process = original
    print(f"latency, {profile.name} acc+gyro 52 Hz, real time, {reps} reps")
    print(f"  arrival -> decoded, aligned, analysed: {percentiles(processed)}")
    print(f"  arrival -> rep event:                  {percentiles(events)}")


async def sustained_rate(bluez: BlueZMock, rates: list[int], seconds: float) -> None:
    profile = get_profile("witmotion_wt901ble")
    script = MotionScript(rate_hz=200, lead_in_s=1, segments=[IdleSegment(duration_s=2)])
    session = simulate(script, profile.id)
    packets = [n.data for n in session.notifications]
    data_uuid = profile.gatt.data[0]
    best = 0
    print(f"sustained rate, {profile.name} 20-byte notifications, {seconds:g} s per step")
    for adapter, rate in enumerate(rates, start=2):
        count = int(rate * seconds)
        payloads = [(data_uuid, packets[i % len(packets)]) for i in range(count)]
        sensor = await start_sensor(
            bluez.bus_address,
            adapter,
            f"WT901BLE {rate}",
            layout(profile),
            WitMotionFirmware(items=paced(payloads, 1 / rate)),
            profile.recognition.service_uuids,
        )
        live = LiveSession(
            [SensorRequest(sensor.address, profile, "back", settings=session.settings)],
            policy=POLICY,
        )
        got = 0
        original = _SensorSession.process

        def counting(self, items, _original=original):
            nonlocal got
            got += sum(isinstance(i, Notification) for i in items)
            _original(self, items)

        _SensorSession.process = counting
        try:
            started = time.monotonic()
            await run_until_played(live, sensor)
            elapsed = time.monotonic() - started
        finally:
            _SensorSession.process = original
        await sensor.stop()
        sent = len(sensor.sent_log)
        lost = sent - got
        print(f"  {rate:5d}/s: sent {sent}, received {got}, lost {lost} ({elapsed:.1f} s)")
        if lost or sensor.dropped:
            break
        best = rate
    print(f"  highest rate sustained without loss: {best} notifications/s")


async def run(bluez: BlueZMock, quick: bool, rates: list[int]) -> None:
    await latency(bluez, reps=2 if quick else 5)
    await sustained_rate(bluez, rates, 1.0 if quick else 3.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    quick = parser.parse_args().quick
    rates = [100, 400, 1600, 3200] if quick else [100, 200, 400, 800, 1600, 3200, 4800, 6400]
    bluez = BlueZMock(adapters=2 + len(rates)).start()
    os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = bluez.bus_address
    os.environ.setdefault("MONITOR_DATA_DIR", tempfile.mkdtemp())
    try:
        asyncio.run(run(bluez, quick, rates))
    finally:
        bluez.stop()


if __name__ == "__main__":
    main()
