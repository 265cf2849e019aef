"""Exports are byte-stable: the bytes in tests/data/golden/ are the contract.

Regenerate after an intended change (then review the diff, and look at the HTML in a browser):

    MONITOR_REGENERATE_GOLDEN=1 python -m pytest tests/unit/test_export_golden.py

The HTML's charts come from matplotlib, whose SVG can change between its releases; the version
that made the golden file is kept beside it and the HTML comparison needs that version.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
from datetime import UTC, datetime
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from monitor.errors import MonitorError
from monitor.session.export import CSV_COLUMNS, FORMATS, _peak_and_hold, export, render
from monitor.session.history import open_history
from monitor.session.report import therapist_report
from monitor.session.summary import ProgramRef, Rep, adherence, load_summary

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
SAMPLE = GOLDEN / "session.json"
MATPLOTLIB_VERSION = GOLDEN / "matplotlib-version.txt"
REGENERATE = os.environ.get("MONITOR_REGENERATE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def sample():
    return load_summary(SAMPLE.read_text(encoding="utf-8"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_matches_golden_bytes(sample, fmt):
    output = render(sample, fmt).encode("utf-8")
    if fmt == "html":
        _golden_html("session.html", output)
        return
    golden = GOLDEN / f"session.{fmt}"
    if REGENERATE:
        golden.write_bytes(output)
        pytest.skip(f"regenerated {golden.name}")
    assert output == golden.read_bytes(), f"{golden.name} changed; see this module's docstring"


def _golden_html(name: str, output: bytes) -> None:
    golden = GOLDEN / name
    if REGENERATE:
        golden.write_bytes(output)
        MATPLOTLIB_VERSION.write_text(matplotlib.__version__ + "\n", encoding="utf-8")
        pytest.skip(f"regenerated {golden.name}")
    made_with = MATPLOTLIB_VERSION.read_text(encoding="utf-8").strip()
    if made_with != matplotlib.__version__:
        pytest.skip(f"golden HTML is from matplotlib {made_with}, not {matplotlib.__version__}")
    assert output == golden.read_bytes(), f"{golden.name} changed; see this module's docstring"


def test_therapist_report_matches_golden_bytes(sample, tmp_path):
    """Three weeks of a 3-a-week program: one week met, one missed, the running week."""
    days = [2, 4, 6, 11, 16, 18]
    with open_history(tmp_path / "history.sqlite3") as history:
        for index, day in enumerate(days):
            meta = sample.session.model_copy(
                update={
                    "start": datetime(2026, 11, day, 7, 30, tzinfo=UTC),
                    "program": ProgramRef(id="maintenance", sessions_per_week=3),
                }
            )
            knee, tilt = sample.exercises
            sets = knee.sets[: 1 + index % 2]  # some sessions with one set only
            knee = knee.model_copy(
                update={"sets": sets, "adherence": adherence(sets, knee.prescription)}
            )
            history.record(
                sample.model_copy(
                    update={
                        "session": meta,
                        "exercises": (knee, tilt),
                        "warnings": sample.warnings[: index % 4],
                    }
                )
            )
        sessions = history.sessions()
        summaries = [history.summary(s.id)[0] for s in sessions]
    page = therapist_report(sessions, summaries, now=datetime(2026, 11, 19, 12, tzinfo=UTC), tz=UTC)
    _golden_html("report.html", page.encode("utf-8"))


def test_every_format_is_deterministic(sample):
    for fmt in FORMATS:
        assert render(sample, fmt) == render(sample, fmt)


def test_csv_has_one_row_per_rep(sample):
    rows = list(csv.DictReader(io.StringIO(render(sample, "csv"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == sample.rep_count == 18
    flagged = [(r["exercise_id"], r["set"], r["rep"], r["flags"]) for r in rows if r["flags"]]
    assert flagged == [
        ("knee_to_chest_single", "2", "4", "hold_released_early"),
        ("knee_to_chest_single", "2", "5", "range_limit"),
        ("pelvic_tilt", "1", "6", "too_fast"),
        ("pelvic_tilt", "1", "7", "too_fast"),
    ]
    assert rows[-1]["hold_s_prescribed"] == "" and rows[0]["hold_s_prescribed"] == "20.0"


def test_markdown_reads_as_plain_text(sample):
    text = render(sample, "md")
    assert "<" not in text and "&" not in text  # no HTML, no entities
    assert "| Single knee to chest | 2 / 2 | 10 / 10 | 9 / 10 (≥ 20 s) |" in text
    # Tables are padded: every line of one table has the same width.
    table = next(line for line in text.splitlines() if line.startswith("| Rep"))
    block = text[text.index(table) :].split("\n\n")[0].splitlines()
    assert len({len(line) for line in block}) == 1


def test_html_is_self_contained(sample):
    page = render(sample, "html")
    assert page.count("<svg") == 2
    assert not re.search(r"<(script|link|img|iframe)\b", page)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "url(http" not in page and "@import" not in page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "element ids must be unique across the inline charts"
    for kind in ("hold_released_early", "range_limit", "too_fast"):
        assert f"warning: {kind}" in page  # chart legend entries
    # The file name only (no directories), and no device address in a page meant to be shared.
    assert "2026-11-20-0730.mrec" in page and "/tmp/" not in page and "A0:9E:1A" not in page


def test_export_writes_private_files_and_refuses_to_overwrite(sample, tmp_path):
    out = tmp_path / "session.html"
    export(sample, "md", out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    with pytest.raises(MonitorError, match="already exists; use --force"):
        export(sample, "csv", out)
    assert out.read_text(encoding="utf-8").startswith("# Session")
    export(sample, "csv", out, force=True)
    assert out.read_text(encoding="utf-8").startswith("exercise_id,")
    with pytest.raises(MonitorError, match="unknown export format 'pdf'"):
        render(sample, "pdf")


def test_reps_to_the_negative_side_peak_at_their_most_negative_angle():
    t = np.arange(0, 20, 0.1)
    angle = np.where((t > 2) & (t < 8), 40.0, 0.0) + np.where((t > 12) & (t < 18), -42.0, 0.0)
    left = Rep(index=2, start_s=10, end_s=20, peak_angle_deg=-42, hold_s=5, peak_speed_dps=30)
    peak_t, (hold_from, hold_to) = _peak_and_hold(left, t, angle)
    assert 12 < peak_t < 18 and hold_from == pytest.approx(12.1) and hold_to == pytest.approx(17.9)
