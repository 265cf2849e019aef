"""Files and permissions: recordings, exports and the history database are created 0600 in 0700
folders whatever the umask; an existing output is replaced only with --force, and a symlink there
is never written through; paths found inside files are never opened.

What we do with folders that already exist (docs/recording-format.md, "Files and folders"):
the monitor's own folders (the data folder, its recordings/ and exports/) are tightened to 0700
when they are ours to change; a folder the user chose (an export's or a recording's) keeps its
mode, and the files the monitor puts in it are 0600 all the same.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor import paths
from monitor.cli import main
from monitor.session.history import open_history
from monitor.session.recording import RecordingHeader, RecordingWriter, StreamInfo, read_recording
from tests.conftest import REPO_ROOT

RECORDING = REPO_ROOT / "recordings" / "witmotion_wt901ble_pelvic_tilt.mrec"
SUMMARY_FORMATS = ("json", "csv", "md", "html")
ALL_FORMATS = (*SUMMARY_FORMATS, "samples-csv")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@contextlib.contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def header() -> RecordingHeader:
    return RecordingHeader(
        streams=[StreamInfo.for_profile("back", "p", 'id = "p"\n', device_name="X")]
    )


def export(fmt: str, out: Path, *extra: str) -> int:
    return main(["export", str(RECORDING), "--format", fmt, "-o", str(out), *extra])


# ---- modes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o077])
def test_recording_and_every_new_folder_are_private_whatever_the_umask(tmp_path, mask):
    """`mkdir -p` would give the parent folders the umask's mode: every one is 0700."""
    path = tmp_path / "a" / "b" / "c" / "session.mrec"
    with umask(mask), RecordingWriter(path, header(), flush_interval_s=None):
        pass
    assert mode(path) == 0o600
    for folder in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"):
        assert mode(folder) == 0o700, folder
    assert sorted(os.listdir(path.parent)) == ["session.mrec"]  # no temporary file left


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_every_export_format_is_private_under_umask_0(tmp_path, fmt, capsys):
    out = tmp_path / "new" / f"session.{fmt}"
    with umask(0):
        assert export(fmt, out) == 0
    assert mode(out) == 0o600 and mode(out.parent) == 0o700
    assert sorted(os.listdir(out.parent)) == [out.name]


def test_report_and_history_database_are_private_under_umask_0(tmp_path, capsys):
    with umask(0):
        assert export("json", tmp_path / "s.json") == 0
        assert main(["report", "-o", str(tmp_path / "deep" / "report.html")]) == 0
        with open_history() as history:  # open: the write-ahead log files are there too
            database = history.path
            files = sorted(database.parent.glob(f"{database.name}*"))
            modes = {p.name: mode(p) for p in files}
    assert mode(tmp_path / "deep" / "report.html") == 0o600
    assert mode(tmp_path / "deep") == 0o700
    assert len(modes) == 3 and set(modes.values()) == {0o600}, modes
    assert mode(database.parent) == 0o700


def test_existing_folders_the_user_chose_keep_their_mode(tmp_path, capsys):
    folder = tmp_path / "shared-with-my-therapist"
    folder.mkdir()
    os.chmod(folder, 0o755)
    assert export("html", folder / "s.html") == 0
    with RecordingWriter(folder / "s.mrec", header(), flush_interval_s=None):
        pass
    assert mode(folder) == 0o755
    assert mode(folder / "s.html") == 0o600 and mode(folder / "s.mrec") == 0o600


def test_the_monitors_own_folders_are_tightened(tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "recordings").mkdir(parents=True)
    os.chmod(data, 0o755)
    os.chmod(data / "recordings", 0o775)
    monkeypatch.setenv("MONITOR_DATA_DIR", str(data))
    assert paths.recordings_dir() == data / "recordings"
    assert paths.exports_dir() == data / "exports"
    assert {mode(data), mode(data / "recordings"), mode(data / "exports")} == {0o700}


def test_a_shared_sticky_folder_is_never_tightened(tmp_path, monkeypatch):
    """MONITOR_DATA_DIR pointing at a /tmp-like folder: the monitor must not lock others out."""
    shared = tmp_path / "tmp"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    monkeypatch.setenv("MONITOR_DATA_DIR", str(shared))
    assert paths.data_dir() == shared
    assert mode(shared) == 0o1777
    assert mode(paths.recordings_dir()) == 0o700  # what it creates inside is private


