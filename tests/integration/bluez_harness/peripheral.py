"""A fake BLE sensor: a BlueZ GATT application + LE advertisement on its own mock adapter.

Written with dbus-fast against the org.bluez peripheral API, exactly as a Linux program acting as
a sensor would be. What the sensor does with writes (its firmware) is a `Firmware` object; the
peripheral only moves bytes: reads, writes, notify on/off, paced notifications.
"""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated

from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import (
    DBusBool,
    DBusBytes,
    DBusDict,
    DBusObjectPath,
    DBusSignature,
    DBusStr,
)
from dbus_fast.service import PropertyAccess, ServiceInterface, dbus_method, dbus_property

from bluez_harness.bus import adapter_address

DBusStrings = Annotated[list[str], DBusSignature("as")]
BUS_CALL_TIMEOUT_S = 30.0  # a stuck mock fails the test instead of hanging it
APP_ROOT = "/com/backstretch/fake"
DIS_SERVICE = "0000180a-0000-1000-8000-00805f9b34fb"
BATTERY_SERVICE = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL = "00002a19-0000-1000-8000-00805f9b34fb"
MANUFACTURER_NAME = "00002a29-0000-1000-8000-00805f9b34fb"
MODEL_NUMBER = "00002a24-0000-1000-8000-00805f9b34fb"
FIRMWARE_REVISION = "00002a26-0000-1000-8000-00805f9b34fb"


@dataclass(frozen=True)
class CharacteristicSpec:
    uuid: str
    flags: tuple[str, ...]  # BlueZ flag names: read, write, write-without-response, notify, ...
    value: bytes = b""


@dataclass(frozen=True)
class ServiceSpec:
    uuid: str
    characteristics: tuple[CharacteristicSpec, ...]


def standard_services(
    manufacturer: str, model: str, firmware: str, battery: int
) -> tuple[ServiceSpec, ...]:
    """Device Information and Battery services, as every sensor in the project exposes them."""
    return (
        ServiceSpec(
            DIS_SERVICE,
            (
                CharacteristicSpec(MANUFACTURER_NAME, ("read",), manufacturer.encode()),
                CharacteristicSpec(MODEL_NUMBER, ("read",), model.encode()),
                CharacteristicSpec(FIRMWARE_REVISION, ("read",), firmware.encode()),
            ),
        ),
        ServiceSpec(
            BATTERY_SERVICE,
            (CharacteristicSpec(BATTERY_LEVEL, ("read", "notify"), bytes([battery])),),
        ),
    )


class Firmware:
    """The sensor's behaviour. Subclasses react to the client's writes and subscriptions.

    `active` says whether the sensor is measuring: the motion clock (`FakePeripheral.stream`)
    runs on regardless, as the wearer keeps moving, but only an active sensor sends.
    """

    peripheral: "FakePeripheral"
    active: bool = False

    def attach(self, peripheral: "FakePeripheral") -> None:
        self.peripheral = peripheral

    def on_write(self, uuid: str, data: bytes) -> None:
        """The client wrote `data` to characteristic `uuid`."""

    def on_notify(self, uuid: str, enabled: bool) -> None:
        """The client enabled or disabled notifications of `uuid`."""

    def on_read(self, uuid: str, value: bytes) -> bytes:
        return value

    def outgoing(self, uuid: str, data: bytes) -> bytes:
        """A stream notification as sent now (e.g. stamped with the client's reference)."""
        return data


