"""The end of a session: per exercise what was done against the prescription, and export keys."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from monitor import paths
from monitor.errors import MonitorError
from monitor.session import export
from monitor.session.summary import ExerciseSummary, SessionSummary
from monitor.tui.adapt import SEVERITY
from monitor.tui.feed import Severity
from monitor.tui.widgets.timefmt import clock
from monitor.tui.widgets.warnings_panel import SEVERITY_STYLE


def _done_of(done: int, prescribed: int | None) -> str:
    return f"{done}/{prescribed}" if prescribed is not None else str(done)


def exercise_row(exercise: ExerciseSummary, warnings: int) -> tuple[str, ...]:
    adherence = exercise.adherence
    peak = exercise.peak_angle_deg
    if adherence.hold_s_prescribed:
        holds = f"{adherence.holds_done} of {adherence.hold_s_prescribed:.0f} s"
    elif adherence.hold_s_mean:
        holds = f"mean {adherence.hold_s_mean:.1f} s"
    else:
        holds = "-"
    return (
        exercise.name,
        _done_of(adherence.sets_done, adherence.sets_prescribed),
        _done_of(adherence.reps_done, adherence.reps_prescribed),
        "-" if peak is None else f"{peak:.0f}°",
        holds,
        str(warnings),
    )


def render_session_notes(summary: SessionSummary, saved: str | None) -> Text:
    """Warnings and data gaps with their times, and where the session is kept."""
    text = Text()
    meta = summary.session
    text.append(f"{meta.sensor.profile}", style="bold")
    text.append(f"  {clock(meta.duration_s)} long, {summary.rep_count} reps\n")
    lines = [
        (gap.start_s, f"gap of {gap.duration_s:.1f} s in the data: {gap.reason}", "yellow")
        for gap in summary.gaps
    ]
    lines += [
        (w.t_s, w.message, SEVERITY_STYLE[SEVERITY.get(w.kind, Severity.CAUTION)])  # type: ignore[call-overload]
        for w in summary.warnings
    ]
    for t_s, line, style in sorted(lines, key=lambda item: item[0]):
        text.append(f"{clock(t_s):>5} ", style="dim")
        text.append(f"{line}\n", style=style)
    if not summary.warnings:
        text.append("no warnings\n", style="green")
    if saved:
        text.append(f"session saved to {saved}\n", style="dim")
    return text


class SummaryScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("h", "export('html')", "Export HTML"),
        Binding("m", "export('md')", "Markdown"),
        Binding("c", "export('csv')", "CSV"),
        Binding("j", "export('json')", "JSON"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, summary: SessionSummary, saved: str | None = None) -> None:
        super().__init__()
        self.summary = summary
        self.saved = saved
        self.exported: list[Path] = []

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="summary-body"):
            yield Static(Text("Session summary", style="bold"), id="summary-title")
            yield DataTable(id="summary-table", cursor_type="none", zebra_stripes=True)
            yield Static(render_session_notes(self.summary, self.saved), id="summary-notes")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("exercise", "sets", "reps", "peak", "holds", "warnings")
        for exercise in self.summary.exercises:
            warnings = sum(w.exercise_id == exercise.exercise_id for w in self.summary.warnings)
            table.add_row(*exercise_row(exercise, warnings))

    @work(thread=True, group="export")
    def action_export(self, fmt: str) -> None:
        """Write the summary (HTML charts take a moment: off the UI thread)."""
        stamp = self.summary.session.start.strftime("%Y%m%dT%H%M%SZ")
        try:
            target = paths.exports_dir() / f"session-{stamp}.{fmt}"
            export.export(self.summary, fmt, target, force=True)
        except MonitorError as error:
            self.app.call_from_thread(self.notify, str(error), severity="error")
            return
        self.exported.append(target)
        self.app.call_from_thread(self.notify, f"exported {target}", timeout=8)
