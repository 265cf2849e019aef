"""MbientLab MetaWear register protocol: MetaMotion R/RL/C (BMI160) and MetaMotion S (BMI270).

Every notification on 326A9006 is `[module, register, payload]`. The data registers and the
range-code tables depend on the chip ("implementation" in module discovery), which is the
`chip` setting. Values are scaled by the configured range as the SDK does
(accelerometer_bosch.cpp, gyro_bosch.cpp FSR_SCALE, datainterpreter.cpp BMM150_SCALE and the
sensor-fusion scales). Packed registers carry three samples per notification. Facts and
sources: ../shared/sensors/PROTOCOLS.md section 4 (mbientlab/MetaWear-SDK-Cpp).

Decoding a batch is one vectorised pass per known (module, register): header bytes are read
for all notifications at once, lengths checked, payloads gathered into arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field

from monitor.core import GRAVITY, Event, EventKind, Notification, NotificationBatch, SampleBlock
from monitor.profiles.codecs.base import Codec, CodecModel, DecodeResult, register_codec
from monitor.profiles.codecs.common import (
    bad_packet_events,
    gather,
    non_finite,
    packets_with,
    quantize,
)
from monitor.profiles.model import Uuid

ACC, GYRO, MAG, SETTINGS, SENSOR_FUSION = 0x03, 0x13, 0x15, 0x11, 0x19
BATTERY_REPLY = 0x8C  # settings module, READ_REGISTER(0x0C)
DEG = np.pi / 180.0

# LSB per g (accelerometer_bosch.cpp) and per deg/s (gyro_bosch.cpp FSR_SCALE) by range.
ACC_LSB_PER_G = {2: 16384.0, 4: 8192.0, 8: 4096.0, 16: 2048.0}
GYRO_LSB_PER_DPS = {2000: 16.4, 1000: 32.8, 500: 65.6, 250: 131.2, 125: 262.4}
BMM150_LSB_PER_UT = 16.0

Chip = Literal["bmi160", "bmi270"]
# Data registers that differ between the chips (accelerometer/gyro_bosch_register.h).
ACC_PACKED = {"bmi160": 0x1C, "bmi270": 0x05}
GYRO_DATA = {"bmi160": 0x05, "bmi270": 0x04}
GYRO_PACKED = {"bmi160": 0x07, "bmi270": 0x05}


class MetawearParams(CodecModel):
    notify_uuid: Uuid = Field(
        default="326a9006-85cb-9195-d9dd-464cfbbae75a", description="Notification characteristic."
    )
    channels: list[Literal["acc", "gyro", "mag"]] = Field(
        default=["acc", "gyro"], description="Sensors the stream starts (encode emits these)."
    )


class MetawearSettings(CodecModel):
    chip: Chip = Field(default="bmi160", description="IMU: bmi160 (MMR/MMRL/MMC) or bmi270 (MMS).")
    acc_range_g: Literal[2, 4, 8, 16] = 16
    gyro_range_dps: Literal[125, 250, 500, 1000, 2000] = 2000
    rate_hz: float = Field(default=100.0, gt=0, description="Accelerometer and gyro ODR.")
    mag_rate_hz: float = Field(default=10.0, gt=0, description="BMM150 ODR.")
    packed: bool = Field(
        default=True, description="Stream the packed registers (3 samples per notification)."
    )


@dataclass(frozen=True, slots=True)
class Signal:
    """One data register: `samples` records of `components` numbers (+ `tail` bytes) each."""

    module: int
    register: int
    target: str  # "acc" / "gyro" / "mag", or the name of an extra array
    dtype: str
    components: int
    samples: int
    tail: int
    si_per_count: Callable[[MetawearSettings], float]

    @property
    def record_size(self) -> int:
        return np.dtype(self.dtype).itemsize * self.components + self.tail

    @property
    def size(self) -> int:
        return 2 + self.samples * self.record_size


def _signals(chip: Chip) -> list[Signal]:
    def acc(s: MetawearSettings) -> float:
        return GRAVITY / ACC_LSB_PER_G[s.acc_range_g]

    def gyro(s: MetawearSettings) -> float:
        return DEG / GYRO_LSB_PER_DPS[s.gyro_range_dps]

    def constant(value: float) -> Callable[[MetawearSettings], float]:
        return lambda _settings: value

    mag = constant(1.0 / BMM150_LSB_PER_UT)
    return [
        Signal(ACC, 0x04, "acc", "<i2", 3, 1, 0, acc),
        Signal(ACC, ACC_PACKED[chip], "acc", "<i2", 3, 3, 0, acc),
        Signal(GYRO, GYRO_DATA[chip], "gyro", "<i2", 3, 1, 0, gyro),
        Signal(GYRO, GYRO_PACKED[chip], "gyro", "<i2", 3, 3, 0, gyro),
        Signal(MAG, 0x05, "mag", "<i2", 3, 1, 0, mag),
        Signal(MAG, 0x09, "mag", "<i2", 3, 3, 0, mag),
        # Sensor fusion outputs (sensor_fusion_register.h; datainterpreter.cpp scales):
        # corrected acc in mg, gyro in deg/s, mag in uT, each + a u8 accuracy.
        Signal(SENSOR_FUSION, 0x04, "acc", "<f4", 3, 1, 1, constant(GRAVITY / 1000.0)),
        Signal(SENSOR_FUSION, 0x05, "gyro", "<f4", 3, 1, 1, constant(DEG)),
        Signal(SENSOR_FUSION, 0x06, "mag", "<f4", 3, 1, 1, constant(1.0)),
        Signal(SENSOR_FUSION, 0x07, "quaternion_wxyz", "<f4", 4, 1, 0, constant(1.0)),
        Signal(SENSOR_FUSION, 0x08, "euler_hpry_deg", "<f4", 4, 1, 0, constant(1.0)),
        Signal(SENSOR_FUSION, 0x09, "gravity_mps2", "<f4", 3, 1, 0, constant(1.0)),
        Signal(SENSOR_FUSION, 0x0A, "linear_acc_mps2", "<f4", 3, 1, 0, constant(1.0)),
    ]


@register_codec
class MetawearCodec(Codec):
    name = "metawear"
    Params = MetawearParams
    Settings = MetawearSettings

    def decode(self, batch: NotificationBatch) -> DecodeResult:
        settings = self.settings
        assert isinstance(settings, MetawearSettings)
        result = DecodeResult()
        lengths = batch.lengths
        padded = np.concatenate((np.frombuffer(batch.data, dtype=np.uint8), [0, 0]))
        has_header = lengths >= 2
        starts = batch.offsets[:-1]
        module = np.where(has_header, padded[starts], -1)
        register = np.where(has_header, padded[starts + 1], -1)
        bad = [np.flatnonzero(~has_header)]
        not_numbers: list[np.ndarray] = []
        parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        for signal in _signals(settings.chip):
            rows = np.flatnonzero((module == signal.module) & (register == signal.register))
            if not rows.size:
                continue
            wrong = lengths[rows] != signal.size
            bad.append(rows[wrong])
            rows = rows[~wrong]
            if not rows.size:
                continue
            payload = gather(batch, rows, 2, signal.size - 2).reshape(-1, signal.record_size)
            values = payload[:, : signal.record_size - signal.tail].copy().view(signal.dtype)
            with np.errstate(invalid="ignore"):  # NaN bit patterns in a corrupt float record
                values = values.astype(np.float64) * signal.si_per_count(settings)
            row_of_sample = np.repeat(np.arange(rows.size), signal.samples)
            corrupt = packets_with(non_finite(values), row_of_sample, rows.size)
            if corrupt.any():
                not_numbers.append(rows[corrupt])
                rows, values = rows[~corrupt], values[~corrupt[row_of_sample]]
                if not rows.size:
                    continue
            order = np.repeat(rows * 3, signal.samples) + np.tile(
                np.arange(signal.samples), rows.size
            )
            parts.setdefault(signal.target, []).append((order, values))
        battery = np.flatnonzero((module == SETTINGS) & (register == BATTERY_REPLY))
        bad.append(battery[lengths[battery] < 5])
        result.events += self._battery(batch, battery[lengths[battery] >= 5])
        for rows, reason in (
            (bad, "MetaWear notification with a wrong length"),
            (not_numbers, "MetaWear float that is not a finite number"),
        ):
            bad_rows = np.sort(np.concatenate(rows)) if rows else np.empty(0, dtype=np.int64)
            result.bad_packets += int(bad_rows.size)
            result.events += bad_packet_events(batch, bad_rows, self.stream, reason)
        for target, chunks in parts.items():
            order = np.concatenate([o for o, _ in chunks])
            sort = np.argsort(order, kind="stable")
            values = np.concatenate([v for _, v in chunks])[sort]
            t_ns = batch.host_t_ns[order[sort] // 3]
            if target in ("acc", "gyro", "mag"):
                block = SampleBlock(t_ns=t_ns, stream=self.stream, **{target: values})
            else:
                block = SampleBlock(t_ns=t_ns, stream=self.stream, extra={target: values})
            result.blocks.append(block)
        return result

    def _battery(self, batch: NotificationBatch, rows: np.ndarray) -> list[Event]:
        """Battery state replies `11 8C <charge %> <mV u16>` (settings revision >= 3)."""
        events = []
        for row in rows:
            payload = batch.payload(int(row))
            percent, millivolts = payload[2], int.from_bytes(payload[3:5], "little")
            events.append(
                Event(
                    t_ns=int(batch.host_t_ns[row]),
                    kind=EventKind.BATTERY,
                    message=f"battery {percent} % ({millivolts} mV)",
                    stream=self.stream,
                    data={"percent": int(percent), "voltage_mv": millivolts},
                )
            )
        return events

    def encode(self, block: SampleBlock) -> list[Notification]:
        """Acc / gyro / mag notifications (packed where configured), in time order."""
        params, settings = self.params, self.settings
        assert isinstance(params, MetawearParams) and isinstance(settings, MetawearSettings)
        signals = {
            (s.target, s.samples): s for s in _signals(settings.chip) if s.module != SENSOR_FUSION
        }
        out: list[tuple[int, int, Notification]] = []
        for order, channel in enumerate(("acc", "gyro", "mag")):
            values = getattr(block, channel)
            if values is None or channel not in params.channels:
                continue
            single = signals[(channel, 1)]
            counts = quantize(values, "i16le", single.si_per_count(settings))
            n = len(block)
            per = 3 if settings.packed else 1
            full = n - n % per
            for start in range(0, full, per):
                stop = start + per
                signal = signals[(channel, per)]
                out.append(self._note(signal, counts[start:stop], block.t_ns[stop - 1], order))
            for i in range(full, n):
                out.append(self._note(single, counts[i : i + 1], block.t_ns[i], order))
        out.sort(key=lambda item: (item[0], item[1]))
        return [note for _, _, note in out]

    def _note(
        self, signal: Signal, counts: np.ndarray, t_ns: int, order: int
    ) -> tuple[int, int, Notification]:
        params = self.params
        assert isinstance(params, MetawearParams)
        data = (
            bytes([signal.module, signal.register]) + np.ascontiguousarray(counts, "<i2").tobytes()
        )
        return int(t_ns), order, Notification(params.notify_uuid, data, int(t_ns))
