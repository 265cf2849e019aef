"""SensorLink (monitor.sources.ble) through BlueZ: start sequence, responses, faults, reconnects."""

from __future__ import annotations

import asyncio

import pytest
from bluez_harness.bus import BlueZMock
from bluez_harness.firmware import PMD_CP, PMD_DATA, PMD_SERVICE, PolarPmdFirmware
from bluez_harness.peripheral import (
    CharacteristicSpec,
    FakePeripheral,
    ServiceSpec,
    paced,
    start_sensor,
)

from monitor.core import Event, EventKind, Notification
from monitor.errors import MonitorError
from monitor.profiles.errors import CommandRefusedError
from monitor.profiles.model import Profile
from monitor.sources.ble import LinkItem, LinkPolicy, SensorLink

# A Polar H10 ACC stream as PROTOCOLS.md section 1 describes it (start: 200 Hz, 16 bit, 8 g).
START = "02 02 00 01 c8 00 01 01 10 00 02 01 08 00"


def pmd_profile(response_timeout_ms: float = 5000) -> Profile:
    return Profile.model_validate(
        {
            "id": "test_pmd",
            "name": "Test PMD",
            "vendor": "Test",
            "recognition": {"name_patterns": ["^Polar H10"], "service_uuids": [PMD_SERVICE]},
            "gatt": {
                "services": [PMD_SERVICE],
                "data": [PMD_DATA],
                "control": [PMD_CP],
                "battery": "2a19",
                "device_information": {"model": "2a24", "manufacturer": "2a29"},
            },
            "status_tables": {
                "pmd": {0: "SUCCESS", 5: "INVALID_PARAMETER", 13: "DEVICE_IN_CHARGER"}
            },
            "streams": [
                {
                    "name": "acc",
                    "codec": "polar_pmd",
                    "characteristics": [PMD_DATA, PMD_CP],
                    "timestamp": "sensor",
                    "rate_setting": "acc_sample_rate_hz",
                    "start": [
                        {"action": "enable_indicate", "characteristic": PMD_CP},
                        {"action": "enable_notify", "characteristic": PMD_DATA},
                        {
                            "action": "write",
                            "characteristic": PMD_CP,
                            "value": START,
                            "expect": {
                                "characteristic": PMD_CP,
                                "prefix": "f0 02 02",
                                "status_offset": 3,
                                "status_names": "pmd",
                                "timeout_ms": response_timeout_ms,
                            },
                        },
                    ],
                    "stop": [
                        {
                            "action": "write",
                            "characteristic": PMD_CP,
                            "value": "03 02",
                            "expect": {
                                "characteristic": PMD_CP,
                                "prefix": "f0 03 02",
                                "status_offset": 3,
                                "status_names": "pmd",
                            },
                        }
                    ],
                }
            ],
        }
    )


PROFILE = pmd_profile()
FRAME_COUNT = 300
FRAMES = [
    (PMD_DATA, bytes([0x02, i & 0xFF, i >> 8, 0, 0, 0, 0, 0, 0, 0x01]) + bytes(6))
    for i in range(FRAME_COUNT)
]
FRAME_PERIOD_S = 0.005  # 1.5 s of stream: time for a reconnect even on a saturated machine
LAYOUT = (
    ServiceSpec(
        PMD_SERVICE,
        (
            CharacteristicSpec(PMD_CP, ("read", "write", "indicate")),
            CharacteristicSpec(PMD_DATA, ("notify",)),
        ),
    ),
)
FAST = LinkPolicy(find_timeout_s=10, reconnect_backoff_s=0.05, max_backoff_s=0.2, give_up_after_s=1)


async def polar(bluez: BlueZMock, **faults: object) -> tuple[FakePeripheral, PolarPmdFirmware]:
    firmware = PolarPmdFirmware(items=paced(FRAMES, FRAME_PERIOD_S), **faults)
    sensor = await start_sensor(
        bluez.bus_address, 1, "Polar H10 0A1B2C3D", LAYOUT, firmware, [PMD_SERVICE]
    )
    return sensor, firmware


def link_for(target: str, queue: asyncio.Queue[LinkItem], profile: Profile = PROFILE) -> SensorLink:
    return SensorLink(target, profile, profile.streams[0], {}, queue, policy=FAST)


def split(queue: asyncio.Queue[LinkItem]) -> tuple[list[Notification], list[Event]]:
    items = [queue.get_nowait() for _ in range(queue.qsize())]
    return (
        [i for i in items if isinstance(i, Notification)],
        [i for i in items if isinstance(i, Event)],
    )


