"""A program: the therapist's prescription, exercises in order with their dose and limits.

Any field left out of an item falls back to the exercise's default from the library.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from monitor.analysis.exercises import (
    Degrees,
    Dose,
    Exercise,
    Limits,
    Prescription,
    exercise_library,
    validation_message,
)
from monitor.errors import InputFileError
from monitor.textfiles import read_toml


class ProgramItem(BaseModel):
    """One exercise of the program; unset fields take the exercise's defaults."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    exercise: str = Field(description="exercise id from the library")
    sets: int | None = Field(None, ge=1, le=20)
    reps: int | None = Field(None, ge=1, le=100)
    hold_s: float | None = Field(None, ge=0, le=300)
    rest_s: float | None = Field(None, ge=0, le=600)
    rom_target_deg: Degrees | None = None
    rom_target_pct: float | None = Field(None, gt=0, le=100)
    rom_limit_deg: Degrees | None = None
    rom_limit_pct: float | None = Field(None, gt=0, le=200)
    max_speed_dps: float | None = Field(None, gt=0, le=2000)
    notes: str = ""

    def prescription(self, exercise: Exercise) -> Prescription:
        dose = exercise.dose.model_copy(
            update={
                name: value
                for name in Dose.model_fields
                if (value := getattr(self, name)) is not None
            }
        )
        limits = exercise.limits.model_copy(
            update={
                name: value
                for name in Limits.model_fields
                if (value := getattr(self, name)) is not None
            }
        )
        return Prescription(
            exercise=exercise, dose=dose, limits=limits, notes=self.notes or exercise.notes
        )


class Program(BaseModel):
    """A program file (TOML): `name`, optional `notes` and `sessions_per_week`, and
    `[[exercises]]` items in order."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str
    notes: str = ""
    sessions_per_week: int | None = Field(
        None,
        ge=1,
        le=14,
        description="prescribed sessions a week (7 = daily, 14 = twice a day); drives the "
        "history's weekly adherence and the maintenance nudge. Left out: neither.",
    )
    exercises: list[ProgramItem] = Field(min_length=1)
    _file_stem: str | None = PrivateAttr(default=None)  # set by `load_program`

    @property
    def id(self) -> str:
        """How summaries and the history name the program: its file's name without the
        extension (`low_back_starter`), or its name in lower case for one built in code."""
        return self._file_stem or re.sub(r"\W+", "_", self.name.lower()).strip("_")

    def prescriptions(self, library: dict[str, Exercise] | None = None) -> list[Prescription]:
        library = exercise_library() if library is None else library
        return [item.prescription(library[item.exercise]) for item in self.exercises]


def load_program(path: Path, library: dict[str, Exercise] | None = None) -> Program:
    """Read and validate a program file; every problem is a one-line InputFileError."""
    path = Path(path)
    try:
        program = Program.model_validate(read_toml(path))
    except ValidationError as error:
        raise InputFileError(validation_message(path, error)) from None
    library = exercise_library() if library is None else library
    for index, item in enumerate(program.exercises):
        if item.exercise not in library:
            known = ", ".join(sorted(library))
            raise InputFileError(
                f"{path}: exercises.{index}.exercise: unknown exercise {item.exercise!r}; "
                f"expected one of: {known}"
            )
        try:
            item.prescription(library[item.exercise])
        except ValidationError as error:
            raise InputFileError(validation_message(f"{path}: exercises.{index}", error)) from None
    program._file_stem = path.stem
    return program
