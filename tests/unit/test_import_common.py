"""What every importer shares: detection by content, forced formats, accelerometer-only data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from import_support import REPS, channel, motion
from scipy.spatial.transform import Rotation

from monitor.analysis.pipeline import AnalysisPipeline
from monitor.core import GRAVITY
from monitor.errors import InputFileError
from monitor.sources.importers import (
    FORMATS,
    detect,
    input_digest,
    metabase,
    phyphox,
    polar_sensor_logger,
)
from monitor.sources.importers.common import tilt_rate_from_acc
from monitor.sources.inputs import open_input

REPO = Path(__file__).resolve().parents[2]


def test_tilt_rate_from_the_accelerometer_matches_the_true_rotation() -> None:
    rate = 100.0
    t_s = np.arange(0, 10, 1 / rate)
    t_ns = np.rint(t_s * 1e9).astype(np.int64)
    mounting = Rotation.from_euler("xyz", [20, -35, 70], degrees=True)
    tilt = 0.8 * np.sin(2 * np.pi * 0.3 * t_s)  # about the horizontal world x axis
    tilt_rate = 0.8 * 2 * np.pi * 0.3 * np.cos(2 * np.pi * 0.3 * t_s)
    sensor_to_world = Rotation.from_rotvec(tilt[:, None] * [1, 0, 0]) * mounting
    acc = sensor_to_world.inv().apply([0, 0, GRAVITY])
    expected = tilt_rate[:, None] * mounting.inv().apply([1, 0, 0])
    inner = slice(100, -100)  # away from the filter's ends
    estimated = tilt_rate_from_acc(t_ns, acc)
    np.testing.assert_allclose(estimated[inner], expected[inner], atol=0.02)
    # turning about the vertical leaves the accelerometer unchanged: nothing to see
    heading = Rotation.from_rotvec(0.5 * t_s[:, None] * [0, 0, 1]) * mounting
    still = tilt_rate_from_acc(t_ns, heading.inv().apply([0, 0, GRAVITY]))
    assert np.abs(still).max() < 1e-9


def test_accelerometer_only_still_counts_tilts(tmp_path: Path) -> None:
    (acc_file,) = metabase.write(tmp_path, [channel(50.0, "acc")])
    loaded = open_input(acc_file)
    assert any("rotation about the vertical" in w for w in loaded.metadata.warnings)
    pipeline = AnalysisPipeline("pelvic_tilt")
    for block in loaded:
        pipeline.process(block)
    assert pipeline.summary().rep_count == REPS


@pytest.fixture
def exports(tmp_path: Path) -> dict[str, Path]:
    both = [channel(50.0, "acc"), channel(50.0, "gyro")]
    made = {}
    for name, module in (("metabase", metabase), ("polar-sensor-logger", polar_sensor_logger)):
        folder = tmp_path / name
        folder.mkdir()
        made[name] = module.write(folder, both)[0]
    made["phyphox"] = phyphox.write(tmp_path / "phyphox.zip", both)
    return made


def test_detected_by_content_not_name(exports: dict[str, Path], tmp_path: Path) -> None:
    for name, path in exports.items():
        disguised = path.rename(path.with_name("data.bin"))
        assert detect(disguised) is FORMATS[name]
        assert open_input(disguised).metadata.kind == name
    assert detect(REPO / "recordings") is None


def test_forced_format_names_the_file_and_line(exports: dict[str, Path]) -> None:
    psl = exports["polar-sensor-logger"]
    with pytest.raises(InputFileError, match=f"{psl}: line 1: column 1 is 'Phone timestamp;"):
        open_input(psl, "metabase")
    with pytest.raises(InputFileError, match="line 1: column 1 is 'epoch"):
        open_input(exports["metabase"], "polar-sensor-logger")
    with pytest.raises(InputFileError, match="unknown input format 'garmin'"):
        open_input(psl, "garmin")
    with pytest.raises(InputFileError, match="no time_s column"):
        open_input(exports["metabase"], "csv")


def test_other_inputs_pass_through(tmp_path: Path) -> None:
    recording = next((REPO / "recordings").glob("*.mrec"))
    assert open_input(recording).metadata.kind == "recording"
    samples = motion(50.0).samples
    csv = tmp_path / "generic.csv"
    np.savetxt(
        csv,
        np.column_stack([samples.t_ns / 1e9, samples.acc, samples.gyro]),
        delimiter=",",
        header="time_s,acc_x_mps2,acc_y_mps2,acc_z_mps2,gyro_x_rads,gyro_y_rads,gyro_z_rads",
        comments="",
    )
    assert open_input(csv).metadata.kind == "csv"
    with pytest.raises(InputFileError, match="is a directory"):
        open_input(tmp_path)


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_cut_or_corruption_is_a_load_or_one_line_error(
    exports: dict[str, Path], data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(["metabase", "polar-sensor-logger"]))
    path = exports[name]
    original = path.read_bytes()
    cut = data.draw(st.integers(0, len(original)))
    flip = data.draw(st.integers(0, max(cut - 1, 0)))
    damaged = bytearray(original[:cut])
    if damaged and data.draw(st.booleans()):
        damaged[flip] = data.draw(st.sampled_from(b"x;,\n\xff-"))
    path.write_bytes(bytes(damaged))
    try:
        try:
            loaded = open_input(path)
        except InputFileError as error:
            assert "\n" not in str(error) and path.name in str(error)
        else:
            assert len(loaded.blocks[0]) >= 2
    finally:
        path.write_bytes(original)


def test_input_digest_of_an_export_folder(exports: dict[str, Path]) -> None:
    folder = exports["metabase"].parent
    first = input_digest(folder)
    assert first == input_digest(folder) and first != input_digest(exports["metabase"])
    gyro = next(p for p in folder.iterdir() if "Gyroscope" in p.name)
    gyro.write_text(gyro.read_text().replace("0.0", "0.1", 1))
    assert input_digest(folder) != first
