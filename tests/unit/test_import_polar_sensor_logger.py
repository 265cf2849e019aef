"""Polar Sensor Logger .txt streams: written by our writer, read back on the sensor clock."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from import_support import REPS, channel, interp_to, shifted

from monitor.analysis.pipeline import AnalysisPipeline
from monitor.core import GRAVITY, SampleBlock
from monitor.errors import InputFileError
from monitor.sources.importers import polar_sensor_logger as psl
from monitor.sources.inputs import open_input

SENSOR_T0_NS = 820_000_000_000_000_000  # 2025-12-25T17:46:40Z on the Polar clock (since 2000)


def polar_channel(rate_hz: float, name: str) -> SampleBlock:
    return channel(rate_hz, name, t0_ns=SENSOR_T0_NS)


def write_streams(folder: Path, gyro_offset_ns: int = 0) -> list[Path]:
    acc = polar_channel(50.0, "acc")
    gyro = shifted(polar_channel(52.0, "gyro"), gyro_offset_ns)
    mag = polar_channel(25.0, "mag")
    return psl.write(folder, [acc, gyro, mag], model="Sense", device_id="B36B2C27")


def test_streams_round_trip_on_the_sensor_clock(tmp_path: Path) -> None:
    acc_file, gyro_file, mag_file = write_streams(tmp_path)
    assert acc_file.name == "Polar_Sense_B36B2C27_20251225_174640_ACC.txt"
    assert gyro_file.name.endswith("_GYRO.txt") and mag_file.name.endswith("_MAGN.txt")
    assert acc_file.read_text().startswith(
        "Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]\n2025-12-25T17:46:40.000;"
    )
    loaded = open_input(gyro_file)
    meta = loaded.metadata
    assert meta.kind == "polar-sensor-logger" and meta.device_name == "Polar Sense B36B2C27"
    assert meta.start is not None and meta.start.year == 2025
    assert set(meta.channel_rates_hz) == {"acc", "gyro", "mag"}
    assert meta.channel_rates_hz["gyro"] == pytest.approx(52.0)
    (block,) = loaded.blocks
    gyro, acc, mag = (
        polar_channel(r, c) for r, c in ((52.0, "gyro"), (50.0, "acc"), (25.0, "mag"))
    )
    within = gyro.t_ns <= min(acc.t_ns[-1], mag.t_ns[-1])
    np.testing.assert_array_equal(block.t_ns, gyro.t_ns[within])  # the 52 Hz clock, as is
    np.testing.assert_allclose(block.gyro, gyro.gyro[within], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(block.acc, interp_to(acc, "acc", block.t_ns), atol=GRAVITY / 2000)
    np.testing.assert_allclose(block.mag, interp_to(mag, "mag", block.t_ns), rtol=1e-5, atol=1e-6)


def test_other_streams_are_ignored_and_the_reps_count(tmp_path: Path) -> None:
    acc_file, *_ = write_streams(tmp_path)
    (tmp_path / acc_file.name.replace("_ACC", "_HR")).write_text("Phone timestamp;HR [bpm]\n")
    pipeline = AnalysisPipeline("pelvic_tilt")
    for block in open_input(tmp_path):
        pipeline.process(block)
    assert pipeline.summary().rep_count == REPS


def test_renamed_file_reads_alone_by_content(tmp_path: Path) -> None:
    acc_file, *_ = write_streams(tmp_path)
    alone = tmp_path / "alone"
    alone.mkdir()
    renamed = acc_file.rename(alone / "my walk.txt")
    loaded = open_input(renamed)
    assert loaded.metadata.kind == "polar-sensor-logger"
    assert any("rotation about the vertical" in w for w in loaded.metadata.warnings)


def test_edge_cases(tmp_path: Path) -> None:
    acc_file, gyro_file, mag_file = write_streams(tmp_path)
    mag_file.unlink()
    text = gyro_file.read_text()
    gyro_file.write_text(text.splitlines()[0] + "\n")
    with pytest.raises(InputFileError, match=r"GYRO\.txt: header only"):
        open_input(acc_file)
    gyro_file.write_text(text[: text.rindex(";")])  # cut off inside the last row
    loaded = open_input(acc_file)
    assert any("cut off mid-line" in w for w in loaded.metadata.warnings)
    gyro_file.write_text(text.replace("[dps]", "[rad/s]"))
    with pytest.raises(InputFileError, match="line 1: axis unit 'rad/s' is not one of mg, dps, G"):
        open_input(acc_file)
    acc_file.unlink()
    gyro_file.write_text(text)
    with pytest.raises(InputFileError, match="no ACC file found"):
        open_input(gyro_file)


def test_clocks_that_never_overlap(tmp_path: Path) -> None:
    acc_file, *_ = write_streams(tmp_path, gyro_offset_ns=-3_600_000_000_000)
    with pytest.raises(InputFileError, match="clocks never overlap"):
        open_input(acc_file)


def test_units(tmp_path: Path) -> None:
    path = tmp_path / "Polar_H10_12345678_20260105_090000_ACC.txt"
    path.write_text(
        "Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]\n"
        "2026-01-05T09:00:00.000;599000000000000000;1000;0;-500\n"
        "2026-01-05T09:00:00.005;599000000005000000;0;1000;0\n"
        "2026-01-05T09:00:00.010;599000000010000000;0;0;1000\n"
    )
    (tmp_path / path.name.replace("ACC", "GYRO")).write_text(
        "Phone timestamp;sensor timestamp [ns];X [dps];Y [dps];Z [dps]\n"
        "2026-01-05T09:00:00.000;599000000000000000;180;0;0\n"
        "2026-01-05T09:00:00.010;599000000010000000;0;-90;0\n"
    )
    (block,) = open_input(path).blocks
    assert block.t_ns.tolist() == [599000000000000000, 599000000005000000, 599000000010000000]
    np.testing.assert_allclose(block.acc[0], [GRAVITY, 0, -GRAVITY / 2])
    np.testing.assert_allclose(block.gyro[[0, 2]], [[math.pi, 0, 0], [0, -math.pi / 2, 0]])


def test_a_stream_file_holding_another_channel_is_named(tmp_path: Path) -> None:
    """A GYRO file whose header says mg holds accelerometer data: one line naming both files,
    not the ACC file's samples silently replaced."""
    acc_file, gyro_file, _ = write_streams(tmp_path)
    gyro_file.write_text(acc_file.read_text())
    with pytest.raises(InputFileError, match=r"a second ACC file besides .*_ACC\.txt"):
        open_input(acc_file)
