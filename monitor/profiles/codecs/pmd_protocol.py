"""Polar Measurement Data (PMD) wire format: control point, settings, frames, delta blocks, time.

Pure functions on bytes and numpy arrays, shared by the PMD codec, the BLE client (start/stop
commands, control-point responses) and the fake sensor (responses it sends). Facts and their
sources: ../shared/sensors/PROTOCOLS.md section 1 (polar-ble-sdk BlePMDClient.kt,
PmdSetting.kt, PmdControlPointCommand.kt, PmdTimeStampUtils.kt, online_measurement.pdf).
Nothing here raises on bad input except `PmdProtocolError`, which callers turn into events.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

FRAME_HEADER_SIZE = 10
CP_RESPONSE_CODE = 0xF0
CP_MEASUREMENT_STOPPED = 0x01  # device-initiated stop indication: [0x01, type, type...]
FEATURE_READ_CODE = 0x0F
INT32_WRAP = 1 << 32


class PmdProtocolError(ValueError):
    """Bytes that do not follow the PMD format; the message says what and where."""


class MeasurementType(IntEnum):
    ECG = 0
    PPG = 1
    ACC = 2
    PPI = 3
    GYRO = 5
    MAG = 6
    SKIN_TEMP = 7
    SDK_MODE = 9
    LOCATION = 10
    PRESSURE = 11
    TEMPERATURE = 12
    OFFLINE_RECORDING = 13
    OFFLINE_HR = 14


class Opcode(IntEnum):
    GET_MEASUREMENT_SETTINGS = 1
    REQUEST_MEASUREMENT_START = 2
    STOP_MEASUREMENT = 3
    GET_SDK_MODE_MEASUREMENT_SETTINGS = 4
    GET_MEASUREMENT_STATUS = 5
    GET_SDK_MODE_STATUS = 6


class Status(IntEnum):
    SUCCESS = 0
    INVALID_OP_CODE = 1
    INVALID_MEASUREMENT_TYPE = 2
    NOT_SUPPORTED = 3
    INVALID_LENGTH = 4
    INVALID_PARAMETER = 5
    ALREADY_IN_STATE = 6
    INVALID_RESOLUTION = 7
    INVALID_SAMPLE_RATE = 8
    INVALID_RANGE = 9
    INVALID_MTU = 10
    INVALID_NUMBER_OF_CHANNELS = 11
    INVALID_STATE = 12
    DEVICE_IN_CHARGER = 13
    DISK_FULL = 14


class SettingType(IntEnum):
    SAMPLE_RATE = 0
    RESOLUTION = 1
    RANGE = 2
    RANGE_MILLIUNIT = 3
    CHANNELS = 4
    FACTOR = 5
    SECURITY = 6


# (struct format, size) of one value of each setting type (PmdSetting.kt typeToFieldSize).
_SETTING_FIELDS: dict[SettingType, tuple[str, int]] = {
    SettingType.SAMPLE_RATE: ("<H", 2),
    SettingType.RESOLUTION: ("<H", 2),
    SettingType.RANGE: ("<H", 2),
    SettingType.RANGE_MILLIUNIT: ("<i", 4),
    SettingType.CHANNELS: ("<B", 1),
    SettingType.FACTOR: ("<f", 4),
    SettingType.SECURITY: ("16s", 16),
}

# Feature bitmap read from the control point: (byte index, bit) -> name (PmdMeasurementType.kt).
_FEATURE_BITS: dict[tuple[int, int], str] = {
    (1, 0): "ECG",
    (1, 1): "PPG",
    (1, 2): "ACC",
    (1, 3): "PPI",
    (1, 5): "GYRO",
    (1, 6): "MAG",
    (1, 7): "SKIN_TEMP",
    (2, 1): "SDK_MODE",
    (2, 2): "LOCATION",
    (2, 3): "PRESSURE",
    (2, 4): "TEMPERATURE",
    (2, 5): "OFFLINE_RECORDING",
    (2, 6): "OFFLINE_HR",
}

SettingValue = int | float | bytes


# --- settings and control point -------------------------------------------------------------


def serialize_settings(
    settings: Mapping[SettingType, SettingValue | Sequence[SettingValue]],
) -> bytes:
    """`[type, count, values...]` per setting, in mapping order (a START uses count 1)."""
    out = bytearray()
    for setting_type, value in settings.items():
        kind = SettingType(setting_type)
        values = list(value) if isinstance(value, list | tuple) else [value]
        fmt, _ = _SETTING_FIELDS[kind]
        out += bytes((kind, len(values)))
        for item in values:
            out += struct.pack(fmt, item)
    return bytes(out)


def parse_settings(data: bytes) -> dict[SettingType, list[SettingValue]]:
    """Inverse of `serialize_settings`; values keep their wire order (u16, i32, f32, u8)."""
    parsed: dict[SettingType, list[SettingValue]] = {}
    offset = 0
    while offset < len(data):
        if offset + 2 > len(data):
            raise PmdProtocolError(f"settings: header cut off at byte {offset}")
        try:
            kind = SettingType(data[offset])
        except ValueError:
            raise PmdProtocolError(
                f"settings: unknown setting type {data[offset]} at byte {offset}"
            ) from None
        count = data[offset + 1]
        fmt, size = _SETTING_FIELDS[kind]
        end = offset + 2 + count * size
        if end > len(data):
            raise PmdProtocolError(f"settings: {kind.name} values cut off at byte {len(data)}")
        parsed[kind] = [
            struct.unpack_from(fmt, data, offset + 2 + i * size)[0] for i in range(count)
        ]
        offset = end
    return parsed


def build_get_settings_command(measurement_type: int, recording_type: int = 0) -> bytes:
    return bytes((Opcode.GET_MEASUREMENT_SETTINGS, (recording_type << 7) | measurement_type))


def build_start_command(
    measurement_type: int,
    settings: Mapping[SettingType, SettingValue],
    recording_type: int = 0,
) -> bytes:
    """REQUEST_MEASUREMENT_START: `[0x02, (recording<<7)|type, settings...]` (count 1 each)."""
    if SettingType.FACTOR in settings:
        raise ValueError("FACTOR is reported by the sensor, never sent in a START command")
    head = bytes((Opcode.REQUEST_MEASUREMENT_START, (recording_type << 7) | measurement_type))
    return head + serialize_settings(settings)


def build_stop_command(measurement_type: int) -> bytes:
    return bytes((Opcode.STOP_MEASUREMENT, measurement_type))


@dataclass(frozen=True, slots=True)
class CpResponse:
    """A control-point response `[0xF0, opcode, type, status, more, params...]`."""

    opcode: int
    measurement_type: int
    status: int
    more: bool
    params: bytes = b""

    @property
    def ok(self) -> bool:
        return self.status == Status.SUCCESS

    @property
    def status_name(self) -> str:
        try:
            return Status(self.status).name
        except ValueError:
            return f"UNKNOWN_STATUS_{self.status}"

    @property
    def settings(self) -> dict[SettingType, list[SettingValue]]:
        """Settings carried by the response (START: FACTOR; GET_SETTINGS: the choices)."""
        return parse_settings(self.params) if self.ok else {}

    @property
    def factor(self) -> float | None:
        values = self.settings.get(SettingType.FACTOR)
        return float(values[0]) if values else None


def parse_cp_response(data: bytes) -> CpResponse:
    if len(data) < 5 or data[0] != CP_RESPONSE_CODE:
        raise PmdProtocolError(f"control point: not a response: {data.hex()}")
    return CpResponse(
        opcode=data[1],
        measurement_type=data[2] & 0x3F,
        status=data[3],
        more=data[4] != 0,
        params=bytes(data[5:]),
    )


def join_cp_continuation(first: bytes, continuation: bytes) -> bytes:
    """Append a `more` continuation: its bytes from index 5 on (BlePMDClient sendPmdCommand)."""
    if len(continuation) < 5:
        raise PmdProtocolError(f"control point: continuation too short: {continuation.hex()}")
    merged = bytearray(first)
    merged[4] = continuation[4]  # the continuation says whether even more follows
    return bytes(merged) + bytes(continuation[5:])


def build_cp_response(
    opcode: int,
    measurement_type: int,
    status: int = Status.SUCCESS,
    params: bytes = b"",
    more: bool = False,
) -> bytes:
    """What the sensor indicates in answer to a command (fake sensor, simulator preamble)."""
    return bytes((CP_RESPONSE_CODE, opcode, measurement_type, status, int(more))) + params


def build_start_response(measurement_type: int, factor: float | None = None) -> bytes:
    """A successful START response, carrying FACTOR when the firmware reports one."""
    params = b"" if factor is None else serialize_settings({SettingType.FACTOR: factor})
    return build_cp_response(Opcode.REQUEST_MEASUREMENT_START, measurement_type, params=params)


def parse_measurement_stopped(data: bytes) -> list[int]:
    """Types named by a device-initiated stop indication `[0x01, type, type...]`."""
    if len(data) < 2 or data[0] != CP_MEASUREMENT_STOPPED:
        raise PmdProtocolError(f"control point: not a stop indication: {data.hex()}")
    return [b & 0x3F for b in data[1:]]


def parse_features(data: bytes) -> list[str]:
    """The feature bitmap a GATT read of the control point returns: `[0x0F, b1, b2, ...]`."""
    if len(data) < 2 or data[0] != FEATURE_READ_CODE:
        raise PmdProtocolError(f"control point read: not a feature bitmap: {data.hex()}")
    return [
        name
        for (index, bit), name in _FEATURE_BITS.items()
        if index < len(data) and data[index] >> bit & 1
    ]


def build_features(names: Sequence[str]) -> bytes:
    """Inverse of `parse_features` (what a fake sensor answers to a CP read)."""
    out = bytearray((FEATURE_READ_CODE, 0, 0))
    for (index, bit), name in _FEATURE_BITS.items():
        if name in names:
            out[index] |= 1 << bit
    return bytes(out)


# --- data frames ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FrameHeader:
    measurement_type: int
    timestamp_ns: int  # ns since 2000-01-01 device time, of the LAST sample in the frame
    frame_type: int
    compressed: bool


def parse_frame_header(data: bytes) -> FrameHeader:
    if len(data) < FRAME_HEADER_SIZE:
        raise PmdProtocolError(f"data frame: {len(data)} bytes, header needs {FRAME_HEADER_SIZE}")
    return FrameHeader(
        measurement_type=data[0] & 0x3F,
        timestamp_ns=int.from_bytes(data[1:9], "little"),
        frame_type=data[9] & 0x7F,
        compressed=bool(data[9] & 0x80),
    )


def build_frame(header: FrameHeader, content: bytes) -> bytes:
    frame_byte = header.frame_type | (0x80 if header.compressed else 0)
    return (
        bytes((header.measurement_type,))
        + header.timestamp_ns.to_bytes(8, "little")
        + bytes((frame_byte,))
        + content
    )


def gather_u64(padded: NDArray[np.uint8], byte_index: NDArray[np.int64]) -> NDArray[np.uint64]:
    """Little-endian uint64 starting at each byte index of a buffer padded with 8 zero bytes."""
    every_offset = np.ndarray(
        shape=(padded.shape[0] - 7,), dtype="<u8", buffer=padded, strides=(1,)
    )  # one (unaligned) 64-bit word starting at every byte
    return every_offset[byte_index]


def read_signed(raw: NDArray[np.integer], width_bits: int) -> NDArray[np.int64]:
    """Sign-extend little-endian unsigned fields of `width_bits`."""
    values = raw.astype(np.int64)
    return values - ((values >> (width_bits - 1)) & 1) * (1 << width_bits)


def wrap_int32(values: NDArray[np.int64]) -> NDArray[np.int64]:
    """Kotlin Int arithmetic: wrap to the int32 range."""
    return ((values + (1 << 31)) & (INT32_WRAP - 1)) - (1 << 31)


# --- delta-compressed content ---------------------------------------------------------------


@dataclass(slots=True)
class DeltaLayout:
    """Where the delta blocks of one frame's content are (from the block headers)."""

    reference_at: int  # byte index of the reference sample in the buffer
    block_bit_starts: list[int] = field(default_factory=list)  # bit index of packed deltas
    widths: list[int] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)

    @property
    def sample_count(self) -> int:
        return 1 + sum(self.counts)