async def until(condition, timeout_s: float = 20.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


async def test_start_stream_and_stop_sequence(bluez: BlueZMock) -> None:
    sensor, firmware = await polar(bluez)
    queue: asyncio.Queue[LinkItem] = asyncio.Queue()
    stop = asyncio.Event()
    link = link_for("Polar H10 0A1B2C3D", queue)
    task = asyncio.create_task(link.run(stop))
    await sensor.wait_stream_done()
    stop.set()
    await task
    notifications, events = split(queue)
    data = [n.data for n in notifications if n.characteristic == PMD_DATA]
    assert data == [payload for _, payload in FRAMES]
    assert firmware.commands == [bytes.fromhex(START), bytes.fromhex("03 02")]
    responses = [n.data for n in notifications if n.characteristic == PMD_CP]
    assert responses[0] == bytes.fromhex("f0 02 02 00 00")  # goes to the decoder too (FACTOR)
    kinds = [e.kind for e in events]
    assert kinds[0] == EventKind.CONNECT
    assert next(e for e in events if e.kind == EventKind.BATTERY).data["percent"] == 87
    assert link.info.information["model"] == "Polar H10 0A1B2C3D"
    times = [n.host_t_ns for n in notifications]
    assert times == sorted(times)


async def test_refused_start_names_the_sensor_status(bluez: BlueZMock) -> None:
    await polar(bluez, refuse_status=13)
    with pytest.raises(
        CommandRefusedError, match=r"refused command 02 02 .*status 13 \(DEVICE_IN_CHARGER\)"
    ):
        await link_for("Polar H10 0A1B2C3D", asyncio.Queue()).run(asyncio.Event())


async def test_sensor_that_never_answers(bluez: BlueZMock) -> None:
    sensor, _ = await polar(bluez, silent=True)
    with pytest.raises(MonitorError, match=r"no answer to command 02 02 .* within 0.5 s"):
        await link_for(sensor.address, asyncio.Queue(), pmd_profile(500)).run(asyncio.Event())


async def test_unknown_device_is_a_clear_error(bluez: BlueZMock) -> None:
    with pytest.raises(MonitorError, match=r"no sensor 'Nobody' found within 0\.3 s"):
        link = link_for("Nobody", asyncio.Queue())
        link.policy = LinkPolicy(find_timeout_s=0.3)
        await link.run(asyncio.Event())


async def test_disconnect_reconnects_restarts_and_records_the_gap(bluez: BlueZMock) -> None:
    sensor, firmware = await polar(bluez)
    queue: asyncio.Queue[LinkItem] = asyncio.Queue()
    stop = asyncio.Event()
    link = link_for(sensor.address, queue)
    task = asyncio.create_task(link.run(stop))
    await until(lambda: sensor.sent >= 50)
    await sensor.drop_link()
    await sensor.wait_stream_done()
    stop.set()
    await task
    notifications, events = split(queue)
    kinds = [e.kind for e in events]
    assert kinds.count(EventKind.DISCONNECT) == 1
    assert kinds.count(EventKind.RECONNECT) == 1
    gap = next(e for e in events if e.kind == EventKind.GAP)
    assert gap.data["cause"] == "disconnect" and gap.data["duration_s"] > 0
    assert firmware.commands.count(bytes.fromhex(START)) == 2  # start sequence ran again
    received = [n.data[1] | n.data[2] << 8 for n in notifications if n.characteristic == PMD_DATA]
    assert received[:40] == list(range(40))  # data before the drop...
    assert received[-1] == FRAME_COUNT - 1  # ...and after the reconnect, to the end
    # Only the gap is lost: what the sensor sent while not measuring, plus what was in flight
    # when the link dropped (at most 50 ms of stream).
    assert 0 <= FRAME_COUNT - sensor.dropped - len(received) <= 10
    assert len(set(received)) == len(received)


async def test_vanished_sensor_gives_up_with_a_clear_message(bluez: BlueZMock) -> None:
    sensor, _ = await polar(bluez)
    queue: asyncio.Queue[LinkItem] = asyncio.Queue()
    link = link_for(sensor.address, queue)
    task = asyncio.create_task(link.run(asyncio.Event()))
    await until(lambda: sensor.sent >= 20)
    await sensor.vanish()
    with pytest.raises(MonitorError, match="connection lost and not back within 1 s; gave up"):
        await task
    notifications, events = split(queue)
    assert len([n for n in notifications if n.characteristic == PMD_DATA]) >= 20
    assert EventKind.DISCONNECT in [e.kind for e in events]
