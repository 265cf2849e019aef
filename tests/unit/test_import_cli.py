"""The verbs on other apps' exports: analyze, export (summary and samples-csv), --input-format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from import_support import REPS, channel

from monitor.cli import main
from monitor.sources.csv_import import read_csv
from monitor.sources.importers import metabase, phyphox


@pytest.fixture
def export_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "metabase"
    folder.mkdir()
    metabase.write(folder, [channel(12.5, "acc"), channel(25.0, "gyro")], label="tilts")
    return folder


def test_analyze_an_export_folder(export_folder: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["analyze", str(export_folder), "--exercise", "pelvic_tilt", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rep_count"] == REPS


def test_analyze_accelerometer_only_says_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    phyphox.write(tmp_path, [channel(50.0, "acc", t0_ns=0)])
    assert main(["analyze", str(tmp_path), "--exercise", "pelvic_tilt", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["rep_count"] == REPS
    assert "rotation about the vertical" in captured.err


def test_export_summary_goes_to_the_history_once(export_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    for _ in range(2):
        args = ["export", str(export_folder), "--format", "json", "-o", str(out), "--force"]
        assert main([*args, "--exercise", "pelvic_tilt"]) == 0
    summary = json.loads(out.read_text())
    assert summary["session"]["sensor"]["device"] == "C4:27:32:BE:25:5C"
    assert summary["session"]["source"] == "import"
    assert main(["export", "1", "--format", "md", "-o", str(tmp_path / "again.md")]) == 0
    assert main(["export", "2", "--format", "md", "-o", str(tmp_path / "none.md")]) == 2


def test_export_samples_csv(export_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "samples.csv"
    acc_file = next(export_folder.glob("*Accelerometer*"))
    args = ["export", str(acc_file), "--format", "samples-csv", "-o", str(out)]
    assert main([*args, "--exercise", "pelvic_tilt"]) == 0
    back = read_csv(out)
    assert back.rate_hz == pytest.approx(25.0) and back.units["acc"] == "mps2"
    assert main(args) == 2  # exists, no --force


def test_forced_input_format_errors_name_the_line(
    export_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    acc_file = next(export_folder.glob("*Accelerometer*"))
    args = ["analyze", str(acc_file), "--input-format", "polar-sensor-logger"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "line 1: column 1 is 'epoch (ms),time (00:00)" in err and len(err.splitlines()) == 1
