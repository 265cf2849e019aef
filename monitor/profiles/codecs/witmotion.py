"""WitMotion WT901BLE / BWT901BLE5.0: a sync-byte byte stream of 20-byte packets over BLE.

Packets are `55 61` + 9 x int16 (acc, gyro, angle) or `55 71` + register low/high + 8 x int16
(a register read reply); no checksum over BLE. One notification can hold several packets and
a packet can be split across notifications, so the codec keeps the unfinished tail between
batches, as both vendor SDKs do (device_model.py#L121-133, Bwt901bleResolver.java). Bytes that
do not start a packet are skipped to the next `55 61`/`55 71`; each skipped run counts as one
bad packet. Facts: ../shared/sensors/PROTOCOLS.md section 2.

Vectorised: in a clean stream the packets sit every 20 bytes, which is checked and cut in one
numpy step; only a batch with garbage in it walks the candidate sync positions.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from monitor.core import Event, EventKind, Notification, NotificationBatch, SampleBlock
from monitor.profiles.codecs.base import Codec, CodecModel, DecodeResult, register_codec
from monitor.profiles.codecs.common import UNIT_TO_SI, quantize
from monitor.profiles.model import Uuid

PACKET_SIZE = 20
SYNC = 0x55
STREAM_PACKET = 0x61
REGISTER_PACKET = 0x71
MAG_REGISTER = 0x3A  # HX, HY, HZ (register read FF AA 27 3A 00)


class WitmotionParams(CodecModel):
    notify_uuid: Uuid = Field(
        default="0000ffe4-0000-1000-8000-00805f9a34fb",
        description="Characteristic of the packet stream (vendor base ...9a34fb, written in full).",
    )
    acc_full_scale_g: float = Field(default=16.0, gt=0, description="acc = v / 32768 x this.")
    gyro_full_scale_dps: float = Field(default=2000.0, gt=0, description="gyro = v / 32768 x this.")
    notification_bytes: int = Field(
        default=20,
        ge=1,
        le=512,
        description="Encode: bytes per notification (20 = one packet; 80 = four; "
        "sizes that are not multiples of 20 split packets across notifications).",
    )


class WitmotionSettings(CodecModel):
    rate_hz: float = Field(default=50.0, gt=0, description="Output rate (register 0x03).")
    mag_ut_per_lsb: float = Field(
        default=0.15,
        gt=0,
        description="Scale of HX..HZ register replies; depends on the magnetometer type "
        "(register 0x72: 2 -> 0.15, 3 -> 0.013, 4 -> 0.058, 5 -> 0.098, 7 -> 0.020).",
    )


def _packet_starts(buffer: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Start offsets of whole packets and the (start, end) byte runs skipped as garbage."""
    usable = buffer.shape[0] - PACKET_SIZE + 1
    if usable <= 0:
        return np.empty(0, dtype=np.int64), []
    aligned = np.arange(0, usable, PACKET_SIZE)
    if (buffer[aligned] == SYNC).all() and np.isin(
        buffer[aligned + 1], (STREAM_PACKET, REGISTER_PACKET)
    ).all():
        return aligned, []
    candidates = np.flatnonzero(
        (buffer[:usable] == SYNC)
        & np.isin(buffer[1 : usable + 1], (STREAM_PACKET, REGISTER_PACKET))
    )
    starts: list[int] = []
    skipped: list[tuple[int, int]] = []
    position = 0
    index = 0
    while index < candidates.shape[0]:
        start = int(candidates[index])
        if start > position:
            skipped.append((position, start))
        starts.append(start)
        position = start + PACKET_SIZE
        index = int(np.searchsorted(candidates, position))
    return np.asarray(starts, dtype=np.int64), skipped


