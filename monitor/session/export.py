"""Session exports: JSON, CSV (one row per rep), Markdown (plain-text readable) and one
self-contained HTML page with inline SVG charts drawn by matplotlib.

Every format is a pure function of the `SessionSummary`, and byte-stable: no clock, no random ids
(matplotlib's SVG ids are salted with a fixed string, its date metadata left out), so golden files
pin the output. The HTML loads nothing from anywhere: styles and charts are inline.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from monitor.errors import MonitorError
from monitor.paths import open_private
from monitor.session.summary import ExerciseSummary, Prescription, Rep, SessionSummary

if TYPE_CHECKING:  # matplotlib itself loads with the first chart: `monitor` starts fast
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FORMATS = ("json", "csv", "md", "html")

# Chart palette (colour-blind safe: Okabe-Ito).
BLUE, ORANGE, GREEN, RED, GREY, PURPLE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#999999",
    "#CC79A7",
)
WARNING_COLOURS = (RED, ORANGE, PURPLE, "#56B4E9", "#F0E442", "#000000")


# ---- text helpers shared by the formats ---------------------------------------------------------


def clock(seconds: float) -> str:
    """Session time as m:ss (h:mm:ss from an hour on)."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _num(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.1f}{unit}"


def _done(done: int | float, prescribed: int | float | None) -> str:
    return f"{done:g}" if prescribed is None else f"{done:g} / {prescribed:g}"


def dose_text(p: Prescription | None) -> str:
    """The prescription in words: '2 sets x 5 reps, hold 20 s, target 75°, limit 95°'."""
    if p is None:
        return "no prescription"
    parts = []
    if p.reps is not None:
        parts.append(f"{p.sets or 1} set{'s' if (p.sets or 1) > 1 else ''} x {p.reps} reps")
    for value, text in (
        (p.hold_s, "hold {:g} s"),
        (p.rest_s, "rest {:g} s"),
        (p.target_deg, "target {:.0f}°"),
        (p.limit_deg, "limit {:.0f}°"),
        (p.max_speed_dps, "max {:.0f}°/s"),
    ):
        if value:
            parts.append(text.format(value))
    return ", ".join(parts) or "no prescription"


def _metadata(summary: SessionSummary) -> list[tuple[str, str]]:
    meta = summary.session
    sensor = meta.sensor
    sensor_text = " ".join(
        part
        for part in (
            sensor.model or sensor.profile,
            f"(profile {sensor.profile})" if sensor.model else "",
            f"on the {sensor.placement}" if sensor.placement else "",
            f"at {sensor.sample_rate_hz:g} Hz" if sensor.sample_rate_hz else "",
        )
        if part
    )
    rows = [
        ("Start", meta.start.strftime("%Y-%m-%d %H:%M UTC")),
        ("Duration", clock(meta.duration_s)),
        ("Sensor", sensor_text),
        ("Source", f"{meta.source}" + (f" of {meta.input_name}" if meta.input_name else "")),
    ]
    if meta.program:
        program = meta.program.name or meta.program.id
        if meta.program.sessions_per_week:
            program += f" ({meta.program.sessions_per_week:g} sessions a week)"
        rows.append(("Program", program))
    calibration = summary.calibration
    if calibration:
        text = f"{calibration.method} at {clock(calibration.at_s)}"
        if calibration.range_deg is not None:
            text += f", calibration range {calibration.range_deg:.0f}°"
        if calibration.plane_quality is not None:
            text += f", plane quality {calibration.plane_quality:.2f}"
        rows.append(("Calibration", text))
    else:
        rows.append(("Calibration", "none"))
    rows.append(("Monitor", meta.monitor_version))
    return rows


ADHERENCE_HEADER = ("Exercise", "Sets", "Reps", "Holds", "Mean hold", "Peak angle", "Done")


def _adherence_rows(summary: SessionSummary) -> list[tuple[str, ...]]:
    rows = []
    for ex in summary.exercises:
        a = ex.adherence
        holds = (
            f"{a.holds_done} / {a.reps_prescribed or a.reps_done} (≥ {a.hold_s_prescribed:g} s)"
            if a.hold_s_prescribed
            else "-"
        )
        rows.append(
            (
                ex.name,
                _done(a.sets_done, a.sets_prescribed),
                _done(a.reps_done, a.reps_prescribed),
                holds,
                _num(a.hold_s_mean, " s") if a.hold_s_prescribed else "-",
                _num(ex.peak_angle_deg, "°"),
                "-" if a.completion is None else f"{a.completion:.0%}",
            )
        )
    return rows


