"""Paths and names that come from files are never followed out of where they belong (issue 7).

Zip member names, files found next to the one the user named (a MetaBase or Polar Sensor
Logger partner, a phyphox folder's sensors), exercise ids in a program and profile or exercise
ids in the user's own files: each stays a name, or is refused with one line naming it.
"""

from __future__ import annotations

import json
import os
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from import_support import REPS, channel

from monitor import paths
from monitor.analysis.exercises import exercise_library
from monitor.cli import main
from monitor.core import SampleBlock
from monitor.errors import InputFileError
from monitor.profiles.loader import bundled_profiles_dir
from monitor.sources.importers import input_digest, metabase, phyphox, polar_sensor_logger
from monitor.sources.inputs import open_input

RATE_HZ = 50.0
EXERCISE = Path(paths.__file__).parent / "analysis" / "data" / "exercises" / "pelvic_tilt.toml"
PROGRAM = EXERCISE.parent.parent / "programs" / "low_back_starter.toml"


def analyze(capsys: pytest.CaptureFixture[str], given: Path) -> tuple[int, dict, list[str]]:
    code = main(["analyze", str(given), "--exercise", "pelvic_tilt", "--json", "--no-history"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if code == 0 else {}, captured.err.splitlines()


def phyphox_files(folder: Path) -> dict[str, bytes]:
    """A good phyphox export's files by name (acc and gyro of four pelvic tilts)."""
    phyphox.write(folder, [channel(RATE_HZ, "acc", t0_ns=0), channel(RATE_HZ, "gyro", t0_ns=0)])
    return {p.name: p.read_bytes() for p in folder.glob("*.csv")}


def test_zip_member_names_leading_out_are_never_read(tmp_path: Path, capsys) -> None:
    """Members named `../../x.csv`, `/abs/x.csv` or with backslashes hold a perfectly good
    accelerometer file, yet are no part of the export: without a plain Accelerometer.csv the
    import fails, and with one the result is that file's."""
    files = phyphox_files(tmp_path / "source")
    archive = tmp_path / "export.zip"
    evil = ["../../Accelerometer.csv", "/tmp/Accelerometer.csv", "..\\..\\Accelerometer.csv"]
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("Gyroscope.csv", files["Gyroscope.csv"])
        for name in evil:
            out.writestr(name, files["Accelerometer.csv"])
    listing = sorted(tmp_path.parent.rglob("*"))
    code, _summary, err = analyze(capsys, archive)
    assert code == 2 and len(err) == 1
    assert f"{archive}: no Accelerometer.csv" in err[0] and "Gyroscope.csv" in err[0]
    with zipfile.ZipFile(archive, "a") as out:
        out.writestr("Accelerometer.csv", files["Accelerometer.csv"])
    code, summary, err = analyze(capsys, archive)
    assert code == 0 and summary["rep_count"] == REPS
    loaded = open_input(archive)
    assert sorted(p.name for p in loaded.metadata.files) == ["Accelerometer.csv", "Gyroscope.csv"]
    assert all(".." not in p.parts for p in loaded.metadata.files)
    assert sorted(tmp_path.parent.rglob("*")) == listing  # nothing unpacked anywhere


@pytest.mark.timeout(60)
def test_zip_bomb_member_is_refused_before_inflating(tmp_path: Path, capsys) -> None:
    """270 MiB of rows squeezed into 1.5 MB: refused from the member's declared size."""
    archive = tmp_path / "bomb.zip"
    header = (
        b'"Time (s)","Acceleration x (m/s^2)","Acceleration y (m/s^2)","Acceleration z (m/s^2)"'
    )
    with (
        zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out,
        out.open("Accelerometer.csv", "w", force_zip64=True) as member,
    ):
        member.write(header + b"\n")
        rows = b"0,0,0,0\n" * (1 << 17)
        for _ in range(270):
            member.write(rows)
    tracemalloc.start()
    try:
        code, _summary, err = analyze(capsys, archive)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 2 and len(err) == 1
    assert f"{archive}/Accelerometer.csv: 270 MiB once unpacked" in err[0]
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB traced"


def test_phyphox_folder_file_linking_out_is_refused(tmp_path: Path, capsys) -> None:
    export = tmp_path / "export"
    export.mkdir()
    files = phyphox_files(tmp_path / "elsewhere")
    (export / "Gyroscope.csv").write_bytes(files["Gyroscope.csv"])
    link = export / "Accelerometer.csv"
    link.symlink_to(tmp_path / "elsewhere" / "Accelerometer.csv")
    code, _summary, err = analyze(capsys, export)
    assert code == 2 and len(err) == 1
    assert f"{link}: a symbolic link out of {export}" in err[0] and "not followed" in err[0]
    # a link that stays inside the export folder is fine
    link.unlink()
    (export / "data").mkdir()
    (export / "data" / "acc.csv").write_bytes(files["Accelerometer.csv"])
    link.symlink_to(Path("data") / "acc.csv")
    code, summary, err = analyze(capsys, export)
    assert code == 0 and summary["rep_count"] == REPS


@pytest.mark.parametrize("fmt", ["metabase", "polar-sensor-logger"])
def test_partner_file_linking_out_is_refused(fmt: str, tmp_path: Path, capsys) -> None:
    """The file the user names may be a link; the partner found next to it may not lead out."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    block = channel(RATE_HZ, "acc")
    both = SampleBlock(block.t_ns, acc=block.acc, gyro=channel(RATE_HZ, "gyro").gyro)
    writer = metabase.write if fmt == "metabase" else polar_sensor_logger.write
    acc, gyro = writer(elsewhere, [both])
    here = tmp_path / "here"
    here.mkdir()
    given = here / acc.name
    given.symlink_to(acc)  # named by the user: followed
    code, summary, err = analyze(capsys, given)
    assert code == 0 and summary["rep_count"] == REPS  # no partner next to the link: acc only
    partner = here / gyro.name
    partner.symlink_to(gyro)  # found by listing the folder: must not lead out of it
    code, _summary, err = analyze(capsys, given)
    assert code == 2 and len(err) == 1
    assert f"{partner}: a symbolic link out of {here}" in err[0]


@pytest.mark.timeout(60)
def test_partner_that_is_a_pipe_is_refused_without_waiting(tmp_path: Path, capsys) -> None:
    acc, gyro = metabase.write(tmp_path, [channel(RATE_HZ, "acc"), channel(RATE_HZ / 2, "gyro")])
    gyro.unlink()
    os.mkfifo(gyro)
    code, _summary, err = analyze(capsys, acc)
    assert code == 2 and len(err) == 1
    assert f"{gyro}: not a regular file" in err[0]


def test_folder_digest_covers_the_export_only(tmp_path: Path) -> None:
    """The history identifies a folder input by its files: not by what a link out of it
    points at, not by a whole tree below it."""
    export = tmp_path / "export"
    export.mkdir()
    phyphox.write(export, [channel(RATE_HZ, "acc", t0_ns=0)])
    outside = tmp_path / "outside.csv"
    outside.write_text("one\n")
    (export / "notes.csv").symlink_to(outside)
    deep = export / "a" / "b"
    deep.mkdir(parents=True)
    (deep / "big.bin").write_bytes(b"x")
    first = input_digest(export)
    outside.write_text("two\n")
    (deep / "big.bin").write_bytes(b"y")
    assert input_digest(export) == first
    (export / "Accelerometer.csv").write_text("changed\n")
    assert input_digest(export) != first


def test_program_exercise_ids_are_names_not_paths(tmp_path: Path, capsys) -> None:
    """A valid exercise file sits where a path-like id would lead; it is never read."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "mine.toml").write_bytes(EXERCISE.read_bytes())
    program = tmp_path / "programs" / "p.toml"
    program.parent.mkdir()
    for exercise in ("../lib/mine", "../lib/mine.toml", str(tmp_path / "lib" / "mine.toml")):
        program.write_text(f'name = "p"\n[[exercises]]\nexercise = "{exercise}"\n')
        assert main(["program", "check", str(program)]) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and f"unknown exercise {exercise!r}" in err[0]


@pytest.mark.parametrize("kind", ["profile", "exercise"])
def test_user_file_with_a_path_like_id_is_refused(kind: str, capsys) -> None:
    """Ids are checked against a pattern, so no id can name a path; the file is skipped with a
    warning naming the field."""
    source = bundled_profiles_dir() / "polar_h10.toml" if kind == "profile" else EXERCISE
    folder = paths.user_profiles_dir() if kind == "profile" else paths.user_exercises_dir()
    folder.mkdir(parents=True)
    text = source.read_text()
    own_id = text.split('id = "', 1)[1].split('"', 1)[0]
    mine = folder / "mine.toml"
    mine.write_text(text.replace(f'id = "{own_id}"', 'id = "../../etc/passwd"', 1))
    argv = ["profiles", "list"] if kind == "profile" else ["program", "check", str(PROGRAM)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert own_id in captured.out and "passwd" not in captured.out
    (warning,) = captured.err.splitlines()
    assert warning.startswith(f"monitor: warning: {mine}: id: String should match pattern")


def test_user_profile_replacing_a_bundled_one_is_shown(capsys) -> None:
    """Same id as a bundled profile: the user's file is in force (documented), and `profiles
    list` says whose file it is; a second user file with that id is a warning naming both."""
    folder = paths.user_profiles_dir()
    folder.mkdir(parents=True)
    text = (bundled_profiles_dir() / "polar_h10.toml").read_text()
    (folder / "a.toml").write_text(text.replace('name = "Polar H10"', 'name = "Mine A"', 1))
    assert main(["profiles", "list"]) == 0
    captured = capsys.readouterr()
    assert f"Mine A  [acc]  (your file {folder / 'a.toml'})" in captured.out
    assert captured.err == ""
    (folder / "b.toml").write_text(text.replace('name = "Polar H10"', 'name = "Mine B"', 1))
    assert main(["profiles", "list"]) == 0
    captured = capsys.readouterr()
    assert "Mine B" in captured.out and "Mine A" not in captured.out
    assert captured.err.splitlines() == [
        f"monitor: warning: {folder / 'b.toml'}: profile id 'polar_h10' is also in a.toml; "
        "b.toml is used"
    ]


def test_open_input_never_follows_a_link_out_of_a_folder_it_lists(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    files = phyphox_files(tmp_path / "elsewhere")
    (export / "Accelerometer.csv").write_bytes(files["Accelerometer.csv"])
    (export / "Gyroscope.csv").symlink_to(tmp_path / "elsewhere" / "Gyroscope.csv")
    with pytest.raises(InputFileError, match="a symbolic link out of"):
        open_input(export / "Accelerometer.csv")  # one file of the folder: the folder is read


def test_two_user_exercises_with_one_id_are_a_warning(capsys) -> None:
    folder = paths.user_exercises_dir()
    folder.mkdir(parents=True)
    text = EXERCISE.read_text()
    (folder / "a.toml").write_text(text.replace('name = "Pelvic tilt"', 'name = "Tilt A"', 1))
    (folder / "b.toml").write_text(text.replace('name = "Pelvic tilt"', 'name = "Tilt B"', 1))
    assert main(["program", "check", str(PROGRAM)]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"monitor: warning: {folder / 'b.toml'}: exercise id 'pelvic_tilt' is also in a.toml; "
        "b.toml is used"
    ]
    assert exercise_library()["pelvic_tilt"].name == "Tilt B"
