"""`monitor analyze INPUT [--exercise ID | --program FILE [--item N]] [--json] [--no-history]`.

The analysed session is stored in the history like `monitor export` does (the same file again
updates its session), unless `--no-history`.

A recording of a program session holds the user's steps through the program (next / previous
exercise, calibrate, pause: monitor.session.program_steps). With `--program` of several items,
no `--item`, and a recording that holds steps, every item the steps visited is analysed over its
own stretches and printed: `--json` gives `{"program": {...}, "rep_count": total, "items":
[{"item": N, <the one-item summary>}, ...]}` (N 1-based), the table one section per item.
Otherwise the output is one item's summary, analysed over the whole input, as always.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from monitor.analysis.exercises import exercise_library, get_exercise
from monitor.analysis.pipeline import AnalysisPipeline
from monitor.analysis.programs import Program, load_program
from monitor.analysis.results import AnalysisSummary
from monitor.cli.export import (
    analyse_with_trace,
    followed_steps,
    keep_in_history,
    program_item,
    run_program,
    session_summary,
    warn_if_steps_unfollowed,
)
from monitor.core import SampleBlock
from monitor.errors import InputFileError
from monitor.session.program_steps import Step
from monitor.session.summary import program_ref
from monitor.sources.inputs import INPUT_FORMATS, LoadedInput, open_input


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
    target.add_argument(
        "--program",
        type=Path,
        help="program file; analyses one of its items, or every item the recording's program "
        "steps visited",
    )
    parser.add_argument(
        "--item",
        type=int,
        help="which exercise of the program (1-based); default: every item the recording's "
        "steps visited, else 1",
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
        item = program_item(program, args.program, args.item)
        steps = followed_steps(program, args.item, loaded)
        if steps:
            return run_items(args, loaded, program, steps)
        pipeline = AnalysisPipeline(program, item=item)
    else:
        warn_if_steps_unfollowed(loaded)
        exercise_id = args.exercise or loaded.metadata.exercise or "generic"
        pipeline = AnalysisPipeline(get_exercise(exercise_id, exercise_library()))
    for block in analysed_blocks(args.input, loaded):
        trace = analyse_with_trace(pipeline, block)
    summary = pipeline.summary()
    if not args.no_history and loaded.blocks:
        ref = program_ref(program) if program is not None else None
        analysed = [(summary, pipeline.prescription)]
        keep_in_history(session_summary(args.input, loaded, analysed, ref, trace), args.input)
    if args.json:
        print(json.dumps(summary.model_dump(mode="json"), indent=1))
    else:
        print_table(summary, args.input)
    return 0


def analysed_blocks(source: Path, loaded: LoadedInput) -> list[SampleBlock]:
    """The primary stream's blocks; a one-line error if it lacks acc or gyro samples."""
    for block in loaded:
        if block.acc is None or block.gyro is None:
            raise InputFileError(
                f"{source}: stream {loaded.primary!r} has no "
                f"{'accelerometer' if block.acc is None else 'gyroscope'} samples; the "
                "analysis needs both"
            )
    return loaded.blocks


def run_items(
    args: argparse.Namespace, loaded: LoadedInput, program: Program, steps: list[Step]
) -> int:
    """Every item the recorded steps visited, each over its own stretches (module docstring)."""
    blocks = analysed_blocks(args.input, loaded)
    if not blocks:
        raise InputFileError(f"{args.input}: no samples to analyse")
    run, trace = run_program(args.input, blocks[0], program, steps)
    results = run.results()
    ref = program_ref(program)
    if not args.no_history:
        keep_in_history(session_summary(args.input, loaded, results, ref, trace), args.input)
    numbers = [index + 1 for index in run.visited()]
    items = [(n, summary) for n, (summary, _) in zip(numbers, results, strict=True)]
    if args.json:
        document = {
            "program": ref.model_dump(mode="json"),
            "rep_count": sum(summary.rep_count for _, summary in items),
            "items": [{"item": n, **summary.model_dump(mode="json")} for n, summary in items],
        }
        print(json.dumps(document, indent=1))
        return 0
    from rich.console import Console

    console = Console()
    total = len(program.exercises)
    for number, summary in items:
        console.rule(f"item {number} of {total}")
        print_table(summary, args.input)
    if not items:
        console.print(f"{args.input}: no item of the program had samples to analyse")
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