REP_HEADER = ("Rep", "Start", "Duration", "Peak angle", "Hold", "Peak speed", "Side", "Flags")


def _rep_row(rep: Rep) -> tuple[str, ...]:
    return (
        str(rep.index),
        clock(rep.start_s),
        f"{rep.end_s - rep.start_s:.1f} s",
        f"{rep.peak_angle_deg:.1f}°",
        f"{rep.hold_s:.1f} s",
        f"{rep.peak_speed_dps:.0f}°/s",
        rep.side or "-",
        ", ".join(rep.flags) or "-",
    )


def _exercise_name(summary: SessionSummary, exercise_id: str | None) -> str:
    names = {ex.exercise_id: ex.name for ex in summary.exercises}
    return names.get(exercise_id or "", exercise_id or "-")


# ---- CSV ----------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "exercise_id",
    "set",
    "rep",
    "side",
    "start_s",
    "end_s",
    "peak_angle_deg",
    "hold_s",
    "peak_speed_dps",
    "flags",
    "target_deg",
    "limit_deg",
    "hold_s_prescribed",
)


def to_csv(summary: SessionSummary) -> str:
    """One row per rep; empty cells where a value does not apply; flags joined with ';'."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for ex in summary.exercises:
        p = ex.prescription or Prescription()
        for s in ex.sets:
            for rep in s.reps:
                writer.writerow(
                    (
                        ex.exercise_id,
                        s.index,
                        rep.index,
                        rep.side or "",
                        rep.start_s,
                        rep.end_s,
                        rep.peak_angle_deg,
                        rep.hold_s,
                        rep.peak_speed_dps,
                        ";".join(rep.flags),
                        "" if p.target_deg is None else p.target_deg,
                        "" if p.limit_deg is None else p.limit_deg,
                        "" if p.hold_s is None else p.hold_s,
                    )
                )
    return out.getvalue()


# ---- Markdown -----------------------------------------------------------------------------------


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A pipe table padded to column width, so it reads as well in a terminal as rendered."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def to_markdown(summary: SessionSummary) -> str:
    parts = [f"# Session {summary.session.start.strftime('%Y-%m-%d %H:%M')} UTC", ""]
    parts += [f"- {label}: {value}" for label, value in _metadata(summary)]
    parts += ["", "## Done against prescribed", ""]
    if summary.exercises:
        parts.append(md_table(ADHERENCE_HEADER, _adherence_rows(summary)))
    else:
        parts.append("No exercise was recognised in this session.")
    for ex in summary.exercises:
        parts += [
            "",
            f"## {ex.name} ({ex.exercise_id})",
            "",
            f"Prescribed: {dose_text(ex.prescription)}",
        ]
        for s in ex.sets:
            parts += ["", f"### Set {s.index}, {clock(s.start_s)} to {clock(s.end_s)}", ""]
            parts.append(md_table(REP_HEADER, [_rep_row(rep) for rep in s.reps]))
    parts += ["", "## Warnings", ""]
    if summary.warnings:
        parts.append(
            md_table(
                ("Time", "Kind", "Exercise", "Message"),
                [
                    (clock(w.t_s), w.kind, _exercise_name(summary, w.exercise_id), w.message)
                    for w in summary.warnings
                ],
            )
        )
    else:
        parts.append("None.")
    parts += ["", "## Gaps in the data", ""]
    parts += [f"- {clock(g.start_s)}, {g.duration_s:.1f} s: {g.reason}" for g in summary.gaps] or [
        "None."
    ]
    parts += ["", "Not a medical device: follow your clinician's advice.", ""]
    return "\n".join(parts)


# ---- charts -------------------------------------------------------------------------------------


@contextmanager
def chart_style() -> Iterator[None]:
    import matplotlib as mpl

    with mpl.rc_context(
        {
            "svg.fonttype": "none",  # text stays text: small, selectable, font-independent bytes
            "font.family": "sans-serif",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.color": "#e5e5e5",
            "grid.linewidth": 0.6,
            "legend.frameon": False,
        }
    ):
        yield


def new_figure(height_in: float = 3.2, width_in: float = 9.0) -> Figure:
    # Figure directly, not pyplot: no global state, safe in any thread, no GUI backend.
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), layout="constrained")


def svg(fig: Figure, name: str) -> str:
    """The figure as an inline `<svg>` element whose ids all start with `name-`, so several
    charts can share one page (matplotlib numbers its ids per figure: `figure_1`, `patch_1`)."""
    import matplotlib as mpl

    buffer = io.StringIO()
    with mpl.rc_context({"svg.hashsalt": f"monitor-{name}", "svg.id": "chart"}):
        fig.savefig(
            buffer,
            format="svg",
            metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
        )
    text = buffer.getvalue()
    text = text[text.index("<svg") :].strip()
    text = re.sub(r'\bid="([^"]+)"', rf'id="{name}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{name}-\1)", text)
    return re.sub(r'href="#([^"]+)"', rf'href="#{name}-\1"', text)


def time_axis(ax: Axes, duration_s: float) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.set_xlabel("session time (m:ss)")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: clock(value)))
    ax.set_xlim(0, max(duration_s, 1.0))


def _peak_and_hold(rep: Rep, t: np.ndarray, angle: np.ndarray) -> tuple[float, tuple[float, float]]:
    """Where in the trace a rep peaked, and the end-range stretch its hold lies in.

    The end range is the run of samples around the peak within max(5°, 15%) of the peak angle;
    a rep to the negative side (alternating exercises) peaks at its most negative angle.
    """
    window = np.flatnonzero((t >= rep.start_s) & (t <= rep.end_s))
    if window.size == 0:
        middle = (rep.start_s + rep.end_s) / 2
        return middle, (middle, middle)
    signed = angle * (-1.0 if rep.peak_angle_deg < 0 else 1.0)
    peak = window[np.argmax(signed[window])]
    threshold = signed[peak] - max(5.0, 0.15 * abs(signed[peak]))
    below = window[signed[window] < threshold]
    first = below[below < peak].max() + 1 if (below < peak).any() else window[0]
    last = below[below > peak].min() - 1 if (below > peak).any() else window[-1]
    return float(t[peak]), (float(t[first]), float(t[last]))


def _sides(ex: ExerciseSummary) -> tuple[float, ...]:
    """Signs of the directions an exercise's reps went: (1,), or (1, -1) when alternating."""
    return (1.0, -1.0) if any(rep.peak_angle_deg < 0 for rep in ex.reps) else (1.0,)


