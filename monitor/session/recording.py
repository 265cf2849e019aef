"""The canonical recording: a raw, append-only, crash-safe log of sensor notifications and events.

Layout (all integers little-endian; docs/recording-format.md is the full description):

    preamble  MAGIC, u16 format version, u16 flags (0), u32 header length,
              header JSON (RecordingHeader), u32 crc32 of the header JSON
    chunk*    b"MRCK", u32 entry count n, u32 payload bytes, u32 crc32(index), u32 crc32(payload),
              u32 crc32 of the 20 bytes before it,
              index: int64[n] host time ns, uint16[n] channel, uint32[n] payload length,
              payload: the n payloads concatenated

A channel is a (stream, characteristic) pair; it is declared by a CHANNEL_DEFINITION entry
(JSON payload) before its first notification. EVENT entries carry an Event as JSON. Everything
else is a notification: its payload is the bytes exactly as received.

The writer buffers entries and writes one chunk per flush (twice a second, then fsync),
so a crash loses at most the last second; the reader recovers a torn last chunk entry by entry
as far as its index is whole. Reading is a few numpy calls per chunk, never one per notification.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from monitor import __version__
from monitor.core import Event, EventKind, NotificationBatch
from monitor.errors import InputFileError, MonitorError
from monitor.paths import open_private

MAGIC = b"\x89MRC\r\n\x1a\n"  # high bit, CR LF and ^Z catch text-mode and 7-bit mangling
FORMAT_VERSION = 1
SUFFIX = ".mrec"

_PREAMBLE = struct.Struct("<8sHHI")  # magic, version, flags, header length
_CRC = struct.Struct("<I")
_CHUNK_MAGIC = b"MRCK"
_CHUNK = struct.Struct("<4sIIIII")  # magic, n, payload bytes, index crc, payload crc, header crc
_INDEX_BYTES_PER_ENTRY = 8 + 2 + 4
_MAX_HEADER_BYTES = 16 * 1024 * 1024

CHANNEL_DEFINITION = 0xFFFE
EVENT = 0xFFFF
MAX_CHANNELS = 0xFFF0


class StreamInfo(BaseModel):
    """One sensor of a session: its profile (a full copy, so the recording decodes on its own)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    profile_id: str
    profile_stream: str = ""  # the profile's stream used; "" = the profile's first stream
    profile_toml: str
    profile_sha256: str
    settings: dict[str, Any] = Field(default_factory=dict)  # codec settings in force
    device_name: str = ""
    device_address: str = ""

    @model_validator(mode="after")
    def _profile_hash_matches(self) -> StreamInfo:
        actual = profile_sha256(self.profile_toml)
        if actual != self.profile_sha256:
            raise ValueError(
                f"stream {self.name!r}: profile_sha256 {self.profile_sha256} does not match the "
                f"profile text ({actual})"
            )
        return self

    @classmethod
    def for_profile(
        cls, name: str, profile_id: str, profile_toml: str, **fields: Any
    ) -> StreamInfo:
        return cls(
            name=name,
            profile_id=profile_id,
            profile_toml=profile_toml,
            profile_sha256=profile_sha256(profile_toml),
            **fields,
        )


class RecordingHeader(BaseModel):
    """What a recording needs to be understood later, without the app that made it."""

    model_config = ConfigDict(extra="forbid")

    format_version: int = FORMAT_VERSION
    app_version: str = __version__
    start_utc: datetime = Field(default_factory=lambda: datetime.now(UTC))
    exercise: str = ""
    program: str = ""
    note: str = ""
    streams: list[StreamInfo] = Field(min_length=1)

    @model_validator(mode="after")
    def _stream_names_unique(self) -> RecordingHeader:
        names = [s.name for s in self.streams]
        if len(set(names)) != len(names):
            raise ValueError(f"stream names must be unique, got {names}")
        return self

    def stream(self, name: str) -> StreamInfo:
        for info in self.streams:
            if info.name == name:
                return info
        raise KeyError(name)


