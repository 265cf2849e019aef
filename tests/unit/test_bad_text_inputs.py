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
import tracemalloc
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
from monitor.profiles.loader import bundled_profiles_dir
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

    build: Callable[[Path], object]  # writes the good files into a folder (see _locate)
    delimiter: str
    time_column: int
    value_column: int
    integer_time: bool = False
    in_zip: bool = False  # the corrupted file is a member of the zip given to the CLI


def _samples() -> SampleBlock:
    return motion(RATE_HZ).samples


def _csv(folder: Path) -> None:
    block = _samples()
    rows = np.column_stack([block.t_ns / 1e9, block.acc, block.gyro])
    path = folder / "session.csv"
    np.savetxt(path, rows, delimiter=",", header=HEADER, comments="", fmt="%.6f")


def _metabase(folder: Path) -> list[Path]:
    block = _samples()
    t_ns = block.t_ns + 1_767_600_000_000_000_000
    return metabase.write(folder, [SampleBlock(t_ns=t_ns, acc=block.acc, gyro=block.gyro)])


def _polar(folder: Path) -> list[Path]:
    block = _samples()
    t_ns = block.t_ns + 800_000_000_000_000_000
    return polar_sensor_logger.write(
        folder, [SampleBlock(t_ns=t_ns, acc=block.acc, gyro=block.gyro)]
    )


def _phyphox(folder: Path) -> Path:
    """The export folder (the zip target zips it after corrupting a file)."""
    block = _samples()
    (folder / "export").mkdir()
    sensors = [SampleBlock(block.t_ns, acc=block.acc), SampleBlock(block.t_ns, gyro=block.gyro)]
    return phyphox.write(folder / "export", sensors)


