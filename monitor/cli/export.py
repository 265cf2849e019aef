"""`monitor export INPUT --format json|csv|md|html|samples-csv -o OUT [--force]`.

INPUT is a recording (`.mrec`), a CSV, or the id of a session in the history. A file is analysed
(the exercise or program from the recording's header, or `--exercise` / `--program`), stored in
the history (the same file again updates its session) and exported. A recording of a program
session holds the user's steps through the program (monitor.session.program_steps): with
`--program` of several items and no `--item`, the summary has every item the steps visited,
each analysed over its own stretches, as the session screen's summary has. INPUT may also be another
app's export (`--input-format`, default: told from the content). `samples-csv` writes the samples
and the segment angle instead of the summary (monitor.session.samples_csv).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from monitor import __version__
from monitor.analysis.exercises import Prescription, get_exercise, prescription_for
from monitor.analysis.pipeline import AnalysisPipeline
from monitor.analysis.programs import Program, load_program
from monitor.analysis.results import AnalysisSummary
from monitor.core import EventKind
from monitor.core.samples import SampleBlock
from monitor.errors import InputFileError, MonitorError
from monitor.session.export import FORMATS, export
from monitor.session.history import open_history
from monitor.session.program_steps import ProgramRun, Step, steps_from_events
from monitor.session.samples_csv import FORMAT as SAMPLES_CSV
from monitor.session.samples_csv import write_samples_csv
from monitor.session.summary import (
    AngleTrace,
    ProgramRef,
    SensorInfo,
    SessionMeta,
    SessionSummary,
    data_gaps,
    decimate_trace,
    from_analyses,
    program_ref,
)
from monitor.sources.importers import input_digest
from monitor.sources.inputs import INPUT_FORMATS, LoadedInput, open_input

TRACE_POINTS = 1500  # angle samples kept for the chart


def resolve_prescription(
    exercise: str | None,
    program: tuple[Path, Program] | None,
    item: int | None,
    recorded: tuple[str, str],
) -> tuple[Prescription, ProgramRef | None]:
    """The prescription to analyse with and the program it came from: the command line first,
    then the exercise id the recording's header names, else `generic`. The header's program is
    a name, never a path to open: a file's content does not choose what else is read."""
    recorded_exercise, recorded_program = recorded
    if exercise is None and program is None:
        exercise = recorded_exercise or "generic"
        if recorded_program and not recorded_exercise:
            print(
                f"monitor: warning: recorded with the program {recorded_program!r}; analysed as "
                "generic (give --program FILE to analyse it as the program)",
                file=sys.stderr,
            )
    if program is None:
        return prescription_for(get_exercise(exercise)), None
    path, loaded = program
    return loaded.prescriptions()[program_item(loaded, path, item)], program_ref(loaded)


def program_item(program: Program, path: Path, item: int | None) -> int:
    """The 0-based index of `--item` (1-based, default 1); a one-line error when out of range."""
    number = 1 if item is None else item
    if not 1 <= number <= len(program.exercises):
        raise InputFileError(f"{path}: --item {number}: expected 1..{len(program.exercises)}")
    return number - 1


def followed_steps(program: Program | None, item: int | None, opened: LoadedInput) -> list[Step]:
    """The recorded program steps to analyse by: a program of several items without `--item`,
    over a file that holds steps. Otherwise none: one item over the whole file, as always."""
    if program is None or item is not None or len(program.exercises) < 2:
        return []
    return steps_from_events(opened.events)


def warn_if_steps_unfollowed(opened: LoadedInput) -> None:
    """A program session analysed as one exercise: one line saying how to follow its steps."""
    moves = [s for s in steps_from_events(opened.events) if s.kind is EventKind.PROGRAM_ITEM]
    if moves:
        print(
            f"monitor: warning: {opened.metadata.path}: the session moved through a program "
            f"({len(moves)} step(s)); analysed as one exercise over the whole recording (give "
            "--program FILE to analyse each item over its own stretches)",
            file=sys.stderr,
        )


def run_program(
    path: Path, block: SampleBlock, program: Program, steps: list[Step]
) -> tuple[ProgramRun, AngleTrace | None]:
    """Every item of `program` over the stretches `steps` give it (one pipeline per item, on
    the session clock); a step that cannot be applied is one warning line. Also the chart's
    angle trace, from whichever item had each stretch."""
    run = ProgramRun(program.prescriptions(), steps=steps, keep_angles=True)
    try:
        run.process(block)
    except ValueError as error:  # e.g. timestamps that do not advance
        raise InputFileError(f"{path}: cannot analyse: {error}") from None
    run.finish()
    for warning in run.warnings:
        print(f"monitor: warning: {path}: {warning}", file=sys.stderr)
    t_ns, angle = run.angles()
    if len(t_ns) == 0:
        return run, None
    t_s = (t_ns - block.t_ns[0]) / 1e9
    return run, decimate_trace(t_s, angle, max_points=TRACE_POINTS)


def analyse_with_trace(pipeline: AnalysisPipeline, block: SampleBlock) -> AngleTrace | None:
    """Run the pipeline over the whole block; its measured angles, decimated, are the chart's
    trace (no second angle computation here)."""
    pipeline.process(block)
    t_ns, angle = pipeline.last_angles
    if len(t_ns) == 0:
        return None
    return decimate_trace((t_ns - block.t_ns[0]) / 1e9, angle, max_points=TRACE_POINTS)