def profile_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _encode_chunk(host_t_ns: list[int], channel: list[int], payloads: list[bytes]) -> bytes:
    times = np.asarray(host_t_ns, dtype="<i8")
    channels = np.asarray(channel, dtype="<u2")
    lengths = np.fromiter(map(len, payloads), dtype="<u4", count=len(payloads))
    index = times.tobytes() + channels.tobytes() + lengths.tobytes()
    payload = b"".join(payloads)
    head = struct.pack(
        "<4sIIII", _CHUNK_MAGIC, len(payloads), len(payload), zlib.crc32(index), zlib.crc32(payload)
    )
    return head + _CRC.pack(zlib.crc32(head)) + index + payload


class RecordingWriter:
    """Append-only writer; use as a context manager.

    Entries are buffered and written as one chunk per flush followed by fsync. A background
    thread flushes every `flush_interval_s` (so a quiet sensor cannot leave entries unwritten;
    0.5 s keeps a crash's loss under the promised second even when a flush is slow),
    and a full buffer (`max_chunk_entries`) is flushed at once. `flush_interval_s=None` (batch
    writers such as the simulator) flushes only when the buffer is full and on close.
    """

    def __init__(
        self,
        path: Path | str,
        header: RecordingHeader,
        *,
        flush_interval_s: float | None = 0.5,
        max_chunk_entries: int = 16384,
        exclusive: bool = True,
    ) -> None:
        self.path = Path(path)
        self.header = header
        self._max_entries = max_chunk_entries
        self._streams = {s.name for s in header.streams}
        self._channels: dict[tuple[str, str], int] = {}
        self._times: list[int] = []
        self._channel_ids: list[int] = []
        self._payloads: list[bytes] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._error: MonitorError | None = None
        header_json = header.model_dump_json().encode("utf-8")
        preamble = (
            _PREAMBLE.pack(MAGIC, FORMAT_VERSION, 0, len(header_json))
            + header_json
            + _CRC.pack(zlib.crc32(header_json))
        )
        try:  # the file appears with its whole preamble, or not at all
            self._file = open_private(self.path, preamble, exclusive=exclusive)
        except FileExistsError:
            raise MonitorError(f"{self.path}: already exists, not overwritten") from None
        except OSError as error:
            raise MonitorError(f"{self.path}: cannot create: {error.strerror or error}") from None
        self._thread: threading.Thread | None = None
        if flush_interval_s is not None:
            self._thread = threading.Thread(
                target=self._flush_periodically, args=(flush_interval_s,), daemon=True
            )
            self._thread.start()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def write_notification(
        self, stream: str, characteristic: str, data: bytes, host_t_ns: int | None = None
    ) -> None:
        """Log one notification exactly as received on `stream`'s `characteristic`."""
        key = (stream, characteristic.lower())
        t_ns = _now_ns() if host_t_ns is None else host_t_ns
        with self._lock:
            channel = self._channels.get(key)
            if channel is None:
                channel = self._define_channel(key, t_ns)
            self._append(t_ns, channel, bytes(data))

    def write_notifications(self, stream: str, batch: NotificationBatch) -> None:
        """Log a batch (simulator, tests) as the notifications it holds."""
        for i, payload in enumerate(batch.payloads()):
            self.write_notification(stream, batch.characteristic, payload, int(batch.host_t_ns[i]))

    def write_event(self, event: Event, host_t_ns: int | None = None) -> None:
        payload = json.dumps(event.to_json(), separators=(",", ":")).encode("utf-8")
        with self._lock:
            self._append(_now_ns() if host_t_ns is None else host_t_ns, EVENT, payload)

    def flush(self) -> None:
        """Write buffered entries as one chunk and fsync."""
        with self._lock:
            self._write_chunk()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            try:
                self._write_chunk()
            finally:
                self._file.close()

    def _define_channel(self, key: tuple[str, str], t_ns: int) -> int:
        stream, characteristic = key
        if stream not in self._streams:
            raise ValueError(f"stream {stream!r} is not in the recording header")
        if len(self._channels) >= MAX_CHANNELS:
            raise ValueError("too many channels in one recording")
        channel = len(self._channels)
        self._channels[key] = channel
        definition = {"channel": channel, "stream": stream, "characteristic": characteristic}
        self._append(t_ns, CHANNEL_DEFINITION, json.dumps(definition).encode("utf-8"))
        return channel

    def _append(self, host_t_ns: int, channel: int, payload: bytes) -> None:
        if self._error is not None:
            raise self._error
        if self._file.closed:
            raise ValueError(f"{self.path}: recording is closed")
        self._times.append(host_t_ns)
        self._channel_ids.append(channel)
        self._payloads.append(payload)
        if len(self._payloads) >= self._max_entries:
            self._write_chunk()

    def _write_chunk(self) -> None:
        if self._error is not None:
            raise self._error
        if not self._payloads or self._file.closed:
            return
        chunk = _encode_chunk(self._times, self._channel_ids, self._payloads)
        self._times, self._channel_ids, self._payloads = [], [], []
        self._write(chunk)

    def _write(self, data: bytes) -> None:
        """Append and fsync; after a failure (disk full...) nothing more is written, so the
        file stays readable up to its last whole chunk, and every later call says why."""
        try:
            self._file.write(data)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as error:
            self._error = MonitorError(
                f"{self.path}: recording stopped, cannot write: {error.strerror or error}"
            )
            raise self._error from None

    def _flush_periodically(self, interval_s: float) -> None:
        while not self._closed.wait(interval_s):
            try:
                self.flush()
            except MonitorError:
                return  # kept in self._error: the next write or close reports it