DATA_TARGETS = {
    "csv": DataTarget(_csv, ",", 0, 1),
    "metabase": DataTarget(_metabase, ",", 0, 3, integer_time=True),
    "metabase-partner": DataTarget(_metabase, ",", 0, 3, integer_time=True),
    "polar-sensor-logger": DataTarget(_polar, ";", 1, 2, integer_time=True),
    "phyphox-folder": DataTarget(_phyphox, ",", 0, 1),
    "phyphox-zip": DataTarget(_phyphox, ",", 0, 1, in_zip=True),
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
    "value beyond any IMU": (
        lambda raw, t: _set_field(raw, t, 7, t.value_column, b"1e6"),
        r"line 7: (acc|gyro) x is \S+ (m/s\^2|rad/s), beyond any IMU",
    ),
    "value that overflows in units": (
        lambda raw, t: _set_field(raw, t, 7, t.value_column, b"1e308"),
        r"line 7: (acc|gyro) x is \S+ (m/s\^2|rad/s), beyond any IMU",
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


def _make_directory(file: Path) -> str:
    file.unlink()
    file.mkdir()
    return "is a directory"


def _make_dangling_link(file: Path) -> str:
    file.unlink()
    file.symlink_to(file.with_name("gone.csv"))
    return "cannot read: No such file"


def _make_pipe(file: Path) -> str:
    file.unlink()
    os.mkfifo(file)  # opening it for reading would wait for a writer for ever
    return "not a regular file"


def _make_unreadable(file: Path) -> str:
    file.chmod(0)
    return "cannot read: Permission denied"


NOT_FILES = {
    "directory": _make_directory,
    "dangling link": _make_dangling_link,
    "named pipe": _make_pipe,
    "unreadable": pytest.param(
        _make_unreadable, marks=pytest.mark.skipif(AS_ROOT, reason="root reads a 000 file")
    ),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("make", NOT_FILES.values(), ids=NOT_FILES)
@pytest.mark.parametrize("name", [n for n, t in DATA_TARGETS.items() if not t.in_zip])
def test_input_that_is_not_a_readable_file(
    name: str, make: Callable[[Path], str], originals: dict[str, Path], tmp_path: Path, capsys
) -> None:
    file, given = _locate(name, _copy(originals, name, tmp_path))
    problem = make(file)
    if file == given and problem == "is a directory":  # the input itself: no export inside
        problem = "is a directory, expected a recording, a CSV file or an app's export folder"
    code, _out, err = run(capsys, "analyze", str(given), "--no-history")
    assert_one_error(code, err, str(file), re.escape(problem))


@pytest.mark.parametrize(
    ("name", "case"),
    [("csv", "binary garbage"), ("metabase-partner", "NaN value"), ("phyphox-zip", "5 MB line")],
)
@pytest.mark.parametrize("fmt", ["json", "samples-csv"])
def test_export_of_a_bad_input_leaves_the_output_alone(
    name: str, case: str, fmt: str, originals: dict[str, Path], tmp_path: Path, capsys
) -> None:
    target = DATA_TARGETS[name]
    file, given = _locate(name, _copy(originals, name, tmp_path))
    corrupt, problem = DATA_CASES[case]
    named = _corrupt(target, file, given, corrupt(file.read_bytes(), target))
    out = tmp_path / "out.txt"
    out.write_text("an earlier export\n")
    code, stdout, err = run(
        capsys, "export", str(given), "--format", fmt, "-o", str(out), "--force"
    )
    assert_one_error(code, err, named, problem)
    assert out.read_text() == "an earlier export\n" and stdout == ""


def test_replay_of_a_text_file_is_one_line(originals: dict[str, Path], tmp_path: Path, capsys):
    file, _given = _locate("csv", _copy(originals, "csv", tmp_path))
    code, _out, err = run(capsys, "replay", "--no-tui", str(file))
    assert_one_error(code, err, str(file), "recording")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("where", ["header", "row"])
def test_a_50_mb_line_is_refused_without_reading_it(tmp_path: Path, where: str, capsys) -> None:
    """The file is 50 MB, one line; the reader stops after its first 64 KiB."""
    path = tmp_path / "huge.csv"
    row = b"0.01," * 10_000_000
    path.write_bytes(row if where == "header" else f"{HEADER}\n0,1,2,3,4,5,6\n".encode() + row)
    tracemalloc.start()
    try:
        code, _out, err = run(capsys, "analyze", str(path), "--no-history")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    line = 1 if where == "header" else 3
    assert_one_error(code, err, str(path), f"line {line}: longer than 64 KiB")
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB traced for a 50 MB line"


# --------------------------------------------------------------------------- TOML files

PROFILE = bundled_profiles_dir() / "witmotion_wt901ble.toml"
EXERCISE = EXERCISES / "pelvic_tilt.toml"


def _replace_first(raw: bytes, pattern: bytes, replacement: bytes) -> bytes:
    changed = re.sub(pattern, replacement, raw, count=1, flags=re.MULTILINE)
    assert changed != raw, pattern
    return changed


def _cut_inside_string(raw: bytes) -> bytes:
    return raw[: raw.index(b'name = "') + 10]


def _duplicate_name(raw: bytes) -> bytes:
    line = re.search(rb"^name = .*$", raw, flags=re.MULTILINE)
    assert line is not None
    return raw[: line.end()] + b"\n" + line.group() + raw[line.end() :]


# the number each file has at the top of a table where a NaN or infinity can go
NUMBER = {"profile": rb"^ms = 100", "exercise": rb"^hold_s = 5\.0", "program": rb"^hold_s = 5"}
TOML_CASES: dict[str, tuple[Callable[[bytes, str], bytes], str]] = {
    "empty": (lambda raw, k: b"", r": (id|name): Field required"),
    "binary garbage": (lambda raw, k: GARBAGE, r"line \d+: not UTF-8 text"),
    "zeros": (lambda raw, k: bytes(512), r"line 1: NUL bytes"),
    "UTF-16 with BOM": (lambda raw, k: raw.decode().encode("utf-16"), "ok"),
    "UTF-16 without BOM": (lambda raw, k: raw.decode().encode("utf-16-le"), r"NUL bytes"),
    "UTF-8 BOM": (lambda raw, k: b"\xef\xbb\xbf" + raw, "ok"),
    "Latin-1 comment": (lambda raw, k: b"# caf\xe9\n" + raw, r"line 1: not UTF-8 text \(byte 0xe9"),
    "duplicate key": (
        lambda raw, k: _duplicate_name(raw),
        r"invalid TOML: Cannot overwrite a value \(at line \d+, column \d+\)",
    ),
    "cut inside a string": (
        lambda raw, k: _cut_inside_string(raw),
        r"invalid TOML: .*\(at end of document\)",
    ),
    "unknown field": (
        lambda raw, k: b"bogus_field = 1\n" + raw,
        r"bogus_field: (unknown field|Extra inputs)",
    ),
    "wrong type": (
        lambda raw, k: _replace_first(raw, rb"^name = .*$", b"name = 5"),
        r"name: Input should be a valid string",
    ),
    "NaN": (
        lambda raw, k: _replace_first(raw, NUMBER[k], NUMBER[k].split(b" = ")[0][1:] + b" = nan"),
        r"(ms|hold_s): Input should be a finite number",
    ),
    "infinity": (
        lambda raw, k: _replace_first(raw, NUMBER[k], NUMBER[k].split(b" = ")[0][1:] + b" = inf"),
        r"(ms|hold_s): Input should be a finite number",
    ),
    "200 KB comment line": (
        lambda raw, k: b"#" + b"x" * 200_000 + b"\n" + raw,
        r"line 1: longer than 64 KiB",
    ),
    "2 MB of comments": (lambda raw, k: b"# x\n" * 500_000 + raw, r"larger than 1 MiB"),
}


@pytest.mark.parametrize("case", TOML_CASES)
@pytest.mark.parametrize("kind", ["profile", "program"])
def test_bad_toml_file_given_on_the_command_line(
    kind: str, case: str, tmp_path: Path, capsys
) -> None:
    corrupt, expected = TOML_CASES[case]
    path = tmp_path / f"{kind}.toml"
    path.write_bytes(corrupt((PROFILE if kind == "profile" else PROGRAM).read_bytes(), kind))
    before = path.read_bytes()
    verb = "profiles" if kind == "profile" else "program"
    code, out, err = run(capsys, verb, "check", str(path))
    assert path.read_bytes() == before
    if expected == "ok":
        assert code == 0 and out.startswith(f"{path}: ok") and err == [], err
        return
    assert_one_error(code, err, str(path), expected)
    assert out == ""


@pytest.mark.parametrize("case", TOML_CASES)
@pytest.mark.parametrize("kind", ["profile", "exercise"])
def test_bad_user_file_is_skipped_and_the_bundled_ones_work(
    kind: str, case: str, tmp_path: Path, capsys
) -> None:
    """A broken file in the user's folder is one warning line; every bundled profile is
    listed, and the bundled program's exercises all resolve."""
    corrupt, expected = TOML_CASES[case]
    folder = paths.user_profiles_dir() if kind == "profile" else paths.user_exercises_dir()
    folder.mkdir(parents=True)
    path = folder / "mine.toml"
    path.write_bytes(corrupt((PROFILE if kind == "profile" else EXERCISE).read_bytes(), kind))
    if kind == "profile":
        code, out, err = run(capsys, "profiles", "list", "--json")
        listed = {row["id"]: row["file"] for row in json.loads(out)}
        assert len(listed) == len(list(bundled_profiles_dir().glob("*.toml")))
        assert (listed["witmotion_wt901ble"] == str(path)) == (expected == "ok")
    else:
        code, out, err = run(capsys, "program", "check", str(PROGRAM))
        assert out.startswith(f"{PROGRAM}: ok") and "pelvic_tilt" in out
    assert code == 0
    if expected == "ok":
        assert err == []
        return
    (warning,) = err
    assert warning.startswith(f"monitor: warning: {path}: ") and re.search(expected, warning)
    assert warning.endswith("skipped (the other profiles are in use)".replace("profile", kind))


@pytest.mark.parametrize("make", NOT_FILES.values(), ids=NOT_FILES)
def test_user_profile_that_is_not_a_file_is_skipped(make, capsys) -> None:
    folder = paths.user_profiles_dir()
    folder.mkdir(parents=True)
    path = folder / "mine.toml"
    path.write_bytes(PROFILE.read_bytes())
    problem = make(path).replace("cannot read: No such file", "no such profile file")
    code, out, err = run(capsys, "profiles", "list")
    assert code == 0 and "witmotion_wt901ble" in out
    (warning,) = err
    assert warning.startswith(f"monitor: warning: {path}: ") and problem in warning


def test_program_with_an_unknown_exercise(originals: dict[str, Path], tmp_path: Path, capsys):
    program = tmp_path / "p.toml"
    program.write_text(
        'name = "p"\n[[exercises]]\nexercise = "pelvic_tilt"\n[[exercises]]\nexercise = "flip"\n'
    )
    csv = _copy(originals, "csv", tmp_path) / "session.csv"
    for verb in (["program", "check"], ["analyze", str(csv), "--program"]):
        code, out, err = run(capsys, *verb, str(program))
        assert_one_error(
            code, err, str(program), r"exercises\.1\.exercise: unknown exercise 'flip'"
        )
        assert out == ""


@pytest.mark.parametrize("system_time", ["1e300", "nan", "-1e20", "1e12", "noon"])
def test_phyphox_start_time_that_is_not_a_time(
    system_time: str, originals: dict[str, Path], tmp_path: Path, capsys
) -> None:
    """meta/time.csv only dates the session: a START time out of range is a warning (was a
    traceback from datetime), and the samples are analysed."""
    export = _copy(originals, "phyphox-folder", tmp_path) / "export"
    meta = export / "meta" / "time.csv"
    meta.parent.mkdir()
    meta.write_text(f'"event","experiment time","system time"\n"START",0,{system_time}\n')
    code, out, err = run(capsys, "analyze", str(export), "--exercise", "pelvic_tilt", "--json")
    assert code == 0 and json.loads(out)["rep_count"] == REPS
    assert err == [
        f"monitor: warning: {meta}: line 2: START system time '{system_time}' is not a time"
    ]
