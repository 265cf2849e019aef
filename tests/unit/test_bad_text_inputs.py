"""Bad text inputs through the real CLI (issue 7): each broken file gives one `monitor: error:`
line naming the file (and line) and the problem, exit 2, no traceback, nothing overwritten;
broken user profiles and exercises are skipped with a warning, the bundled ones keep working.

Data files: the generic CSV and each importer's files, written by the project's own writers
and then corrupted one way per case. TOML files: a bundled profile, exercise and program,
corrupted the same way.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from import_support import REPS, motion

from monitor import paths
from monitor.cli import main
from monitor.core import SampleBlock
from monitor.sources.importers import metabase, phyphox, polar_sensor_logger

RATE_HZ = 50.0
HEADER = "time_s,acc_x_mps2,acc_y_mps2,acc_z_mps2,gyro_x_rads,gyro_y_rads,gyro_z_rads"
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
EXERCISES = Path(paths.__file__).parent / "analysis" / "data" / "exercises"
PROGRAM = EXERCISES.parent / "programs" / "low_back_starter.toml"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, list[str]]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err.splitlines()


def assert_one_error(code: int, err: list[str], names: str, problem: str) -> str:
    """Exit 2 and exactly one error line naming `names` with `problem`; other lines are
    warnings; never a traceback."""
    assert code == 2, err
    assert all(line.startswith("monitor: ") for line in err), err
    (error,) = [line for line in err if line.startswith("monitor: error: ")]
    assert names in error and re.search(problem, error), error
    assert len(error) < 400, error
    return error


# --------------------------------------------------------------------------- data files


@dataclass(frozen=True)
class DataTarget:
    """One text input: the file a case corrupts and the argument the CLI is given."""

    build: Callable[[Path], tuple[Path, Path]]  # folder -> (file to corrupt, CLI input)
    delimiter: str
    time_column: int
    value_column: int
    integer_time: bool = False
    in_zip: bool = False  # the corrupted file is a member of the zip given to the CLI


def _samples() -> SampleBlock:
    return motion(RATE_HZ).samples


def _csv(folder: Path) -> tuple[Path, Path]:
    block = _samples()
    rows = np.column_stack([block.t_ns / 1e9, block.acc, block.gyro])
    path = folder / "session.csv"
    np.savetxt(path, rows, delimiter=",", header=HEADER, comments="", fmt="%.6f")
    return path, path


def _metabase(partner: bool) -> Callable[[Path], tuple[Path, Path]]:
    def build(folder: Path) -> tuple[Path, Path]:
        block = _samples()
        t_ns = block.t_ns + 1_767_600_000_000_000_000
        acc, gyro = metabase.write(folder, [SampleBlock(t_ns=t_ns, acc=block.acc, gyro=block.gyro)])
        return (gyro if partner else acc), acc

    return build


def _polar(folder: Path) -> tuple[Path, Path]:
    block = _samples()
    t_ns = block.t_ns + 800_000_000_000_000_000
    acc, _gyro = polar_sensor_logger.write(
        folder, [SampleBlock(t_ns=t_ns, acc=block.acc, gyro=block.gyro)]
    )
    return acc, acc


def _phyphox(zipped: bool) -> Callable[[Path], tuple[Path, Path]]:
    def build(folder: Path) -> tuple[Path, Path]:
        block = _samples()
        export = folder / "export"
        export.mkdir()
        phyphox.write(
            export,
            [SampleBlock(t_ns=block.t_ns, acc=block.acc), SampleBlock(block.t_ns, gyro=block.gyro)],
        )
        if not zipped:
            return export / "Accelerometer.csv", export
        return export / "Accelerometer.csv", folder / "export.zip"

    return build


DATA_TARGETS = {
    "csv": DataTarget(_csv, ",", 0, 1),
    "metabase": DataTarget(_metabase(partner=False), ",", 0, 3, integer_time=True),
    "metabase-partner": DataTarget(_metabase(partner=True), ",", 0, 3, integer_time=True),
    "polar-sensor-logger": DataTarget(_polar, ";", 1, 2, integer_time=True),
    "phyphox-folder": DataTarget(_phyphox(zipped=False), ",", 0, 1),
    "phyphox-zip": DataTarget(_phyphox(zipped=True), ",", 0, 1, in_zip=True),
}


def _lines(raw: bytes) -> list[bytes]:
    return raw.split(b"\n")


def _set_field(raw: bytes, target: DataTarget, line: int, column: int, value: bytes) -> bytes:
    lines = _lines(raw)
    fields = lines[line - 1].split(target.delimiter.encode())
    fields[column] = value
    lines[line - 1] = target.delimiter.encode().join(fields)
    return b"\n".join(lines)


def _swap_lines(raw: bytes, first: int, second: int) -> bytes:
    lines = _lines(raw)
    lines[first - 1], lines[second - 1] = lines[second - 1], lines[first - 1]
    return b"\n".join(lines)


def _torn(raw: bytes, target: DataTarget) -> bytes:
    """The last row cut off after its first field (a write interrupted mid-line)."""
    lines = _lines(raw.rstrip(b"\n"))
    cut = lines[-1].split(target.delimiter.encode())[0] + target.delimiter.encode()
    return b"\n".join([*lines[:-1], cut])


def _extra_column(raw: bytes, target: DataTarget) -> bytes:
    sep = target.delimiter.encode()
    lines = _lines(raw)
    return b"\n".join(
        [lines[0] + sep + b"notes", *(line + sep + b"1" if line else line for line in lines[1:])]
    )


GARBAGE = random.Random(7).randbytes(4096)
# name -> (corrupt(raw, target), expected: "ok", or a regex the error line must match)
DATA_CASES: dict[str, tuple[Callable[[bytes, DataTarget], bytes], str]] = {
    "empty": (lambda raw, t: b"", r"empty file|no header row"),
    "header only": (lambda raw, t: _lines(raw)[0] + b"\n", r"header only|at least two data rows"),
    "torn last line": (_torn, "ok"),
    "cut inside the header": (lambda raw, t: raw[:9], r"line 1: |header only|no header"),
    "binary garbage": (lambda raw, t: GARBAGE, r"line \d+: not UTF-8 text \(byte 0x"),
    "zeros": (lambda raw, t: bytes(4096), r"line 1: NUL bytes"),
    "UTF-16 with BOM": (lambda raw, t: raw.decode().encode("utf-16"), "ok"),
    "UTF-16 without BOM": (lambda raw, t: raw.decode().encode("utf-16-le"), r"line 1: NUL bytes"),
    "UTF-8 BOM": (lambda raw, t: b"\xef\xbb\xbf" + raw, "ok"),
    "CRLF": (lambda raw, t: raw.replace(b"\n", b"\r\n"), "ok"),
    "Latin-1 byte": (
        lambda raw, t: _set_field(raw, t, 5, t.value_column, b"1.5\xb0"),
        r"line 5: not UTF-8 text \(byte 0xb0",
    ),
    "NaN value": (
        lambda raw, t: _set_field(raw, t, 7, t.value_column, b"nan"),
        r"line 7: .* is not a finite number",
    ),
    "infinite value": (
        lambda raw, t: _set_field(raw, t, 7, t.value_column, b"-inf"),
        r"line 7: .* is not a finite number",
    ),
    "text in a value": (
        lambda raw, t: _set_field(raw, t, 8, t.value_column, b"abc"),
        r"line 8: .*'abc' is not a number",
    ),
    "text in the time": (
        lambda raw, t: _set_field(raw, t, 9, t.time_column, b"noon"),
        r"line 9: .*'noon' is not a number",
    ),
    "time out of range": (
        lambda raw, t: _set_field(
            raw, t, 10, t.time_column, b"99999999999999999999" if t.integer_time else b"1e300"
        ),
        r"line 10: .* out of range",
    ),
    "time runs backwards": (lambda raw, t: _swap_lines(raw, 11, 13), r"line 1[23]: .*backwards"),
    "short row": (
        lambda raw, t: b"\n".join([*_lines(raw)[:5], b"1", *_lines(raw)[6:]]),
        r"line 6: expected at least \d+ columns, found 1",
    ),
    "5 MB line": (
        lambda raw, t: b"\n".join([*_lines(raw)[:4], b"7" * 5_000_000, *_lines(raw)[4:]]),
        r"line 5: longer than 64 KiB",
    ),
    "unknown extra column": (_extra_column, "ok"),
}


def _corrupt(target: DataTarget, file: Path, given: Path, data: bytes) -> str:
    """Write the corrupted content; the name the error must carry."""
    file.write_bytes(data)
    if not target.in_zip:
        return str(file)
    with zipfile.ZipFile(given, "w") as archive:
        for member in sorted(file.parent.rglob("*.csv")):
            archive.write(member, str(member.relative_to(file.parent)))
    return f"{given}/{file.name}"


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each target's good files, built once; cases copy them."""
    base = tmp_path_factory.mktemp("good")
    built = {}
    for name, target in DATA_TARGETS.items():
        (base / name).mkdir()
        target.build(base / name)
        built[name] = base / name
    return built