def summarize_file(
    path: Path,
    *,
    exercise: str | None = None,
    program: Path | None = None,
    item: int | None = None,
    input_format: str = "auto",
) -> SessionSummary:
    """Analyse a recording or CSV into a session summary."""
    opened = open_input(path, input_format)
    meta = opened.metadata
    for warning in meta.warnings:
        print(f"monitor: warning: {warning}", file=sys.stderr)
    loaded_program = load_program(program) if program is not None else None
    steps = followed_steps(loaded_program, item, opened)
    block = opened.blocks[0] if opened.blocks else None
    if block is None or len(block) < 2 or block.acc is None or block.gyro is None:
        raise InputFileError(f"{path}: no accelerometer and gyroscope samples to analyse")
    if loaded_program is not None and steps:
        run, trace = run_program(path, block, loaded_program, steps)
        ref = program_ref(loaded_program)
        return session_summary(path, opened, run.results(), ref, trace)
    if loaded_program is None:
        warn_if_steps_unfollowed(opened)
    given = (program, loaded_program) if program is not None and loaded_program else None
    prescription, ref = resolve_prescription(exercise, given, item, (meta.exercise, meta.program))
    pipeline = AnalysisPipeline(prescription)
    try:
        trace = analyse_with_trace(pipeline, block)
    except ValueError as error:  # e.g. timestamps that do not advance
        raise InputFileError(f"{path}: cannot analyse: {error}") from None
    return session_summary(path, opened, [(pipeline.summary(), prescription)], ref, trace)


def session_summary(
    path: Path,
    opened: LoadedInput,
    analysed: list[tuple[AnalysisSummary, Prescription]],
    program_ref: ProgramRef | None,
    trace: AngleTrace | None,
) -> SessionSummary:
    """The session summary of `opened` (read from `path`): the analysis result of each
    exercise done and the prescription it ran (the first one names the sensor's placement)."""
    meta = opened.metadata
    result, prescription = analysed[0] if analysed else (None, None)
    session = SessionMeta(
        start=meta.start or datetime.fromtimestamp(path.stat().st_mtime, UTC),
        duration_s=max((r.duration_s for r, _ in analysed), default=0.0),
        source="replay" if meta.kind == "recording" else "import",
        input_name=path.name,
        sensor=SensorInfo(
            profile=meta.profile or meta.kind,
            model=meta.device_name or None,
            device=meta.device_address or None,
            placement=prescription.exercise.placement if prescription else None,
            sample_rate_hz=result.sample_rate_hz if result else None,
        ),
        program=program_ref,
        monitor_version=__version__,
    )
    gaps = data_gaps(opened.blocks[0].t_ns, opened.events)
    return from_analyses(analysed, meta=session, gaps=gaps, trace=trace)


def keep_in_history(summary: SessionSummary, source: Path) -> int:
    """Store an analysed file's session (the same file again updates it); its history id."""
    with open_history() as history:
        return history.record(summary, recording=source, input_digest=input_digest(source))


def export_samples(args: argparse.Namespace) -> list[Path]:
    """`--format samples-csv`: a file's samples and segment angle (a history id: its recording),
    one file per sensor; returns the files written."""
    source = Path(args.input)
    if not source.exists() and args.input.isdigit():
        with open_history() as history:
            recording, stored_digest = history.source(int(args.input))
        if recording is None or not recording.exists():
            raise MonitorError(
                f"session {args.input}: its input file is not available ({recording}); "
                "samples-csv needs the recording"
            )
        if input_digest(recording) != stored_digest:  # the history names it, its digest vouches
            raise MonitorError(
                f"session {args.input}: {recording} is not the file that was analysed "
                "(its content changed); export it by file name instead"
            )
        source = recording
    loaded = open_input(source, args.input_format)
    meta = loaded.metadata
    for warning in meta.warnings:
        print(f"monitor: warning: {warning}", file=sys.stderr)
    given = (args.program, load_program(args.program)) if args.program is not None else None
    prescription, _program = resolve_prescription(
        args.exercise, given, args.item, (meta.exercise, meta.program)
    )
    return write_samples_csv(loaded, prescription, args.output, force=args.force)


def run(args: argparse.Namespace) -> int:
    source = Path(args.input)
    if args.format == SAMPLES_CSV:
        for path in export_samples(args):
            print(f"wrote {path}")
        return 0
    if source.exists():
        summary = summarize_file(
            source,
            exercise=args.exercise,
            program=args.program,
            item=args.item,
            input_format=args.input_format,
        )
        if not args.no_history:
            keep_in_history(summary, source)
    elif args.input.isdigit():
        with open_history() as history:
            summary, _recording = history.summary(int(args.input))
    else:
        raise MonitorError(f"{args.input}: no such file, and not a session id from the history")
    export(summary, args.format, args.output, force=args.force)
    print(f"wrote {args.output}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a session summary as JSON, CSV (one row per rep), Markdown or HTML",
        description="Export a session: INPUT is a recording, a CSV, or a session id from "
        "`monitor history`. HTML is one self-contained file with charts that opens offline.",
    )
    parser.add_argument(
        "input", metavar="INPUT", help="recording, CSV, another app's export, or session id"
    )
    parser.add_argument(
        "--format",
        choices=[*FORMATS, SAMPLES_CSV],
        required=True,
        help="summary formats, or samples-csv: the samples and segment angle as generic CSV",
    )
    parser.add_argument(
        "--input-format",
        choices=INPUT_FORMATS,
        default="auto",
        help="how to read INPUT (default: told from its content)",
    )
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT")
    parser.add_argument("--force", action="store_true", help="replace OUT if it exists")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--exercise", metavar="ID", help="exercise to analyse a file as")
    target.add_argument("--program", type=Path, metavar="FILE", help="program file")
    parser.add_argument(
        "--item",
        type=int,
        help="program item (1-based); default: every item the recording's program steps "
        "visited, else 1",
    )
    parser.add_argument(
        "--no-history", action="store_true", help="do not store an analysed file in the history"
    )
    parser.set_defaults(func=run)
