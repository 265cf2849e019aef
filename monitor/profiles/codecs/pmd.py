"""Polar Measurement Data (PMD) codec: Polar H10 and Verity Sense ACC / GYRO / MAG streams.

One codec instance serves one sensor's PMD service: the data characteristic (FB005C82, frames
of every started measurement multiplexed) and the control point (FB005C81, whose indications
carry the START response with FACTOR and the device-initiated stop). Byte-level facts and the
algorithms live in `pmd_protocol`; this module turns frames into `SampleBlock`s in project
units and back. Facts: ../shared/sensors/PROTOCOLS.md section 1 (polar-ble-sdk sources).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, field_validator

from monitor.core import Event, EventKind, Notification, NotificationBatch, SampleBlock
from monitor.profiles.codecs.base import Codec, CodecModel, DecodeResult, register_codec
from monitor.profiles.codecs.common import UNIT_TO_SI, non_finite, packets_with
from monitor.profiles.codecs.device_clock import ClockGuard, clock_events, clock_steps
from monitor.profiles.codecs.pmd_protocol import (
    CP_MEASUREMENT_STOPPED,
    FEATURE_READ_CODE,
    FRAME_HEADER_SIZE,
    DeltaLayout,
    FrameHeader,
    MeasurementType,
    Opcode,
    PmdProtocolError,
    SettingType,
    build_frame,
    build_start_command,
    build_start_response,
    build_stop_command,
    decode_delta_frames,
    encode_delta_content,
    join_cp_continuation,
    parse_cp_response,
    parse_features,
    parse_measurement_stopped,
    read_signed,
    sample_timestamps,
    scan_delta_blocks,
)

PMD_CONTROL_POINT_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

Measurement = Literal["acc", "gyro", "mag"]
StartSetting = Literal["sample_rate", "resolution", "range", "channels"]


class PmdFrameFormat(CodecModel):
    """The frame layout a firmware sends for one measurement (data frame byte 9).

    `frame_type` is the low 7 bits, `compressed` the 0x80 bit. Known layouts (PROTOCOLS.md):
    ACC raw 0/1/2 (int8/int16/int24; int8 is G on Verity, mG elsewhere), ACC compressed 0
    (raw x FACTOR = G) and 1 (mG, x FACTOR if not 1); GYRO raw 1 (float32 dps), compressed 0
    (raw x FACTOR = dps) and 1 (float32 bit patterns x FACTOR); MAG compressed 0 (raw x FACTOR
    = Gauss) and 1 (x, y, z mG x FACTOR plus calibration status).
    """

    frame_type: int = Field(ge=0, le=127)
    compressed: bool


class PmdParams(CodecModel):
    """Fixed facts of one PMD firmware (set in the profile file)."""

    control_point_uuid: str = Field(
        default=PMD_CONTROL_POINT_UUID, description="PMD control point (indications)."
    )
    data_uuid: str = Field(default=PMD_DATA_UUID, description="PMD data characteristic.")
    measurements: list[Measurement] = Field(
        default=["acc"], description="Measurements the session starts, in start order."
    )
    acc_format: PmdFrameFormat = Field(
        default=PmdFrameFormat(frame_type=1, compressed=False),
        description="ACC frames the firmware sends (encode); decode accepts every known one.",
    )
    gyro_format: PmdFrameFormat = PmdFrameFormat(frame_type=0, compressed=True)
    mag_format: PmdFrameFormat = PmdFrameFormat(frame_type=0, compressed=True)
    start_settings: list[StartSetting] = Field(
        default=["sample_rate", "resolution", "range"],
        description="Settings serialised into a START command, in this order.",
    )
    samples_per_frame: int = Field(
        default=36, ge=1, le=4096, description="Samples the firmware packs into one frame."
    )
    delta_group_size: int = Field(
        default=10,
        ge=1,
        le=255,
        description="Compressed frames: samples per bit-width decision (the first group "
        "includes the reference sample); equal-width neighbours share one block.",
    )


class PmdSettings(CodecModel):
    """Per-stream values: what the START command asks for and what decoding needs.

    `*_factor` is FACTOR from the START response (float32; replaced automatically when the
    codec sees the response on the control point). `previous_frame_timestamp_ns` seeds the
    per-sample timestamp algorithm for the first frame of each measurement type; 0 means
    unknown, so the sample rate is used instead (polar-ble-sdk PmdTimeStampUtils).
    """

    acc_sample_rate_hz: int = Field(default=200, ge=1, le=65535)
    acc_range_g: int = Field(default=8, ge=1, le=65535)
    acc_resolution_bits: int = Field(default=16, ge=1, le=65535)
    acc_channels: int = Field(default=3, ge=1, le=255)
    acc_factor: float = 1.0
    gyro_sample_rate_hz: int = Field(default=52, ge=1, le=65535)
    gyro_range_dps: int = Field(default=2000, ge=1, le=65535)
    gyro_resolution_bits: int = Field(default=16, ge=1, le=65535)
    gyro_channels: int = Field(default=3, ge=1, le=255)
    gyro_factor: float = 1.0
    mag_sample_rate_hz: int = Field(default=50, ge=1, le=65535)
    mag_range_gauss: int = Field(default=50, ge=1, le=65535)
    mag_resolution_bits: int = Field(default=16, ge=1, le=65535)
    mag_channels: int = Field(default=3, ge=1, le=255)
    mag_factor: float = 1.0
    previous_frame_timestamp_ns: int = Field(default=0, ge=0)

    @field_validator("acc_factor", "gyro_factor", "mag_factor")
    @classmethod
    def _as_float32(cls, value: float) -> float:
        """FACTOR travels as float32; hold exactly the value the sensor could send."""
        return float(np.float32(value))


MEASUREMENT_TYPES: dict[Measurement, MeasurementType] = {
    "acc": MeasurementType.ACC,
    "gyro": MeasurementType.GYRO,
    "mag": MeasurementType.MAG,
}
MEASUREMENT_NAMES: dict[int, Measurement] = {kind: name for name, kind in MEASUREMENT_TYPES.items()}
_RANGE_FIELD: dict[Measurement, str] = {
    "acc": "acc_range_g",
    "gyro": "gyro_range_dps",
    "mag": "mag_range_gauss",
}
MAG_STATUS_KEY = "mag_calibration_status"  # SampleBlock.extra key for MAG type 1 frames


@dataclass(frozen=True, slots=True)
class FrameLayout:
    """How one (measurement, frame type, compressed) frame maps to project units.

    A value is `raw * unit_scale` (x FACTOR when `uses_factor`); `value_bits` is the size of
    an uncompressed value or the resolution of a delta-compressed one; `float32` values are
    IEEE-754 (delta frames: bit patterns). Sources: AccData.kt, GyrData.kt, MagData.kt.
    """

    measurement: Measurement
    channels: int
    value_bits: int
    float32: bool
    unit_scale: float
    uses_factor: bool


_MG, _G, _DPS = UNIT_TO_SI["mg"], UNIT_TO_SI["g"], UNIT_TO_SI["dps"]
_GAUSS, _MGAUSS = UNIT_TO_SI["gauss"], UNIT_TO_SI["mgauss"]
FRAME_LAYOUTS: dict[tuple[int, int, bool], FrameLayout] = {
    # ACC raw types are mG (the SDK ignores FACTOR for them).
    (MeasurementType.ACC, 0, False): FrameLayout("acc", 3, 8, False, _MG, False),
    (MeasurementType.ACC, 1, False): FrameLayout("acc", 3, 16, False, _MG, False),
    (MeasurementType.ACC, 2, False): FrameLayout("acc", 3, 24, False, _MG, False),
    (MeasurementType.ACC, 0, True): FrameLayout("acc", 3, 16, False, _G, True),
    (MeasurementType.ACC, 1, True): FrameLayout("acc", 3, 16, False, _MG, True),
    (MeasurementType.GYRO, 1, False): FrameLayout("gyro", 3, 32, True, _DPS, False),
    (MeasurementType.GYRO, 0, True): FrameLayout("gyro", 3, 16, False, _DPS, True),
    (MeasurementType.GYRO, 1, True): FrameLayout("gyro", 3, 32, True, _DPS, True),
    (MeasurementType.MAG, 0, True): FrameLayout("mag", 3, 16, False, _GAUSS, True),
    # MAG type 1: x, y, z in mG plus calibration status, delta coded together.
    (MeasurementType.MAG, 1, True): FrameLayout("mag", 4, 16, False, _MGAUSS, True),
}


def frame_layout(measurement_type: int, frame_type: int, compressed: bool) -> FrameLayout | None:
    return FRAME_LAYOUTS.get((measurement_type, frame_type, compressed))


def start_command_for(
    measurement: Measurement, settings: PmdSettings, order: Sequence[StartSetting]
) -> bytes:
    """The START command for one measurement from the stream settings, settings in `order`."""
    values: dict[StartSetting, int] = {
        "sample_rate": getattr(settings, f"{measurement}_sample_rate_hz"),
        "resolution": getattr(settings, f"{measurement}_resolution_bits"),
        "range": getattr(settings, _RANGE_FIELD[measurement]),
        "channels": getattr(settings, f"{measurement}_channels"),
    }
    kinds: dict[StartSetting, SettingType] = {
        "sample_rate": SettingType.SAMPLE_RATE,
        "resolution": SettingType.RESOLUTION,
        "range": SettingType.RANGE,
        "channels": SettingType.CHANNELS,
    }
    return build_start_command(
        MEASUREMENT_TYPES[measurement], {kinds[name]: values[name] for name in order}
    )


def _to_int_dtype(raw: NDArray[np.uint8], value_bits: int) -> NDArray[np.int64]:
    """Little-endian signed integers of 8, 16 or 24 bits from a flat byte array."""
    if value_bits == 8:
        return raw.view(np.int8).astype(np.int64)
    if value_bits == 16:
        return raw.view("<i2").astype(np.int64)
    triples = raw.reshape(-1, 3).astype(np.int64)
    return read_signed(triples[:, 0] | triples[:, 1] << 8 | triples[:, 2] << 16, 24)


@dataclass(slots=True)
class _Frames:
    """Well-formed frames of one (type, frame byte) in a batch, in arrival order."""

    index: list[int] = field(default_factory=list)  # notification index in the batch
    timestamp: list[int] = field(default_factory=list)
    content: list[tuple[int, int]] = field(default_factory=list)  # byte spans in batch.data

    def frame(self, position: int, data: bytes) -> bytes:
        """The whole frame (header included) at `position`, for a bad-packet event."""
        start, end = self.content[position]
        return data[start - FRAME_HEADER_SIZE : end]


@dataclass(slots=True)
class _Decoded:
    """Frames of one frame type whose samples decoded, in raw units, before timing."""

    layout: FrameLayout
    frames: _Frames
    positions: NDArray[np.int64]  # into `frames`
    index: NDArray[np.int64]  # notification index in the batch
    timestamp: NDArray[np.int64]
    counts: NDArray[np.int64]
    values: NDArray[np.float64]  # (sum(counts), channels)


@register_codec
class PmdCodec(Codec):
    """PMD frames <-> sample blocks; control-point indications -> FACTOR and events."""

    name = "pmd"
    Params = PmdParams
    Settings = PmdSettings

    params: PmdParams
    settings: PmdSettings

    def __init__(self, params: CodecModel, settings: CodecModel, stream: str = "") -> None:
        super().__init__(params, settings, stream)
        # Per measurement type: one sensor clock, whatever frame type carries it.
        self._previous_ts: dict[int, int] = {}
        self._guards: dict[int, ClockGuard] = {}
        self._pending_response: bytes | None = None
        self._last_t_ns = 0

    def reset(self) -> None:
        """Forget previous frame timestamps and half-received responses (SDK: stop, disconnect)."""
        self._previous_ts.clear()
        self._guards.clear()
        self._pending_response = None

    # --- commands the client sends / responses the sensor gives ------------------------------

    def start_commands(self) -> list[bytes]:
        """START commands for every measurement of the profile, from the current settings."""
        return [
            start_command_for(m, self.settings, self.params.start_settings)
            for m in self.params.measurements
        ]

    def stop_commands(self) -> list[bytes]:
        return [build_stop_command(MEASUREMENT_TYPES[m]) for m in self.params.measurements]

    def _format(self, measurement: Measurement) -> PmdFrameFormat:
        return getattr(self.params, f"{measurement}_format")

    def start_responses(self) -> list[bytes]:
        """The START response indications, with FACTOR for measurements sent compressed."""
        return [
            build_start_response(
                MEASUREMENT_TYPES[m],
                getattr(self.settings, f"{m}_factor") if self._format(m).compressed else None,
            )
            for m in self.params.measurements
        ]

    def session_preamble(self) -> list[Notification]:
        return [
            Notification(self.params.control_point_uuid, response)
            for response in self.start_responses()
        ]

    # --- decoding ----------------------------------------------------------------------------

    def decode(self, batch: NotificationBatch) -> DecodeResult:
        characteristic = batch.characteristic.lower()
        if characteristic == self.params.control_point_uuid.lower():
            return self._decode_control(batch)
        if characteristic != self.params.data_uuid.lower():
            return DecodeResult()
        return self._decode_data(batch)

    def _event(self, kind: EventKind, message: str, **data: object) -> Event:
        return Event(self._last_t_ns, kind, message, self.stream, dict(data))

    def _bad(self, result: DecodeResult, message: str, payload: bytes) -> None:
        result.bad_packets += 1
        result.events.append(self._event(EventKind.BAD_PACKET, message, hex=payload[:32].hex()))

    def _decode_control(self, batch: NotificationBatch) -> DecodeResult:
        result = DecodeResult()
        for payload in batch.payloads():
            try:
                self._control_indication(payload, result)
            except PmdProtocolError as error:
                self._bad(result, f"PMD control point: {error}", payload)
        return result

    def _control_indication(self, payload: bytes, result: DecodeResult) -> None:
        if payload[:1] == bytes((CP_MEASUREMENT_STOPPED,)):
            stopped = parse_measurement_stopped(payload)
            for kind in stopped:
                self._previous_ts.pop(kind, None)
                self._guards.pop(kind, None)
            names = [_type_name(t) for t in stopped]
            result.events.append(
                self._event(EventKind.CONTROL, f"sensor stopped {', '.join(names)}", stopped=names)
            )
            return
        if payload[:1] == bytes((FEATURE_READ_CODE,)):
            features = parse_features(payload)
            result.events.append(
                self._event(
                    EventKind.INFO, f"PMD features: {' '.join(features)}", features=features
                )
            )
            return
        if self._pending_response is not None:
            payload = join_cp_continuation(self._pending_response, payload)
            self._pending_response = None
        response = parse_cp_response(payload)
        if response.more:
            self._pending_response = payload
            return
        measurement = MEASUREMENT_NAMES.get(response.measurement_type)
        factor = response.factor
        if (
            response.ok
            and response.opcode == Opcode.REQUEST_MEASUREMENT_START
            and measurement is not None
            and factor is not None
        ):
            if not (np.isfinite(factor) and factor > 0):  # would scale every sample to NaN/0
                raise PmdProtocolError(f"START response with FACTOR {factor}")
            setattr(self.settings, f"{measurement}_factor", float(np.float32(factor)))
        settings = {kind.name: values for kind, values in response.settings.items()}
        opcode = _enum_name(Opcode, response.opcode)
        result.events.append(
            self._event(
                EventKind.CONTROL,
                f"PMD {opcode} {_type_name(response.measurement_type)}: {response.status_name}",
                opcode=opcode,
                measurement=_type_name(response.measurement_type),
                status=response.status,
                status_name=response.status_name,
                settings=settings,
            )
        )

    def _decode_data(self, batch: NotificationBatch) -> DecodeResult:
        result = DecodeResult()
        buffer = np.frombuffer(batch.data, dtype=np.uint8)
        groups: dict[int, dict[int, _Frames]] = {}  # measurement type -> frame byte -> frames
        data = batch.data
        for i, (start, end) in enumerate(itertools.pairwise(batch.offsets.tolist())):
            if end - start < FRAME_HEADER_SIZE:
                self._bad(
                    result, f"PMD frame of {end - start} bytes: header needs 10", data[start:end]
                )
                continue
            timestamp = int.from_bytes(data[start + 1 : start + 9], "little")
            if timestamp >= 1 << 63:  # beyond year 2292: not a clock value
                self._bad(result, f"PMD frame timestamp {timestamp} out of range", data[start:end])
                continue
            by_type = groups.setdefault(data[start] & 0x3F, {})
            frames = by_type.setdefault(data[start + 9], _Frames())
            frames.index.append(i)
            frames.timestamp.append(timestamp)
            frames.content.append((start + FRAME_HEADER_SIZE, end))
        blocks: list[tuple[int, SampleBlock]] = []
        for kind, by_type in groups.items():
            decoded = []
            for frame_byte, frames in by_type.items():
                layout = frame_layout(kind, frame_byte & 0x7F, bool(frame_byte & 0x80))
                if layout is None:
                    for i in frames.index:
                        self._bad(
                            result,
                            f"PMD {_type_name(kind)} frame type 0x{frame_byte:02x} not supported",
                            batch.payload(i),
                        )
                    continue
                values = self._decode_values(
                    batch, buffer, kind, frame_byte, layout, frames, result
                )
                if values is not None:
                    decoded.append(values)
            if decoded:
                blocks += self._timed_blocks(batch, kind, decoded, result)
        result.blocks.extend(block for _, block in sorted(blocks, key=lambda item: item[0]))
        return result

    def _decode_values(
        self,
        batch: NotificationBatch,
        buffer: NDArray[np.uint8],
        kind: int,
        frame_byte: int,
        layout: FrameLayout,
        frames: _Frames,
        result: DecodeResult,
    ) -> _Decoded | None:
        """Samples of the well-formed frames of one frame type, in raw units, not yet timed."""
        data = batch.data
        compressed = bool(frame_byte & 0x80)
        good: list[int] = []
        layouts: list[DeltaLayout] = []
        sample_size = layout.channels * layout.value_bits // 8
        for position, (start, end) in enumerate(frames.content):
            try:
                if compressed:
                    layouts.append(
                        scan_delta_blocks(data, start, end, layout.channels, layout.value_bits)
                    )
                elif end == start or (end - start) % sample_size:
                    raise PmdProtocolError(
                        f"{end - start} content bytes, not whole {sample_size}-byte samples"
                    )
                good.append(position)
            except PmdProtocolError as error:
                self._bad(
                    result, f"PMD {_type_name(kind)} frame: {error}", frames.frame(position, data)
                )
        if not good:
            return None
        if compressed:
            raw, counts = decode_delta_frames(
                buffer, layouts, layout.channels, layout.value_bits, layout.float32
            )
            with np.errstate(invalid="ignore"):  # NaN bit patterns in a corrupt frame
                values = (
                    raw.astype(np.int32).view(np.float32).astype(np.float64)
                    if layout.float32
                    else raw.astype(np.float64)
                )
        else:
            spans = np.array([frames.content[p] for p in good], dtype=np.int64)
            lengths = spans[:, 1] - spans[:, 0]
            counts = lengths // sample_size
            byte_index = np.repeat(spans[:, 0] - (np.cumsum(lengths) - lengths), lengths)
            raw_bytes = buffer[byte_index + np.arange(int(lengths.sum()))]
            with np.errstate(invalid="ignore"):
                values = (
                    raw_bytes.view("<f4").astype(np.float64)
                    if layout.float32
                    else _to_int_dtype(raw_bytes, layout.value_bits).astype(np.float64)
                ).reshape(-1, layout.channels)
        frame_of_sample = np.repeat(np.arange(len(good)), counts)
        finite = ~packets_with(non_finite(values), frame_of_sample, len(good))
        for position in np.array(good)[~finite]:
            self._bad(
                result,
                f"PMD {_type_name(kind)} frame: a value that is not a finite number",
                frames.frame(int(position), data),
            )
        if not finite.any():
            return None
        kept = np.array(good)[finite]
        return _Decoded(
            layout=layout,
            frames=frames,
            positions=kept,
            index=np.array(frames.index, dtype=np.int64)[kept],
            timestamp=np.array(frames.timestamp, dtype=np.int64)[kept],
            counts=counts[finite],
            values=values[finite[frame_of_sample]],
        )

    def _timed_blocks(
        self, batch: NotificationBatch, kind: int, decoded: list[_Decoded], result: DecodeResult
    ) -> list[tuple[int, SampleBlock]]:
        """Frames of one measurement (any frame types) timed in arrival order, as blocks.

        Frames whose time is off the sensor's clock (`ClockGuard`) are bad packets. Each run of
        frames of one type is a block, so times never step back from one block to the next.
        """
        group = np.repeat(np.arange(len(decoded)), [d.index.shape[0] for d in decoded])
        index = np.concatenate([d.index for d in decoded])
        counts = np.concatenate([d.counts for d in decoded])
        frame_ts = np.concatenate([d.timestamp for d in decoded])
        first_row = np.concatenate([np.cumsum(d.counts) - d.counts for d in decoded])
        order = np.argsort(index, kind="stable")  # arrival order
        guard = self._guards.setdefault(kind, ClockGuard())
        on_clock = np.empty(index.shape[0], dtype=bool)
        on_clock[order] = guard.accept(frame_ts[order], batch.host_t_ns[index[order]])
        positions = np.concatenate([d.positions for d in decoded])
        for frame in np.flatnonzero(~on_clock):
            self._bad(
                result,
                f"PMD {_type_name(kind)} frame time {frame_ts[frame]} ns is off the sensor clock",
                decoded[group[frame]].frames.frame(int(positions[frame]), batch.data),
            )
        timed = order[on_clock[order]]
        if not timed.size:
            return []
        measurement = decoded[0].layout.measurement
        t_ns = self._timestamps(kind, measurement, frame_ts[timed], counts[timed], result)
        run_starts = np.flatnonzero(np.diff(group[timed], prepend=-1))
        sample_bounds = np.concatenate(([0], np.cumsum(counts[timed])))
        out = []
        for start, stop in itertools.pairwise([*run_starts.tolist(), timed.shape[0]]):
            frames = timed[start:stop]
            lengths = counts[frames]
            rows = np.repeat(first_row[frames] - (np.cumsum(lengths) - lengths), lengths)
            rows += np.arange(int(lengths.sum()))
            d = decoded[group[frames[0]]]
            block_t = t_ns[sample_bounds[start] : sample_bounds[stop]]
            out.append((int(index[frames[0]]), self._block(d.layout, d.values[rows], block_t)))
        return out

    def _block(
        self, layout: FrameLayout, values: NDArray[np.float64], t_ns: NDArray[np.int64]
    ) -> SampleBlock:
        scale = layout.unit_scale
        if layout.uses_factor:
            scale *= getattr(self.settings, f"{layout.measurement}_factor")
        extra: dict[str, np.ndarray] = {}
        if layout.channels == 4:
            extra[MAG_STATUS_KEY] = values[:, 3].astype(np.int8)
        self._last_t_ns = int(t_ns[-1])
        channels = {layout.measurement: values[:, :3] * scale}
        return SampleBlock(t_ns=t_ns, stream=self.stream, extra=extra, **channels)

    def _timestamps(
        self,
        kind: int,
        measurement: Measurement,
        frame_ts: NDArray[np.int64],
        counts: NDArray[np.int64],
        result: DecodeResult,
    ) -> NDArray[np.int64]:
        """SDK per-sample times; CLOCK_RESET when time runs backwards, GAP for missing frames."""
        seeded = kind not in self._previous_ts  # the first frame's previous is a setting
        first = self._previous_ts.get(kind, self.settings.previous_frame_timestamp_ns)
        previous = np.concatenate([[first], frame_ts[:-1]]).astype(np.int64)
        self._previous_ts[kind] = int(frame_ts[-1])
        rate = getattr(self.settings, f"{measurement}_sample_rate_hz")
        period = 1e9 / rate
        result.events.extend(
            clock_events(
                frame_ts, previous, counts * period, period, self.stream, f"PMD {_type_name(kind)}"
            )
        )
        # After frames went missing the SDK would stretch a frame's samples over the gap; time
        # them from the sample rate instead, as after a clock reset. (A seeded previous time is
        # trusted: it reproduces the SDK's times for a given frame.)
        _, gap = clock_steps(frame_ts, previous, counts * period, period)
        gap[0] &= not seeded
        return sample_timestamps(frame_ts, np.where(gap, 0, previous), counts, rate)

    # --- encoding ----------------------------------------------------------------------------

    def encode(self, block: SampleBlock) -> list[Notification]:
        """Frames as the firmware sends them: `samples_per_frame` samples each, per measurement.

        Each notification's host_t_ns is the frame's last sample time (when it is complete).
        """
        if len(block) and int(block.t_ns.min()) < 0:
            raise ValueError("PMD times are ns since 2000-01-01 on the sensor clock, not negative")
        frames: list[tuple[int, int, bytes]] = []
        for order, measurement in enumerate(self.params.measurements):
            values = getattr(block, measurement)
            if values is None:
                continue
            fmt = self._format(measurement)
            kind = MEASUREMENT_TYPES[measurement]
            layout = frame_layout(kind, fmt.frame_type, fmt.compressed)
            if layout is None:
                raise ValueError(f"no PMD layout for {measurement} frame {fmt}")
            raw = self._to_raw(values, block, measurement, layout)
            step = self.params.samples_per_frame
            for start in range(0, len(block), step):
                stop = min(start + step, len(block))
                ts = int(block.t_ns[stop - 1])
                header = FrameHeader(kind, ts, fmt.frame_type, fmt.compressed)
                content = self._content(raw[start:stop], layout, fmt.compressed)
                frames.append((ts, order, build_frame(header, content)))
        frames.sort(key=lambda frame: (frame[0], frame[1]))
        return [Notification(self.params.data_uuid, data, ts) for ts, _, data in frames]

    def _to_raw(
        self,
        values: NDArray[np.float64],
        block: SampleBlock,
        measurement: Measurement,
        layout: FrameLayout,
    ) -> NDArray[np.int64] | NDArray[np.float32]:
        scale = layout.unit_scale
        if layout.uses_factor:
            scale *= getattr(self.settings, f"{measurement}_factor")
        scaled = values / scale
        if layout.float32:
            return scaled.astype(np.float32)
        limit = 1 << (layout.value_bits - 1)
        raw = np.clip(np.rint(scaled), -limit, limit - 1).astype(np.int64)
        if layout.channels == 4:
            status = block.extra.get(MAG_STATUS_KEY, np.zeros(len(block), dtype=np.int64))
            raw = np.column_stack([raw, np.asarray(status, dtype=np.int64)])
        return raw

    def _content(self, raw: np.ndarray, layout: FrameLayout, compressed: bool) -> bytes:
        if compressed:
            bits = raw.view(np.int32).astype(np.int64) if layout.float32 else raw
            return encode_delta_content(
                bits, layout.value_bits, self.params.delta_group_size, layout.float32
            )
        if layout.float32:
            return raw.astype("<f4").tobytes()
        if layout.value_bits == 24:
            as_u32 = raw.astype("<i4").view(np.uint8).reshape(-1, 4)
            return as_u32[:, :3].tobytes()
        return raw.astype("<i1" if layout.value_bits == 8 else "<i2").tobytes()


def _enum_name(enum: type[IntEnum], value: int) -> str:
    try:
        return enum(value).name
    except ValueError:
        return str(value)


def _type_name(measurement_type: int) -> str:
    return _enum_name(MeasurementType, measurement_type)
