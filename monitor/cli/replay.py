"""`monitor replay FILE [--no-tui] [--speed 1|2|4|max] [--json]`: a recording, decoded again.

Headless: prints the events as the replay reaches them and a per-stream sample summary;
`--json` prints JSON lines instead (`type` is "warning", "event", "samples" or "summary").
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from monitor.cli.options import replay_speed
from monitor.core import Event, EventKind
from monitor.session.recording import Recording, read_recording
from monitor.sources.replay import ReplayStep, replay


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="replay a recording through the live decode path",
        description="Decode a recording (.mrec) again, exactly as the live session did, paced "
        "in real time, faster, or as fast as possible; print its events and a sample summary.",
    )
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument(
        "--no-tui", action="store_true", help="print to the terminal instead of the screen"
    )
    parser.add_argument(
        "--speed",
        type=replay_speed,
        default=1.0,
        metavar="1|2|4|max",
        help="replay speed: a factor of real time, or 'max' (default 1)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON lines (implies --no-tui)")
    parser.add_argument("--exercise", help="screen: analyse as this exercise (default: recorded)")
    parser.add_argument("--program", type=Path, metavar="FILE", help="screen: analyse as a program")
    parser.add_argument("--voice", action="store_true", help="screen: speak the cues")
    parser.add_argument("--mute", action="store_true", help="screen: no audible cues")
    parser.set_defaults(func=run)


@dataclass
class _StreamTally:
    samples: int = 0
    channels: tuple[str, ...] = ()
    first_t_ns: int | None = None
    last_t_ns: int | None = None
    gaps: int = 0
    bad_packets: int = 0
    intervals: list[np.ndarray] = field(default_factory=list)


def run(args: argparse.Namespace) -> int:
    if not (args.no_tui or args.json):
        return _run_screen(args)
    recording = read_recording(args.file)
    printer = _JsonPrinter() if args.json else _TextPrinter(recording)
    for warning in recording.warnings:
        printer.warning(warning)
    tallies = {info.name: _StreamTally() for info in recording.header.streams}

    async def consume() -> None:
        async for step in replay(recording, speed=args.speed):
            _tally(step, tallies)
            printer.step(step)

    asyncio.run(consume())
    printer.summary(tallies)
    return 0


def _run_screen(args: argparse.Namespace) -> int:
    """The live session screen fed by the recording, with play/pause, speed and skip keys."""
    from monitor.analysis.programs import load_program
    from monitor.tui.app import run_session
    from monitor.tui.replay_feed import open_replay

    target = load_program(args.program) if args.program is not None else args.exercise
    feed = open_replay(args.file, speed=args.speed, target=target)
    return run_session(feed, voice=args.voice, muted=args.mute)


def _tally(step: ReplayStep, tallies: dict[str, _StreamTally]) -> None:
    for block in step.blocks:
        tally = tallies[block.stream]
        if tally.last_t_ns is not None:
            tally.intervals.append(np.diff(block.t_ns, prepend=tally.last_t_ns))
        elif len(block) > 1:
            tally.intervals.append(np.diff(block.t_ns))
        tally.samples += len(block)
        tally.channels = block.channels
        tally.first_t_ns = int(block.t_ns[0]) if tally.first_t_ns is None else tally.first_t_ns
        tally.last_t_ns = int(block.t_ns[-1])
    for event in step.events:
        tally = tallies.get(event.stream)
        if tally is not None:
            tally.gaps += event.kind == EventKind.GAP
            tally.bad_packets += event.kind == EventKind.BAD_PACKET


def _summary(name: str, tally: _StreamTally) -> dict[str, object]:
    duration = 0.0
    rate = 0.0
    if tally.first_t_ns is not None and tally.last_t_ns is not None:
        duration = (tally.last_t_ns - tally.first_t_ns) / 1e9
    if tally.intervals:
        intervals = np.concatenate(tally.intervals)
        positive = intervals[intervals > 0]
        rate = 1e9 / float(np.median(positive)) if positive.size else 0.0
    return {
        "stream": name,
        "samples": tally.samples,
        "channels": list(tally.channels),
        "duration_s": round(duration, 3),
        "rate_hz": round(rate, 2),
        "gaps": tally.gaps,
        "bad_packets": tally.bad_packets,
    }


class _JsonPrinter:
    def warning(self, message: str) -> None:
        self._line({"type": "warning", "message": message})

    def step(self, step: ReplayStep) -> None:
        for event in step.events:
            self._line({"type": "event", **event.to_json()})
        for block in step.blocks:
            self._line(
                {
                    "type": "samples",
                    "stream": block.stream,
                    "n": len(block),
                    "t_first_ns": int(block.t_ns[0]),
                    "t_last_ns": int(block.t_ns[-1]),
                }
            )

    def summary(self, tallies: dict[str, _StreamTally]) -> None:
        for name, tally in tallies.items():
            self._line({"type": "summary", **_summary(name, tally)})

    @staticmethod
    def _line(record: dict[str, object]) -> None:
        print(json.dumps(record, default=str), flush=True)


class _TextPrinter:
    def __init__(self, recording: Recording) -> None:
        header = recording.header
        self.t0 = int(recording.host_t_ns[0]) if len(recording) else 0
        streams = ", ".join(
            f"{s.name} ({s.profile_id}{', ' + s.device_name if s.device_name else ''})"
            for s in header.streams
        )
        what = header.exercise or header.program or "no exercise"
        print(f"{recording.path}: {header.start_utc:%Y-%m-%d %H:%M:%S} UTC, {what}; {streams}")

    def warning(self, message: str) -> None:
        print(f"warning: {message}")

    def step(self, step: ReplayStep) -> None:
        for event in step.events:
            print(self._event_line(event, step.host_t_ns))

    def _event_line(self, event: Event, host_t_ns: int) -> str:
        seconds = (host_t_ns - self.t0) / 1e9
        return f"{seconds:8.2f} s  {event.stream or '-':8} {event.kind.value:13} {event.message}"

    def summary(self, tallies: dict[str, _StreamTally]) -> None:
        for name, tally in tallies.items():
            s = _summary(name, tally)
            channels = "+".join(s["channels"]) or "no samples"  # type: ignore[arg-type]
            print(
                f"{name}: {s['samples']} samples ({channels}) over {s['duration_s']:.1f} s at "
                f"{s['rate_hz']:.1f} Hz; {s['gaps']} gap(s), {s['bad_packets']} bad packet(s)"
            )
