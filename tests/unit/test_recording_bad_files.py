"""Bad recordings through the real command line: `monitor replay`, `analyze` and `export` each
give one line naming the file and the problem, exit 2, no traceback, and change nothing on disk
(the input, an existing output, the history)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from monitor import paths
from monitor.cli import main
from monitor.session.recording import MAGIC
from tests.conftest import REPO_ROOT

SAMPLE = REPO_ROOT / "recordings" / "polar_verity_sense_knee_to_chest.mrec"
_PREAMBLE = struct.Struct("<8sHHI")


def split(recording: bytes) -> tuple[bytes, bytes]:
    """A recording's header JSON and everything after the header (its chunks)."""
    length = _PREAMBLE.unpack_from(recording)[3]
    header = recording[_PREAMBLE.size : _PREAMBLE.size + length]
    return header, recording[_PREAMBLE.size + length + 4 :]


def with_header(header: bytes, chunks: bytes = b"", version: int = 1) -> bytes:
    """A file with this header JSON (and a correct header CRC), then `chunks`."""
    return (
        _PREAMBLE.pack(MAGIC, version, 0, len(header))
        + header
        + struct.pack("<I", zlib.crc32(header))
        + chunks
    )


def edited_header(recording: bytes, edit: Callable[[dict], None]) -> bytes:
    header, chunks = split(recording)
    fields = json.loads(header)
    edit(fields)
    return with_header(json.dumps(fields).encode("utf-8"), chunks)


def first_chunk_at(recording: bytes) -> int:
    return _PREAMBLE.size + _PREAMBLE.unpack_from(recording)[3] + 4


def flipped(recording: bytes, offset: int) -> bytes:
    damaged = bytearray(recording)
    damaged[offset] ^= 0x20
    return bytes(damaged)