def _locate(name: str, folder: Path) -> tuple[Path, Path]:
    """The file to corrupt and the CLI input inside a copied target folder."""
    if name == "csv":
        return folder / "session.csv", folder / "session.csv"
    if name.startswith("metabase"):
        acc = next(folder.glob("*_Accelerometer_*.csv"))
        gyro = next(folder.glob("*_Gyroscope_*.csv"))
        return (gyro if name.endswith("partner") else acc), acc
    if name == "polar-sensor-logger":
        acc = next(folder.glob("*_ACC.txt"))
        return acc, acc
    given = folder / "export.zip" if name.endswith("zip") else folder / "export"
    return folder / "export" / "Accelerometer.csv", given


@pytest.mark.parametrize("case", DATA_CASES)
@pytest.mark.parametrize("name", DATA_TARGETS)
def test_bad_data_file(
    name: str, case: str, originals: dict[str, Path], tmp_path: Path, capsys
) -> None:
    target = DATA_TARGETS[name]
    corrupt, expected = DATA_CASES[case]
    file, given = _locate(name, _copy(originals, name, tmp_path))
    data = corrupt(file.read_bytes(), target)
    named = _corrupt(target, file, given, data)
    before = _snapshot(tmp_path)
    code, out, err = run(capsys, "analyze", str(given), "--exercise", "pelvic_tilt", "--json")
    assert _snapshot(tmp_path) == before  # nothing written next to the input, nothing changed
    if expected == "ok":
        assert code == 0, err
        assert json.loads(out)["rep_count"] == REPS
        assert all(line.startswith("monitor: warning: ") for line in err), err
        if case == "torn last line":
            torn = f"{named}: line {len(_lines(data))}: cut off mid-line"
            assert any(torn in line for line in err), err
        return
    assert_one_error(code, err, named, expected)


def _copy(originals: dict[str, Path], name: str, tmp_path: Path) -> Path:
    folder = tmp_path / name
    shutil.copytree(originals[name], folder)
    return folder


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
