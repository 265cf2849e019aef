"""`samples-csv` export: samples + segment angle as generic CSV, readable by the CSV importer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from import_support import channel

from monitor.analysis.exercises import get_exercise, prescription_for
from monitor.analysis.pipeline import AnalysisPipeline
from monitor.errors import MonitorError
from monitor.session.samples_csv import to_samples_csv, write_samples_csv
from monitor.sources.csv_import import read_csv
from monitor.sources.importers import metabase, polar_sensor_logger
from monitor.sources.inputs import open_input

REPO = Path(__file__).resolve().parents[2]
RECORDING = REPO / "recordings" / "witmotion_wt901ble_pelvic_tilt.mrec"


def test_recording_samples_read_back_through_the_generic_csv_importer(tmp_path: Path) -> None:
    loaded = open_input(RECORDING)
    prescription = prescription_for(get_exercise("pelvic_tilt"))
    out = tmp_path / "samples.csv"
    write_samples_csv(loaded, prescription, out)
    assert out.stat().st_mode & 0o777 == 0o600
    back = read_csv(out)
    (block,) = loaded.blocks
    assert back.units == {"acc": "mps2", "gyro": "rads"}
    np.testing.assert_allclose(back.block.t_ns - (block.t_ns - block.t_ns[0]), 0, atol=1000)
    np.testing.assert_allclose(back.block.acc, block.acc, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(back.block.gyro, block.gyro, rtol=1e-6, atol=1e-9)
    with pytest.raises(MonitorError, match="already exists"):
        write_samples_csv(loaded, prescription, out)


def test_angle_is_the_analysis_angle_and_follows_the_truth(tmp_path: Path) -> None:
    loaded = open_input(RECORDING)
    prescription = prescription_for(get_exercise("pelvic_tilt"))
    text = to_samples_csv(loaded, prescription)
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines[0].endswith(",gyro_z_rads,angle_deg")
    angle = np.array([float(line.rsplit(",", 1)[1]) for line in lines[1:]])
    pipeline = AnalysisPipeline(prescription)
    for block in loaded:
        pipeline.process(block)
    assert angle[-1] == pytest.approx(pipeline.angle_deg, abs=1e-3)
    truth = np.loadtxt(
        RECORDING.with_name(RECORDING.name + ".truth.csv"),
        delimiter=",",
        skiprows=4,  # three comment lines and the header t_s,angle_deg,...
        usecols=(0, 1),
    )
    t_s = (loaded.blocks[0].t_ns - loaded.blocks[0].t_ns[0]) / 1e9
    expected = np.interp(t_s, truth[:, 0], truth[:, 1])
    # the same movement up to the sign the self-calibration picked
    assert abs(np.corrcoef(angle, expected)[0, 1]) > 0.95


def test_import_export_and_never_calibrated(tmp_path: Path) -> None:
    files = metabase.write(tmp_path, [channel(25.0, "acc"), channel(25.0, "gyro")])
    text = to_samples_csv(open_input(files[0]), prescription_for(get_exercise("pelvic_tilt")))
    assert "# start_utc: 2026-01-05T08:00:00+00:00" in text
    still = tmp_path / "still"
    still.mkdir()
    block = channel(25.0, "acc")
    calm = type(block)(t_ns=block.t_ns[:100], acc=block.acc[:100])  # still: before the first rep
    files = metabase.write(still, [calm])
    text = to_samples_csv(open_input(files[0]), prescription_for(get_exercise("generic")))
    rows = [line for line in text.splitlines()[1:] if not line.startswith("#")]
    assert all(row.endswith(",") for row in rows[1:])  # no angle without calibration


def test_magnetometer_columns_round_trip(tmp_path: Path) -> None:
    polar = [channel(50.0, name, t0_ns=820_000_000_000_000_000) for name in ("acc", "gyro", "mag")]
    files = polar_sensor_logger.write(tmp_path, polar)
    loaded = open_input(files[0])
    out = tmp_path / "samples.csv"
    write_samples_csv(loaded, prescription_for(get_exercise("pelvic_tilt")), out)
    back = read_csv(out)
    assert back.units == {"acc": "mps2", "gyro": "rads", "mag": "ut"}
    np.testing.assert_allclose(back.block.mag, loaded.blocks[0].mag, rtol=1e-6)
