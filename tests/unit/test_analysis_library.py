"""Exercise library, program files, committed schemas and the `program check` / `analyze` verbs."""

from __future__ import annotations

import pytest

from monitor import paths
from monitor.analysis.exercises import Mode, exercise_library
from monitor.analysis.programs import load_program
from monitor.analysis.schema import SCHEMA_DIR, SCHEMAS, render
from monitor.cli import main

PROGRAMS = SCHEMA_DIR.parent / "programs"
REQUIRED = {
    "knee_to_chest_single",
    "knee_to_chest_double",
    "piriformis_stretch",
    "pelvic_tilt",
    "cat_cow",
    "lower_trunk_rotation",
    "bridge",
    "partial_situp",
    "prone_press_up",
    "hamstring_stretch",
    "generic",
}


def test_library_covers_the_low_back_program():
    library = exercise_library()
    assert set(library) >= REQUIRED
    assert library["lower_trunk_rotation"].alternating
    assert library["hamstring_stretch"].mode is Mode.HOLD
    for exercise in library.values():
        assert exercise.placement
        assert exercise.dose.reps == 5 and 1 <= exercise.dose.sets <= 2


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_committed_schema_matches_models(name):
    committed = (SCHEMA_DIR / name).read_text(encoding="utf-8")
    assert committed == render(SCHEMAS[name]), "run python -m monitor.analysis.schema"


def test_user_exercise_extends_and_overrides_library():
    folder = paths.user_exercises_dir()
    folder.mkdir(parents=True)
    (folder / "mine.toml").write_text(
        'id = "bridge"\nname = "My bridge"\nplacement = "pelvis"\nmode = "reps"\n'
    )
    assert exercise_library()["bridge"].name == "My bridge"


def test_bad_user_exercise_is_skipped_with_a_warning_naming_file_and_field(caplog):
    folder = paths.user_exercises_dir()
    folder.mkdir(parents=True)
    (folder / "bad.toml").write_text('id = "x"\nname = "X"\nplacement = "p"\nmode = "spin"\n')
    library = exercise_library()
    assert "x" not in library and "pelvic_tilt" in library
    assert "bad.toml: mode: " in caplog.text


def test_example_program_is_valid_and_applies_overrides():
    program = load_program(PROGRAMS / "low_back_starter.toml")
    prescriptions = program.prescriptions()
    rotation = prescriptions[2]
    assert rotation.exercise.id == "lower_trunk_rotation"
    assert rotation.dose.reps == 6 and rotation.limits.max_speed_dps == 45


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('name = "p"\n[[exercises]]\nexercise = "bridge"\nreps = 0\n', "exercises.0.reps: "),
        ('name = "p"\n[[exercises]]\nexercise = "brige"\n', "unknown exercise 'brige'"),
        ('name = "p"\nexercises = []\n', "exercises: "),
        ('name = "p"\n[[exercises]\n', "invalid TOML"),
        ('name = "p"\n[[exercises]]\nexercise = "bridge"\nspeed = 3\n', "exercises.0.speed"),
    ],
)
def test_program_check_one_line_errors(tmp_path, capsys, text, expected):
    path = tmp_path / "p.toml"
    path.write_text(text)
    assert main(["program", "check", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(path) in err and expected in err


def test_program_check_ok(capsys):
    assert main(["program", "check", str(PROGRAMS / "low_back_starter.toml")]) == 0
    assert "ok" in capsys.readouterr().out


def test_analyze_rejects_bad_csv(tmp_path, capsys):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    assert main(["analyze", str(path), "--json"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "\n" not in err.strip()