# ---- no overwriting, no following ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_export_refuses_to_overwrite_without_force(tmp_path, fmt, capsys):
    out = tmp_path / f"mine.{fmt}"
    out.write_text("the user's own file\n", encoding="utf-8")
    os.chmod(out, 0o644)
    before = out.stat().st_mtime_ns
    assert export(fmt, out) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and str(out) in err[0] and "already exists; use --force" in err[0]
    assert out.read_text(encoding="utf-8") == "the user's own file\n"
    assert out.stat().st_mtime_ns == before
    assert export(fmt, out, "--force") == 0
    assert out.read_text(encoding="utf-8") != "the user's own file\n"
    assert mode(out) == 0o600  # replaced by a new private file, not rewritten in place
    assert sorted(os.listdir(tmp_path)) == [out.name]


def test_report_refuses_to_overwrite_without_force(tmp_path, capsys):
    out = tmp_path / "report.html"
    out.write_text("keep me", encoding="utf-8")
    assert main(["report", "-o", str(out)]) == 2
    assert "already exists; use --force" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "keep me"
    assert main(["report", "-o", str(out), "--force"]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize("dangling", [False, True], ids=["to a file", "dangling"])
def test_a_symlink_at_the_output_is_not_followed(tmp_path, fmt, dangling, capsys):
    """Without --force the link is refused; with it the link itself is replaced. The file it
    points at is never written (nor created, for a dangling link)."""
    victim = tmp_path / "victim" / ".bashrc"
    victim.parent.mkdir()
    if not dangling:
        victim.write_text("export PATH=...\n", encoding="utf-8")
    link = tmp_path / f"out.{fmt}"
    link.symlink_to(victim)
    assert export(fmt, link) == 2
    assert "already exists; use --force" in capsys.readouterr().err
    assert export(fmt, link, "--force") == 0
    assert not link.is_symlink() and mode(link) == 0o600
    if dangling:
        assert not victim.exists()
    else:
        assert victim.read_text(encoding="utf-8") == "export PATH=...\n"


@pytest.mark.parametrize("exclusive", [True, False])
def test_a_symlink_at_a_recording_path_is_not_followed(tmp_path, exclusive):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    link = tmp_path / "s.mrec"
    link.symlink_to(victim)
    if exclusive:
        with pytest.raises(Exception, match="already exists, not overwritten"):
            RecordingWriter(link, header(), flush_interval_s=None)
        assert link.is_symlink()
    else:  # `monitor simulate --force`: the link is replaced by the recording
        with RecordingWriter(link, header(), flush_interval_s=None, exclusive=False):
            pass
        assert not link.is_symlink() and read_recording(link).header.streams[0].name == "back"
    assert victim.read_text(encoding="utf-8") == "precious"


def test_simulate_does_not_write_through_a_dangling_symlink(tmp_path, capsys):
    victim = tmp_path / "not-yet-there"
    link = tmp_path / "sim.mrec"
    link.symlink_to(victim)
    code = main(["simulate", "--profile", "witmotion_wt901ble", "--reps", "1", "-o", str(link)])
    assert code == 2 and "already exists" in capsys.readouterr().err
    assert not victim.exists()


# ---- paths inside files -------------------------------------------------------------------------


def with_header(tmp_path: Path, **fields: object) -> Path:
    """The sample recording with some header fields replaced."""
    recording = read_recording(RECORDING)
    path = tmp_path / "edited.mrec"
    edited = recording.header.model_copy(update=fields)
    with RecordingWriter(path, edited, flush_interval_s=None) as writer:
        for i in range(len(recording)):
            channel = recording.channels[recording.channel[i]]
            data = recording.data[recording.offsets[i] : recording.offsets[i + 1]]
            writer.write_notification(
                channel.stream, channel.characteristic, data, int(recording.host_t_ns[i])
            )
    return path


def test_a_program_path_in_a_recording_header_is_not_opened(tmp_path, capsys):
    """The header's program is a name. Were it opened as a path, a file could make the monitor
    read any other file; here it names a valid program, which must not be used."""
    program = REPO_ROOT / "monitor" / "analysis" / "data" / "programs" / "low_back_starter.toml"
    assert program.is_file()
    recorded = with_header(tmp_path, exercise="", program=str(program))
    out = tmp_path / "s.json"
    assert main(["export", str(recorded), "--format", "json", "-o", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["session"]["program"] is None
    assert f"recorded with the program {str(program)!r}" in capsys.readouterr().err


@pytest.mark.parametrize("exercise", ["../../../etc/passwd", str(RECORDING)])
def test_an_exercise_in_a_recording_header_is_an_id_not_a_path(tmp_path, exercise, capsys):
    recorded = with_header(tmp_path, exercise=exercise)
    assert main(["analyze", str(recorded), "--no-history"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and f"unknown exercise {exercise!r}" in err[0]


def test_a_profile_copy_naming_a_module_is_not_imported(tmp_path, capsys):
    """The profile copied into the header names its codec from a registry: a module path
    there is an unknown codec, never an import."""
    original = read_recording(RECORDING).header.streams[0]
    assert original.profile_toml.count('codec = "witmotion"') == 1
    profile = original.profile_toml.replace('codec = "witmotion"', 'codec = "os.system"')
    stream = StreamInfo.for_profile(original.name, original.profile_id, profile)
    recorded = with_header(tmp_path, streams=[stream])
    assert main(["replay", str(recorded), "--no-tui", "--speed", "max"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and str(recorded) in err[0] and "os.system" in err[0], err


def test_a_recording_path_in_the_history_must_match_its_digest(tmp_path, capsys):
    """`export ID --format samples-csv` reads the file the history names only if it is the file
    that was analysed: a database pointing elsewhere cannot make it read (and echo) any file."""
    copy = tmp_path / "session.mrec"
    copy.write_bytes(RECORDING.read_bytes())
    assert main(["analyze", str(copy)]) == 0
    with open_history() as history:
        (stored,) = history.sessions()
        database = history.path
    other = tmp_path / "secret.csv"
    other.write_text("time_s,acc_x_mps2\nsecret line\n", encoding="utf-8")
    with contextlib.closing(sqlite3.connect(database)) as conn:
        conn.execute("UPDATE sessions SET recording_path = ?", (str(other),))
        conn.commit()
    out = tmp_path / "samples.csv"
    capsys.readouterr()
    assert main(["export", str(stored.id), "--format", "samples-csv", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "is not the file that was analysed" in err and "secret line" not in err
    assert not out.exists()
    with contextlib.closing(sqlite3.connect(database)) as conn:
        conn.execute("UPDATE sessions SET recording_path = ?", (str(copy),))
        conn.commit()
    assert main(["export", str(stored.id), "--format", "samples-csv", "-o", str(out)]) == 0


def test_without_hard_links_outputs_are_still_exclusive_and_private(tmp_path, monkeypatch, capsys):
    """FAT has no hard links (link() fails with EPERM): a new output is then created in place
    with O_EXCL, still 0600, still refusing what exists, still no temporary file left."""

    def no_links(*args: object, **kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    out = tmp_path / "s.json"
    with umask(0):
        assert export("json", out) == 0
        assert export("json", out) == 2
    assert "already exists; use --force" in capsys.readouterr().err
    assert mode(out) == 0o600 and json.loads(out.read_text(encoding="utf-8"))["session"]
    with RecordingWriter(tmp_path / "s.mrec", header(), flush_interval_s=None) as writer:
        writer.write_notification("back", "2a37", b"\x01", 5)
    assert len(read_recording(tmp_path / "s.mrec")) == 1
    assert sorted(os.listdir(tmp_path)) == ["s.json", "s.mrec"]


@pytest.mark.parametrize("force", [(), ("--force",)], ids=["plain", "force"])
def test_an_output_that_is_a_folder_or_under_a_file(tmp_path, force, capsys):
    folder = tmp_path / "out.json"
    (folder / "inside").mkdir(parents=True)
    assert export("json", folder, *force) == 2
    problem = "already exists; use --force" if not force else "Is a directory"
    assert problem in capsys.readouterr().err
    assert sorted(os.listdir(folder)) == ["inside"]
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("mine", encoding="utf-8")
    assert export("json", not_a_folder / "s.json", *force) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and str(not_a_folder / "s.json") in err[0]
    assert not_a_folder.read_text(encoding="utf-8") == "mine"
    assert sorted(os.listdir(tmp_path)) == ["notes.txt", "out.json"]