def _now_ns() -> int:
    return time.time_ns()


@dataclass(frozen=True, slots=True)
class Channel:
    stream: str
    characteristic: str


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event and where it happened: before notification `position` (index in arrival order)."""

    host_t_ns: int
    position: int
    event: Event


@dataclass(slots=True)
class Recording:
    """A recording read back: every notification in arrival order, plus events.

    Notification i came on channel `channels[channel[i]]` at `host_t_ns[i]`; its bytes are
    `data[offsets[i]:offsets[i + 1]]`.
    """

    path: Path
    header: RecordingHeader
    channels: list[Channel]
    host_t_ns: NDArray[np.int64]
    channel: NDArray[np.uint16]
    data: bytes
    offsets: NDArray[np.int64]
    events: list[RecordedEvent] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.host_t_ns.shape[0])

    @property
    def stream_names(self) -> list[str]:
        return [s.name for s in self.header.streams]

    def batches(
        self, stream: str, start: int = 0, stop: int | None = None
    ) -> list[NotificationBatch]:
        """Notifications `start:stop` of `stream`, one batch per characteristic (arrival order)."""
        stop = len(self) if stop is None else stop
        channel = self.channel[start:stop]
        out = []
        for channel_id, info in enumerate(self.channels):
            if info.stream != stream:
                continue
            positions = np.flatnonzero(channel == channel_id) + start
            if positions.size:
                out.append(self._gather(info.characteristic, positions))
        return out

    def segments(self, window_ns: int) -> Iterator[tuple[int, int, list[RecordedEvent]]]:
        """Split the notifications into `(start, stop, events_before_start)` pieces.

        Pieces end at multiples of `window_ns` of host time and at every event, so a consumer
        handles each event exactly between the notifications it was recorded between. The
        split depends only on the recording and `window_ns`, never on pacing.
        """
        n = len(self)
        if n:
            times = np.maximum.accumulate(self.host_t_ns)
            edges = np.arange(times[0] - times[0] % window_ns + window_ns, times[-1] + 1, window_ns)
            cuts = set(np.searchsorted(times, edges, side="left").tolist())
        else:
            cuts = set()
        cuts.update(e.position for e in self.events)
        cuts.update((0, n))
        bounds = sorted(c for c in cuts if 0 <= c <= n)
        by_position: dict[int, list[RecordedEvent]] = {}
        for event in self.events:
            by_position.setdefault(event.position, []).append(event)
        for start, stop in zip(bounds, [*bounds[1:], None], strict=True):
            events = by_position.get(start, [])
            if stop is None:
                if events:
                    yield start, start, events
                continue
            if stop > start or events:
                yield start, stop, events

    def _gather(self, characteristic: str, positions: NDArray[np.int64]) -> NotificationBatch:
        starts = self.offsets[positions]
        lengths = self.offsets[positions + 1] - starts
        offsets = np.zeros(positions.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        first, last = int(positions[0]), int(positions[-1])
        if last - first + 1 == positions.size:  # contiguous: one slice, no copy by index
            data = self.data[self.offsets[first] : self.offsets[last + 1]]
        else:
            data = _gather_bytes(self.data, starts, lengths, offsets)
        return NotificationBatch(
            characteristic=characteristic,
            host_t_ns=self.host_t_ns[positions],
            data=data,
            offsets=offsets,
        )


def read_recording(path: Path | str) -> Recording:
    """Read a `.mrec` file. A torn tail is recovered with a warning; anything else that is
    wrong raises InputFileError naming the file, the byte offset and the problem."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            _Reader(path, handle.read(_PREAMBLE.size)).check_preamble()  # before reading it all
            handle.seek(0)
            buffer = handle.read()
    except OSError as error:
        raise InputFileError(f"{path}: cannot read recording: {error.strerror or error}") from None
    return _Reader(path, buffer).read()