def _once(labelled: set[str], text: str) -> str | None:
    """A legend label the first time `text` is drawn on a chart, None after."""
    if text in labelled:
        return None
    labelled.add(text)
    return text


def _zone(ax: Axes, ex: ExerciseSummary, span: list[float], top: float, labelled: set[str]):
    """Target zone (target to limit) and limit line over `span`, mirrored for both sides."""
    p = ex.prescription
    if p is None:
        return
    for sign in _sides(ex):
        if p.target_deg is not None:
            upper = p.limit_deg if p.limit_deg is not None else top
            ax.fill_between(span, sign * p.target_deg, sign * upper, color=GREEN, alpha=0.15,
                            lw=0, label=_once(labelled, "target zone"))  # fmt: skip
        if p.limit_deg is not None:
            ax.plot(span, [sign * p.limit_deg] * 2, color=RED, lw=1.4, ls="--",
                    label=_once(labelled, "limit"))  # fmt: skip


def _extent(summary: SessionSummary, values: np.ndarray) -> tuple[float, float]:
    """Y range covering the values, rep peaks and the limits drawn, with some headroom."""
    ends = [*values.tolist(), 10.0, 0.0]
    for ex in summary.exercises:
        ends += [rep.peak_angle_deg for rep in ex.reps]
        limit = ex.prescription.limit_deg if ex.prescription else None
        if limit is not None:
            ends += [sign * limit for sign in _sides(ex)]
    return min(ends) * 1.12, max(ends) * 1.12


