"""The history database: migrations, transactions, permissions, and the trend queries."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from monitor import paths
from monitor.errors import MonitorError
from monitor.session import history as history_module
from monitor.session.history import (
    MIGRATIONS,
    SCHEMA_VERSION,
    History,
    current_nudge,
    maintenance_nudge,
    open_history,
    overview,
)
from monitor.session.summary import ProgramRef, SessionSummary, load_summary

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "golden" / "session.json"


@pytest.fixture(scope="module")
def sample() -> SessionSummary:
    return load_summary(SAMPLE.read_text(encoding="utf-8"))


def at(sample: SessionSummary, start: datetime, per_week: float | None = 7) -> SessionSummary:
    """The sample session moved to `start`, with a program of `per_week` sessions."""
    program = ProgramRef(id="maintenance", sessions_per_week=per_week) if per_week else None
    meta = sample.session.model_copy(update={"start": start, "program": program})
    return sample.model_copy(update={"session": meta})


def test_fresh_database_is_private_and_at_the_latest_version(sample):
    with open_history() as history:
        history.record(sample)
        path = history.path
    assert path == paths.data_dir() / "history.sqlite3"
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    created = [p for p in path.parent.iterdir() if p.name.startswith("history.sqlite3")]
    assert created
    for file in created:  # the database and any journal SQLite left beside it
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_permissions_hold_under_a_permissive_umask(sample, tmp_path):
    old = os.umask(0)
    try:
        with open_history(tmp_path / "h" / "history.sqlite3") as history:
            history.record(sample)
            files = sorted(p.name for p in (tmp_path / "h").iterdir())
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "h").iterdir()}
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "h").stat().st_mode) == 0o700
    # While open, the write-ahead log and its index sit beside the database: private too.
    assert files == ["history.sqlite3", "history.sqlite3-shm", "history.sqlite3-wal"]
    assert set(modes.values()) == {0o600}, modes


def test_migrating_a_version_1_database_backfills_the_trend_tables(sample, tmp_path):
    """A database made by the v1 schema upgrades to the same rows a fresh one records."""
    tilt = sample.exercises[1]
    first_set = tilt.sets[0]
    reps = (first_set.reps[0].model_copy(update={"peak_angle_deg": -30.0}), *first_set.reps[1:])
    tilt = tilt.model_copy(update={"sets": (first_set.model_copy(update={"reps": reps}),)})
    sample = sample.model_copy(update={"exercises": (sample.exercises[0], tilt)})
    old_path = tmp_path / "old.sqlite3"
    with sqlite3.connect(old_path) as conn:
        conn.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
        conn.execute(
            "INSERT INTO sessions (started_at, duration_s, source, program_id, "
            "sessions_per_week, recording_path, input_digest, summary_json, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sample.session.start.isoformat(),
                sample.session.duration_s,
                sample.session.source,
                "maintenance-low-back",
                7.0,
                None,
                None,
                sample.to_json(),
                "2026-11-20T08:00:00+00:00",
            ),
        )
    with open_history(old_path) as migrated:
        upgraded = migrated.sessions()
    with open_history(tmp_path / "fresh.sqlite3") as fresh:
        fresh.record(sample)
        expected = fresh.sessions()
    assert upgraded == expected
    assert [r.exercise_id for r in upgraded[0].exercises] == [
        "knee_to_chest_single",
        "pelvic_tilt",
    ]
    assert upgraded[0].exercises[0].peak_angle_deg == 98.4
    assert upgraded[0].exercises[1].peak_angle_deg == 30.0  # to either side
    assert len(upgraded[0].warning_kinds) == len(sample.warnings)


def test_a_failing_migration_leaves_the_previous_version(sample, tmp_path, monkeypatch):
    path = tmp_path / "h.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
    broken = (MIGRATIONS[0], MIGRATIONS[1] + "\nINSERT INTO no_such_table VALUES (1);")
    monkeypatch.setattr(history_module, "MIGRATIONS", broken)
    with pytest.raises(MonitorError, match="no_such_table"):
        History(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "exercise_results" not in tables  # the half-applied step was rolled back


def test_newer_or_corrupt_databases_are_one_line_errors(tmp_path):
    newer = tmp_path / "newer.sqlite3"
    with sqlite3.connect(newer) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(MonitorError, match="update the monitor"):
        History(newer)
    corrupt = tmp_path / "corrupt.sqlite3"
    corrupt.write_bytes(b"this is not a database" * 100)
    with pytest.raises(MonitorError, match=r"corrupt\.sqlite3 is unreadable"):
        History(corrupt)


def test_a_crash_inside_a_write_loses_only_that_session(sample, tmp_path):
    """A process killed in the middle of `record` (after the session row, before the commit)
    leaves a consistent database holding exactly the sessions committed before."""
    path = tmp_path / "h.sqlite3"
    with open_history(path) as history:
        history.record(at(sample, datetime(2026, 11, 18, 7, tzinfo=UTC)))
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from monitor.session.history import History
        from monitor.session.summary import load_summary
        summary = load_summary(Path({str(SAMPLE)!r}).read_text())
        history = History(Path({str(path)!r}))
        real_executemany = history._conn.executemany
        def crash(sql, rows):
            real_executemany(sql, rows)
            if sql.startswith("INSERT INTO warnings"):
                os._exit(9)  # the power goes: no rollback, no close
        history._conn = type("C", (), {{
            "execute": history._conn.execute, "executemany": staticmethod(crash)}})()
        history.record(summary)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    assert result.returncode == 9
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with open_history(path) as history:
        stored = history.sessions()
    assert [s.start for s in stored] == [datetime(2026, 11, 18, 7, tzinfo=UTC)]
    with sqlite3.connect(path) as conn:
        orphans = conn.execute(
            "SELECT count(*) FROM exercise_results WHERE session_id NOT IN "
            "(SELECT id FROM sessions)"
        ).fetchone()[0]
    assert orphans == 0


def test_same_input_updates_one_session_and_points_at_the_recording(sample, tmp_path):
    recording = tmp_path / "session.mrec"
    recording.write_bytes(b"\x89MRC fake bytes")
    digest = history_module.file_digest(recording)
    with open_history() as history:
        first = history.record(sample, recording=recording, input_digest=digest)
        changed = at(sample, datetime(2026, 11, 21, 7, tzinfo=UTC))
        second = history.record(changed, recording=recording, input_digest=digest)
        assert first == second
        stored = history.sessions()
        assert len(stored) == 1 and stored[0].start.day == 21
        assert stored[0].recording_path == str(recording.resolve())
        assert len(stored[0].exercises) == 2  # children replaced, not duplicated
        summary, path = history.summary(first)
        assert summary == changed and path == recording.resolve()
        with pytest.raises(MonitorError, match="no session 99"):
            history.summary(99)


def test_filters_by_date_and_exercise(sample):
    only_tilt = sample.model_copy(update={"exercises": sample.exercises[1:]})
    with open_history() as history:
        history.record(at(sample, datetime(2026, 11, 10, 7, tzinfo=UTC)))
        history.record(at(only_tilt, datetime(2026, 11, 12, 7, tzinfo=UTC)))
        history.record(at(sample, datetime(2026, 11, 14, 7, tzinfo=UTC)))
        since = history.sessions(since=datetime(2026, 11, 11, tzinfo=UTC))
        knee = history.sessions(exercise="knee_to_chest_single")
    assert [s.start.day for s in since] == [12, 14]
    assert [s.start.day for s in knee] == [10, 14]
    assert all(len(s.exercises) == 1 for s in knee)


def _stored(sample, days: list[date], per_week: float | None = 3):
    with open_history() as history:
        for day in days:
            start = datetime(day.year, day.month, day.day, 7, tzinfo=UTC)
            history.record(at(sample, start, per_week))
        return history.sessions()


def test_weekly_counts_streaks_and_trends(sample):
    # Mon 2 Nov .. : week 1 three sessions, week 2 one, week 3 three (Mon-Wed), today Thu 19 Nov.
    days = [date(2026, 11, d) for d in (2, 4, 6, 10, 16, 17, 18)]
    sessions = _stored(sample, days)
    now = datetime(2026, 11, 19, 12, tzinfo=UTC)
    result = overview(sessions, now=now, tz=UTC)
    assert [(w.week_start.day, w.sessions, w.met) for w in result.weeks] == [
        (2, 3, True),
        (9, 1, False),
        (16, 3, True),
    ]
    assert [w.running for w in result.weeks] == [False, False, True]
    assert result.streaks.current_days == 3 and result.streaks.longest_days == 3
    assert result.streaks.current_weeks_met == 1
    knee = result.exercises[0]
    assert knee.exercise_id == "knee_to_chest_single"
    assert knee.sessions == 7 and knee.reps_done == 70 and knee.reps_prescribed == 70
    assert knee.holds_done == 7 * 9 and knee.holds_prescribed == 70
    assert knee.peak_angle_deg == (98.4,) * 7
    assert result.exercises[1].holds_prescribed is None  # pelvic tilt has no hold
    assert result.warnings_per_session == (len(sample.warnings),) * 7
    assert result.warnings_by_kind == {"hold_released_early": 7, "range_limit": 7, "too_fast": 14}
    assert result.nudge is None


def test_running_week_counts_once_met_and_empty_weeks_show(sample):
    days = [date(2026, 11, 2), date(2026, 11, 16), date(2026, 11, 17)]
    sessions = _stored(sample, days, per_week=2)
    result = overview(sessions, now=datetime(2026, 11, 18, tzinfo=UTC), tz=UTC)
    assert [(w.sessions, w.met) for w in result.weeks] == [(1, False), (0, False), (2, True)]
    assert result.streaks.current_weeks_met == 1


@pytest.mark.parametrize(
    ("per_week", "days_ago", "nudged"),
    [
        (7, 2, False),
        (7, 3, True),  # daily program, three days without a session
        (3, 3, False),
        (3, 4, True),
        (1, 8, False),
        (1, 9, True),
        (None, 30, False),  # no prescribed frequency: nothing to lapse
    ],
)
def test_maintenance_nudge_when_frequency_lapsed(per_week, days_ago, nudged):
    now = datetime(2026, 11, 24, 9, tzinfo=UTC)
    last = now - timedelta(days=days_ago, hours=1)
    message = maintenance_nudge(last, per_week, now=now, tz=UTC)
    assert (message is not None) == nudged
    if nudged:
        assert f"No session for {days_ago} days" in message


def test_start_screen_nudge_reads_without_creating(sample):
    path = paths.data_dir() / "history.sqlite3"
    assert current_nudge() is None and not path.exists()
    _stored(sample, [date(2026, 11, 1)], per_week=7)
    message = current_nudge(now=datetime(2026, 11, 24, tzinfo=UTC))
    assert message is not None and "daily sessions" in message


def test_weeks_start_at_the_first_session_even_for_an_early_since(sample):
    sessions = _stored(sample, [date(2026, 11, 10), date(2026, 11, 17)])
    now = datetime(2026, 11, 18, tzinfo=UTC)
    result = overview(sessions, now=now, tz=UTC, since=date(2000, 1, 1))
    assert [w.week_start for w in result.weeks] == [date(2026, 11, 9), date(2026, 11, 16)]
    assert overview([], now=now, tz=UTC, since=date(2000, 1, 1)).weeks == ()
