"""`monitor simulate`: a virtual sensor session as a recording (or generic CSV) plus its truth."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from monitor.analysis.programs import load_program
from monitor.errors import MonitorError
from monitor.sources.motion import EXERCISES, MotionScript, RepsSegment, RepVariation
from monitor.sources.simulate import (
    DEFAULT_START_UTC,
    simulate,
    truth_path,
    write_recording,
    write_samples_csv,
    write_truth_csv,
)

_VARIATION_KEYS = {
    "rom": "rom_deg",
    "up": "up_s",
    "down": "down_s",
    "hold": "hold_s",
    "speed": "peak_speed_dps",
    "label": "label",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="simulate a sensor session (recording + ground-truth CSV)",
        description="Simulate an exercise session on a bundled sensor profile: the exact "
        "notifications its firmware would send, written as a recording, and the true segment "
        "angle next to it (FILE.truth.csv). Flags override the script's values.",
    )
    parser.add_argument("--profile", required=True, help="firmware profile id (or .toml path)")
    parser.add_argument("--stream", help="profile stream (default: the profile's first)")
    parser.add_argument("--script", type=Path, help="motion script (TOML or JSON)")
    parser.add_argument("--exercise", help=f"one of: {', '.join(sorted(EXERCISES))}")
    parser.add_argument(
        "--program",
        type=Path,
        metavar="FILE",
        help="program file: the script's reps segments are its items in order, and the "
        "recording holds a step to the next item between them (as the live screen's n)",
    )
    parser.add_argument("--sets", type=int, help="sets per reps segment")
    parser.add_argument("--reps", type=int, help="reps per set")
    parser.add_argument("--hold", type=float, metavar="S", help="hold at end range (s)")
    parser.add_argument("--rom", type=float, metavar="DEG", help="range of motion (degrees)")
    parser.add_argument("--tempo", type=float, metavar="S", help="seconds up and down each")
    parser.add_argument("--rest", type=float, metavar="S", help="rest between reps (s)")
    parser.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="SET:REP:KEY=V[,KEY=V]",
        help="change one rep; keys rom, up, down, hold, speed (deg/s), label "
        "(e.g. 1:3:rom=110,label=overdone)",
    )
    parser.add_argument("--rate", type=float, metavar="HZ", help="sample rate (nearest supported)")
    parser.add_argument("--mounting", help="'random' or ROLL,PITCH,YAW degrees (sensor on segment)")
    parser.add_argument("--noise", metavar="ACC,GYRO", help="white noise sd: m/s^2, deg/s")
    parser.add_argument("--bias", metavar="X,Y,Z|random", help="gyro bias (deg/s)")
    parser.add_argument(
        "--bias-walk", type=float, metavar="DPS", help="gyro bias random walk (deg/s per sqrt s)"
    )
    parser.add_argument("--drop", metavar="P[:BURST]", help="packet loss share, mean burst length")
    parser.add_argument(
        "--disconnect", action="append", default=[], metavar="AT:DUR", help="link lost (s)"
    )
    parser.add_argument(
        "--duplicate", type=float, metavar="P", help="share of notifications delivered twice"
    )
    parser.add_argument(
        "--reorder", type=float, metavar="P", help="share delivered after the next one"
    )
    parser.add_argument(
        "--clock-jump",
        action="append",
        default=[],
        metavar="AT:BY",
        help="the clock stamping the samples steps by BY s at AT s (sensor clock, or the host's "
        "for host-clocked sensors; BY may be negative)",
    )
    parser.add_argument(
        "--clock-reset",
        action="append",
        default=[],
        type=float,
        metavar="AT",
        help="that clock restarts from zero at AT s",
    )
    parser.add_argument(
        "--slip",
        action="append",
        default=[],
        metavar="AT:ROLL,PITCH,YAW",
        help="the sensor slips on the segment at AT s by this turn (degrees, sensor frame)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--start",
        default=DEFAULT_START_UTC.isoformat(),
        help="session start, ISO 8601 UTC (fixed by default so output is reproducible)",
    )
    parser.add_argument("--format", choices=["mrec", "csv"], default="mrec")
    parser.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    parser.set_defaults(func=run)


def _floats(text: str, count: int, flag: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != count:
        raise MonitorError(f"{flag} {text!r}: expected {count} comma-separated numbers")
    return values


def _at_pair(flag: str, text: str, key: str, name: str) -> dict[str, float]:
    """`AT:NAME` in seconds as {"at_s": AT, key: NAME}."""
    at, _, value = text.partition(":")
    try:
        return {"at_s": float(at), key: float(value)}
    except ValueError:
        raise MonitorError(f"{flag} {text!r}: expected AT:{name} in seconds") from None


def _disconnect(text: str) -> dict[str, float]:
    return _at_pair("--disconnect", text, "duration_s", "DURATION")


def _clock_jump(text: str) -> dict[str, float]:
    return _at_pair("--clock-jump", text, "by_s", "BY")


def _slip(text: str) -> dict[str, object]:
    at, _, turn = text.partition(":")
    try:
        at_s = float(at)
    except ValueError:
        raise MonitorError(f"--slip {text!r}: expected AT:ROLL,PITCH,YAW") from None
    return {"at_s": at_s, "rotation_deg": _floats(turn, 3, "--slip")}


def _variation(text: str) -> RepVariation:
    try:
        set_text, rep_text, assignments = text.split(":", 2)
        fields: dict[str, Any] = {"set": int(set_text), "rep": int(rep_text)}
        for item in assignments.split(","):
            key, value = item.split("=", 1)
            name = _VARIATION_KEYS[key.strip()]
            fields[name] = value if name == "label" else float(value)
        return RepVariation(**fields)
    except (ValueError, KeyError, ValidationError):
        raise MonitorError(
            f"--vary {text!r}: expected SET:REP:KEY=VALUE[,KEY=VALUE] with keys "
            f"{', '.join(_VARIATION_KEYS)}"
        ) from None


def build_script(args: argparse.Namespace) -> MotionScript:
    """The script file (or defaults) with the command-line overrides applied."""
    data = MotionScript.load(args.script).model_dump() if args.script else {}
    if args.exercise:
        data["exercise"] = args.exercise
    if args.rate:
        data["rate_hz"] = args.rate
    if args.mounting:
        data["mounting_deg"] = (
            "random" if args.mounting == "random" else _floats(args.mounting, 3, "--mounting")
        )
    noise = data.setdefault("noise", {})
    if args.noise:
        acc, gyro_dps = _floats(args.noise, 2, "--noise")
        noise.update(acc_mps2=acc, gyro_rads=gyro_dps * 3.141592653589793 / 180)
    if args.bias:
        noise["gyro_bias_dps"] = (
            "random" if args.bias == "random" else _floats(args.bias, 3, "--bias")
        )
    if args.bias_walk is not None:
        noise["gyro_bias_walk_dps"] = args.bias_walk
    link = data.setdefault("link", {})
    if args.drop:
        parts = args.drop.split(":")
        link["drop_probability"] = _floats(parts[0], 1, "--drop")[0]
        if len(parts) > 1:
            link["drop_burst"] = _floats(parts[1], 1, "--drop")[0]
    if args.disconnect:
        link["disconnects"] = [_disconnect(text) for text in args.disconnect]
    if args.duplicate is not None:
        link["duplicate_probability"] = args.duplicate
    if args.reorder is not None:
        link["reorder_probability"] = args.reorder
    if args.clock_jump or args.clock_reset:
        link["clock_jumps"] = [_clock_jump(text) for text in args.clock_jump] + [
            {"at_s": at, "reset": True} for at in args.clock_reset
        ]
    if args.slip:
        data["slips"] = [_slip(text) for text in args.slip]
    dose = {
        "sets": args.sets,
        "reps": args.reps,
        "hold_s": args.hold,
        "rom_deg": args.rom,
        "up_s": args.tempo,
        "down_s": args.tempo,
        "rest_s": args.rest,
    }
    dose = {k: v for k, v in dose.items() if v is not None}
    variations = [_variation(v).model_dump() for v in args.vary]
    segments = data.get("segments") or [RepsSegment().model_dump()]
    for segment in segments:
        if segment.get("type", "reps") == "reps":
            segment.update(dose)
            if variations:
                segment["variations"] = variations
    data["segments"] = segments
    return MotionScript.parse(data, "simulate")


def run(args: argparse.Namespace) -> int:
    script = build_script(args)
    try:
        start = datetime.fromisoformat(args.start)
    except ValueError:
        raise MonitorError(f"--start {args.start!r}: not an ISO 8601 time") from None
    if start.tzinfo is None:
        raise MonitorError(f"--start {args.start!r}: give a UTC offset, e.g. 2026-01-05T09:00Z")
    output: Path = args.output
    truth = truth_path(output)
    if not args.force:
        for path in (output, truth):
            if path.exists():
                raise MonitorError(f"{path}: exists (use --force to overwrite)")
    program = load_program(args.program) if args.program is not None else None
    if program is not None and args.format == "csv":
        raise MonitorError("--program writes the program's steps as events: use --format mrec")
    session = simulate(
        script, args.profile, args.seed, stream=args.stream, start_utc=start, program=program
    )
    if args.format == "csv":
        write_samples_csv(session, output)
        content = f"{len(session.measured[0])} samples"
    else:
        write_recording(session, output, overwrite=args.force)
        content = f"{len(session.notifications)} notifications, {len(session.lost)} loss bursts"
        injected = {k: v for k, v in session.faults.items() if v}
        if injected:
            content += ", " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in injected.items())
        if program is not None:
            content += f", {len(session.steps)} program step(s)"
    write_truth_csv(session, truth)
    print(
        f"wrote {output} ({session.profile.id}, {session.script.exercise}, "
        f"{len(session.truth.reps)} reps, {session.plan.duration_s:.0f} s, {content}) "
        f"and {truth}"
    )
    return 0