# Files that start with the recording magic: every verb reads them as recordings and must name
# the same problem. (name, content from the good sample, the problem the error line names)
RECORDING_CASES: list[tuple[str, Callable[[bytes], bytes], str]] = [
    ("cut in preamble", lambda r: r[:11], "file ends inside the recording preamble"),
    ("cut in header", lambda r: r[:300], "file ends inside the recording header"),
    ("version 2", lambda r: r[:8] + b"\x02\x00" + r[10:], "format version 2 is not supported"),
    (
        "version 65535",
        lambda r: r[:8] + b"\xff\xff" + r[10:],
        "format version 65535 is not supported",
    ),
    ("garbage after magic", lambda r: MAGIC + bytes(range(256)) * 8, "version 256 is not"),
    (
        "huge header length",
        lambda r: _PREAMBLE.pack(MAGIC, 1, 0, 0xFFFF_FFF0) + r[16:],
        "header length 4294967280 is implausible",
    ),
    ("header checksum", lambda r: flipped(r, 40), "header fails its checksum"),
    (
        "header in Latin-1",
        lambda r: with_header(split(r)[0].replace(b'"note":"', b'"note":"caf\xe9 ', 1)),
        r"recording header is not UTF-8 \(byte \d+\)",
    ),
    (
        "header in UTF-16",
        lambda r: with_header(split(r)[0].decode("utf-8").encode("utf-16"), split(r)[1]),
        "recording header is not UTF-8",
    ),
    (
        "header not JSON",
        lambda r: with_header(b"exercise = 'bridge'\n", split(r)[1]),
        "invalid recording header: header: Invalid JSON",
    ),
    ("header a list", lambda r: with_header(b"[1, 2]"), "header: Input should be an object"),
    (
        "header nested 100000 deep",
        lambda r: with_header(b"[" * 100_000 + b"]" * 100_000),
        "invalid recording header: header: Invalid JSON: recursion limit",
    ),
    (
        "header without streams",
        lambda r: edited_header(r, lambda h: h.pop("streams")),
        "invalid recording header: streams: Field required",
    ),
    (
        "header with an unknown field",
        lambda r: edited_header(r, lambda h: h.update(format_revision=3)),
        "invalid recording header: format_revision: Extra inputs are not permitted",
    ),
    (
        "profile copy edited",
        lambda r: edited_header(r, lambda h: h["streams"][0].update(profile_toml="id = 'x'")),
        "profile_sha256 .* does not match the profile text",
    ),
    ("chunk header damaged", lambda r: flipped(r, first_chunk_at(r) + 5), "corrupt chunk header"),
    ("chunk index damaged", lambda r: flipped(r, first_chunk_at(r) + 30), "index fails its"),
    ("payload damaged", lambda r: flipped(r, len(r) // 2), "fails its checksum"),
    ("garbage appended", lambda r: r + b"trailing text, not a chunk", "corrupt chunk header"),
]

# Files that are not recordings at all. `replay` names the recording problem; `analyze` and
# `export` tell inputs apart by content, so they report it as the input they took it for.
FOREIGN_CASES: list[tuple[str, Callable[[bytes], bytes], str]] = [
    ("empty", lambda r: b"", "empty file, not a recording"),
    ("wrong magic", lambda r: b"\x89MRX" + r[4:], "not a monitor recording"),
    ("binary garbage", lambda r: bytes(range(255, -1, -1)) * 64, "not a monitor recording"),
    ("zero bytes", lambda r: bytes(8192), "not a monitor recording"),
    ("a text file", lambda r: b"time_s,acc_x_mps2\n0,1\n", "not a monitor recording"),
]

VERBS = ("replay", "analyze", "export")


def good_argv(verb: str, path: Path, out: Path) -> list[str]:
    """A run expected to succeed, leaving the history alone."""
    return argv(verb, path, out, *(() if verb == "replay" else ("--no-history",)))


def argv(verb: str, path: Path, out: Path, *extra: str) -> list[str]:
    if verb == "replay":
        return ["replay", str(path), "--no-tui", "--speed", "max", *extra]
    if verb == "export":
        return ["export", str(path), "--format", "json", "-o", str(out), *extra]
    return [verb, str(path), *extra]


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under `folder`: its mtime and bytes."""
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def run_failing(verb: str, path: Path, tmp_path: Path, capsys, *extra: str) -> str:
    """Run `verb` on `path`; it must fail with one line naming the file and change nothing."""
    out = tmp_path / "out" / "summary.json"
    data = paths.data_dir()
    before = snapshot(tmp_path), snapshot(data)
    capsys.readouterr()
    code = main(argv(verb, path, out, *extra))
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert code == 2, captured
    assert len(lines) == 1 and lines[0].startswith("monitor: error: "), captured.err
    assert str(path) in lines[0]
    assert not out.exists()
    assert (snapshot(tmp_path), snapshot(data)) == before  # nothing written, nothing replaced
    return lines[0]


def cases(table: list[tuple[str, Callable[[bytes], bytes], str]]) -> list:
    return [pytest.param(make, problem, id=name) for name, make, problem in table]


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize(("make", "problem"), cases(RECORDING_CASES))
def test_bad_recording_is_one_line_naming_file_and_problem(verb, make, problem, tmp_path, capsys):
    path = tmp_path / "bad.mrec"
    path.write_bytes(make(SAMPLE.read_bytes()))
    line = run_failing(verb, path, tmp_path, capsys)
    assert re.search(problem, line), line


@pytest.mark.parametrize(("make", "problem"), cases(FOREIGN_CASES))
def test_files_that_are_not_recordings(make, problem, tmp_path, capsys):
    path = tmp_path / "not-a-recording.mrec"
    path.write_bytes(make(SAMPLE.read_bytes()))
    assert problem in run_failing("replay", path, tmp_path, capsys)
    for verb in ("analyze", "export"):
        line = run_failing(verb, path, tmp_path, capsys)
        assert len(line) > len(f"monitor: error: {path}: ") + 10  # a problem is named


def test_a_folder_instead_of_a_recording(tmp_path, capsys):
    path = tmp_path / "folder.mrec"
    path.mkdir()
    assert "Is a directory" in run_failing("replay", path, tmp_path, capsys)
    for verb in ("analyze", "export"):
        assert "is a directory" in run_failing(verb, path, tmp_path, capsys)


@contextlib.contextmanager
def unprivileged() -> Iterator[None]:
    """Root reads a mode-000 file anyway: act as `nobody` for the block (effective uid only,
    so root comes back afterwards)."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)


@pytest.mark.parametrize("verb", VERBS)
def test_an_unreadable_recording(verb, tmp_path, capsys):
    readable = tmp_path / "good.mrec"
    readable.write_bytes(SAMPLE.read_bytes())
    assert main(good_argv(verb, readable, tmp_path / "warm.json")) == 0  # lazy imports done
    with tempfile.TemporaryDirectory() as shared:
        folder = Path(shared)
        os.chmod(folder, 0o711)  # searchable by anyone: only the file's own mode stops them
        path = folder / "locked.mrec"
        path.write_bytes(SAMPLE.read_bytes())
        os.chmod(path, 0)
        capsys.readouterr()
        with unprivileged():
            code = main(argv(verb, path, folder / "out.json"))
        err = capsys.readouterr().err.splitlines()
        assert code == 2 and len(err) == 1, err
        assert str(path) in err[0] and "Permission denied" in err[0]
        assert sorted(os.listdir(folder)) == ["locked.mrec"]
        os.chmod(path, 0o600)
        assert path.read_bytes() == SAMPLE.read_bytes()


@pytest.mark.parametrize("verb", ("analyze", "export"))
def test_a_failing_input_keeps_an_existing_output_and_history(verb, tmp_path, capsys):
    """Even with --force, a bad input replaces nothing: the output is written only after the
    input has been read and analysed."""
    good = tmp_path / "good.mrec"
    good.write_bytes(SAMPLE.read_bytes())
    out = tmp_path / "out" / "summary.json"
    assert main(argv("export", good, out)) == 0  # one session in the history, and an output
    bad = tmp_path / "bad.mrec"
    bad.write_bytes(SAMPLE.read_bytes()[:300])
    before = snapshot(tmp_path), snapshot(paths.data_dir())
    capsys.readouterr()
    assert main(argv(verb, bad, out, "--force") if verb == "export" else argv(verb, bad, out)) == 2
    assert "file ends inside the recording header" in capsys.readouterr().err
    assert (snapshot(tmp_path), snapshot(paths.data_dir())) == before


def test_a_torn_recording_is_read_with_one_warning(tmp_path, capsys):
    """A recording cut inside a chunk (the recorder was killed) is not an error: what was
    written is used and the user is told, once, on one line."""
    path = tmp_path / "torn.mrec"
    full = SAMPLE.read_bytes()
    path.write_bytes(full[: len(full) - 5000])
    for verb in VERBS:
        capsys.readouterr()
        assert main(good_argv(verb, path, tmp_path / f"{verb}.json")) == 0
        captured = capsys.readouterr()
        text = captured.err if verb != "replay" else captured.out
        warnings = [line for line in text.splitlines() if "not closed cleanly" in line]
        assert len(warnings) == 1 and str(path) in warnings[0], text


def test_a_huge_but_valid_header_still_reads(tmp_path, capsys):
    """A 2 MB note is odd but valid: the header limit (16 MiB) is for corrupt lengths."""
    path = tmp_path / "long-note.mrec"
    path.write_bytes(edited_header(SAMPLE.read_bytes(), lambda h: h.update(note="x" * 2_000_000)))
    assert main(["replay", str(path), "--no-tui", "--speed", "max", "--json"]) == 0
    summary = [json.loads(line) for line in capsys.readouterr().out.splitlines()][-1]
    assert summary["type"] == "summary" and summary["samples"] > 1000


def test_a_bad_event_entry_costs_only_itself(tmp_path, capsys):
    """Events are annotations on the sensor data: one that cannot be read (its data not an
    object, or not JSON at all) is skipped with a warning; the recording still analyses."""
    from monitor.core import Event, EventKind
    from monitor.session.recording import EVENT, RecordingWriter
    from monitor.sources.motion import MotionScript, RepsSegment
    from monitor.sources.simulate import recording_header, simulate

    session = simulate(
        MotionScript(exercise="pelvic_tilt", segments=[RepsSegment(reps=3)]), "metamotion_r", 0
    )
    path = tmp_path / "odd-events.mrec"
    with RecordingWriter(path, recording_header(session), flush_interval_s=None) as writer:
        for k, (host_t_ns, entry) in enumerate(session.recorded()):
            if k == 10:
                odd = Event(host_t_ns, EventKind.MARKER, "odd", session.stream, [1, 2])  # type: ignore[arg-type]
                writer.write_event(odd, host_t_ns)
                writer._append(host_t_ns, EVENT, b"{not json")  # what a torn writer could leave
            if isinstance(entry, Event):
                writer.write_event(entry, host_t_ns)
            else:
                writer.write_notification(
                    session.stream, entry.characteristic, entry.data, host_t_ns
                )
    capsys.readouterr()
    assert main(["analyze", str(path), "--exercise", "pelvic_tilt", "--json", "--no-history"]) == 0
    captured = capsys.readouterr()
    skipped = [line for line in captured.err.splitlines() if "unreadable" in line]
    assert len(skipped) == 2 and all(str(path) in line for line in skipped), captured.err
    assert "not an object" in skipped[0]
    assert json.loads(captured.out)["rep_count"] == 3
