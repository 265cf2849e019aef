"""Movesense GATT SensorData Protocol (GSP) codec: /Meas/Acc, /Meas/IMU6, /Meas/IMU9 streams.

Commands go to 34800001 as `[cmd, client_ref, data...]`; everything comes back as
notifications on 34800002: `[1 COMMAND_RESULT, ref, u16 BE status | "Hello"]`,
`[2 DATA, ref, payload]` and `[3 DATA_PART2, ref, continuation]` when the payload did not fit
one notification. A payload is a uint32 timestamp (ms since sensor boot, first sample) and then
one block of N float32 x, y, z triples per sensor (acc m/s^2, gyro deg/s, magn uT), blocks not
interleaved. Facts: ../shared/sensors/PROTOCOLS.md section 5 (movesense-device-lib
gatt_sensordata_app and its python client).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

import numpy as np
from pydantic import Field

from monitor.core import Event, EventKind, Notification, NotificationBatch, SampleBlock
from monitor.profiles.codecs.base import Codec, CodecModel, DecodeResult, register_codec
from monitor.profiles.codecs.common import UNIT_TO_SI, non_finite, packets_with
from monitor.profiles.codecs.device_clock import ClockGuard, clock_events, clock_steps

GSP_SERVICE_UUID = "34802252-7185-4d5d-b431-630e7050e8f0"
GSP_COMMAND_UUID = "34800001-7185-4d5d-b431-630e7050e8f0"
GSP_DATA_UUID = "34800002-7185-4d5d-b431-630e7050e8f0"

MovesenseMeasurement = Literal["Acc", "Gyro", "Magn", "IMU6", "IMU9"]
# Messages laid end to end, their sizes and the arrival of each one's last notification.
Framed = tuple[bytes, list[int], list[int]]


class MovesenseSettings(CodecModel):
    """Per-stream values of one GSP subscription.

    `measurement` and `sample_rate_hz` form the resource path `/Meas/<measurement>/<rate>`.
    `client_ref` tags commands and notifications (non-zero). `att_mtu` is the negotiated ATT
    MTU: a notification holds at most `att_mtu - 3` bytes, a longer DATA message is split into
    DATA + DATA_PART2. `samples_per_notification` is what the firmware packs into one DATA
    message (0: rate / 13, e.g. 8 at 104 Hz, as the vendor samples show).
    """

    measurement: MovesenseMeasurement = "IMU6"
    sample_rate_hz: int = Field(default=104, ge=1, le=3332)
    client_ref: int = Field(default=99, ge=1, le=255)
    att_mtu: int = Field(default=161, ge=23, le=517)
    samples_per_notification: int = Field(default=0, ge=0, le=255)


class Command(IntEnum):
    HELLO = 0
    SUBSCRIBE = 1
    UNSUBSCRIBE = 2


class Response(IntEnum):
    COMMAND_RESULT = 1
    DATA = 2
    DATA_PART2 = 3


# Blocks of each resource's payload, in order, and the factor from wire unit to project unit.
BLOCKS: dict[str, tuple[str, ...]] = {
    "Acc": ("acc",),
    "Gyro": ("gyro",),
    "Magn": ("mag",),
    "IMU6": ("acc", "gyro"),
    "IMU9": ("acc", "gyro", "mag"),
}
_TO_PROJECT_UNIT = {"acc": UNIT_TO_SI["mps2"], "gyro": UNIT_TO_SI["dps"], "mag": UNIT_TO_SI["ut"]}
TIMESTAMP_SIZE = 4
TIMESTAMP_WRAP = 1 << 32  # ms
HEADER_SIZE = 2  # [response type, client ref]


def resource_path(measurement: str, sample_rate_hz: int) -> str:
    return f"/Meas/{measurement}/{sample_rate_hz}"


def build_hello(client_ref: int) -> bytes:
    return bytes((Command.HELLO, client_ref))


def build_subscribe(client_ref: int, path: str) -> bytes:
    """SUBSCRIBE: the resource path in ASCII, no terminator (gatt_sensordata_app)."""
    return bytes((Command.SUBSCRIBE, client_ref)) + path.encode("ascii")


def build_unsubscribe(client_ref: int) -> bytes:
    return bytes((Command.UNSUBSCRIBE, client_ref))


def build_command_result(client_ref: int, status: int) -> bytes:
    """What the sensor notifies after a command, e.g. 507 when no subscription slot is free.

    The status is big-endian: the firmware writes 507 as `0x01, 0xFB`
    (GATTSensorDataClient.cpp handleIncomingCommand, HTTP_CODE_INSUFFICIENT_STORAGE).
    """
    return bytes((Response.COMMAND_RESULT, client_ref)) + status.to_bytes(2, "big")


def build_hello_reply(client_ref: int) -> bytes:
    return bytes((Response.COMMAND_RESULT, client_ref)) + b"Hello"


@dataclass(frozen=True, slots=True)
class CommandResult:
    client_ref: int
    status: int | None  # HTTP-style status; None for the HELLO reply
    text: str = ""


def parse_command_result(data: bytes) -> CommandResult:
    if len(data) < 4 or data[0] != Response.COMMAND_RESULT:
        raise ValueError(f"not a GSP command result: {data.hex()}")
    if len(data) == 4:
        return CommandResult(data[1], int.from_bytes(data[2:4], "big"))
    return CommandResult(data[1], None, data[2:].decode("ascii", errors="replace"))


def split_data_message(client_ref: int, payload: bytes, att_mtu: int) -> list[bytes]:
    """DATA message -> notifications of at most `att_mtu - 3` bytes.

    The first carries `[DATA, ref]` and as much payload as fits; the rest follows in
    `[DATA_PART2, ref, continuation]` notifications (the vendor client shows one for IMU9 at
    104 Hz; longer messages at small MTUs take several, each appended in order).
    """
    limit = att_mtu - 3
    message = bytes((Response.DATA, client_ref)) + payload
    parts = [message[:limit]]
    rest = message[limit:]
    step = limit - HEADER_SIZE
    for start in range(0, len(rest), step):
        parts.append(bytes((Response.DATA_PART2, client_ref)) + rest[start : start + step])
    return parts


@register_codec
class MovesenseCodec(Codec):
    """GSP notifications of one subscription <-> sample blocks."""

    name = "movesense"
    Settings = MovesenseSettings

    settings: MovesenseSettings

    def __init__(self, params: CodecModel, settings: CodecModel, stream: str = "") -> None:
        super().__init__(params, settings, stream)
        self.reset()

    def reset(self) -> None:
        """Forget a half-received message and the last timestamp (the sensor drops
        subscriptions on disconnect and its clock restarts on reboot)."""
        self._pending: list[memoryview] | None = None  # parts of a message awaiting DATA_PART2
        self._pending_end = (0, 0)  # size and arrival of what is pending
        self._orphans = False  # dropping DATA_PART2s of a message already reported
        self._guard = ClockGuard()
        self._last_ts_ms = -1
        self._last_count = 0
        self._last_t_ns = 0

    # --- commands ------------------------------------------------------------------------

    @property
    def blocks(self) -> tuple[str, ...]:
        return BLOCKS[self.settings.measurement]

    @property
    def samples_per_notification(self) -> int:
        return self.settings.samples_per_notification or max(1, self.settings.sample_rate_hz // 13)

    def message_size(self, samples: int) -> int:
        """Bytes of a whole DATA message (header included) holding `samples` samples."""
        return HEADER_SIZE + TIMESTAMP_SIZE + samples * len(self.blocks) * 12

    def subscribe_command(self) -> bytes:
        path = resource_path(self.settings.measurement, self.settings.sample_rate_hz)
        return build_subscribe(self.settings.client_ref, path)

    def unsubscribe_command(self) -> bytes:
        return build_unsubscribe(self.settings.client_ref)

    def hello_command(self) -> bytes:
        return build_hello(self.settings.client_ref)

    # --- decoding ------------------------------------------------------------------------

    def _event(self, kind: EventKind, message: str, **data: object) -> Event:
        return Event(self._last_t_ns, kind, message, self.stream, dict(data))

    def _bad(self, result: DecodeResult, message: str, payload: bytes) -> None:
        result.bad_packets += 1
        result.events.append(self._event(EventKind.BAD_PACKET, message, hex=payload[:32].hex()))

    def decode(self, batch: NotificationBatch) -> DecodeResult:
        """Reassemble DATA (+ DATA_PART2) messages of our client ref, then decode them at once."""
        result = DecodeResult()
        framed = self._frame_regular(batch)
        if framed is None:
            framed = self._frame_each(batch, result)
        else:
            self._orphans = False  # a plain stream starts with a DATA
        joined, sizes, arrivals = framed
        if sizes:
            self._decode_messages(joined, sizes, arrivals, result)
        return result

    def _frame_regular(self, batch: NotificationBatch) -> Framed | None:
        """Framing of a plain data stream in a few numpy steps, or None if it is not one.

        Plain: only our DATA / DATA_PART2 notifications, each split message closed by its
        last part, nothing pending from the previous batch. Anything else (command results,
        other subscriptions, broken sequences) goes through `_frame_each`, whose one-by-one
        rules this reproduces.
        """
        lengths = batch.lengths
        if self._pending is not None or len(batch) == 0 or lengths.min() < HEADER_SIZE:
            return None
        limit = self.settings.att_mtu - 3
        whole = self.message_size(self.samples_per_notification)
        raw = np.frombuffer(batch.data, dtype=np.uint8)
        starts = batch.offsets[:-1]
        kinds = raw[starts]
        is_part = kinds == Response.DATA_PART2
        if (
            np.any(raw[starts + 1] != self.settings.client_ref)
            or kinds[0] != Response.DATA
            or np.any((kinds != Response.DATA) & ~is_part)
        ):
            return None
        group = np.cumsum(~is_part) - 1  # the message each notification belongs to
        group_first = np.flatnonzero(~is_part)
        group_last = np.append(group_first[1:] - 1, len(batch) - 1)
        is_split = (lengths[group_first] == limit) & (whole > limit)
        kept = np.where(is_part, lengths - HEADER_SIZE, lengths)
        running = np.cumsum(kept)
        so_far = running - (running[group_first] - kept[group_first])[group]
        completes = is_part & ((lengths < limit) | (so_far >= whole))
        last_in_group = np.zeros(len(batch), dtype=bool)
        last_in_group[group_last] = True
        sizes = np.add.reduceat(kept, group_first)
        if not (
            np.array_equal(completes, is_part & last_in_group)
            and np.all(is_split[group[is_part]])
            and np.all(completes[group_last[is_split]])
            and np.all(sizes[is_split] <= whole)
        ):
            return None
        keep = np.ones(raw.shape[0], dtype=bool)
        keep[(starts[is_part][:, None] + np.arange(HEADER_SIZE)).reshape(-1)] = False
        return raw[keep].tobytes(), sizes.tolist(), batch.host_t_ns[group_last].tolist()

    def _frame_each(self, batch: NotificationBatch, result: DecodeResult) -> Framed:
        """One notification at a time: command results, other refs, broken sequences."""
        ref = self.settings.client_ref
        limit = self.settings.att_mtu - 3
        whole = self.message_size(self.samples_per_notification)
        data = batch.data
        view = memoryview(data)
        pieces: list[memoryview] = []  # bytes of the messages, in order
        sizes: list[int] = []
        arrivals: list[int] = []  # of each message's last part
        pending, pending_size, pending_arrival = self._pending, *self._pending_end
        orphans = self._orphans
        for (start, end), arrival in zip(
            itertools.pairwise(batch.offsets.tolist()), batch.host_t_ns.tolist(), strict=True
        ):
            size = end - start
            kind = data[start] if size >= HEADER_SIZE else -1
            if kind == Response.DATA and data[start + 1] == ref:
                orphans = False
                if pending is not None:  # a new message ends the pending one
                    pieces.extend(pending)
                    sizes.append(pending_size)
                    arrivals.append(pending_arrival)
                    pending = None
                if size == limit and whole > limit:
                    pending, pending_size, pending_arrival = [view[start:end]], size, arrival
                else:
                    pieces.append(view[start:end])
                    sizes.append(size)
                    arrivals.append(arrival)
            elif kind == Response.DATA_PART2 and data[start + 1] == ref:
                if pending is None:  # its message is reported once, by its first orphan part
                    if not orphans:
                        self._bad(
                            result,
                            "GSP DATA_PART2 without its first part (the rest "
                            "of its message is dropped with it)",
                            data[start:end],
                        )
                    orphans = True
                    continue
                pending.append(view[start + HEADER_SIZE : end])
                pending_size += size - HEADER_SIZE
                pending_arrival = arrival
                if pending_size > whole:  # the parts ran past the message: not ours to guess
                    message, orphans = b"".join(pending), True
                    self._bad(
                        result,
                        f"GSP message parts add up to {pending_size} bytes, a "
                        f"whole message is {whole}",
                        message,
                    )
                    pending = None
                elif size < limit or pending_size == whole:
                    pieces.extend(pending)
                    sizes.append(pending_size)
                    arrivals.append(pending_arrival)
                    pending = None
            elif kind == Response.COMMAND_RESULT:
                self._command_result(data[start:end], result)
            elif kind not in (Response.DATA, Response.DATA_PART2):
                self._bad(result, f"GSP notification of {size} bytes, type {kind}", data[start:end])
            # else: data of another subscription (client ref)
        self._pending, self._pending_end = pending, (pending_size, pending_arrival)
        self._orphans = orphans
        return b"".join(pieces), sizes, arrivals

    def _command_result(self, payload: bytes, result: DecodeResult) -> None:
        try:
            reply = parse_command_result(payload)
        except ValueError as error:
            self._bad(result, str(error), payload)
            return
        if reply.status is None:
            message = f"GSP ref {reply.client_ref}: {reply.text}"
        else:
            message = f"GSP ref {reply.client_ref}: status {reply.status}"
        result.events.append(
            self._event(
                EventKind.CONTROL,
                message,
                client_ref=reply.client_ref,
                status=reply.status,
                text=reply.text,
            )
        )

    def _decode_messages(
        self, joined: bytes, sizes: list[int], arrivals: list[int], result: DecodeResult
    ) -> None:
        """Messages laid end to end -> one block (numpy over the whole batch).

        A message that is not a timestamp plus whole samples (cut off, wrong resource), holds
        a float that is not a number or a time off the sensor's clock is a bad packet; the
        others decode.
        """
        lengths = np.array(sizes, dtype=np.int64)
        arrival = np.array(arrivals, dtype=np.int64)
        message_start = np.cumsum(lengths) - lengths
        body = lengths - HEADER_SIZE - TIMESTAMP_SIZE
        whole_samples = (body > 0) & (body % (len(self.blocks) * 12) == 0)
        if not whole_samples.all():
            for i in np.flatnonzero(~whole_samples):
                message = joined[message_start[i] : message_start[i] + lengths[i]]
                self._bad(
                    result,
                    f"GSP DATA message with {body[i]} bytes after the timestamp, not whole "
                    f"{self.settings.measurement} samples (a DATA_PART2 lost?)",
                    message,
                )
            joined = b"".join(
                joined[message_start[i] : message_start[i] + lengths[i]]
                for i in np.flatnonzero(whole_samples)
            )
            lengths, arrival = lengths[whole_samples], arrival[whole_samples]
            message_start = np.cumsum(lengths) - lengths
            if not joined:
                return
        raw = np.frombuffer(joined, dtype=np.uint8)
        counts = (lengths - HEADER_SIZE - TIMESTAMP_SIZE) // (len(self.blocks) * 12)
        first_sample = np.cumsum(counts) - counts
        total = int(counts.sum())
        ts_ms = np.empty(lengths.shape[0], dtype=np.int64)
        channels = {c: np.empty((total, 3), dtype=np.float64) for c in self.blocks}
        for count in np.unique(counts):
            rows = np.flatnonzero(counts == count)
            size = int(lengths[rows[0]])
            if rows.shape[0] == lengths.shape[0]:  # the usual case: one message size
                table = raw.reshape(-1, size)
            else:
                table = raw[message_start[rows][:, None] + np.arange(size)]
            ts_ms[rows] = (
                table[:, HEADER_SIZE : HEADER_SIZE + TIMESTAMP_SIZE].copy().view("<u4")[:, 0]
            )
            floats = table[:, HEADER_SIZE + TIMESTAMP_SIZE :].copy().view("<f4")
            floats = floats.reshape(rows.shape[0], len(self.blocks), count, 3)
            target = (first_sample[rows][:, None] + np.arange(count)).reshape(-1)
            for number, channel in enumerate(self.blocks):
                with np.errstate(invalid="ignore"):  # NaN bit patterns in a corrupt message
                    values = floats[:, number].reshape(-1, 3).astype(np.float64)
                channels[channel][target] = values * _TO_PROJECT_UNIT[channel]
        # The uint32 ms clock wraps after 49.7 days: count on from the last good message.
        reference = self._last_ts_ms if self._last_ts_ms >= 0 else int(ts_ms[0])
        step = (ts_ms - reference + TIMESTAMP_WRAP // 2) % TIMESTAMP_WRAP - TIMESTAMP_WRAP // 2
        ts_ms = reference + step
        period_ns = 1e9 / self.settings.sample_rate_hz
        message_of_sample = np.repeat(np.arange(lengths.shape[0]), counts)
        index_in_message = np.arange(total) - first_sample[message_of_sample]
        t_ns = ts_ms[message_of_sample] * 1_000_000 + np.rint(index_in_message * period_ns).astype(
            np.int64
        )
        keep = np.ones(lengths.shape[0], dtype=bool)
        for values in channels.values():
            keep &= ~packets_with(non_finite(values), message_of_sample, keep.shape[0])
        on_clock = self._guard.accept(ts_ms[keep] * 1_000_000, arrival[keep])
        for i, reason in [
            *((i, "a value that is not a finite number") for i in np.flatnonzero(~keep)),
            *((i, "a time off the sensor's clock") for i in np.flatnonzero(keep)[~on_clock]),
        ]:
            message = joined[message_start[i] : message_start[i] + lengths[i]]
            self._bad(result, f"GSP DATA message with {reason}", message)
        keep[keep] = on_clock
        if not keep.any():
            return
        if not keep.all():
            in_kept = keep[message_of_sample]
            t_ns, channels = t_ns[in_kept], {c: v[in_kept] for c, v in channels.items()}
            ts_ms, counts = ts_ms[keep], counts[keep]
        previous = np.concatenate([[self._last_ts_ms], ts_ms[:-1]])
        previous_count = np.concatenate([[self._last_count], counts[:-1]])
        clock = (
            ts_ms * 1_000_000,
            np.where(previous >= 0, previous * 1_000_000, 0),
            previous_count * period_ns,
            period_ns,
        )
        label = f"Movesense {self.settings.measurement}"
        result.events.extend(clock_events(*clock, self.stream, label))
        self._keep_time_running(t_ns, np.cumsum(counts) - counts, clock_steps(*clock)[0])
        self._last_ts_ms = int(ts_ms[-1])
        self._last_count = int(counts[-1])
        self._last_t_ns = int(t_ns[-1])
        result.blocks.append(SampleBlock(t_ns=t_ns, stream=self.stream, **channels))

    def _keep_time_running(
        self, t_ns: np.ndarray, first_sample: np.ndarray, reset: np.ndarray
    ) -> None:
        """Sample times never step back except where the clock reset (reported).

        A message's time is its first sample's in whole ms, so a corrupt but plausible time
        could overlap its neighbours; times are held at the latest one given instead.
        """
        bounds = [0, *first_sample[reset].tolist(), t_ns.shape[0]]
        for start, stop in itertools.pairwise(bounds):
            timeline = t_ns[start:stop]
            if start == 0 and not reset[0]:
                np.maximum(timeline, self._last_t_ns, out=timeline)
            np.maximum.accumulate(timeline, out=timeline)

    # --- encoding ------------------------------------------------------------------------

    def encode(self, block: SampleBlock) -> list[Notification]:
        """DATA messages of `samples_per_notification` samples, split to the ATT MTU.

        The timestamp is the first sample's time in whole ms (uint32, wrapping like the
        sensor's); host_t_ns of each notification is the message's last sample time.
        """
        missing = [c for c in self.blocks if getattr(block, c) is None]
        if missing:
            raise ValueError(f"{self.settings.measurement} needs channels {missing}")
        step = self.samples_per_notification
        out: list[Notification] = []
        for start in range(0, len(block), step):
            stop = min(start + step, len(block))
            ts_ms = (int(block.t_ns[start]) // 1_000_000) & 0xFFFFFFFF
            body = b"".join(
                (getattr(block, c)[start:stop] / _TO_PROJECT_UNIT[c]).astype("<f4").tobytes()
                for c in self.blocks
            )
            payload = ts_ms.to_bytes(TIMESTAMP_SIZE, "little") + body
            host_t_ns = int(block.t_ns[stop - 1])
            out.extend(
                Notification(GSP_DATA_UUID, part, host_t_ns)
                for part in split_data_message(
                    self.settings.client_ref, payload, self.settings.att_mtu
                )
            )
        return out
