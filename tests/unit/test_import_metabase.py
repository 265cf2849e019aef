"""MetaBase CSV pairs: written by our writer, read back onto one clock, analysed."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from import_support import REPS, channel, interp_to, shifted

from monitor.analysis.pipeline import AnalysisPipeline
from monitor.core import GRAVITY, EventKind
from monitor.errors import InputFileError
from monitor.sources.importers import metabase
from monitor.sources.inputs import open_input

G_STEP = 0.0005 * GRAVITY  # MetaBase writes 3 decimals of g
DPS_STEP = 0.0005 * math.pi / 180


def write_pair(folder: Path, label: str = "tilts", gyro_offset_ns: int = 0) -> list[Path]:
    acc = channel(12.5, "acc")
    gyro = shifted(channel(25.0, "gyro"), gyro_offset_ns)
    return metabase.write(folder, [acc, gyro], label=label)


def test_pair_round_trip_on_the_gyroscope_clock(tmp_path: Path) -> None:
    acc_file, gyro_file = write_pair(tmp_path)
    assert acc_file.name.endswith("_C42732BE255C_Accelerometer_12.500Hz_1.4.4.csv")
    loaded = open_input(acc_file)
    meta = loaded.metadata
    assert meta.kind == "metabase" and meta.files == sorted([acc_file, gyro_file])
    assert meta.channel_rates_hz == {"acc": 12.5, "gyro": 25.0}
    assert meta.device_address == "C4:27:32:BE:25:5C" and meta.device_name == "MetaWear"
    assert meta.start is not None and meta.start.isoformat().startswith("2026-01-05T08:00:00")
    (block,) = loaded.blocks
    gyro = channel(25.0, "gyro")
    acc = channel(12.5, "acc")
    overlap = gyro.t_ns <= acc.t_ns[-1]  # the 12.5 Hz file ends earlier
    np.testing.assert_array_equal(block.t_ns, gyro.t_ns[overlap])
    np.testing.assert_allclose(block.gyro, gyro.gyro[overlap], atol=DPS_STEP)
    np.testing.assert_allclose(block.acc, interp_to(acc, "acc", block.t_ns), atol=G_STEP)
    assert meta.rates_hz == {"metabase": pytest.approx(25.0)}


def test_either_file_or_the_folder(tmp_path: Path) -> None:
    acc_file, gyro_file = write_pair(tmp_path)
    loads = [open_input(p).blocks[0] for p in (acc_file, gyro_file, tmp_path)]
    for other in loads[1:]:
        np.testing.assert_array_equal(other.acc, loads[0].acc)


def test_round_trip_still_counts_the_reps(tmp_path: Path) -> None:
    acc_file, _ = write_pair(tmp_path)
    pipeline = AnalysisPipeline("pelvic_tilt")
    for block in open_input(acc_file):
        pipeline.process(block)
    assert pipeline.summary().rep_count == REPS


def test_overlap_only_and_never_overlapping_clocks(tmp_path: Path) -> None:
    acc_file, _ = write_pair(tmp_path, gyro_offset_ns=10_000_000_000)
    loaded = open_input(acc_file)
    (block,) = loaded.blocks
    assert block.t_ns[0] >= channel(12.5, "acc").t_ns[0] + 10_000_000_000
    assert any("common time span" in w for w in loaded.metadata.warnings)
    apart = tmp_path / "apart"
    apart.mkdir()
    acc_file, _ = write_pair(apart, gyro_offset_ns=3_600_000_000_000)
    with pytest.raises(InputFileError, match="clocks never overlap"):
        open_input(acc_file)


def test_missing_partner(tmp_path: Path) -> None:
    acc_file, gyro_file = write_pair(tmp_path)
    acc_file.unlink()
    with pytest.raises(InputFileError, match="no Accelerometer file found"):
        open_input(gyro_file)
    (tmp_path / "alone").mkdir()
    acc_file, gyro_file = write_pair(tmp_path / "alone")
    gyro_file.unlink()
    loaded = open_input(acc_file)
    warnings = " ".join(loaded.metadata.warnings)
    assert "no Gyroscope partner" in warnings and "rotation about the vertical" in warnings
    assert loaded.blocks[0].gyro is not None  # tilt rate from the accelerometer
    assert [e.kind for e in loaded.events] == [EventKind.INFO]


def test_header_only_torn_line_and_bad_rows(tmp_path: Path) -> None:
    acc_file, gyro_file = write_pair(tmp_path)
    text = gyro_file.read_text()
    lines = text.splitlines()
    gyro_file.write_text(lines[0] + "\n")
    with pytest.raises(InputFileError, match=f"{gyro_file}: header only"):
        open_input(acc_file)
    gyro_file.write_text(text[: len(text) - 9])  # cut off inside the last row
    loaded = open_input(acc_file)
    assert any(f"line {len(lines)}: cut off" in w for w in loaded.metadata.warnings)
    lines[7] = lines[7].replace(",", ",x", 4)
    gyro_file.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFileError, match=r"line 8: x-axis \(deg/s\): 'x.*' is not a number"):
        open_input(acc_file)
    lines = text.splitlines()
    lines[20], lines[21] = lines[21], lines[20]
    gyro_file.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFileError, match=f"{gyro_file.name}: line 22: time goes backwards"):
        open_input(gyro_file)


def test_gaps_are_reported_and_not_bridged(tmp_path: Path) -> None:
    acc_file, _ = write_pair(tmp_path)
    lines = acc_file.read_text().splitlines()
    del lines[100:110]  # 0.8 s of accelerometer missing
    acc_file.write_text("\n".join(lines) + "\n")
    loaded = open_input(acc_file)
    (gap,) = [e for e in loaded.events if e.kind == EventKind.GAP]
    assert gap.data["channel"] == "acc" and gap.data["missing_samples"] == 10
    (block,) = loaded.blocks
    assert np.diff(block.t_ns).max() > 800_000_000  # the merged samples keep the hole


def test_folder_with_two_recordings_and_wrong_unit(tmp_path: Path) -> None:
    write_pair(tmp_path, label="first")
    acc_file, _ = write_pair(tmp_path, label="second")
    with pytest.raises(InputFileError, match="holds 2 MetaBase recordings"):
        open_input(tmp_path)
    acc_file.write_text(acc_file.read_text().replace("(g)", "(m/s^2)"))
    with pytest.raises(InputFileError, match=r"line 1: axis unit 'm/s\^2' is not one of g"):
        open_input(acc_file)