class _Reader:
    def __init__(self, path: Path, buffer: bytes) -> None:
        self.path = path
        self.buffer = buffer
        self.warnings: list[str] = []

    def fail(self, where: int | str, problem: str) -> InputFileError:
        """`where` is a byte offset or a description such as "entry 12"."""
        location = f"byte {where}" if isinstance(where, int) else where
        return InputFileError(f"{self.path}: {problem} ({location})")

    def read(self) -> Recording:
        header, position = self._read_header()
        pieces = [p for p in self._read_chunks(position) if p[2]]
        u8 = np.frombuffer(self.buffer, dtype=np.uint8)

        def column(offset_per_n: int, width: int, dtype: str) -> np.ndarray:
            parts = [
                u8[s + offset_per_n * n : s + offset_per_n * n + width * k] for s, n, k, _ in pieces
            ]
            return np.concatenate(parts).view(dtype) if parts else np.empty(0, dtype=dtype)

        times = column(0, 8, "<i8")
        channel = column(8, 2, "<u2")
        lengths = column(10, 4, "<u4").astype(np.int64)
        if pieces:
            firsts = np.cumsum([0] + [k for _, _, k, _ in pieces[:-1]])
            sums = np.add.reduceat(lengths, firsts)
            wrong = np.flatnonzero(sums != [len(p[3]) for p in pieces])
            if wrong.size:
                where = pieces[int(wrong[0])][0]
                raise self.fail(where, "chunk payload lengths do not add up (corrupt)")
        data = b"".join(p[3] for p in pieces)
        offsets = np.zeros(lengths.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return self._build(header, times, channel, data, offsets)

    def check_preamble(self) -> int:
        """Magic, version and header length (needs only the first bytes); the header length."""
        buffer = self.buffer
        if not buffer:
            raise self.fail(0, "empty file, not a recording")
        if not buffer.startswith(MAGIC[: len(buffer)]):
            raise self.fail(0, "not a monitor recording (wrong magic bytes)")
        if len(buffer) < _PREAMBLE.size:
            raise self.fail(len(buffer), "file ends inside the recording preamble")
        _, version, _flags, header_length = _PREAMBLE.unpack_from(buffer)
        if version != FORMAT_VERSION:
            raise self.fail(
                8,
                f"recording format version {version} is not supported (this monitor reads "
                f"version {FORMAT_VERSION})",
            )
        if header_length > _MAX_HEADER_BYTES:
            raise self.fail(12, f"header length {header_length} is implausible (corrupt file)")
        return header_length

    def _read_header(self) -> tuple[RecordingHeader, int]:
        buffer = self.buffer
        header_length = self.check_preamble()
        end = _PREAMBLE.size + header_length + _CRC.size
        if len(buffer) < end:
            raise self.fail(len(buffer), "file ends inside the recording header")
        header_json = buffer[_PREAMBLE.size : end - _CRC.size]
        (crc,) = _CRC.unpack_from(buffer, end - _CRC.size)
        if crc != zlib.crc32(header_json):
            raise self.fail(_PREAMBLE.size, "recording header fails its checksum (corrupt)")
        try:
            header_json.decode("utf-8")
        except UnicodeDecodeError as error:
            raise self.fail(_PREAMBLE.size + error.start, "recording header is not UTF-8") from None
        try:
            header = RecordingHeader.model_validate_json(header_json)
        except ValidationError as error:
            detail = error.errors()[0]
            where = ".".join(str(p) for p in detail["loc"]) or "header"
            problem = f"invalid recording header: {where}: {detail['msg']}"
            raise self.fail(_PREAMBLE.size, problem) from None
        return header, end

    def _read_chunks(self, position: int) -> Iterator[tuple[int, int, int, memoryview]]:
        """Per chunk: where its index starts, its entry count, how many entries are whole,
        and its payload bytes (of the whole entries)."""
        buffer = self.buffer
        view = memoryview(buffer)
        size = len(buffer)
        while position < size:
            if size - position < _CHUNK.size:
                self._torn(position, "the last chunk header is cut off")
                return
            magic, n, payload_bytes, index_crc, payload_crc, head_crc = _CHUNK.unpack_from(
                buffer, position
            )
            if magic != _CHUNK_MAGIC or head_crc != zlib.crc32(view[position : position + 20]):
                if not buffer[position:].strip(b"\0"):
                    self._torn(position, "the file ends in zero bytes (unfinished write)")
                    return
                raise self.fail(position, "corrupt chunk header")
            index_start = position + _CHUNK.size
            payload_start = index_start + n * _INDEX_BYTES_PER_ENTRY
            end = payload_start + payload_bytes
            if end > size:
                yield self._torn_chunk(position, n, payload_start, index_crc)
                return
            if zlib.crc32(view[index_start:payload_start]) != index_crc:
                raise self.fail(index_start, "chunk index fails its checksum (corrupt)")
            if zlib.crc32(view[payload_start:end]) != payload_crc:
                raise self.fail(payload_start, "chunk payload fails its checksum (corrupt)")
            yield index_start, n, n, view[payload_start:end]
            position = end

    def _torn_chunk(
        self, position: int, n: int, payload_start: int, index_crc: int
    ) -> tuple[int, int, int, memoryview]:
        """The last chunk was cut off: keep the entries whose index and bytes are all there."""
        index_start = position + _CHUNK.size
        buffer = self.buffer
        index = memoryview(buffer)[index_start:payload_start]
        if payload_start > len(buffer) or zlib.crc32(index) != index_crc:
            self._torn(position, f"the last chunk ({n} entries) is cut off inside its index")
            return index_start, n, 0, memoryview(b"")
        lengths = np.frombuffer(buffer, dtype="<u4", count=n, offset=index_start + 10 * n)
        ends = np.cumsum(lengths, dtype=np.int64)
        whole = int(np.searchsorted(ends, len(buffer) - payload_start, side="right"))
        self._torn(position, f"the last chunk is cut off: kept {whole} of its {n} entries")
        kept = int(ends[whole - 1]) if whole else 0
        return index_start, n, whole, memoryview(buffer)[payload_start : payload_start + kept]

    def _torn(self, position: int, what: str) -> None:
        self.warnings.append(
            f"{self.path}: recording was not closed cleanly, {what} (byte {position}); "
            "read up to the last whole entry"
        )

    def _build(
        self,
        header: RecordingHeader,
        times: np.ndarray,
        channel: np.ndarray,
        data: bytes,
        offsets: np.ndarray,
    ) -> Recording:
        special = np.flatnonzero(channel >= CHANNEL_DEFINITION)
        channels: list[Channel] = []
        events: list[RecordedEvent] = []
        streams = {s.name for s in header.streams}
        for removed, entry in enumerate(special.tolist()):
            payload = data[offsets[entry] : offsets[entry + 1]]
            position = entry - removed  # notifications before this entry
            if channel[entry] == EVENT:  # an annotation: a bad one costs only itself
                try:
                    event = _event_from_json(json.loads(payload))
                except (ValueError, KeyError, TypeError) as error:
                    self.warnings.append(
                        f"{self.path}: event entry {entry} unreadable ({error}); skipped"
                    )
                    continue
                events.append(RecordedEvent(int(times[entry]), position, event))
                continue
            try:
                record = json.loads(payload)
                if record["channel"] != len(channels) or record["stream"] not in streams:
                    raise ValueError("channel definitions out of order")
                channels.append(Channel(record["stream"], str(record["characteristic"])))
            except (ValueError, KeyError, TypeError) as error:
                raise self.fail(f"entry {entry}", f"invalid channel definition ({error})") from None
        keep = np.ones(times.size, dtype=bool)
        keep[special] = False
        notification_channel = channel[keep]
        if notification_channel.size and int(notification_channel.max()) >= len(channels):
            raise self.fail("index", "a notification refers to an undeclared channel (corrupt)")
        if special.size:  # cut the few special entries out of the payload bytes
            bounds = [0, *[x for e in special.tolist() for x in (offsets[e], offsets[e + 1])]]
            bounds.append(offsets[-1])
            data = b"".join(
                memoryview(data)[int(a) : int(b)]
                for a, b in zip(bounds[::2], bounds[1::2], strict=True)
            )
            lengths = np.diff(offsets)[keep]
            offsets = np.zeros(lengths.size + 1, dtype=np.int64)
            np.cumsum(lengths, out=offsets[1:])
        return Recording(
            path=self.path,
            header=header,
            channels=channels,
            host_t_ns=np.ascontiguousarray(times[keep], dtype=np.int64),
            channel=np.ascontiguousarray(notification_channel, dtype=np.uint16),
            data=data,
            offsets=offsets,
            events=events,
            warnings=self.warnings,
        )


def _event_from_json(record: dict[str, Any]) -> Event:
    kind_name = str(record["kind"])
    data = record.get("data") or {}
    if not isinstance(data, dict):
        raise TypeError(f"its data is a {type(data).__name__}, not an object")
    data = dict(data)
    try:
        kind = EventKind(kind_name)
    except ValueError:  # written by a newer monitor: keep it, visibly
        kind = EventKind.INFO
        data["recorded_kind"] = kind_name
    return Event(
        t_ns=int(record["t_ns"]),
        kind=kind,
        message=str(record.get("message", "")),
        stream=str(record.get("stream", "")),
        data=data,
    )


def _gather_bytes(
    data: bytes, starts: NDArray[np.int64], lengths: NDArray[np.int64], offsets: NDArray[np.int64]
) -> bytes:
    """Payloads `data[starts[i]:starts[i] + lengths[i]]`, concatenated, with numpy."""
    size = int(lengths[0])
    fixed = bool((lengths == size).all())
    if fixed and size and not (starts % size).any():  # on a grid of their size: one row each
        records = np.frombuffer(data, dtype=f"V{size}", count=len(data) // size)
        return records[starts // size].tobytes()
    source = np.frombuffer(data, dtype=np.uint8)
    if fixed:
        return source[starts[:, None] + np.arange(size)].tobytes()
    return source[np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])].tobytes()
