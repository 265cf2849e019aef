"""`monitor program check FILE`: validate a program file against the exercise library."""

from __future__ import annotations

import argparse
from pathlib import Path

from monitor.analysis.programs import load_program


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("program", help="work with program (prescription) files")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate a program file")
    check.add_argument("file", type=Path, metavar="FILE")
    check.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    program = load_program(args.file)
    print(f"{args.file}: ok: {program.name!r}, {len(program.exercises)} exercises")
    for number, (item, prescription) in enumerate(
        zip(program.exercises, program.prescriptions(), strict=True), start=1
    ):
        dose = prescription.dose
        hold = f", hold {dose.hold_s:g} s" if dose.hold_s else ""
        print(
            f"  {number}. {item.exercise}: {dose.sets} x {dose.reps}{hold}, rest {dose.rest_s:g} s"
        )
    return 0
