"""phyphox exports (folder or zip, every separator phyphox offers): written, read back."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from import_support import REPS, channel, interp_to

from monitor.analysis.pipeline import AnalysisPipeline
from monitor.errors import InputFileError
from monitor.sources.importers import phyphox
from monitor.sources.inputs import open_input

START = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def blocks():
    return [channel(100.0, "acc", t0_ns=0), channel(50.0, "gyro", t0_ns=0)]


@pytest.mark.parametrize(
    ("target", "separator", "decimal_comma"),
    [
        ("export", ",", False),
        ("export.zip", ",", False),
        ("export", "\t", False),
        ("export.zip", ";", True),
        ("export", "\t", True),
    ],
)
def test_round_trip(tmp_path: Path, target: str, separator: str, decimal_comma: bool) -> None:
    path = tmp_path / target
    if path.suffix != ".zip":
        path.mkdir()
    phyphox.write(path, blocks(), separator=separator, decimal_comma=decimal_comma, start=START)
    loaded = open_input(path)
    meta = loaded.metadata
    assert meta.kind == "phyphox" and meta.start == START
    assert meta.channel_rates_hz == {"acc": pytest.approx(100.0), "gyro": pytest.approx(50.0)}
    (block,) = loaded.blocks
    acc, gyro = blocks()
    np.testing.assert_array_equal(block.t_ns, acc.t_ns[acc.t_ns <= gyro.t_ns[-1]])
    np.testing.assert_allclose(block.acc, acc.acc[: len(block)], rtol=1e-9)
    np.testing.assert_allclose(block.gyro, interp_to(gyro, "gyro", block.t_ns), rtol=1e-8)


def test_header_as_phyphox_writes_it_and_the_reps_count(tmp_path: Path) -> None:
    phyphox.write(tmp_path, blocks(), start=START)
    head = (tmp_path / "Accelerometer.csv").read_text().splitlines()[:2]
    assert head[0] == (
        '"Time (s)","Acceleration x (m/s^2)","Acceleration y (m/s^2)","Acceleration z (m/s^2)"'
    )
    assert head[1].startswith("0.000000000E+00,")
    assert (tmp_path / "Gyroscope.csv").read_text().startswith('"Time (s)","Gyroscope x (rad/s)"')
    pipeline = AnalysisPipeline("pelvic_tilt")
    for block in open_input(tmp_path / "Gyroscope.csv"):  # one file: its export folder is read
        pipeline.process(block)
    assert pipeline.summary().rep_count == REPS


def test_broken_exports(tmp_path: Path) -> None:
    phyphox.write(tmp_path, blocks())
    gyro_file = tmp_path / "Gyroscope.csv"
    lines = gyro_file.read_text().splitlines()
    gyro_file.write_text(lines[0] + "\n")
    with pytest.raises(InputFileError, match=r"Gyroscope\.csv: header only"):
        open_input(tmp_path)
    lines[40] = lines[40].replace("E", "Q", 1)
    gyro_file.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFileError, match=r"Gyroscope.csv: line 41: Time \(s\): '.*Q"):
        open_input(tmp_path)
    lines[40] = lines[40].replace("Q", "E")
    gyro_file.write_text("\n".join(lines) + "\n")
    (tmp_path / "Accelerometer.csv").unlink()
    with pytest.raises(InputFileError, match=r"no Accelerometer\.csv"):
        open_input(tmp_path)
    archive = tmp_path / "broken.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("Accelerometer.csv", '"Time (s)","Acceleration x (m/s^2)","Wrong"\n')
    with pytest.raises(InputFileError, match=r"broken.zip/Accelerometer.csv: line 1: column 3"):
        open_input(archive)


def test_accelerometer_only_export(tmp_path: Path) -> None:
    phyphox.write(tmp_path, blocks()[:1])
    loaded = open_input(tmp_path / "Accelerometer.csv")
    assert any("rotation about the vertical" in w for w in loaded.metadata.warnings)
    assert loaded.metadata.start is None