class _Characteristic(ServiceInterface):
    def __init__(self, peripheral: "FakePeripheral", spec: CharacteristicSpec, service: str):
        super().__init__("org.bluez.GattCharacteristic1")
        self.peripheral = peripheral
        self.spec = spec
        self.service_path = service
        self.value = spec.value
        self.notifying = False

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> DBusStr:
        return self.spec.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> DBusObjectPath:
        return self.service_path

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> DBusStrings:
        return list(self.spec.flags)

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> DBusBytes:
        return self.value

    @dbus_property(access=PropertyAccess.READ)
    def Notifying(self) -> DBusBool:
        return self.notifying

    @dbus_method()
    def ReadValue(self, options: DBusDict) -> DBusBytes:
        return self.peripheral.firmware.on_read(self.spec.uuid, self.value)

    @dbus_method()
    def WriteValue(self, value: DBusBytes, options: DBusDict) -> None:
        self.peripheral.writes.append((self.spec.uuid, bytes(value)))
        self.peripheral.firmware.on_write(self.spec.uuid, bytes(value))

    @dbus_method()
    def StartNotify(self) -> None:
        self._set_notifying(True)

    @dbus_method()
    def StopNotify(self) -> None:
        self._set_notifying(False)

    @dbus_method()
    def Confirm(self) -> None:
        """BlueZ's acknowledgement of an indication; nothing to do."""

    def _set_notifying(self, enabled: bool) -> None:
        if self.notifying != enabled:
            self.notifying = enabled
            self.emit_properties_changed({"Notifying": enabled})
            self.peripheral.firmware.on_notify(self.spec.uuid, enabled)

    def send(self, data: bytes) -> None:
        self.value = data
        self.emit_properties_changed({"Value": data})


class _Service(ServiceInterface):
    def __init__(self, uuid: str):
        super().__init__("org.bluez.GattService1")
        self.uuid = uuid

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> DBusStr:
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Primary(self) -> DBusBool:
        return True


class _Advertisement(ServiceInterface):
    def __init__(self, name: str, service_uuids: Sequence[str]):
        super().__init__("org.bluez.LEAdvertisement1")
        self.local_name = name  # not `name`: ServiceInterface uses it for the interface name
        self.service_uuids = list(service_uuids)

    @dbus_property(access=PropertyAccess.READ)
    def Type(self) -> DBusStr:
        return "peripheral"

    @dbus_property(access=PropertyAccess.READ)
    def LocalName(self) -> DBusStr:
        return self.local_name

    @dbus_property(access=PropertyAccess.READ)
    def ServiceUUIDs(self) -> DBusStrings:
        return self.service_uuids

    @dbus_property(access=PropertyAccess.READ)
    def Discoverable(self) -> DBusBool:
        return True

    @dbus_method()
    def Release(self) -> None:
        """BlueZ dropped the advertisement."""


