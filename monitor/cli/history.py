"""`monitor history`: adherence and trends from the local history, and the maintenance nudge."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, time

from rich.console import Console
from rich.table import Table

from monitor.session.history import Overview, StoredSession, open_history, overview

SPARK = "▁▂▃▄▅▆▇█"
RECENT_SESSIONS = 15
RECENT_WEEKS = 8  # rows of the weekly table; older weeks show as a sparkline


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-01") from None


def local_midnight(day: date) -> datetime:
    """Start of `day` in the local time zone, as an aware datetime."""
    return datetime.combine(day, time()).astimezone()


def sparkline(values: Sequence[float | None]) -> str:
    """One character per value, scaled between the smallest and largest; blank for None."""
    known = [v for v in values if v is not None and math.isfinite(v)]
    if not known:
        return ""
    low, high = min(known), max(known)
    scale = (len(SPARK) - 1) / (high - low) if high > low else 0.0
    return "".join(
        " " if v is None or not math.isfinite(v) else SPARK[round((v - low) * scale)]
        for v in values
    )


def _done(done: int, prescribed: int | None) -> str:
    return str(done) if prescribed is None else f"{done} / {prescribed}"


def render(view: Overview, sessions: Sequence[StoredSession], console: Console) -> None:
    if view.nudge:
        console.print(f"[bold]{view.nudge}[/bold]\n")
    if not sessions:
        console.print(
            "No sessions in the history yet" + (f" since {view.since}." if view.since else ".")
        )
        return
    frequency = (
        f"{view.sessions_per_week:g} sessions a week prescribed"
        if view.sessions_per_week
        else "no frequency prescribed"
    )
    streaks = view.streaks
    console.print(
        f"{view.session_count} sessions, {frequency}. Streaks: {streaks.current_days} days "
        f"(longest {streaks.longest_days}), {streaks.current_weeks_met} weeks meeting the program."
    )

    shown = view.weeks[-RECENT_WEEKS:]
    if len(view.weeks) > len(shown):
        every_week = sparkline([w.sessions for w in view.weeks])
        console.print(f"Sessions per week since {view.weeks[0].week_start}: {every_week}")
    weeks = Table(title="Sessions per week", title_justify="left")
    for column in ("Week of", "Sessions", "Prescribed", "Met"):
        weeks.add_column(column)
    for week in shown:
        met = (
            "-" if week.met is None else "yes" if week.met else "not yet" if week.running else "no"
        )
        prescribed = "-" if week.prescribed is None else f"{week.prescribed:g}"
        weeks.add_row(str(week.week_start), str(week.sessions), prescribed, met)
    console.print(weeks)

    exercises = Table(title="Exercises", title_justify="left")
    for column in ("Exercise", "Sessions", "Reps", "Holds", "ROM trend", "Last ROM"):
        exercises.add_column(column)
    for trend in view.exercises:
        last = trend.peak_angle_deg[-1]
        exercises.add_row(
            trend.name,
            str(trend.sessions),
            _done(trend.reps_done, trend.reps_prescribed),
            _done(trend.holds_done, trend.holds_prescribed) if trend.holds_prescribed else "-",
            sparkline(trend.peak_angle_deg),
            "-" if last is None else f"{last:.0f}°",
        )
    console.print(exercises)

    kinds = ", ".join(f"{kind} {count}" for kind, count in view.warnings_by_kind.items())
    console.print(
        f"Warnings per session: {sparkline(view.warnings_per_session)}  "
        f"({sum(view.warnings_per_session)} in all{': ' + kinds if kinds else ''})"
    )

    recent = Table(title="Recent sessions (monitor export ID ...)", title_justify="left")
    for column in ("ID", "Start", "Exercises", "Reps", "Warnings"):
        recent.add_column(column)
    for session in sessions[-RECENT_SESSIONS:]:
        reps_done = sum(r.reps_done for r in session.exercises)
        reps_prescribed = sum(r.reps_prescribed or 0 for r in session.exercises) or None
        recent.add_row(
            str(session.id),
            session.start.astimezone().strftime("%Y-%m-%d %H:%M"),
            ", ".join(r.name for r in session.exercises) or "-",
            _done(reps_done, reps_prescribed),
            str(len(session.warning_kinds)),
        )
    console.print(recent)


def run(args: argparse.Namespace) -> int:
    since = local_midnight(args.since) if args.since else None
    with open_history() as history:
        sessions = history.sessions(since=since, exercise=args.exercise)
        everything = history.sessions() if args.exercise else sessions
    latest = everything[-1].start if everything else None
    view = overview(sessions, now=datetime.now(UTC), tz=None, since=args.since, last_start=latest)
    if args.json:
        data = view.model_dump(mode="json")
        data["sessions"] = [s.model_dump(mode="json") for s in sessions]
        print(json.dumps(data, indent=2))
    else:
        render(view, sessions, Console(highlight=False))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "history",
        help="adherence and trends over the sessions in the local history",
        description="Sessions per week against the prescribed frequency, streaks, reps and holds "
        "done against prescribed, range-of-motion and warning trends. Says so when the program's "
        "frequency has lapsed.",
    )
    parser.add_argument(
        "--since", type=parse_date, metavar="DATE", help="from this day (YYYY-MM-DD)"
    )
    parser.add_argument("--exercise", metavar="ID", help="only sessions with this exercise")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.set_defaults(func=run)