def scan_delta_blocks(
    data: bytes, start: int, end: int, channels: int, resolution_bits: int, partial: bool = False
) -> DeltaLayout:
    """Walk `[width][count][packed]` block headers of content `data[start:end]`.

    With `partial`, a last block cut short keeps the whole samples it holds (for documents
    that print only the start of a frame); otherwise a short block is an error.
    """
    reference_size = channels * ((resolution_bits + 7) // 8)
    if end - start < reference_size:
        raise PmdProtocolError(
            f"delta frame: {end - start} content bytes, reference sample needs {reference_size}"
        )
    layout = DeltaLayout(reference_at=start)
    offset = start + reference_size
    while offset < end:
        if offset + 2 > end:
            raise PmdProtocolError(f"delta frame: block header cut off at content byte {offset}")
        width, count = data[offset], data[offset + 1]
        if not 1 <= width <= 32:
            raise PmdProtocolError(f"delta frame: bit width {width} at content byte {offset}")
        size = (width * count * channels + 7) // 8
        if offset + 2 + size > end:
            if not partial:
                raise PmdProtocolError(
                    f"delta frame: block of {count} x {width} bit needs {size} bytes, "
                    f"{end - offset - 2} left"
                )
            count = (end - offset - 2) * 8 // (width * channels)
        layout.block_bit_starts.append((offset + 2) * 8)
        layout.widths.append(width)
        layout.counts.append(count)
        offset += 2 + size
    return layout


def decode_delta_frames(
    buffer: NDArray[np.uint8],
    layouts: Sequence[DeltaLayout],
    channels: int,
    resolution_bits: int,
    float_bits: bool = False,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Samples of many delta frames of one layout at once: (samples (n, channels), counts).

    Reference channels are `ceil(resolution/8)` LE bytes, sign-extended from bit
    `resolution-1` as the SDK does (raw bit patterns when `float_bits`). Deltas are packed
    LSB-first, two's complement; each sample is previous + delta in int32 arithmetic with
    wraparound (so float32 bit patterns decode exactly). The result holds int32 values.
    """
    counts = np.array([layout.sample_count for layout in layouts], dtype=np.int64)
    if not layouts:
        return np.empty((0, channels), dtype=np.int64), counts
    padded = np.concatenate([buffer, np.zeros(8, dtype=np.uint8)])
    ref_bytes = (resolution_bits + 7) // 8
    ref_index = np.array([layout.reference_at for layout in layouts], dtype=np.int64)
    ref_index = (ref_index[:, None] + np.arange(channels) * ref_bytes).reshape(-1)
    raw_ref = gather_u64(padded, ref_index) & np.uint64((1 << (8 * ref_bytes)) - 1)
    references = raw_ref.astype(np.int64)
    if not float_bits:
        sign_mask = -1 << (resolution_bits - 1)  # BlePMDClient parseDeltaFrameRefSamples
        references = np.where(references & sign_mask != 0, references | sign_mask, references)
    references = wrap_int32(references).reshape(-1, channels)

    bit_starts = np.array([s for lay in layouts for s in lay.block_bit_starts], dtype=np.int64)
    widths = np.array([w for lay in layouts for w in lay.widths], dtype=np.int64)
    block_counts = np.array([c for lay in layouts for c in lay.counts], dtype=np.int64)
    values_per_block = block_counts * channels
    value_width = np.repeat(widths, values_per_block)
    first_value = np.cumsum(values_per_block) - values_per_block
    index_in_block = np.arange(value_width.shape[0]) - np.repeat(first_value, values_per_block)
    value_bit = np.repeat(bit_starts, values_per_block) + index_in_block * value_width
    # Move each field to the top of its 64-bit word, then an arithmetic shift sign-extends it.
    words = gather_u64(padded, value_bit >> 3) << (64 - (value_bit & 7) - value_width).astype(
        np.uint64
    )
    deltas = (words.view(np.int64) >> (64 - value_width)).reshape(-1, channels)

    # Each frame's reference row, then its delta rows; one cumsum per channel, made to restart
    # at every frame by subtracting the previous frame's total (its last sample) from the
    # frame's reference row.
    total = int(counts.sum())
    frame_first_row = np.cumsum(counts) - counts
    is_reference = np.zeros(total, dtype=bool)
    is_reference[frame_first_row] = True
    rows = np.empty((channels, total), dtype=np.int64)
    rows[:, is_reference] = references.T
    rows[:, ~is_reference] = deltas.T
    frame_totals = np.add.reduceat(rows, frame_first_row, axis=1)
    rows[:, frame_first_row[1:]] -= frame_totals[:, :-1]
    return wrap_int32(np.cumsum(rows, axis=1)).T, counts


def decode_delta_content(
    content: bytes,
    channels: int,
    resolution_bits: int,
    float_bits: bool = False,
    partial: bool = False,
) -> NDArray[np.int64]:
    """Samples (n, channels) of one frame's content (bytes after the 10-byte header)."""
    layout = scan_delta_blocks(content, 0, len(content), channels, resolution_bits, partial)
    buffer = np.frombuffer(content, dtype=np.uint8)
    samples, _ = decode_delta_frames(buffer, [layout], channels, resolution_bits, float_bits)
    return samples


_POWERS_OF_TWO = np.int64(1) << np.arange(63, dtype=np.int64)


def _bits_needed(deltas: NDArray[np.int64]) -> NDArray[np.int64]:
    """Width for each delta as the firmware picks it: bits of |delta| plus a sign bit.

    Symmetric, so -4 takes 4 bits although 3 would hold it: this reproduces the block widths
    of the SDK's genuine multi-block frame (BlePmdClientParsersTest multipleDeltas) exactly.
    Capped at 32 (any int32 difference fits after wraparound).
    """
    bits = np.searchsorted(_POWERS_OF_TWO, np.abs(deltas), side="right") + 1
    return np.minimum(bits, 32)


def _pack_block(values: NDArray[np.int64], width: int) -> bytes:
    bits = (values[:, None] >> np.arange(width, dtype=np.int64)) & 1
    return np.packbits(bits.astype(np.uint8).reshape(-1), bitorder="little").tobytes()


def encode_delta_content(
    samples: NDArray[np.integer],
    resolution_bits: int,
    group_size: int = 10,
    float_bits: bool = False,
) -> bytes:
    """Frame content for `samples` (n, channels), the inverse of `decode_delta_content`.

    Like the firmware: the bit width is chosen per group of `group_size` samples (the first
    group includes the reference) from the largest |delta| of the group (`_bits_needed`), and
    neighbouring groups of equal width share one block (at most 255 samples).
    """
    values = wrap_int32(np.asarray(samples, dtype=np.int64))
    if values.ndim != 2 or values.shape[0] == 0:
        raise ValueError("need a (n, channels) array with at least one sample")
    ref_bytes = (resolution_bits + 7) // 8
    out = bytearray()
    for value in values[0]:
        out += (int(value) & ((1 << (8 * ref_bytes)) - 1)).to_bytes(ref_bytes, "little")
    deltas = np.diff(values, axis=0)
    if float_bits:
        deltas = wrap_int32(deltas)
    if deltas.shape[0] == 0:
        return bytes(out)
    group_of = (np.arange(deltas.shape[0]) + 1) // group_size
    width_of_delta = _bits_needed(deltas).max(axis=1)
    group_width = np.zeros(int(group_of[-1]) + 1, dtype=np.int64)
    np.maximum.at(group_width, group_of, width_of_delta)
    sample_width = group_width[group_of]
    # Runs of equal width, cut at 255 samples.
    change = np.flatnonzero(np.diff(sample_width)) + 1
    bounds = [0, *change.tolist(), deltas.shape[0]]
    for start, stop in itertools.pairwise(bounds):
        width = int(sample_width[start])
        for chunk in range(start, stop, 255):
            block = deltas[chunk : min(chunk + 255, stop)]
            out += bytes((width, block.shape[0]))
            out += _pack_block(block.reshape(-1), width)
    return bytes(out)


# --- per-sample timestamps ------------------------------------------------------------------


def sample_timestamps(
    frame_ts: NDArray[np.int64],
    previous_ts: NDArray[np.int64],
    counts: NDArray[np.int64],
    sample_rate_hz: float,
) -> NDArray[np.int64]:
    """Per-sample times of many frames, exactly as polar-ble-sdk PmdTimeStampUtils.

    The frame timestamp is the last sample's. If the previous frame's timestamp is known
    (non-zero, earlier): delta = (ts - prev) / N and t_i = round(prev + delta + delta * i);
    otherwise delta = 1e9 / rate and t_i = round(ts - delta * (N - 1) + delta * i). Rounding is
    half to even (Kotlin `round`), arithmetic in float64 like the SDK; the last sample is ts.
    Times that would fall before the epoch are clipped to 0 (the SDK throws there).
    """
    frame_ts = np.asarray(frame_ts, dtype=np.int64)
    previous_ts = np.asarray(previous_ts, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    known = (previous_ts > 0) & (previous_ts < frame_ts)
    rate_delta = (1.0 / float(sample_rate_hz)) * 1000 * 1000 * 1000
    span = (frame_ts - np.where(known, previous_ts, 0)).astype(np.float64)
    delta = np.where(known, span / counts, rate_delta)
    start = np.where(
        known,
        previous_ts.astype(np.float64) + delta,
        frame_ts.astype(np.float64) - delta * (counts - 1),
    )
    frame_of_sample = np.repeat(np.arange(counts.shape[0]), counts)
    index = np.arange(frame_of_sample.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
    times = np.rint(start[frame_of_sample] + delta[frame_of_sample] * index)
    out = np.maximum(times, 0).astype(np.int64)
    out[np.cumsum(counts) - 1] = frame_ts
    return out
