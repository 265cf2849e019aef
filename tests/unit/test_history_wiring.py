"""Issue 6 wiring: program frequency into summaries, `monitor analyze` into the history, and
which TUI verbs keep their sessions (demo does not)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.analysis.programs import load_program
from monitor.cli import main
from monitor.errors import InputFileError
from monitor.session.history import default_path, open_history
from monitor.session.summary import program_ref
from monitor.tui.track import ProgramTrack

REPO = Path(__file__).resolve().parents[2]
STARTER = REPO / "monitor" / "analysis" / "data" / "programs" / "low_back_starter.toml"
PELVIC_TILT = REPO / "recordings" / "witmotion_wt901ble_pelvic_tilt.mrec"


def test_starter_program_prescribes_daily_sessions_and_summaries_carry_it():
    program = load_program(STARTER)
    assert program.sessions_per_week == 7
    assert program_ref(program).sessions_per_week == 7


@pytest.mark.parametrize("value", ["0", "15", "2.5"])
def test_sessions_per_week_out_of_range_is_a_one_line_error(tmp_path, value):
    text = STARTER.read_text(encoding="utf-8").replace(
        "sessions_per_week = 7", f"sessions_per_week = {value}"
    )
    path = tmp_path / "program.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputFileError, match="sessions_per_week") as error:
        load_program(path)
    assert "\n" not in str(error.value)


def test_tui_session_summary_names_the_program_and_its_frequency():
    from monitor.session.summary import SensorInfo

    track = ProgramTrack(load_program(STARTER))
    summary = track.summary(source="replay", sensor=SensorInfo(profile="p"))
    assert summary.session.program is not None
    assert summary.session.program.name == "Low-back starter program"
    assert summary.session.program.sessions_per_week == 7
    # the same id as `analyze --program` and `export --program` give the file (below)
    assert summary.session.program.id == "low_back_starter"


def test_analyze_keeps_the_session_once_and_no_history_keeps_none(capsys):
    assert main(["analyze", str(PELVIC_TILT), "--no-history"]) == 0
    assert not default_path().exists()
    for _ in range(2):  # the same file again updates its session
        assert main(["analyze", str(PELVIC_TILT), "--program", str(STARTER)]) == 0
    printed = capsys.readouterr().out
    with open_history() as history:
        sessions = history.sessions()
        assert len(sessions) == 1
        stored, recording = history.summary(sessions[0].id)
    assert recording == PELVIC_TILT.resolve()
    assert sessions[0].sessions_per_week == 7
    assert stored.session.program is not None and stored.session.program.id == "low_back_starter"
    assert f"{stored.rep_count} reps" in printed
    assert stored.trace is not None


def _screen_kwargs(monkeypatch, verb: str, argv: list[str]) -> dict:
    import monitor.tui.app

    seen: dict = {}

    def fake_run_session(feed, **kwargs):  # type: ignore[no-untyped-def]
        seen.update(kwargs)
        return 0

    monkeypatch.setattr(monitor.tui.app, "run_session", fake_run_session)
    assert main([verb, *argv]) == 0
    return seen


def test_demo_leaves_the_history_alone_and_replay_keeps_it(monkeypatch):
    assert _screen_kwargs(monkeypatch, "demo", [])["keep_history"] is False
    assert _screen_kwargs(monkeypatch, "replay", [str(PELVIC_TILT)]).get("keep_history", True)
