"""What each family of fake sensor does with the client's commands (facts: PROTOCOLS.md).

A firmware serves a stream: notifications `(characteristic, bytes)` one per `period_s`, made by
the simulator (byte-exact, as the real firmware would send them). The stream's clock starts at
the first start command and keeps running across disconnects, as the wearer keeps moving, but
the sensor only sends while it is measuring. Fault switches: `refuse_status` answers the start
command with that error status, `silent` never answers it.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from bluez_harness.peripheral import Firmware

Stream = Sequence[tuple[float, str, bytes]]  # (seconds from the stream start, uuid, bytes)


@dataclass
class StreamingFirmware(Firmware):
    """Shared machinery: the paced stream and its start/stop."""

    items: Stream = ()
    refuse_status: int | None = None
    silent: bool = False
    commands: list[bytes] = field(default_factory=list)
    active: bool = False

    def measure(self, on: bool) -> None:
        self.active = on
        if on and not self.peripheral.stream_started:
            self.peripheral.stream(self.items)

    def on_notify(self, uuid: str, enabled: bool) -> None:
        """Sensors stop measuring when the link (and with it the subscription) goes away."""
        if not enabled:
            self.active = False


# Polar Measurement Data (PROTOCOLS.md section 1).
PMD_SERVICE = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CP = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
PMD_RESPONSE = 0xF0
PMD_GET_SETTINGS, PMD_START, PMD_STOP = 1, 2, 3


@dataclass
class PolarPmdFirmware(StreamingFirmware):
    """CP commands answered by indications `F0 op type status more params`.

    `start_responses` are the whole START answers the real sensor gives per measurement type
    (with FACTOR for Verity), as the codec's `session_preamble` has them.
    """

    start_responses: dict[int, bytes] = field(default_factory=dict)

    def on_write(self, uuid: str, data: bytes) -> None:
        if uuid != PMD_CP or len(data) < 2:
            return
        self.commands.append(data)
        opcode, measurement = data[0], data[1] & 0x3F
        if self.silent:
            return
        if opcode == PMD_START:
            if self.refuse_status is not None:
                self._answer(opcode, measurement, self.refuse_status)
                return
            response = self.start_responses.get(measurement)
            self.peripheral.notify(PMD_CP, response or self._status(opcode, measurement, 0))
            self.measure(True)
        elif opcode == PMD_STOP:
            self._answer(opcode, measurement, 0)
            self.measure(False)
        else:
            self._answer(opcode, measurement, 0)

    def _answer(self, opcode: int, measurement: int, status: int) -> None:
        self.peripheral.notify(PMD_CP, self._status(opcode, measurement, status))

    @staticmethod
    def _status(opcode: int, measurement: int, status: int) -> bytes:
        return bytes([PMD_RESPONSE, opcode, measurement, status, 0])


# WitMotion WT901BLE (PROTOCOLS.md section 2): non-standard base UUID ...9a34fb.
WIT_SERVICE = "0000ffe5-0000-1000-8000-00805f9a34fb"
WIT_NOTIFY = "0000ffe4-0000-1000-8000-00805f9a34fb"
WIT_WRITE = "0000ffe9-0000-1000-8000-00805f9a34fb"
WIT_RATE_REGISTER = 0x03


@dataclass
class WitMotionFirmware(StreamingFirmware):
    """Streams as soon as notifications are on; `FF AA 03 code 00` sets the output rate."""

    rate_code: int | None = None

    def on_write(self, uuid: str, data: bytes) -> None:
        self.commands.append(data)
        if len(data) == 5 and data[:2] == b"\xff\xaa" and data[2] == WIT_RATE_REGISTER:
            self.rate_code = data[3]

    def on_notify(self, uuid: str, enabled: bool) -> None:
        if uuid == WIT_NOTIFY:
            self.measure(enabled and not self.silent)


# MbientLab MetaWear (PROTOCOLS.md section 4): [module, register, payload...].
METAWEAR_SERVICE = "326a9000-85cb-9195-d9dd-464cfbbae75a"
METAWEAR_COMMAND = "326a9001-85cb-9195-d9dd-464cfbbae75a"
METAWEAR_NOTIFY = "326a9006-85cb-9195-d9dd-464cfbbae75a"
MW_ACC, MW_GYRO, MW_SETTINGS = 0x03, 0x13, 0x11
MW_POWER, MW_CONFIG, MW_READ = 0x01, 0x03, 0x80


@dataclass
class MetaWearFirmware(StreamingFirmware):
    """Module discovery replies, acc/gyro config recorded, `03 01 01` starts, `03 01 00` stops."""

    acc_implementation: int = 1  # 1 BMI160 (MetaMotion R), 4 BMI270 (MetaMotion S)
    battery: tuple[int, int] = (88, 4012)  # percent, mV
    config: dict[int, bytes] = field(default_factory=dict)

    def on_write(self, uuid: str, data: bytes) -> None:
        if uuid != METAWEAR_COMMAND or len(data) < 2:
            return
        self.commands.append(data)
        if self.silent:
            return
        module, register = data[0], data[1]
        if register == MW_READ:  # module discovery: [id, 0x80, implementation, revision]
            implementation = self.acc_implementation if module == MW_ACC else 0
            self.peripheral.notify(METAWEAR_NOTIFY, bytes([module, MW_READ, implementation, 1]))
        elif module == MW_SETTINGS and register == 0xCC:
            percent, millivolts = self.battery
            self.peripheral.notify(
                METAWEAR_NOTIFY, struct.pack("<BBBH", 0x11, 0x8C, percent, millivolts)
            )
        elif register == MW_CONFIG:
            self.config[module] = data[2:]
        elif module == MW_ACC and register == MW_POWER and len(data) == 3:
            self.measure(data[2] == 1)


# Movesense GATT SensorData Protocol (PROTOCOLS.md section 5).
GSP_SERVICE = "34802252-7185-4d5d-b431-630e7050e8f0"
GSP_WRITE = "34800001-7185-4d5d-b431-630e7050e8f0"
GSP_NOTIFY = "34800002-7185-4d5d-b431-630e7050e8f0"
GSP_HELLO, GSP_SUBSCRIBE, GSP_UNSUBSCRIBE = 0, 1, 2
GSP_RESULT = 1
HTTP_OK = 200


def _gsp_result(ref: int, status: int) -> bytes:
    """COMMAND_RESULT; the firmware sends the status big-endian (507 as 01 FB)."""
    return bytes([GSP_RESULT, ref]) + status.to_bytes(2, "big")


@dataclass
class MovesenseFirmware(StreamingFirmware):
    """SUBSCRIBE `01 ref path` -> result `01 ref status(u16)` then DATA frames carrying `ref`."""

    subscribed: dict[int, str] = field(default_factory=dict)

    def on_write(self, uuid: str, data: bytes) -> None:
        if uuid != GSP_WRITE or len(data) < 2:
            return
        self.commands.append(data)
        command, ref = data[0], data[1]
        if self.silent:
            return
        if command == GSP_HELLO:
            self.peripheral.notify(GSP_NOTIFY, bytes([GSP_RESULT, ref]) + b"Hello")
        elif command == GSP_SUBSCRIBE:
            status = HTTP_OK if self.refuse_status is None else self.refuse_status
            self.peripheral.notify(GSP_NOTIFY, _gsp_result(ref, status))
            if status == HTTP_OK:
                self.subscribed[ref] = data[2:].decode("ascii", "replace")
                self.measure(True)
        elif command == GSP_UNSUBSCRIBE:
            self.subscribed.pop(ref, None)
            self.peripheral.notify(GSP_NOTIFY, _gsp_result(ref, HTTP_OK))
            self.measure(bool(self.subscribed))

    def on_notify(self, uuid: str, enabled: bool) -> None:
        """The sensor drops all subscriptions when the peer goes away."""
        if not enabled:
            self.subscribed.clear()
            self.active = False

    def outgoing(self, uuid: str, data: bytes) -> bytes:
        """DATA frames carry the client's reference of the subscription."""
        if uuid == GSP_NOTIFY and self.subscribed and len(data) > 1:
            return data[:1] + bytes([next(iter(self.subscribed))]) + data[2:]
        return data


@dataclass
class NotifyStartsFirmware(StreamingFirmware):
    """Thingy:52, Arduino Science Journal: subscribing to the data characteristics starts them.

    Measuring (and the stream clock) starts once all of `data_uuids` are subscribed, so a
    stream spread over several characteristics starts whole; writes (e.g. Thingy's motion
    config) are recorded.
    """

    data_uuids: frozenset[str] = frozenset()
    writes: dict[str, bytes] = field(default_factory=dict)

    def on_write(self, uuid: str, data: bytes) -> None:
        self.commands.append(data)
        self.writes[uuid] = data

    def on_notify(self, uuid: str, enabled: bool) -> None:
        if uuid in self.data_uuids:
            subscribed = all(self.peripheral.notifying(u) for u in self.data_uuids)
            self.measure(subscribed and not self.silent)