@dataclass
class FakePeripheral:
    """One sensor on mock adapter hci<adapter>; `address` is what a scan reports."""

    bus_address: str
    adapter: int
    name: str
    services: Sequence[ServiceSpec]
    firmware: Firmware
    advertised_uuids: Sequence[str] = ()
    writes: list[tuple[str, bytes]] = field(default_factory=list)
    sent: int = 0  # stream notifications delivered
    dropped: int = 0  # stream notifications lost while the sensor was not measuring
    sent_log: list[tuple[str, bytes]] = field(default_factory=list)  # every notification sent
    _bus: MessageBus | None = None
    _chars: dict[str, _Characteristic] = field(default_factory=dict)
    _stream_task: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        return adapter_address(self.adapter)

    @property
    def adapter_path(self) -> str:
        return f"/org/bluez/hci{self.adapter}"

    async def start(self) -> "FakePeripheral":
        self.firmware.attach(self)
        async with asyncio.timeout(BUS_CALL_TIMEOUT_S):
            self._bus = bus = await MessageBus(
                bus_address=self.bus_address, bus_type=BusType.SYSTEM
            ).connect()
        self._chars.clear()
        for s_index, service in enumerate(self.services):
            service_path = f"{APP_ROOT}/service{s_index}"
            bus.export(service_path, _Service(service.uuid))
            for c_index, spec in enumerate(service.characteristics):
                char = _Characteristic(self, spec, service_path)
                bus.export(f"{service_path}/char{c_index}", char)
                self._chars[spec.uuid] = char
        bus.export(f"{APP_ROOT}/adv", _Advertisement(self.name, self.advertised_uuids))
        await self._call("org.bluez.GattManager1", "RegisterApplication", APP_ROOT)
        await self._call(
            "org.bluez.LEAdvertisingManager1", "RegisterAdvertisement", f"{APP_ROOT}/adv"
        )
        return self

    async def _call(self, interface: str, member: str, path: str) -> None:
        await self._bluez_call(self.adapter_path, interface, member, "oa{sv}", [path, {}])

    async def _bluez_call(
        self, path: str, interface: str, member: str, signature: str = "", body: list | None = None
    ) -> None:
        assert self._bus is not None
        async with asyncio.timeout(BUS_CALL_TIMEOUT_S):
            reply = await self._bus.call(
                Message(
                    destination="org.bluez",
                    path=path,
                    interface=interface,
                    member=member,
                    signature=signature,
                    body=body or [],
                )
            )
        if reply.message_type == MessageType.ERROR:
            raise RuntimeError(f"{member} failed: {reply.error_name} {reply.body}")

    async def drop_link(self) -> None:
        """The sensor ends the connection (as on a supervision timeout seen from its side)."""
        central = adapter_address(0).replace(":", "_")
        await self._bluez_call(
            f"{self.adapter_path}/dev_{central}", "org.bluez.Device1", "Disconnect"
        )

    def notifying(self, uuid: str) -> bool:
        return self._chars[uuid].notifying

    def notify(self, uuid: str, data: bytes) -> None:
        """Send one notification (or indication) if the client subscribed to `uuid`."""
        char = self._chars[uuid]
        if char.notifying:
            char.send(data)
            self.sent_log.append((uuid, data))

    def stream(self, items: Sequence[tuple[float, str, bytes]]) -> None:
        """Send `(offset_s, uuid, bytes)` items at their offsets from now, paced by a timer."""
        self.stop_stream()
        self._stream_task = asyncio.get_running_loop().create_task(self._pace(items))

    async def _pace(self, items: Sequence[tuple[float, str, bytes]]) -> None:
        start = time.monotonic()
        for offset_s, uuid, data in items:
            delay = start + offset_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if self._bus is not None and self.firmware.active and self.notifying(uuid):
                self.notify(uuid, self.firmware.outgoing(uuid, data))
                self.sent += 1
            else:
                self.dropped += 1

    @property
    def stream_started(self) -> bool:
        return self._stream_task is not None

    @property
    def streaming(self) -> bool:
        return self._stream_task is not None and not self._stream_task.done()

    async def wait_stream_done(self) -> None:
        """Wait for the stream to start (a client's start command) and to run to its end."""
        while self._stream_task is None:
            await asyncio.sleep(0.005)
        await self._stream_task

    def stop_stream(self) -> None:
        if self._stream_task is not None:
            self._stream_task.cancel()
            self._stream_task = None

    async def vanish(self) -> None:
        """The sensor disappears (battery out, out of range): its application and link go away.

        The stream clock runs on (the wearer keeps moving); `start()` brings the sensor back.
        """
        self.firmware.active = False
        if self._bus is not None:
            self._bus.disconnect()
            await self._bus.wait_for_disconnect()
            self._bus = None

    async def stop(self) -> None:
        self.stop_stream()
        await self.vanish()


def paced(payloads: Sequence[tuple[str, bytes]], period_s: float) -> list[tuple[float, str, bytes]]:
    """Stream items one every `period_s`."""
    return [(i * period_s, uuid, data) for i, (uuid, data) in enumerate(payloads)]


async def start_sensor(
    bus_address: str,
    adapter: int,
    name: str,
    layout: Sequence[ServiceSpec],
    firmware: Firmware,
    advertised_uuids: Sequence[str] = (),
    battery: int = 87,
) -> FakePeripheral:
    """A fake sensor: its own services plus Device Information and Battery."""
    services = (*layout, *standard_services("Fake", name, "1.0.0", battery))
    return await FakePeripheral(
        bus_address, adapter, name, services, firmware, tuple(advertised_uuids)
    ).start()
