"""Recording format: round trip, crash safety (truncation at every byte), bad files."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from monitor.core import Event, EventKind
from monitor.errors import InputFileError, MonitorError
from monitor.session.recording import (
    MAGIC,
    RecordingHeader,
    RecordingWriter,
    StreamInfo,
    read_recording,
)

ACC = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
GYRO = "555a0002-0012-467a-9538-01f0652c74e8"
PROFILE_TEXT = 'id = "test-profile"\nname = "Test"\n'


def make_header(*names: str) -> RecordingHeader:
    return RecordingHeader(
        exercise="bridge",
        streams=[
            StreamInfo.for_profile(
                name, "test-profile", PROFILE_TEXT, settings={"range_g": 8}, device_name="X"
            )
            for name in names or ("back",)
        ],
    )


def write_sample(path: Path, chunks: int = 3) -> list[tuple]:
    """Write a small recording, one chunk per loop turn; return the entries in write order."""
    entries: list[tuple] = []
    with RecordingWriter(path, make_header("back", "thigh"), flush_interval_s=None) as writer:
        t = 1_000
        for chunk in range(chunks):
            for i in range(4):
                stream, char = (("back", ACC), ("thigh", ACC), ("back", GYRO))[i % 3]
                payload = bytes([chunk, i]) * (i + 1)
                writer.write_notification(stream, char, payload, t)
                entries.append(("n", stream, char, payload, t))
                t += 10
            event = Event(t, EventKind.MARKER, f"mark {chunk}", "back", {"n": chunk})
            writer.write_event(event, t)
            entries.append(("e", event, t))
            writer.flush()
    return entries


def notifications_of(recording) -> list[tuple]:
    out = []
    for i in range(len(recording)):
        info = recording.channels[recording.channel[i]]
        payload = recording.data[recording.offsets[i] : recording.offsets[i + 1]]
        out.append(("n", info.stream, info.characteristic, payload, int(recording.host_t_ns[i])))
    return out


def test_round_trip_keeps_header_order_bytes_and_events(tmp_path: Path) -> None:
    path = tmp_path / "s.mrec"
    entries = write_sample(path)
    recording = read_recording(path)
    assert recording.warnings == []
    assert recording.header == make_header("back", "thigh").model_copy(
        update={"start_utc": recording.header.start_utc}
    )
    assert notifications_of(recording) == [e for e in entries if e[0] == "n"]
    assert [(r.event, r.host_t_ns) for r in recording.events] == [
        (e[1], e[2]) for e in entries if e[0] == "e"
    ]
    assert [r.position for r in recording.events] == [4, 8, 12]
    back = recording.batches("back")
    assert [b.characteristic for b in back] == [ACC, GYRO]
    acc_expected = [e for e in entries if e[0] == "n" and e[1] == "back" and e[2] == ACC]
    assert list(back[0].payloads()) == [e[3] for e in acc_expected]
    assert back[0].host_t_ns.tolist() == [e[4] for e in acc_expected]
    part = recording.batches("back", 4, 8)
    assert [len(b) for b in part] == [2, 1]


def test_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "s.mrec"
    with RecordingWriter(path, make_header(), flush_interval_s=None):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with pytest.raises(MonitorError, match="already exists, not overwritten"):
        RecordingWriter(path, make_header(), flush_interval_s=None)


def test_truncation_at_every_byte_reads_a_prefix(tmp_path: Path) -> None:
    path = tmp_path / "s.mrec"
    entries = write_sample(path)
    full = path.read_bytes()
    written = [e for e in entries if e[0] == "n"]
    boundaries = _chunk_boundaries(full)
    header_end = boundaries[0]
    cut_path = tmp_path / "cut.mrec"
    for cut in range(len(full) + 1):
        cut_path.write_bytes(full[:cut])
        if cut < header_end:
            with pytest.raises(InputFileError, match=r"cut\.mrec: .*\(byte \d+\)"):
                read_recording(cut_path)
            continue
        recording = read_recording(cut_path)
        got = notifications_of(recording)
        assert got == written[: len(got)], cut
        complete_chunks = sum(1 for b in boundaries[1:] if b <= cut)
        assert len(got) >= 4 * complete_chunks
        assert len(recording.events) >= complete_chunks
        assert all(r.position <= len(got) for r in recording.events)
        assert bool(recording.warnings) == (cut not in boundaries), cut
        if recording.warnings:
            assert "not closed cleanly" in recording.warnings[0]


def test_torn_chunk_is_recovered_entry_by_entry(tmp_path: Path) -> None:
    path = tmp_path / "s.mrec"
    write_sample(path, chunks=1)
    full = path.read_bytes()
    chunk_start = _chunk_boundaries(full)[0]
    n = int(np.frombuffer(full, "<u4", 1, chunk_start + 4)[0])
    lengths = np.frombuffer(full, "<u4", n, chunk_start + 24 + 10 * n)
    payload_start = chunk_start + 24 + 14 * n
    # entries: def(back ACC), n, def(thigh ACC), n, ...: cut one byte into the 4th payload
    cut = payload_start + int(lengths[:3].sum()) + 1
    (tmp_path / "cut.mrec").write_bytes(full[:cut])
    recording = read_recording(tmp_path / "cut.mrec")
    assert [c.stream for c in recording.channels] == ["back", "thigh"]
    assert len(recording) == 1
    assert f"kept 3 of its {n} entries" in recording.warnings[0]


def _chunk_boundaries(full: bytes) -> list[int]:
    """Byte offsets where the header ends and where each chunk ends."""
    import struct

    (header_length,) = struct.unpack_from("<I", full, 12)
    position = 16 + header_length + 4
    bounds = [position]
    while position < len(full):
        _, n, payload, *_ = struct.unpack_from("<4sIIIII", full, position)
        position += 24 + 14 * n + payload
        bounds.append(position)
    return bounds


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty file"),
        (b"time_s,acc_x_mps2\n0,1\n", "not a monitor recording"),
        (os.urandom(64), "not a monitor recording"),
        (MAGIC + b"\x02\x00\x00\x00\x10\x00\x00\x00", "format version 2 is not supported"),
        (MAGIC + b"\x01\x00\x00\x00\xff\xff\xff\xff", "implausible"),
        (MAGIC + b"\x01\x00\x00\x00\x02\x00\x00\x00{}\x00\x00\x00\x00", "checksum"),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "bad.mrec"
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=problem) as raised:
        read_recording(path)
    assert "\n" not in str(raised.value)
    assert str(path) in str(raised.value)


def test_invalid_header_json_names_the_field(tmp_path: Path) -> None:
    import struct
    import zlib

    body = b'{"streams": []}'
    path = tmp_path / "bad.mrec"
    path.write_bytes(
        MAGIC + struct.pack("<HHI", 1, 0, len(body)) + body + struct.pack("<I", zlib.crc32(body))
    )
    with pytest.raises(InputFileError, match="invalid recording header: streams"):
        read_recording(path)


def test_corruption_inside_the_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "s.mrec"
    write_sample(path)
    full = bytearray(path.read_bytes())
    boundaries = _chunk_boundaries(bytes(full))
    for offset, problem in ((boundaries[0] + 30, "index fails"), (boundaries[2] - 3, "payload")):
        damaged = bytearray(full)
        damaged[offset] ^= 0x40
        path.write_bytes(bytes(damaged))
        with pytest.raises(InputFileError, match=problem):
            read_recording(path)
    path.write_bytes(bytes(full) + b"garbage appended after the last chunk")
    with pytest.raises(InputFileError, match="corrupt chunk header"):
        read_recording(path)


def test_zero_filled_tail_is_a_torn_write(tmp_path: Path) -> None:
    path = tmp_path / "s.mrec"
    entries = write_sample(path)
    path.write_bytes(path.read_bytes() + bytes(4096))
    recording = read_recording(path)
    assert len(recording) == sum(1 for e in entries if e[0] == "n")
    assert "zero bytes" in recording.warnings[0]


def test_header_rejects_wrong_hash_and_unknown_stream(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="does not match"):
        StreamInfo(name="a", profile_id="p", profile_toml="x", profile_sha256="0" * 64)
    with (
        RecordingWriter(tmp_path / "s.mrec", make_header(), flush_interval_s=None) as writer,
        pytest.raises(ValueError, match="not in the recording header"),
    ):
        writer.write_notification("nope", ACC, b"\x00", 1)


def test_background_flush_puts_entries_on_disk_within_the_interval(tmp_path: Path) -> None:
    path = tmp_path / "s.mrec"
    writer = RecordingWriter(path, make_header(), flush_interval_s=0.05)
    try:
        writer.write_notification("back", ACC, b"\x01\x02", 5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(read_recording(path)) == 0:
            time.sleep(0.02)
        assert notifications_of(read_recording(path)) == [("n", "back", ACC, b"\x01\x02", 5)]
    finally:
        writer.close()


def test_segments_split_at_windows_and_events(tmp_path: Path) -> None:
    path = tmp_path / "s.mrec"
    write_sample(path)
    recording = read_recording(path)
    pieces = list(recording.segments(window_ns=25))
    assert pieces[0][0] == 0 and pieces[-1][1] == len(recording)
    covered = [i for start, stop, _ in pieces for i in range(start, stop)]
    assert covered == list(range(len(recording)))
    with_events = [
        (start, [e.event.message for e in events]) for start, _, events in pieces if events
    ]
    assert with_events == [(4, ["mark 0"]), (8, ["mark 1"]), (12, ["mark 2"])]
    for start, stop, _ in pieces:
        times = recording.host_t_ns[start:stop]
        assert times.size == 0 or (times[-1] // 25 == times[0] // 25)


def test_sigkilled_writer_leaves_a_readable_recording(tmp_path: Path) -> None:
    """A recorder killed mid-session loses at most about the last second."""
    path = tmp_path / "killed.mrec"
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_recording import make_header, ACC
        from monitor.session.recording import RecordingWriter
        writer = RecordingWriter({str(path)!r}, make_header(), flush_interval_s=0.1)
        print("ready", flush=True)
        while True:
            writer.write_notification("back", ACC, b"0123456789abcdef", time.time_ns())
            time.sleep(0.002)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == b"ready"
    time.sleep(1.0)
    killed_at = time.time_ns()
    process.send_signal(signal.SIGKILL)
    process.wait()
    recording = read_recording(path)
    assert len(recording) > 100
    assert killed_at - int(recording.host_t_ns[-1]) < 1_000_000_000
    assert np.all(np.diff(recording.host_t_ns) >= 0)


def test_same_entries_give_the_same_bytes(tmp_path: Path) -> None:
    header = make_header()
    contents = []
    for name in ("a.mrec", "b.mrec"):
        with RecordingWriter(tmp_path / name, header, flush_interval_s=None) as writer:
            writer.write_notification("back", ACC, b"\x01", 10)
            writer.write_event(Event(11, EventKind.CONNECT, "connected", "back"), 11)
            writer.write_notification("back", GYRO, b"\x02", 12)
        contents.append((tmp_path / name).read_bytes())
    assert contents[0] == contents[1]


@pytest.mark.parametrize(
    "sizes",
    [
        {ACC: 4, GYRO: 4},  # fixed size on a grid: one row per payload
        {ACC: 3, GYRO: 5},  # fixed size per characteristic, off the grid
        {ACC: None, GYRO: 2},  # varying sizes
    ],
)
def test_batches_gather_interleaved_payloads(tmp_path: Path, sizes: dict) -> None:
    rng = np.random.default_rng(1)
    sent: list[tuple[str, bytes]] = []
    with RecordingWriter(tmp_path / "s.mrec", make_header(), flush_interval_s=None) as writer:
        for i in range(200):
            char = ACC if rng.random() < 0.5 else GYRO
            size = sizes[char] or int(rng.integers(1, 30))
            payload = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
            writer.write_notification("back", char, payload, i)
            sent.append((char, payload))
    recording = read_recording(tmp_path / "s.mrec")
    for start, stop in ((0, 200), (10, 150), (37, 38)):
        batches = recording.batches("back", start, stop)
        expected = {
            char: [p for c, p in sent[start:stop] if c == char]
            for char in dict.fromkeys(c for c, _ in sent[start:stop])
        }
        assert {b.characteristic: list(b.payloads()) for b in batches} == expected


def test_a_failing_disk_stops_the_recording_with_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    path = tmp_path / "s.mrec"
    writer = RecordingWriter(path, make_header(), flush_interval_s=None)
    writer.write_notification("back", ACC, b"\x01", 1)
    writer.flush()

    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    writer.write_notification("back", ACC, b"\x02", 2)
    with pytest.raises(MonitorError, match="recording stopped, cannot write: No space left"):
        writer.flush()
    with pytest.raises(MonitorError, match="No space left"):
        writer.write_notification("back", ACC, b"\x03", 3)
    with pytest.raises(MonitorError, match="No space left"):
        writer.close()
    monkeypatch.undo()
    assert len(read_recording(path)) >= 1
