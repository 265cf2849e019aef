"""The harness itself: the four BlueZoo gaps are closed, seen through unmodified bleak."""

from __future__ import annotations

import asyncio

import pytest
from bleak import BleakClient, BleakScanner
from bluez_harness.bus import BlueZMock
from bluez_harness.peripheral import (
    BATTERY_LEVEL,
    CharacteristicSpec,
    FakePeripheral,
    Firmware,
    ServiceSpec,
    paced,
    standard_services,
)

SERVICE = "0000aa00-0000-1000-8000-00805f9b34fb"
DATA = "0000aa01-0000-1000-8000-00805f9b34fb"
COMMAND = "0000aa02-0000-1000-8000-00805f9b34fb"


class CountingFirmware(Firmware):
    """Any write starts a stream of one-byte counters."""

    def on_write(self, uuid: str, data: bytes) -> None:
        self.active = True
        self.peripheral.stream(paced([(DATA, bytes([i])) for i in range(40)], 0.001))


async def start_sensor(bluez: BlueZMock, adapter: int = 1, name: str = "Counter") -> FakePeripheral:
    services = (
        ServiceSpec(
            SERVICE,
            (CharacteristicSpec(DATA, ("notify",)), CharacteristicSpec(COMMAND, ("write",))),
        ),
        *standard_services("ACME", "C-1", "1.0", battery=77),
    )
    return await FakePeripheral(
        bluez.bus_address, adapter, name, services, CountingFirmware(), (SERVICE,)
    ).start()


async def stream_once(client: BleakClient, sensor: FakePeripheral) -> list[bytes]:
    received: list[bytes] = []
    await client.start_notify(DATA, lambda _char, data: received.append(bytes(data)))
    await client.write_gatt_char(COMMAND, b"\x01", response=True)
    await sensor.wait_stream_done()
    await asyncio.sleep(0.05)
    return received


async def test_scan_reports_name_services_and_rssi(bluez: BlueZMock) -> None:
    sensor = await start_sensor(bluez)
    found = await BleakScanner.discover(timeout=2, return_adv=True)
    device, adv = found[sensor.address]
    assert device.name == "Counter"
    assert SERVICE in adv.service_uuids
    assert adv.rssi < 0


async def test_repeated_scans_find_a_known_device(bluez: BlueZMock) -> None:
    """Gap 3: a re-scan for a device BlueZ already knows must succeed."""
    sensor = await start_sensor(bluez)
    for _ in range(3):
        device = await BleakScanner.find_device_by_address(sensor.address, timeout=10)
        assert device is not None


async def test_default_adapter_is_the_central(bluez: BlueZMock) -> None:
    """Gap 1: the sensor must be found through hci0 in every process, never its own hci1."""
    sensor = await start_sensor(bluez)
    device = await BleakScanner.find_device_by_name("Counter", timeout=10)
    assert device is not None
    assert device.details["path"].startswith("/org/bluez/hci0/")
    assert device.address == sensor.address


async def test_reconnect_after_central_and_peripheral_side_disconnects(bluez: BlueZMock) -> None:
    """Gap 2: after either side drops the link, a new connection streams again."""
    sensor = await start_sensor(bluez)
    device = await BleakScanner.find_device_by_name("Counter", timeout=10)
    assert device is not None
    async with BleakClient(device) as client:
        assert (await client.read_gatt_char(BATTERY_LEVEL))[0] == 77
        assert len(await stream_once(client, sensor)) == 40
    dropped = asyncio.Event()
    async with BleakClient(device, disconnected_callback=lambda _c: dropped.set()) as client:
        assert len(await stream_once(client, sensor)) == 40
        await sensor.drop_link()
        await asyncio.wait_for(dropped.wait(), 10)
        assert not client.is_connected
    async with BleakClient(device) as client:
        assert len(await stream_once(client, sensor)) == 40


async def test_vanished_peripheral_drops_the_link_and_refuses_connects(bluez: BlueZMock) -> None:
    """Gap 4: the link goes down with the sensor; a connect waits for it to be back."""
    sensor = await start_sensor(bluez)
    device = await BleakScanner.find_device_by_name("Counter", timeout=10)
    assert device is not None
    dropped = asyncio.Event()
    client = BleakClient(device, disconnected_callback=lambda _c: dropped.set(), timeout=0.5)
    await client.connect()
    await sensor.vanish()
    await asyncio.wait_for(dropped.wait(), 10)
    with pytest.raises(TimeoutError):
        await client.connect()
    connecting = asyncio.create_task(client.connect(timeout=20))
    await asyncio.sleep(0.2)
    await sensor.start()  # back in range while BlueZ is still trying
    await connecting
    assert len(await stream_once(client, sensor)) == 40
    await client.disconnect()
