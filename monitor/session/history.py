"""The local history: every finished session, in SQLite under the user data directory.

Recordings stay files; a session row points at its recording and keeps the session summary as
JSON. The schema is versioned with `PRAGMA user_version` and upgraded by `MIGRATIONS`, each applied
in one transaction, so a crash (or a failing migration) leaves the previous version intact. Every
write is one transaction too. The database file is created 0600 inside the 0700 data directory;
SQLite gives its journal files the database file's permissions.

The trend queries (sessions per week against the prescribed frequency, streaks, reps and holds done
against prescribed, range of motion and warnings over time) are plain functions over the stored
rows, so the CLI, the TUI and the therapist report share them.
"""

from __future__ import annotations

import hashlib
import math
import os
import sqlite3
import stat
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from monitor import paths
from monitor.errors import MonitorError
from monitor.session.summary import SessionSummary

DB_NAME = "history.sqlite3"

# Index i upgrades a database from version i to version i + 1. Never edit a released entry:
# append a new one (and a test that upgrades a database made at the previous version).
MIGRATIONS: tuple[str, ...] = (
    # v1: one row per session, its summary kept whole as JSON.
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        duration_s REAL NOT NULL,
        source TEXT NOT NULL,
        program_id TEXT,
        sessions_per_week REAL,
        recording_path TEXT,
        input_digest TEXT UNIQUE,
        summary_json TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    );
    CREATE INDEX sessions_by_start ON sessions (started_at);
    """,
    # v2: per-exercise results and warnings as rows for the trend queries, backfilled from the
    # summaries already stored.
    """
    CREATE TABLE exercise_results (
        session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        exercise_id TEXT NOT NULL,
        name TEXT NOT NULL,
        sets_done INTEGER NOT NULL,
        sets_prescribed INTEGER,
        reps_done INTEGER NOT NULL,
        reps_prescribed INTEGER,
        holds_done INTEGER NOT NULL,
        hold_s_prescribed REAL,
        peak_angle_deg REAL,
        PRIMARY KEY (session_id, position)
    );
    CREATE INDEX exercise_results_by_exercise ON exercise_results (exercise_id);
    CREATE TABLE warnings (
        session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        t_s REAL NOT NULL,
        exercise_id TEXT
    );
    CREATE INDEX warnings_by_session ON warnings (session_id);
    INSERT INTO exercise_results
        SELECT s.id, e.key, e.value ->> '$.exercise_id', e.value ->> '$.name',
            e.value ->> '$.adherence.sets_done', e.value ->> '$.adherence.sets_prescribed',
            e.value ->> '$.adherence.reps_done', e.value ->> '$.adherence.reps_prescribed',
            e.value ->> '$.adherence.holds_done', e.value ->> '$.adherence.hold_s_prescribed',
            (SELECT max(abs(r.value ->> '$.peak_angle_deg'))
                FROM json_each(e.value, '$.sets') AS st, json_each(st.value, '$.reps') AS r)
        FROM sessions AS s, json_each(s.summary_json, '$.exercises') AS e;
    INSERT INTO warnings
        SELECT s.id, w.value ->> '$.kind', w.value ->> '$.t_s', w.value ->> '$.exercise_id'
        FROM sessions AS s, json_each(s.summary_json, '$.warnings') AS w;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def default_path() -> Path:
    return paths.data_dir() / DB_NAME


