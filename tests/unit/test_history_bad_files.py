"""A bad history database through the real command line (`monitor history`, `report`, `analyze`,
`export ID`): one line naming the database and the problem, exit 2, no traceback, and the
database files are left exactly as they were (a newer schema included: not even its journal mode
is changed)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor import paths
from monitor.cli import main
from monitor.session import history as history_module
from monitor.session.history import DB_NAME, SCHEMA_VERSION, open_history
from monitor.session.summary import load_summary
from tests.conftest import REPO_ROOT

GOLDEN = REPO_ROOT / "tests" / "data" / "golden" / "session.json"
RECORDING = REPO_ROOT / "recordings" / "witmotion_wt901ble_pelvic_tilt.mrec"


def database() -> Path:
    return paths.data_dir() / DB_NAME


def stored_sessions(count: int) -> Path:
    """A good database with `count` sessions, a day apart."""
    sample = load_summary(GOLDEN.read_text(encoding="utf-8"))
    with open_history(database()) as history:
        for day in range(count):
            start = datetime(2026, 11, 1, 8, tzinfo=UTC) + timedelta(days=day)
            history.record(
                sample.model_copy(
                    update={"session": sample.session.model_copy(update={"start": start})}
                )
            )
    return database()


def verbs(tmp_path: Path) -> list[list[str]]:
    """Every verb that opens the history (analyze and export store the analysed file)."""
    return [
        ["history"],
        ["history", "--json"],
        ["report", "-o", str(tmp_path / "report.html")],
        ["analyze", str(RECORDING)],
        ["export", str(RECORDING), "--format", "md", "-o", str(tmp_path / "s.md")],
        ["export", "1", "--format", "json", "-o", str(tmp_path / "s.json")],
    ]


def files_of(folder: Path) -> dict[str, tuple[int, bytes | None]]:
    out = {}
    for path in sorted(folder.iterdir()):
        readable = path.is_file() and os.access(path, os.R_OK)
        out[path.name] = (path.stat().st_mtime_ns, path.read_bytes() if readable else None)
    return out


def assert_each_verb_fails(tmp_path: Path, capsys, problem: str) -> None:
    data = paths.data_dir()
    before = files_of(data), files_of(tmp_path)
    for argv in verbs(tmp_path):
        capsys.readouterr()
        code = main(argv)
        captured = capsys.readouterr()
        lines = captured.err.splitlines()
        assert code == 2, (argv, captured)
        assert len(lines) == 1 and lines[0].startswith("monitor: error: "), (argv, captured.err)
        assert f"history database {database()}" in lines[0] and problem in lines[0], lines[0]
        assert (files_of(data), files_of(tmp_path)) == before, argv  # nothing written


def write_text(path: Path) -> None:
    path.write_text("id,start\n1,2026-11-01\n" * 200, encoding="utf-8")


def write_garbage(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 64)


def write_newer(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY, future TEXT)")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 7}")
        conn.commit()


def damage_pages(path: Path) -> None:
    stored_sessions(40)
    data = bytearray(path.read_bytes())
    page = 4096
    data[page:] = b"\x55" * (len(data) - page)  # the schema page stays, the tables go
    path.write_bytes(bytes(data))


def cut_in_half(path: Path) -> None:
    stored_sessions(40)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


BAD_DATABASES: list = [
    pytest.param(write_text, "is unreadable: file is not a database", id="a text file"),
    pytest.param(write_garbage, "is unreadable: file is not a database", id="binary garbage"),
    pytest.param(write_newer, f"is schema version {SCHEMA_VERSION + 7}", id="newer schema"),
    pytest.param(damage_pages, "database disk image is malformed", id="damaged pages"),
    pytest.param(cut_in_half, "database disk image is malformed", id="cut in half"),
    pytest.param(lambda p: p.mkdir(), "cannot be opened: Is a directory", id="a folder"),
]


@pytest.mark.parametrize(("make", "problem"), BAD_DATABASES)
def test_bad_database_is_one_line_and_left_alone(
    make: Callable[[Path], None], problem: str, tmp_path, capsys
):
    path = database()
    make(path)
    for leftover in path.parent.glob(f"{DB_NAME}-*"):  # a closed database has no journal left
        leftover.unlink()
    assert_each_verb_fails(tmp_path, capsys, problem)


def test_newer_schema_is_refused_byte_for_byte_untouched(tmp_path, capsys):
    path = database()
    write_newer(path)
    before = path.read_bytes()
    assert main(["history"]) == 2
    assert "update the monitor" in capsys.readouterr().err
    assert path.read_bytes() == before  # a rollback-journal database: still one (not WAL)
    assert sorted(p.name for p in path.parent.iterdir()) == [DB_NAME]


def test_an_unreadable_database(tmp_path, capsys, monkeypatch):
    """Mode 000 (run as `nobody` when the tests run as root, who would read it anyway)."""
    stored_sessions(2)
    assert main(["history"]) == 0  # every module the verbs import is loaded
    with tempfile.TemporaryDirectory() as shared:
        folder = Path(shared)
        os.chmod(folder, 0o711)  # anyone may pass: only the database's own mode stops them
        path = folder / DB_NAME
        path.write_bytes(database().read_bytes())
        os.chmod(path, 0)
        monkeypatch.setenv("MONITOR_DATA_DIR", str(folder))
        capsys.readouterr()
        if os.geteuid() == 0:
            os.seteuid(65534)
        try:
            code = main(["history"])
        finally:
            if os.getuid() == 0:
                os.seteuid(0)
        err = capsys.readouterr().err.splitlines()
        assert code == 2 and len(err) == 1, err
        assert f"history database {path} cannot be opened: Permission denied" in err[0]
        assert sorted(os.listdir(folder)) == [DB_NAME]


@contextlib.contextmanager
def lock_holder(path: Path, statement: str) -> Iterator[None]:
    """Another process holding a lock on the database until the block ends."""
    script = (
        "import sqlite3, sys\n"
        f"conn = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
        f"for sql in {statement!r}.split(';'): conn.execute(sql)\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == b"locked\n"
        yield
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)


def test_a_database_locked_by_another_process(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(history_module, "BUSY_TIMEOUT_MS", 200)
    stored_sessions(3)
    with lock_holder(database(), "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE"):
        assert_each_verb_fails(tmp_path, capsys, "is locked by another process")


def test_reading_goes_on_while_another_process_writes(tmp_path, capsys, monkeypatch):
    """Write-ahead logging: `history` and `report` read while another monitor holds the write
    lock; storing a session waits, then says the database is busy, and stores nothing."""
    monkeypatch.setattr(history_module, "BUSY_TIMEOUT_MS", 200)
    stored_sessions(3)
    with lock_holder(database(), "BEGIN IMMEDIATE"):
        assert main(["history", "--json"]) == 0
        assert '"session_count": 3' in capsys.readouterr().out
        assert main(["report", "-o", str(tmp_path / "r.html")]) == 0
        capsys.readouterr()
        assert main(["analyze", str(RECORDING)]) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and "is locked by another process" in err[0]
    with open_history() as history:
        assert len(history.sessions()) == 3


def test_a_row_that_does_not_validate(tmp_path, capsys):
    path = stored_sessions(2)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("UPDATE sessions SET summary_json = '{\"session\": 1}' WHERE id = 2")
        conn.execute("UPDATE exercise_results SET sets_done = 'many' WHERE session_id = 1")
        conn.commit()
    for argv in (
        ["export", "2", "--format", "json", "-o", str(tmp_path / "s.json")],
        ["history"],
    ):
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and f"history database {path} holds an invalid row" in err[0], err
    assert not (tmp_path / "s.json").exists()


def test_an_empty_file_becomes_a_new_database(tmp_path, capsys):
    """Zero bytes is what a crash right after creating the database leaves: SQLite reads it as
    an empty database, so the monitor sets it up and goes on."""
    database().write_bytes(b"")
    assert main(["analyze", str(RECORDING)]) == 0
    with open_history() as history:
        assert len(history.sessions()) == 1
