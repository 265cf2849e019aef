"""Exercise definitions: the bundled library (data/exercises/*.toml) plus the user's own files.

An exercise says where the sensor goes, how the movement is counted (reps, a hold, or reps each
held at the end range), the default dose and the default limits. A program item may override the
dose and limits (see programs.py); `Prescription` is the merged result the pipeline runs on.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from monitor import paths
from monitor.errors import InputFileError
from monitor.textfiles import load_user_files, read_toml

BUNDLED_EXERCISES_DIR = Path(__file__).resolve().parent / "data" / "exercises"

Degrees = Annotated[float, Field(gt=0, le=180)]


class Mode(StrEnum):
    REPS = "reps"
    HOLD = "hold"
    REPS_WITH_HOLD = "reps_with_hold"


class Dose(BaseModel):
    """How much to do: reps per set, sets, seconds held at the end range, rest between sets."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    reps: int = Field(5, ge=1, le=100, description="repetitions per set")
    sets: int = Field(1, ge=1, le=20, description="number of sets")
    hold_s: float = Field(0.0, ge=0, le=300, description="seconds held at the end range per rep")
    rest_s: float = Field(30.0, ge=0, le=600, description="rest between sets, seconds")


class Limits(BaseModel):
    """Range-of-motion target and safety limits, in degrees from the calibrated neutral."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    rom_target_deg: Degrees | None = Field(None, description="range each rep should reach")
    rom_target_pct: float | None = Field(
        None,
        gt=0,
        le=100,
        description="target as percent of the range measured at calibration (used when "
        "rom_target_deg is not set)",
    )
    rom_limit_deg: Degrees | None = Field(None, description="range never to exceed")
    rom_limit_pct: float | None = Field(
        None,
        gt=0,
        le=200,
        description="limit as percent over the range measured at calibration (used when "
        "rom_limit_deg is not set)",
    )
    max_speed_dps: float | None = Field(None, gt=0, le=2000, description="fastest allowed, deg/s")


class Exercise(BaseModel):
    """One exercise of the library."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str
    description: str = ""
    placement: str = Field(description="where the sensor is strapped")
    mode: Mode
    alternating: bool = Field(False, description="reps alternate between two sides")
    any_direction: bool = Field(
        False, description="count excursions in either direction from the rest pose"
    )
    sides: tuple[str, str] = Field(
        ("right", "left"),
        description="names of the two directions of an alternating exercise, the first one "
        "being the direction of the first movement after calibration",
    )
    min_rom_deg: float = Field(
        8.0, gt=0, le=90, description="smallest excursion that can count as a rep"
    )
    dose: Dose = Dose()
    limits: Limits = Limits()
    notes: str = ""

    @model_validator(mode="after")
    def _hold_needs_seconds(self) -> Exercise:
        if self.mode is not Mode.REPS and self.dose.hold_s <= 0:
            raise ValueError(f"mode {self.mode.value!r} needs dose.hold_s > 0")
        return self


class Prescription(BaseModel):
    """An exercise with the dose and limits actually in force (program overrides applied)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    exercise: Exercise
    dose: Dose
    limits: Limits
    notes: str = ""


def validation_message(source: Path | str, error: ValidationError) -> str:
    """One line naming the file, the field and what was expected."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "(top level)"
    extra = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{source}: {field}: {first['msg']}{extra}"


def load_exercise(path: Path) -> Exercise:
    try:
        return Exercise.model_validate(read_toml(path))
    except ValidationError as error:
        raise InputFileError(validation_message(path, error)) from None


def exercise_library(user_dir: Path | None = None) -> dict[str, Exercise]:
    """Bundled exercises, then the user's (`*.toml` in user_exercises_dir()); same id replaces.

    A broken user file is skipped with a warning (`monitor.errors.warn_user`) so that the
    bundled exercises keep working; a broken bundled file raises.
    """
    library = {e.id: e for e in map(load_exercise, sorted(BUNDLED_EXERCISES_DIR.glob("*.toml")))}
    folder = user_dir or paths.user_exercises_dir()
    files = sorted(folder.glob("*.toml")) if folder.is_dir() else []
    for _, exercise in load_user_files(files, load_exercise, lambda e: e.id, "exercise"):
        library[exercise.id] = exercise
    return library


def get_exercise(exercise_id: str, library: dict[str, Exercise] | None = None) -> Exercise:
    library = exercise_library() if library is None else library
    try:
        return library[exercise_id]
    except KeyError:
        known = ", ".join(sorted(library))
        raise InputFileError(f"unknown exercise {exercise_id!r}; known: {known}") from None


def prescription_for(exercise: Exercise) -> Prescription:
    """The exercise run with its own default dose and limits."""
    return Prescription(exercise=exercise, dose=exercise.dose, limits=exercise.limits)