@register_codec
class WitmotionCodec(Codec):
    name = "witmotion"
    Params = WitmotionParams
    Settings = WitmotionSettings

    def __init__(self, params: CodecModel, settings: CodecModel, stream: str = "") -> None:
        super().__init__(params, settings, stream)
        self.reset()

    def reset(self) -> None:
        self._tail = b""

    def decode(self, batch: NotificationBatch) -> DecodeResult:
        params = self.params
        assert isinstance(params, WitmotionParams)
        data = self._tail + batch.data
        buffer = np.frombuffer(data, dtype=np.uint8)
        starts, skipped = _packet_starts(buffer)
        end = int(starts[-1]) + PACKET_SIZE if starts.size else 0
        # Keep what could still become a packet: from the first sync byte in the last 19 bytes.
        tail_from = max(end, buffer.shape[0] - (PACKET_SIZE - 1))
        syncs = np.flatnonzero(buffer[tail_from:] == SYNC)
        keep_from = tail_from + int(syncs[0]) if syncs.size else buffer.shape[0]
        if keep_from > end:
            skipped.append((end, keep_from))
        self._tail = data[keep_from:]

        # Arrival of a packet = arrival of the notification holding its last byte.
        notification_end = batch.offsets[1:] + len(data) - len(batch.data)
        arrival_of = batch.host_t_ns
        result = DecodeResult()
        for first, stop in skipped:
            row = min(
                int(np.searchsorted(notification_end, stop - 1, side="right")), len(batch) - 1
            )
            result.events.append(
                Event(
                    t_ns=int(arrival_of[row]),
                    kind=EventKind.BAD_PACKET,
                    message=f"skipped {stop - first} bytes without a 55 61/55 71 packet: "
                    f"{data[first:stop][:24].hex(' ')}",
                    stream=self.stream,
                    data={"characteristic": batch.characteristic, "length": stop - first},
                )
            )
        result.bad_packets = len(skipped)
        if not starts.size:
            return result

        if starts.shape[0] * PACKET_SIZE == end:  # contiguous from the start: a plain reshape
            packets = buffer[:end].reshape(-1, PACKET_SIZE)
        else:
            packets = buffer[starts[:, None] + np.arange(PACKET_SIZE)]
        rows = np.searchsorted(notification_end, starts + PACKET_SIZE - 1, side="right")
        t_ns = arrival_of[rows]
        values = packets[:, 2:].copy().view("<i2").astype(np.float64)
        kind = packets[:, 1]

        stream = kind == STREAM_PACKET
        if stream.any():
            v = values[stream]
            acc_lsb = params.acc_full_scale_g / 32768.0 * UNIT_TO_SI["g"]
            gyro_lsb = params.gyro_full_scale_dps / 32768.0 * UNIT_TO_SI["dps"]
            result.blocks.append(
                SampleBlock(
                    t_ns=t_ns[stream],
                    acc=v[:, 0:3] * acc_lsb,
                    gyro=v[:, 3:6] * gyro_lsb,
                    stream=self.stream,
                    extra={"angle_deg": v[:, 6:9] * (180.0 / 32768.0)},
                )
            )
        # Register replies: [reg lo, reg hi, 8 x int16]; HX..HZ replies carry the magnetometer.
        register = packets[:, 2].astype(np.int64) | (packets[:, 3].astype(np.int64) << 8)
        mag = (kind == REGISTER_PACKET) & (register == MAG_REGISTER)
        if mag.any():
            raw = packets[mag][:, 4:10].copy().view("<i2").astype(np.float64)
            result.blocks.append(
                SampleBlock(
                    t_ns=t_ns[mag],
                    mag=raw * self.settings.mag_ut_per_lsb,  # type: ignore[attr-defined]
                    stream=self.stream,
                )
            )
        return result

    def encode(self, block: SampleBlock) -> list[Notification]:
        """0x61 packets (angles from `extra['angle_deg']`, else 0), or mag register replies."""
        params = self.params
        assert isinstance(params, WitmotionParams)
        n = len(block)
        if block.acc is not None and block.gyro is not None:
            packets = np.zeros((n, PACKET_SIZE), dtype=np.uint8)
            packets[:, 0], packets[:, 1] = SYNC, STREAM_PACKET
            angle = block.extra.get("angle_deg", np.zeros((n, 3)))
            words = np.column_stack(
                [
                    quantize(
                        block.acc, "i16le", params.acc_full_scale_g / 32768.0 * UNIT_TO_SI["g"]
                    ),
                    quantize(
                        block.gyro,
                        "i16le",
                        params.gyro_full_scale_dps / 32768.0 * UNIT_TO_SI["dps"],
                    ),
                    quantize(angle, "i16le", 180.0 / 32768.0),
                ]
            )
        elif block.mag is not None:
            packets = np.zeros((n, PACKET_SIZE), dtype=np.uint8)
            packets[:, 0], packets[:, 1], packets[:, 2] = SYNC, REGISTER_PACKET, MAG_REGISTER
            words = np.zeros((n, 8), dtype="<i2")
            words[:, :3] = quantize(block.mag, "i16le", self.settings.mag_ut_per_lsb)  # type: ignore[attr-defined]
            packets[:, 4:] = words.view(np.uint8).reshape(n, 16)
            return self._cut(packets, block.t_ns)
        else:
            return []
        packets[:, 2:] = np.ascontiguousarray(words, dtype="<i2").view(np.uint8).reshape(n, 18)
        return self._cut(packets, block.t_ns)

    def _cut(self, packets: np.ndarray, t_ns: np.ndarray) -> list[Notification]:
        """The byte stream cut into notifications; each arrives with its last byte's packet."""
        params = self.params
        assert isinstance(params, WitmotionParams)
        size = params.notification_bytes
        data = packets.tobytes()
        return [
            Notification(
                characteristic=params.notify_uuid,
                data=data[start : start + size],
                host_t_ns=int(t_ns[(min(start + size, len(data)) - 1) // PACKET_SIZE]),
            )
            for start in range(0, len(data), size)
        ]
