"""Generic CSV import: units, comments, irregular times, gaps, real files and bad files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from monitor.core import GRAVITY, EventKind
from monitor.errors import InputFileError
from monitor.sources.csv_import import read_csv
from tests.conftest import SHARED

PT_DATA = SHARED / "data" / "pt-exercises"


def write(tmp_path: Path, text: str, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.skipif(not PT_DATA.is_dir(), reason="shared pt-exercises data not present")
def test_reads_every_real_pt_exercise_recording() -> None:
    """UCI Physical Therapy Exercises Dataset (doi:10.24432/C5JK60, CC BY 4.0), 25 Hz Xsens."""
    index = json.loads((PT_DATA / "index.json").read_text())
    durations = {f"s{r['subject']}_e{r['exercise']}": r["duration_s"] for r in index}
    files = sorted(PT_DATA.glob("*.csv"))
    assert len(files) >= 60
    for path in files:
        imported = read_csv(path)
        rows = len(path.read_text().splitlines()) - 1
        block = imported.block
        assert len(block) == rows, path.name
        assert block.channels == ("acc", "gyro")
        assert imported.rate_hz == pytest.approx(25.0, rel=1e-6)
        assert imported.events == []
        duration = (block.t_ns[-1] - block.t_ns[0]) / 1e9
        assert duration == pytest.approx(durations[path.name[:5]], abs=0.05), path.name
        # m/s^2 with gravity included: the typical magnitude is near 1 g (not 1, not 96)
        assert np.median(np.linalg.norm(block.acc, axis=1)) == pytest.approx(GRAVITY, rel=0.25)
    first = read_csv(PT_DATA / "s1_e1_u2.csv").block
    np.testing.assert_array_equal(first.acc[0], [-9.270, 2.980, 0.740])
    np.testing.assert_array_equal(first.gyro[1], [-0.001, 0.027, -0.005])
    assert first.t_ns[1] == 40_000_000


def test_units_comments_extra_columns_and_column_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "# exported by some tool\n"
        "# subject: 7\n"
        "label,gyro_z_dps,time_s,acc_x_g,acc_y_g,acc_z_g,gyro_x_dps,gyro_y_dps,mag_x_ut,"
        "mag_y_ut,mag_z_ut\n"
        "a,180,0.00,1,0,0,90,0,20,30,40\n"
        "# a comment between rows\n"
        "\n"
        "b,0,0.01,0,0.5,0,0,-90,21,31,41\n"
        "c,0,0.02,0,0,1,0,0,22,32,42\n",
    )
    imported = read_csv(path)
    block = imported.block
    assert imported.comments == ["exported by some tool", "subject: 7"]
    assert imported.units == {"acc": "g", "gyro": "dps", "mag": "ut"}
    assert block.t_ns.tolist() == [0, 10_000_000, 20_000_000]
    np.testing.assert_allclose(block.acc[:2], [[GRAVITY, 0, 0], [0, GRAVITY / 2, 0]])
    np.testing.assert_allclose(block.gyro[:2], [[math.pi / 2, 0, math.pi], [0, -math.pi / 2, 0]])
    np.testing.assert_array_equal(block.mag[2], [22, 32, 42])
    assert imported.rate_hz == pytest.approx(100)


def test_irregular_times_are_kept_and_gaps_reported(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    t = np.cumsum(rng.uniform(0.006, 0.014, 400))  # ~100 Hz with heavy jitter
    t[200:] += 0.5  # half a second without data
    rows = "\n".join(f"{x:.6f},0,0,9.8,0,0,0" for x in t)
    header = "time_s,acc_x_mps2,acc_y_mps2,acc_z_mps2,gyro_x_rads,gyro_y_rads,gyro_z_rads\n"
    imported = read_csv(write(tmp_path, header + rows))
    np.testing.assert_array_equal(imported.block.t_ns, np.rint(np.round(t, 6) * 1e9))
    assert imported.rate_hz == pytest.approx(100, rel=0.1)
    assert [e.kind for e in imported.events] == [EventKind.GAP]
    gap = imported.events[0]
    assert gap.t_ns == imported.block.t_ns[200]
    assert 45 <= gap.data["missing_samples"] <= 55


HEADER = "time_s,acc_x_mps2,acc_y_mps2,acc_z_mps2,gyro_x_rads,gyro_y_rads,gyro_z_rads\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "no header row"),
        ("# only a comment\n", "no header row"),
        ("t,acc_x_mps2\n0,1\n", "line 1: header has no time_s column"),
        ("time_s,acc_x_mps2,acc_y_mps2,acc_z_mps2\n0,1,2,3\n", "line 1: header has no gyro"),
        (
            "time_s,acc_x_mps2,acc_y_mps2,gyro_x_rads,gyro_y_rads,gyro_z_rads\n0,1,2,3,4,5\n",
            "line 1: header has no acc_z_mps2 column",
        ),
        (HEADER.replace("acc_z_mps2", "acc_z_g"), "acc is given in two units"),
        (HEADER + "0,1,2,3,4,5,6\n", "at least two data rows"),
        ("# c\n" + HEADER + "0,1,2,3,4,5,6\n0.01,1,x,3,4,5,6\n", "line 4: acc_y_mps2: 'x'"),
        (HEADER + "0,1,2,3,4,5,6\n0.01,1,2\n", "line 3: expected at least 7 columns, found 3"),
        (HEADER + "0,1,2,3,4,5,6\n0.01,1,nan,3,4,5,6\n", "line 3: acc_y_mps2 is not a finite"),
        (HEADER + "0,1,2,3,4,5,6\n0.02,1,2,3,4,5,6\n0.01,1,2,3,4,5,6\n", "line 4: time_s goes"),
        (HEADER + "0,1,2,3,4,5,6\n0,1,2,3,4,5,6\n", "time_s never advances"),
        (HEADER + "0,1,2,3,4,5,6\n1,1,2,3,4,5,6\n", "1 Hz .* outside 10..1000 Hz"),
        (HEADER + "0,1,2,3,4,5,6\n10,1,2,3,4,5,6\n", "outside 10..1000 Hz"),
        (HEADER + "0,1,2,3,4,5,6\n0.0001,1,2,3,4,5,6\n", "1e\\+04 Hz"),
    ],
)
def test_bad_files_name_line_and_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputFileError, match=problem) as raised:
        read_csv(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ") and "\n" not in message


def test_binary_and_missing_files(tmp_path: Path) -> None:
    binary = tmp_path / "blob.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage\x81")
    with pytest.raises(InputFileError, match="not UTF-8 text"):
        read_csv(binary)
    with pytest.raises(InputFileError, match="cannot read"):
        read_csv(tmp_path / "missing.csv")
