"""The therapist report: many sessions on one self-contained HTML page.

Adherence (sessions per week against the prescribed frequency, reps and holds done against
prescribed), range-of-motion trend per exercise against its target and limit, and warnings over
time. Same page shell and chart style as the session export (export.py); byte-stable for the same
history, `now` and time zone.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, tzinfo

import matplotlib.dates as mdates
import numpy as np
from matplotlib.ticker import MaxNLocator

from monitor.session.export import (
    BLUE,
    GREEN,
    GREY,
    RED,
    WARNING_COLOURS,
    chart_style,
    clock,
    dose_text,
    esc,
    html_figure,
    html_page,
    html_table,
    new_figure,
    svg,
)
from monitor.session.history import Overview, StoredSession, overview
from monitor.session.summary import Prescription, SessionSummary

EXERCISE_COLOURS = (BLUE, "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")


def _day_numbers(sessions: Sequence[StoredSession], tz: tzinfo | None) -> np.ndarray:
    return np.array(
        [mdates.date2num(s.start.astimezone(tz).replace(tzinfo=None)) for s in sessions]
    )


def _date_axis(ax) -> None:
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=8))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))


def weeks_chart(view: Overview) -> str | None:
    if not view.weeks:
        return None
    with chart_style():
        fig = new_figure(2.6)
        ax = fig.add_subplot()
        x = np.arange(len(view.weeks))
        colours = [
            GREEN if w.met else GREY if w.met is None or w.running else RED for w in view.weeks
        ]
        ax.bar(x, [w.sessions for w in view.weeks], color=colours, width=0.7, label="sessions")
        prescribed = [np.nan if w.prescribed is None else w.prescribed for w in view.weeks]
        if not np.isnan(prescribed).all():
            ax.step(x, prescribed, where="mid", color="#000000", ls="--", lw=1.2,
                    label="prescribed")  # fmt: skip
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        every = math.ceil(len(view.weeks) / 12)  # at most a dozen labelled weeks
        ax.set_xticks(x[::every], [w.week_start.strftime("%d %b") for w in view.weeks][::every])
        ax.set_xlabel("week starting (green: frequency met, red: missed, grey: this week)")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("sessions")
        return svg(fig, "weeks")


def rom_chart(
    sessions: Sequence[StoredSession], prescriptions: dict[str, Prescription], tz: tzinfo | None
) -> str | None:
    """Range of motion (largest rep peak) per session and exercise, with target and limit."""
    series: dict[str, tuple[str, list[float], list[float]]] = {}
    for day, session in zip(_day_numbers(sessions, tz), sessions, strict=True):
        for result in session.exercises:
            if result.peak_angle_deg is not None:
                name, xs, ys = series.setdefault(result.exercise_id, (result.name, [], []))
                xs.append(day)
                ys.append(result.peak_angle_deg)
    if not series:
        return None
    with chart_style():
        fig = new_figure(3.0)
        ax = fig.add_subplot()
        for index, (exercise_id, (name, xs, ys)) in enumerate(series.items()):
            colour = EXERCISE_COLOURS[index % len(EXERCISE_COLOURS)]
            ax.plot(xs, ys, "o-", color=colour, ms=4, lw=1.2, label=name)
            p = prescriptions.get(exercise_id)
            span = [min(xs) - 0.5, max(xs) + 0.5]
            if p and p.target_deg is not None:
                ax.plot(span, [p.target_deg] * 2, color=colour, lw=0.9, alpha=0.6)
            if p and p.limit_deg is not None:
                ax.plot(span, [p.limit_deg] * 2, color=colour, lw=1.0, ls="--")
        _date_axis(ax)
        ax.set_ylabel("range of motion (°)")
        ax.set_xlabel("session date (thin line: target, dashed: limit)")
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        return svg(fig, "rom")


def warnings_chart(sessions: Sequence[StoredSession], tz: tzinfo | None) -> str | None:
    kinds = sorted({k for s in sessions for k in s.warning_kinds})
    if not sessions:
        return None
    with chart_style():
        fig = new_figure(2.6)
        ax = fig.add_subplot()
        x = _day_numbers(sessions, tz)
        bottom = np.zeros(len(sessions))
        for index, kind in enumerate(kinds):
            counts = np.array([Counter(s.warning_kinds)[kind] for s in sessions], dtype=float)
            ax.bar(x, counts, bottom=bottom, width=0.6, label=kind,
                   color=WARNING_COLOURS[index % len(WARNING_COLOURS)])  # fmt: skip
            bottom += counts
        _date_axis(ax)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("warnings")
        ax.set_xlabel("session date")
        ax.set_ylim(0, max(float(bottom.max()), 1.0) * 1.15)
        if kinds:
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        return svg(fig, "warnings")


def _done(done: int, prescribed: int | None) -> str:
    return str(done) if prescribed is None else f"{done} / {prescribed}"


def therapist_report(
    sessions: Sequence[StoredSession],
    summaries: Sequence[SessionSummary],
    *,
    now: datetime,
    tz: tzinfo | None = None,
    since: date | None = None,
) -> str:
    """The report over `sessions` (start order) and their stored summaries (same order)."""
    view = overview(sessions, now=now, tz=tz, since=since)
    prescriptions = {
        ex.exercise_id: ex.prescription
        for summary in summaries
        for ex in summary.exercises
        if ex.prescription is not None
    }
    first = sessions[0].start.astimezone(tz).date() if sessions else None
    period = f"{since or first or view.today} to {view.today}"
    frequency = (
        f"{view.sessions_per_week:g} sessions a week" if view.sessions_per_week else "not set"
    )
    streaks = view.streaks
    facts = [
        ("Period", period),
        ("Sessions", str(view.session_count)),
        ("Prescribed frequency", frequency),
        ("Weeks in a row meeting it", str(streaks.current_weeks_met)),
        ("Days in a row (now / longest)", f"{streaks.current_days} / {streaks.longest_days}"),
    ]
    sections = [
        "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts) + "</dl>",
    ]
    if view.nudge:
        sections.append(f"<p><strong>{esc(view.nudge)}</strong></p>")
    sections += [
        "<h2>Sessions per week</h2>",
        html_figure(weeks_chart(view), "Sessions per week against the prescribed frequency."),
        "<h2>Done against prescribed</h2>",
        html_table(
            ("Exercise", "Sessions", "Reps", "Holds", "Current prescription"),
            [
                (
                    trend.name,
                    str(trend.sessions),
                    _done(trend.reps_done, trend.reps_prescribed),
                    _done(trend.holds_done, trend.holds_prescribed)
                    if trend.holds_prescribed
                    else "-",
                    dose_text(prescriptions.get(trend.exercise_id)),
                )
                for trend in view.exercises
            ],
        )
        if view.exercises
        else "<p>No exercise recorded in this period.</p>",
        "<h2>Range of motion</h2>",
        html_figure(
            rom_chart(sessions, prescriptions, tz),
            "Largest rep peak angle per session and exercise, against target and limit.",
        ),
        "<h2>Warnings</h2>",
        html_figure(warnings_chart(sessions, tz), "Warnings per session, by kind."),
        html_table(("Kind", "Count"), [(k, str(n)) for k, n in view.warnings_by_kind.items()])
        if view.warnings_by_kind
        else "<p>No warnings in this period.</p>",
        "<h2>Sessions</h2>",
        html_table(
            ("Id", "Date", "Duration", "Exercises", "Reps", "Warnings"),
            [
                (
                    str(s.id),
                    s.start.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                    clock(s.duration_s),
                    ", ".join(r.name for r in s.exercises) or "-",
                    _done(
                        sum(r.reps_done for r in s.exercises),
                        sum(r.reps_prescribed or 0 for r in s.exercises) or None,
                    ),
                    str(len(s.warning_kinds)),
                )
                for s in sessions
            ],
        ),
    ]
    return html_page("Exercise program report", sections)
