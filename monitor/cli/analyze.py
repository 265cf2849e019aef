"""`monitor analyze INPUT [--exercise ID | --program FILE [--item N]] [--json] [--no-history]`.

The analysed session is stored in the history like `monitor export` does (the same file again
updates its session), unless `--no-history`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from monitor.analysis.exercises import exercise_library, get_exercise
from monitor.analysis.pipeline import AnalysisPipeline
from monitor.analysis.programs import load_program
from monitor.analysis.results import AnalysisSummary
from monitor.cli.export import analyse_with_trace, keep_in_history, session_summary
from monitor.errors import InputFileError
from monitor.session.summary import program_ref
from monitor.sources.inputs import INPUT_FORMATS, open_input


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="count reps, sets and holds in a recording or CSV and list the warnings",
        description="Analyse a recording or a generic CSV (time_s, acc_*_mps2, gyro_*_rads) "
        "for one exercise: reps, sets, holds, warnings and the calibration used.",
    )
    parser.add_argument(
        "input",
        type=Path,
        metavar="INPUT",
        help="recording (.mrec), CSV, or an export of MetaBase, Polar Sensor Logger or phyphox",
    )
    parser.add_argument(
        "--input-format",
        choices=INPUT_FORMATS,
        default="auto",
        help="how to read INPUT (default: told from its content)",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--exercise",
        default=None,
        help="exercise id (default: the one the recording names, else generic)",
    )
    target.add_argument("--program", type=Path, help="program file; analyses one of its items")
    parser.add_argument(
        "--item", type=int, default=1, help="which exercise of the program (1-based, default 1)"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--no-history", action="store_true", help="do not store the session in the history"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    loaded = open_input(args.input, args.input_format)
    for warning in loaded.metadata.warnings:
        print(f"monitor: warning: {warning}", file=sys.stderr)
    program = None
    if args.program is not None:
        program = load_program(args.program)
        if not 1 <= args.item <= len(program.exercises):
            raise InputFileError(
                f"{args.program}: --item {args.item}: expected 1..{len(program.exercises)}"
            )
        pipeline = AnalysisPipeline(program, item=args.item - 1)
    else:
        exercise_id = args.exercise or loaded.metadata.exercise or "generic"
        pipeline = AnalysisPipeline(get_exercise(exercise_id, exercise_library()))
    for block in loaded:
        if block.acc is None or block.gyro is None:
            raise InputFileError(
                f"{args.input}: stream {loaded.primary!r} has no "
                f"{'accelerometer' if block.acc is None else 'gyroscope'} samples; the "
                "analysis needs both"
            )
        trace = analyse_with_trace(pipeline, block)
    summary = pipeline.summary()
    if not args.no_history and loaded.blocks:
        ref = program_ref(program) if program is not None else None
        analysed = (summary, pipeline.prescription)
        keep_in_history(session_summary(args.input, loaded, analysed, ref, trace), args.input)
    if args.json:
        print(json.dumps(summary.model_dump(mode="json"), indent=1))
    else:
        print_table(summary, args.input)
    return 0


def print_table(summary: AnalysisSummary, source: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"[bold]{summary.exercise_name}[/bold] ({summary.exercise_id}, {summary.mode}) "
        f"from {source}: {summary.rep_count} reps in {len(summary.sets)} set(s) "
        f"over {summary.duration_s:.0f} s (target {summary.target_sets} x {summary.target_reps})"
    )
    reps = Table(
        "#", "set", "start s", "end s", "peak deg", "hold s", "peak deg/s", "side", "flags"
    )
    for rep in summary.reps:
        reps.add_row(
            str(rep.index),
            str(rep.set_index),
            f"{rep.start_s:.1f}",
            f"{rep.end_s:.1f}",
            f"{rep.peak_angle_deg:.0f}",
            f"{rep.hold_s:.1f}",
            f"{rep.peak_speed_dps:.0f}",
            rep.side or "",
            ", ".join(rep.flags),
        )
    console.print(reps)
    if summary.warnings:
        warnings = Table("t s", "warning", "message")
        for warning in summary.warnings:
            warnings.add_row(f"{warning.t_s:.1f}", warning.kind.value, warning.message)
        console.print(warnings)
    calibration = summary.calibration
    if calibration is not None:
        console.print(
            f"calibration ({calibration.method}) at {calibration.t_s:.1f} s: range "
            f"{calibration.rom_deg:.0f} deg, plane quality {calibration.plane_quality:.2f}"
        )
    else:
        console.print("not calibrated: no still neutral pose followed by a clear movement found")
