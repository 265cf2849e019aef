"""`monitor history` and `monitor report` over a real history database."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.cli.history import sparkline
from monitor.session.history import open_history
from monitor.session.summary import ProgramRef, load_summary

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "golden" / "session.json"


def record_days_ago(days_ago: list[int], per_week: float = 7) -> None:
    sample = load_summary(SAMPLE.read_text(encoding="utf-8"))
    now = datetime.now(UTC).replace(microsecond=0)
    with open_history() as history:
        for days in sorted(days_ago, reverse=True):
            meta = sample.session.model_copy(
                update={
                    "start": now - timedelta(days=days),
                    "program": ProgramRef(id="maintenance", sessions_per_week=per_week),
                }
            )
            history.record(sample.model_copy(update={"session": meta}))


def test_sparkline_scales_and_marks_missing():
    assert sparkline([1, 2, 3, None, 8]) == "▁▂▃ █"
    assert sparkline([5, 5]) == "▁▁"
    assert sparkline([]) == "" and sparkline([None]) == ""


def test_history_table_trends_and_nudge(capsys):
    record_days_ago([12, 10, 9, 8, 5])  # daily program, nothing for 5 days
    assert main(["history"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("No session for 5 days: your program asks for daily sessions.")
    assert "5 sessions, 7 sessions a week prescribed" in out
    assert "Single knee to chest" in out and "50 / 50" in out  # reps over five sessions
    assert "ROM trend" in out and "Sessions per week" in out
    assert "Warnings per session: ▁▁▁▁▁" in out  # constant count: flat sparkline


def test_history_json_and_filters(capsys):
    record_days_ago([3, 1])
    assert main(["history", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["session_count"] == 2 and data["nudge"] is None
    assert [s["id"] for s in data["sessions"]] == [1, 2]
    assert data["exercises"][0]["peak_angle_deg"] == [98.4, 98.4]
    since = (datetime.now().date() - timedelta(days=2)).isoformat()
    assert main(["history", "--json", "--since", since, "--exercise", "pelvic_tilt"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["session_count"] == 1
    assert [e["exercise_id"] for e in data["exercises"]] == ["pelvic_tilt"]


def test_history_on_an_empty_database_and_bad_dates(capsys):
    assert main(["history"]) == 0
    assert "No sessions in the history yet." in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["history", "--since", "last tuesday"])
    assert exit_info.value.code == 2
    assert "'last tuesday' is not a date" in capsys.readouterr().err


def test_report_writes_a_private_self_contained_page(tmp_path, capsys):
    record_days_ago([9, 8, 2])
    out = tmp_path / "report.html"
    assert main(["report", "--since", "2000-01-01", "-o", str(out)]) == 0
    assert "3 sessions" in capsys.readouterr().out
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    page = out.read_text(encoding="utf-8")
    assert page.count("<svg") == 3  # weeks, range of motion, warnings
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    ).replace('xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    assert "Single knee to chest" in page and "2 sets x 5 reps, hold 20 s" in page
    assert main(["report", "-o", str(out)]) == 2  # exists: refused without --force
    assert "already exists; use --force" in capsys.readouterr().err
    assert main(["report", "-o", str(out), "--force"]) == 0


def test_long_histories_show_recent_weeks_and_a_sparkline_of_all(capsys):
    record_days_ago([120, 60, 1])
    assert main(["history"]) == 0
    out = capsys.readouterr().out
    assert "Sessions per week since " in out
    week_rows = [line for line in out.splitlines() if line.startswith("│ 20")]
    assert len(week_rows) == 8  # the eight most recent weeks of eighteen