def angle_chart(summary: SessionSummary) -> str | None:
    """Angle over the session with target zones, limits, reps, holds, warnings and gaps."""
    if summary.trace is None or not summary.trace.t_s:
        return None
    t = np.asarray(summary.trace.t_s)
    angle = np.asarray(summary.trace.angle_deg)
    with chart_style():
        fig = new_figure(3.6)
        ax = fig.add_subplot()
        bottom, top = _extent(summary, angle)
        labelled: set[str] = set()
        for gap in summary.gaps:
            ax.axvspan(gap.start_s, gap.start_s + gap.duration_s, color=GREY, alpha=0.35, lw=0,
                       label=_once(labelled, "data gap"))  # fmt: skip
        for ex in summary.exercises:
            _zone(ax, ex, [ex.start_s, ex.end_s], top, labelled)
        # Break the line across gaps instead of drawing a straight segment over them.
        resume = np.searchsorted(t, [g.start_s + g.duration_s for g in summary.gaps])
        resume = resume[(resume > 0) & (resume < len(t))]
        ax.plot(np.insert(t, resume, np.nan), np.insert(angle, resume, np.nan), color=BLUE,
                lw=1.0, label="angle")  # fmt: skip
        for ex in summary.exercises:
            for rep in ex.reps:
                peak_t, (hold_from, hold_to) = _peak_and_hold(rep, t, angle)
                colour = RED if rep.flags else BLUE
                if rep.hold_s > 0:
                    end = min(hold_from + rep.hold_s, hold_to)
                    ax.plot([hold_from, end], [rep.peak_angle_deg] * 2, color=ORANGE, lw=4,
                            alpha=0.8, solid_capstyle="butt",
                            label=_once(labelled, "hold"))  # fmt: skip
                ax.plot([peak_t], [rep.peak_angle_deg], "v", color=colour, ms=5,
                        label=_once(labelled, "rep peak"))  # fmt: skip
        kinds = sorted({w.kind for w in summary.warnings})
        for w in summary.warnings:
            colour = WARNING_COLOURS[kinds.index(w.kind) % len(WARNING_COLOURS)]
            ax.axvline(
                w.t_s, color=colour, lw=1.0, ls=":", label=_once(labelled, f"warning: {w.kind}")
            )
            ax.plot([w.t_s], [top * 0.97], "o", color=colour, ms=4)
        time_axis(ax, summary.session.duration_s)
        ax.set_ylim(bottom, top)
        ax.set_ylabel("angle from neutral (°)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        return svg(fig, "angle")


def peaks_chart(summary: SessionSummary) -> str | None:
    """Peak angle of every rep, against each exercise's target and limit."""
    reps = [(ex, rep) for ex in summary.exercises for rep in ex.reps]
    if not reps:
        return None
    with chart_style():
        fig = new_figure(2.8)
        ax = fig.add_subplot()
        x = np.arange(1, len(reps) + 1)
        colours = [
            RED if "range_limit" in rep.flags else ORANGE if rep.flags else BLUE for _, rep in reps
        ]
        ax.bar(x, [rep.peak_angle_deg for _, rep in reps], color=colours, width=0.7)
        labelled: set[str] = set()
        first = 1
        for ex in summary.exercises:
            count = len(ex.reps)
            if count == 0:
                continue
            span = [first - 0.45, first + count - 0.55]
            p = ex.prescription or Prescription()
            for sign in _sides(ex):
                if p.target_deg is not None:
                    ax.plot(span, [sign * p.target_deg] * 2, color=GREEN, lw=1.6,
                            label=_once(labelled, "target"))  # fmt: skip
                if p.limit_deg is not None:
                    ax.plot(span, [sign * p.limit_deg] * 2, color=RED, lw=1.4, ls="--",
                            label=_once(labelled, "limit"))  # fmt: skip
            ax.annotate(ex.name, (first - 0.4, 1.0), xycoords=("data", "axes fraction"),
                        va="bottom", fontsize=8)  # fmt: skip
            first += count
        ax.set_xlim(0.4, len(reps) + 0.6)
        ax.set_xlabel("rep (in session order; orange: flagged, red: beyond the limit)")
        ax.set_ylabel("peak angle (°)")
        if len(reps) <= 40:
            ax.set_xticks(x)
        if labelled:
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        return svg(fig, "peaks")


# ---- HTML ---------------------------------------------------------------------------------------

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1a1a1a;
       max-width: 62rem; margin: 1.5rem auto; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border-bottom: 1px solid #ddd; padding: .25rem .6rem; text-align: left; }
th { background: #f4f4f4; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dt { font-weight: 600; }
figure { margin: 1rem 0; } figure svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: .9rem; }
.flagged { color: #b04000; }
footer { margin-top: 2rem; color: #666; font-size: .85rem; }
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def html_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], flagged: Sequence[bool] = ()
) -> str:
    """A table; rows whose `flagged` entry is true are highlighted."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for index, row in enumerate(rows):
        marked = ' class="flagged"' if index < len(flagged) and flagged[index] else ""
        body.append(f"<tr{marked}>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def html_figure(chart: str | None, caption: str) -> str:
    if chart is None:
        return ""
    label = esc(caption)
    return f'<figure aria-label="{label}">{chart}<figcaption>{label}</figcaption></figure>'


def html_page(title: str, sections: Sequence[str]) -> str:
    """One self-contained page: inline style, inline SVG, nothing fetched."""
    body = "\n".join(section for section in sections if section)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{esc(title)}</h1>\n{body}\n"
        "<footer>Made by backstretch session monitor on this computer; nothing was sent anywhere. "
        "Not a medical device: follow your clinician's advice.</footer>\n"
        "</body>\n</html>\n"
    )


def to_html(summary: SessionSummary) -> str:
    meta = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in _metadata(summary))
    sections = [
        f"<dl>{meta}</dl>",
        html_figure(
            angle_chart(summary),
            "Angle from neutral over the session: target zone (green), limit (red dashed), rep "
            "peaks, holds (orange bars), warnings (dotted lines) and data gaps (grey).",
        ),
        "<h2>Done against prescribed</h2>",
        html_table(ADHERENCE_HEADER, _adherence_rows(summary))
        if summary.exercises
        else "<p>No exercise was recognised in this session.</p>",
        html_figure(peaks_chart(summary), "Peak angle of each rep against target and limit."),
    ]
    for ex in summary.exercises:
        sections.append(
            f"<h2>{esc(ex.name)}</h2><p>Prescribed: {esc(dose_text(ex.prescription))}</p>"
        )
        for s in ex.sets:
            sections.append(f"<h3>Set {s.index}, {clock(s.start_s)} to {clock(s.end_s)}</h3>")
            sections.append(
                html_table(
                    REP_HEADER, [_rep_row(r) for r in s.reps], [bool(r.flags) for r in s.reps]
                )
            )
    sections.append("<h2>Warnings</h2>")
    sections.append(
        html_table(
            ("Time", "Kind", "Exercise", "Message"),
            [
                (clock(w.t_s), w.kind, _exercise_name(summary, w.exercise_id), w.message)
                for w in summary.warnings
            ],
        )
        if summary.warnings
        else "<p>None.</p>"
    )
    sections.append("<h2>Gaps in the data</h2>")
    sections.append(
        "<ul>"
        + "".join(
            f"<li>{clock(g.start_s)}, {g.duration_s:.1f} s: {esc(g.reason)}</li>"
            for g in summary.gaps
        )
        + "</ul>"
        if summary.gaps
        else "<p>None.</p>"
    )
    title = f"Session {summary.session.start.strftime('%Y-%m-%d %H:%M')} UTC"
    return html_page(title, sections)


# ---- entry points -------------------------------------------------------------------------------

RENDERERS: dict[str, Callable[[SessionSummary], str]] = {
    "json": SessionSummary.to_json,
    "csv": to_csv,
    "md": to_markdown,
    "html": to_html,
}


def render(summary: SessionSummary, fmt: str) -> str:
    try:
        return RENDERERS[fmt](summary)
    except KeyError:
        raise MonitorError(
            f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}"
        ) from None


def write_private(text: str, out: Path, *, force: bool) -> None:
    """Write `text` to `out` as a 0600 file; an existing file is replaced only with `force`."""
    try:
        with open_private(out, exclusive=not force) as handle:
            handle.write(text.encode("utf-8"))
    except FileExistsError:
        raise MonitorError(f"{out} already exists; use --force to replace it") from None
    except OSError as error:
        raise MonitorError(f"cannot write {out}: {error.strerror or error}") from None


def export(summary: SessionSummary, fmt: str, out: Path, *, force: bool = False) -> None:
    write_private(render(summary, fmt), out, force=force)