def file_digest(path: Path) -> str:
    """SHA-256 of a recording or CSV: the same input recorded twice updates one session."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True)


class ExerciseResult(_Row):
    exercise_id: str
    name: str
    sets_done: int
    sets_prescribed: int | None
    reps_done: int
    reps_prescribed: int | None
    holds_done: int
    hold_s_prescribed: float | None
    peak_angle_deg: float | None

    @property
    def holds_prescribed(self) -> int | None:
        """Holds asked for: every prescribed rep when the exercise has a hold time."""
        return self.reps_prescribed if self.hold_s_prescribed else None


class StoredSession(_Row):
    id: int
    start: datetime
    duration_s: float
    source: str
    program_id: str | None
    sessions_per_week: float | None
    recording_path: str | None
    exercises: tuple[ExerciseResult, ...]
    warning_kinds: tuple[str, ...]


class History:
    """The history database. Use as a context manager; `open_history()` is the usual way in."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self._conn = _connect(self.path)
        try:
            migrate(self._conn, self.path)
        except BaseException:
            self._conn.close()
            raise

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")  # waits up to BUSY_TIMEOUT_MS for other writers
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def record(
        self,
        summary: SessionSummary,
        *,
        recording: Path | None = None,
        input_digest: str | None = None,
    ) -> int:
        """Store a finished session in one transaction and return its id.

        A session whose `input_digest` is already stored (the same recording analysed again) is
        updated in place and keeps its id.
        """
        meta = summary.session
        program = meta.program
        values = (
            meta.start.isoformat(),
            meta.duration_s,
            meta.source,
            program.id if program else None,
            program.sessions_per_week if program else None,
            str(recording.resolve()) if recording else None,
            input_digest,
            summary.model_dump_json(),  # compact: the export re-indents it
            datetime.now(UTC).isoformat(timespec="seconds"),
        )
        with database_errors(self.path), self._transaction() as conn:
            existing = None
            if input_digest is not None:
                existing = conn.execute(
                    "SELECT id FROM sessions WHERE input_digest = ?", (input_digest,)
                ).fetchone()
            if existing:
                session_id = int(existing[0])
                conn.execute(
                    "UPDATE sessions SET started_at = ?, duration_s = ?, source = ?, "
                    "program_id = ?, sessions_per_week = ?, recording_path = ?, input_digest = ?, "
                    "summary_json = ?, recorded_at = ? WHERE id = ?",
                    (*values, session_id),
                )
                conn.execute("DELETE FROM exercise_results WHERE session_id = ?", (session_id,))
                conn.execute("DELETE FROM warnings WHERE session_id = ?", (session_id,))
            else:
                cursor = conn.execute(
                    "INSERT INTO sessions (started_at, duration_s, source, program_id, "
                    "sessions_per_week, recording_path, input_digest, summary_json, recorded_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
                session_id = int(cursor.lastrowid or 0)
            conn.executemany(
                "INSERT INTO exercise_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        session_id,
                        position,
                        ex.exercise_id,
                        ex.name,
                        ex.adherence.sets_done,
                        ex.adherence.sets_prescribed,
                        ex.adherence.reps_done,
                        ex.adherence.reps_prescribed,
                        ex.adherence.holds_done,
                        ex.adherence.hold_s_prescribed,
                        ex.peak_angle_deg,
                    )
                    for position, ex in enumerate(summary.exercises)
                ],
            )
            conn.executemany(
                "INSERT INTO warnings VALUES (?, ?, ?, ?)",
                [(session_id, w.kind, w.t_s, w.exercise_id) for w in summary.warnings],
            )
        return session_id

    def summary(self, session_id: int) -> tuple[SessionSummary, Path | None]:
        """The stored summary of one session and the recording it points at."""
        with database_errors(self.path):
            row = self._conn.execute(
                "SELECT summary_json, recording_path FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            if row is None:
                raise MonitorError(f"no session {session_id} in the history ({self.path})")
            return SessionSummary.model_validate_json(row[0]), Path(row[1]) if row[1] else None

    def source(self, session_id: int) -> tuple[Path | None, str | None]:
        """The file a session was analysed from and that file's digest when it was (None for
        a session not analysed from a file). Check the digest before reading the file again:
        the path comes from the database, not from the user."""
        with database_errors(self.path):
            row = self._conn.execute(
                "SELECT recording_path, input_digest FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
        if row is None:
            raise MonitorError(f"no session {session_id} in the history ({self.path})")
        return (Path(row[0]) if row[0] else None), row[1]

    def sessions(
        self, *, since: datetime | None = None, exercise: str | None = None
    ) -> list[StoredSession]:
        """Stored sessions in start order, optionally from `since` on and with one exercise."""
        with database_errors(self.path):
            return self._sessions(since, exercise)

    def _sessions(self, since: datetime | None, exercise: str | None) -> list[StoredSession]:
        query = (
            "SELECT id, started_at, duration_s, source, program_id, sessions_per_week, "
            "recording_path FROM sessions WHERE started_at >= ?"
        )
        params: list[object] = [since.astimezone(UTC).isoformat() if since else ""]
        if exercise:
            query += " AND id IN (SELECT session_id FROM exercise_results WHERE exercise_id = ?)"
            params.append(exercise)
        rows = self._conn.execute(query + " ORDER BY started_at, id", params).fetchall()
        results: dict[int, list[ExerciseResult]] = {row[0]: [] for row in rows}
        kinds: dict[int, list[str]] = {row[0]: [] for row in rows}
        for row in self._conn.execute(
            f"SELECT session_id, {', '.join(ExerciseResult.model_fields)} "
            "FROM exercise_results ORDER BY session_id, position"
        ):
            if row["session_id"] in results and exercise in (None, row["exercise_id"]):
                results[row["session_id"]].append(ExerciseResult.model_validate(dict(row)))
        for session_id, kind in self._conn.execute(
            "SELECT session_id, kind FROM warnings ORDER BY session_id, t_s"
        ):
            if session_id in kinds:
                kinds[session_id].append(kind)
        return [
            StoredSession(
                id=row[0],
                start=datetime.fromisoformat(row[1]),
                duration_s=row[2],
                source=row[3],
                program_id=row[4],
                sessions_per_week=row[5],
                recording_path=row[6],
                exercises=tuple(results[row[0]]),
                warning_kinds=tuple(kinds[row[0]]),
            )
            for row in rows
        ]


BUSY_TIMEOUT_MS = 5000  # how long a write waits for another process's write to finish


@contextmanager
def database_errors(path: Path) -> Iterator[None]:
    """SQLite errors and rows that do not validate, as one-line MonitorErrors naming the file."""
    try:
        yield
    except sqlite3.Error as error:
        if getattr(error, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED"):
            raise MonitorError(
                f"history database {path} is locked by another process (another monitor "
                "still running?); try again when it has finished"
            ) from None
        raise MonitorError(f"history database {path} is unreadable: {error}") from None
    except ValueError as error:  # a stored row that is not what this monitor wrote
        detail = str(error).splitlines()[0]
        raise MonitorError(f"history database {path} holds an invalid row: {detail}") from None


def _connect(path: Path) -> sqlite3.Connection:
    """Open (creating 0600 if needed) in autocommit mode; transactions are explicit.

    A database of a newer schema is refused before anything is written to it (not even the
    journal mode)."""
    try:
        paths.private_dirs(path.parent)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise MonitorError(
            f"history database {path} cannot be opened: {error.strerror or error}"
        ) from None
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    with database_errors(path):
        conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            conn.row_factory = sqlite3.Row
            _check_version(conn.execute("PRAGMA user_version").fetchone()[0], path)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
        except BaseException:
            conn.close()
            raise
    return conn


def _check_version(version: int, path: Path) -> None:
    if version > SCHEMA_VERSION:
        raise MonitorError(
            f"history database {path} is schema version {version}; this monitor knows up to "
            f"{SCHEMA_VERSION}: update the monitor"
        )


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Bring the database to `SCHEMA_VERSION`, one transaction per step; return the version.

    Each step reads the version again under the write lock, so two monitors opening a new
    database at once do not both apply a step."""
    with database_errors(path):
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        _check_version(version, path)
        while version < SCHEMA_VERSION:
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                _check_version(version, path)
                if version < SCHEMA_VERSION:
                    for statement in _statements(MIGRATIONS[version]):
                        conn.execute(statement)
                    version += 1
                    conn.execute(f"PRAGMA user_version = {version}")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return version


def _statements(script: str) -> Iterator[str]:
    """The SQL statements of a migration, one by one (`executescript` would commit first)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement
            statement = ""
    if statement.strip():
        yield statement


@contextmanager
def open_history(path: Path | None = None) -> Iterator[History]:
    with closing(History(path)) as history:
        yield history


# ---- trends -------------------------------------------------------------------------------------


class WeekCount(_Row):
    week_start: date
    sessions: int
    prescribed: float | None
    running: bool = False  # the current week: not over yet

    @property
    def met(self) -> bool | None:
        return None if self.prescribed is None else self.sessions >= math.floor(self.prescribed)


class Streaks(_Row):
    current_days: int
    longest_days: int
    current_weeks_met: int


class ExerciseTrend(_Row):
    exercise_id: str
    name: str
    sessions: int
    reps_done: int
    reps_prescribed: int | None
    holds_done: int
    holds_prescribed: int | None
    peak_angle_deg: tuple[float | None, ...]  # one per session, in order


class Overview(_Row):
    """Everything `monitor history` shows, also its `--json` output."""

    since: date | None
    today: date
    sessions_per_week: float | None
    session_count: int
    weeks: tuple[WeekCount, ...]
    streaks: Streaks
    exercises: tuple[ExerciseTrend, ...]
    warnings_per_session: tuple[int, ...]
    warnings_by_kind: dict[str, int]
    nudge: str | None


def _local_day(moment: datetime, tz: tzinfo | None) -> date:
    return moment.astimezone(tz).date()


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def prescribed_frequency(sessions: Sequence[StoredSession]) -> float | None:
    """The frequency of the most recent session that had one (programs change over time)."""
    return next((s.sessions_per_week for s in reversed(sessions) if s.sessions_per_week), None)


def weekly_counts(
    sessions: Sequence[StoredSession], *, today: date, tz: tzinfo | None, since: date | None = None
) -> list[WeekCount]:
    """Sessions per Monday-based week, from the week of `since` (or of the first session, if
    later) to this week, empty weeks included, each against the frequency prescribed by the
    latest session up to that week. `sessions` are in start order."""
    if not sessions:
        return []
    days = [_local_day(s.start, tz) for s in sessions]
    first = _week_start(max(since or days[0], days[0]))
    per_week = Counter(_week_start(day) for day in days)
    weeks = []
    week, index, prescribed = first, 0, None
    while week <= _week_start(today):
        week_end = week + timedelta(days=7)
        while index < len(sessions) and days[index] < week_end:
            prescribed = sessions[index].sessions_per_week or prescribed
            index += 1
        weeks.append(
            WeekCount(
                week_start=week,
                sessions=per_week[week],
                prescribed=prescribed,
                running=week == _week_start(today),
            )
        )
        week = week_end
    return weeks


def streaks(days: Sequence[date], weeks: Sequence[WeekCount], *, today: date) -> Streaks:
    """Consecutive days with a session (current: ending today or yesterday; longest), and
    consecutive weeks that met the prescription (the running week counts once it is met)."""
    unique = sorted(set(days))
    longest = run = 0
    previous: date | None = None
    for day in unique:
        run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        longest = max(longest, run)
        previous = day
    current = run if previous is not None and (today - previous).days <= 1 else 0
    met_weeks = 0
    for week in reversed(weeks):
        if week.met:
            met_weeks += 1
        elif not week.running:
            break
    return Streaks(current_days=current, longest_days=longest, current_weeks_met=met_weeks)


def exercise_trends(sessions: Sequence[StoredSession]) -> list[ExerciseTrend]:
    """Per exercise, in first-seen order: totals done against prescribed and the range of motion
    (largest peak angle) of each session that had it."""
    by_id: dict[str, list[ExerciseResult]] = {}
    for session in sessions:
        for result in session.exercises:
            by_id.setdefault(result.exercise_id, []).append(result)

    def total(values: list[int | None]) -> int | None:
        return None if all(v is None for v in values) else sum(v or 0 for v in values)

    return [
        ExerciseTrend(
            exercise_id=exercise_id,
            name=results[-1].name,
            sessions=len(results),
            reps_done=sum(r.reps_done for r in results),
            reps_prescribed=total([r.reps_prescribed for r in results]),
            holds_done=sum(r.holds_done for r in results),
            holds_prescribed=total([r.holds_prescribed for r in results]),
            peak_angle_deg=tuple(r.peak_angle_deg for r in results),
        )
        for exercise_id, results in by_id.items()
    ]


def maintenance_nudge(
    last_start: datetime | None,
    sessions_per_week: float | None,
    *,
    now: datetime,
    tz: tzinfo | None,
) -> str | None:
    """A plain reminder when the prescribed frequency has lapsed, else None.

    Lapsed means more calendar days since the last session than the prescribed interval plus one
    day of grace: daily -> from 3 days, 3 a week -> from 4 days, weekly -> from 9 days.
    """
    if last_start is None or not sessions_per_week:
        return None
    days = (now.astimezone(tz).date() - _local_day(last_start, tz)).days
    if days <= 7 / sessions_per_week + 1:
        return None
    frequency = (
        "daily sessions"
        if sessions_per_week >= 7
        else f"{sessions_per_week:g} session{'s' if sessions_per_week != 1 else ''} a week"
    )
    return (
        f"No session for {days} days: your program asks for {frequency}. "
        "Keep up the maintenance program even when your back feels fine; a short session "
        "today gets you back on track."
    )


def overview(
    sessions: Sequence[StoredSession],
    *,
    now: datetime,
    tz: tzinfo | None = None,
    since: date | None = None,
    last_start: datetime | None = None,
) -> Overview:
    """The trends over `sessions` (already filtered). `last_start` is the latest session overall
    (the nudge must not depend on the `--exercise` filter); defaults to the latest given."""
    today = now.astimezone(tz).date()
    weeks = weekly_counts(sessions, today=today, tz=tz, since=since)
    per_week = prescribed_frequency(sessions)
    if last_start is None and sessions:
        last_start = sessions[-1].start
    return Overview(
        since=since,
        today=today,
        sessions_per_week=per_week,
        session_count=len(sessions),
        weeks=tuple(weeks),
        streaks=streaks([_local_day(s.start, tz) for s in sessions], weeks, today=today),
        exercises=tuple(exercise_trends(sessions)),
        warnings_per_session=tuple(len(s.warning_kinds) for s in sessions),
        warnings_by_kind=dict(
            sorted(Counter(k for s in sessions for k in s.warning_kinds).items())
        ),
        nudge=maintenance_nudge(last_start, per_week, now=now, tz=tz),
    )


def current_nudge(path: Path | None = None, *, now: datetime | None = None) -> str | None:
    """The maintenance nudge for a start screen: None when there is no history yet.

    Does not create the database when there is none.
    """
    path = path or paths.data_dir() / DB_NAME
    if not path.exists():
        return None
    with open_history(path) as history:
        sessions = history.sessions()
    if not sessions:
        return None
    return maintenance_nudge(
        sessions[-1].start,
        prescribed_frequency(sessions),
        now=now or datetime.now(UTC),
        tz=None,
    )
