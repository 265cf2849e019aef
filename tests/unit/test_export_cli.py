"""`monitor export` end to end: a simulated sensor session recorded through the real profile,
analysed by the real pipeline, stored in the history and exported."""

from __future__ import annotations

import csv
import io
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.session.history import open_history
from monitor.session.summary import load_summary
from monitor.sources.motion import Disconnect, Link, MotionScript, RepsSegment, RepVariation
from monitor.sources.simulate import simulate, write_recording, write_samples_csv

START = datetime(2026, 11, 20, 7, 30, tzinfo=UTC)
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def session():
    """Two sets of three reps with a 6 s hold; set 2 rep 2 cut short; a 2 s disconnect."""
    script = MotionScript(
        exercise="knee_to_chest_single",
        rate_hz=50,
        segments=[
            RepsSegment(
                sets=2,
                reps=3,
                hold_s=6,
                set_rest_s=30,
                variations=[RepVariation(set=2, rep=2, hold_s=1.0)],
            )
        ],
        link=Link(disconnects=[Disconnect(at_s=30.0, duration_s=2.0)]),
    )
    return simulate(script, "metamotion_s", start_utc=START)


@pytest.fixture
def recording(session, tmp_path) -> Path:
    path = tmp_path / "k2c.mrec"
    write_recording(session, path)
    return path


def export_json(args: list[str], out: Path) -> dict:
    assert main(["export", *args, "--format", "json", "-o", str(out)]) == 0
    return load_summary(out.read_text(encoding="utf-8"))


def test_recording_exports_what_was_done(recording, tmp_path):
    summary = export_json([str(recording)], tmp_path / "s.json")
    meta = summary.session
    assert meta.start == START and meta.source == "replay" and meta.input_name == "k2c.mrec"
    assert meta.sensor.profile == "metamotion_s"
    (exercise,) = summary.exercises
    assert exercise.exercise_id == "knee_to_chest_single"
    assert [len(s.reps) for s in exercise.sets] == [3, 3]
    holds = [rep.hold_s for rep in exercise.reps]
    assert min(holds) == holds[4] and holds[4] < 3  # the rep released early
    assert all(h > 5 for i, h in enumerate(holds) if i != 4)
    assert any(w.kind == "hold_released_early" for w in summary.warnings)
    assert summary.gaps and 29 < summary.gaps[0].start_s < 33  # the disconnect
    assert summary.calibration is not None
    assert summary.trace is not None and len(summary.trace.t_s) > 100
    assert max(summary.trace.angle_deg) == pytest.approx(
        max(r.peak_angle_deg for r in exercise.reps), abs=8
    )


def test_export_stores_the_session_and_exports_it_again_by_id(recording, tmp_path):
    first = (tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json")
    summary = export_json([str(recording)], first[0])
    again = export_json([str(recording)], first[1])  # same file: same session, updated
    with open_history() as history:
        stored = history.sessions()
    assert len(stored) == 1 and stored[0].recording_path == str(recording.resolve())
    by_id = export_json([str(stored[0].id)], first[2])
    assert summary == again == by_id
    assert first[0].read_bytes() == first[2].read_bytes()
    assert stat.S_IMODE(first[2].stat().st_mode) == 0o600


def test_csv_rows_and_overwrite_refusal(recording, tmp_path, capsys):
    out = tmp_path / "reps.csv"
    assert main(["export", str(recording), "--format", "csv", "-o", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(rows) == 6 and {r["set"] for r in rows} == {"1", "2"}
    capsys.readouterr()
    assert main(["export", str(recording), "--format", "md", "-o", str(out)]) == 2
    assert "already exists; use --force" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8").startswith("exercise_id,")
    assert main(["export", str(recording), "--format", "md", "-o", str(out), "--force"]) == 0
    assert out.read_text(encoding="utf-8").startswith("# Session")


def test_csv_input_is_an_import(session, tmp_path):
    path = tmp_path / "samples.csv"
    write_samples_csv(session, path)
    summary = export_json(
        [str(path), "--exercise", "knee_to_chest_single", "--no-history"], tmp_path / "s.json"
    )
    assert summary.session.source == "import" and summary.session.input_name == "samples.csv"
    assert summary.rep_count == 6
    with open_history() as history:
        assert history.sessions() == []


def test_bad_inputs_are_one_line_errors(tmp_path, capsys):
    assert main(["export", "42", "--format", "json", "-o", str(tmp_path / "x.json")]) == 2
    assert "no session 42 in the history" in capsys.readouterr().err
    missing = tmp_path / "nope.mrec"
    assert main(["export", str(missing), "--format", "json", "-o", str(tmp_path / "x")]) == 2
    assert "no such file, and not a session id" in capsys.readouterr().err
    garbage = tmp_path / "garbage.mrec"
    garbage.write_bytes(b"\x00\x01 not a recording")
    assert main(["export", str(garbage), "--format", "html", "-o", str(tmp_path / "y")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("monitor: error: ") and "garbage.mrec" in err and err.count("\n") == 1
    assert not (tmp_path / "y").exists()


def test_a_csv_without_gyroscope_is_refused_plainly(tmp_path, capsys):
    path = tmp_path / "acc_only.csv"
    rows = "\n".join(f"{i / 50:.2f},0,0,9.81" for i in range(200))
    path.write_text("time_s,acc_x_mps2,acc_y_mps2,acc_z_mps2\n" + rows + "\n", encoding="utf-8")
    assert main(["export", str(path), "--format", "json", "-o", str(tmp_path / "o.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("monitor: error: ") and "acc_only.csv" in err and "Traceback" not in err


def test_program_item_prescription_and_percent_limit(recording, tmp_path):
    program = REPO_ROOT / "monitor" / "analysis" / "data" / "programs" / "low_back_starter.toml"
    summary = export_json(
        [str(recording), "--program", str(program), "--item", "2", "--no-history"],
        tmp_path / "s.json",
    )
    assert summary.session.program.id == "low_back_starter"
    assert summary.session.program.name == "Low-back starter program"
    (exercise,) = summary.exercises
    wanted = exercise.prescription
    assert (wanted.reps, wanted.hold_s) == (5, 20.0)
    # rom_limit_pct = 15: 15% over the range measured at calibration.
    assert wanted.limit_deg == pytest.approx(summary.calibration.range_deg * 1.15, abs=0.01)
    assert exercise.adherence.holds_done == 0  # 6 s holds fall short of 20 s
