"""JSON schemas of the exercise and program files, generated from the models and committed.

Regenerate after changing a model: `python -m monitor.analysis.schema` (a test fails on drift).
"""

from __future__ import annotations

import json
from pathlib import Path

from monitor.analysis.exercises import Exercise
from monitor.analysis.programs import Program

SCHEMA_DIR = Path(__file__).resolve().parent / "data" / "schema"
SCHEMAS = {"exercise.schema.json": Exercise, "program.schema.json": Program}


def render(model: type) -> str:
    return json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n"


def write_schemas() -> None:
    SCHEMA_DIR.mkdir(exist_ok=True)
    for name, model in SCHEMAS.items():
        (SCHEMA_DIR / name).write_text(render(model), encoding="utf-8")


if __name__ == "__main__":
    write_schemas()
