"""`monitor live`: stream from one or two sensors, count and warn, record.

By default the session is on screen (the Textual TUI; without --device it first scans and lets
you pick a sensor). With --no-tui or --json it is headless: events print as lines (or JSON
lines). Ctrl-C (or q on screen) ends the session cleanly: the sensors' stop sequences run and
the recording is closed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.errors import MonitorError

if TYPE_CHECKING:  # imported when the verb runs, not for every `monitor` command
    from monitor.analysis.results import AnalysisEvent
    from monitor.core import Event
    from monitor.profiles.model import Profile
    from monitor.sources.ble import LinkPolicy


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "live",
        help="stream from BLE sensors: counts, holds and warnings live, recorded",
        description="Connect to one or two sensors (e.g. lower back and thigh), run their "
        "start sequences and stream: decoded, analysed for the exercise or program, recorded. "
        "Reconnects automatically after a disconnect.",
    )
    parser.add_argument(
        "--device",
        action="append",
        default=[],
        metavar="ADDR|NAME",
        help="sensor address or advertised name; give twice for two sensors (on screen, "
        "leave it out to pick one from a scan)",
    )
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="ID",
        help="firmware profile per --device (default: recognised from the advertisement)",
    )
    parser.add_argument("--name", action="append", default=[], help="stream name per --device")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--exercise", metavar="ID", help="exercise to analyse")
    target.add_argument("--program", type=Path, metavar="FILE", help="program file to follow")
    parser.add_argument("--record", type=Path, metavar="FILE", help="write the session here")
    parser.add_argument(
        "--give-up-after",
        type=float,
        default=60.0,
        metavar="S",
        help="after a disconnect, keep trying to reconnect this long (default 60 s)",
    )
    parser.add_argument("--no-tui", action="store_true", help="headless: print events as lines")
    parser.add_argument("--json", action="store_true", help="headless output as JSON lines")
    parser.add_argument("--voice", action="store_true", help="screen: speak the cues")
    parser.add_argument("--mute", action="store_true", help="screen: no audible cues")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from monitor.analysis.programs import load_program
    from monitor.sources.ble import LinkPolicy

    if len(args.device) > 2:
        raise MonitorError("at most two sensors at once (--device given more than twice)")
    for option in ("profile", "name"):
        values = getattr(args, option)
        if values and len(values) != len(args.device):
            raise MonitorError(f"give --{option} once per --device (or not at all)")
    exercise = load_program(args.program) if args.program else args.exercise
    policy = LinkPolicy(give_up_after_s=args.give_up_after)
    if not (args.no_tui or args.json):
        return _run_screen(args, exercise, policy)
    if not args.device:
        raise MonitorError("give --device ADDR|NAME (or leave out --no-tui to pick one on screen)")
    printer = _Printer(args.json)
    return asyncio.run(_run(args, exercise, policy, printer))


def _run_screen(args: argparse.Namespace, exercise: Any, policy: LinkPolicy) -> int:
    """The live session screen; a sensor picked on screen when no --device is given."""
    from monitor.tui.adapt import analysis_messages
    from monitor.tui.app import MonitorApp, run_session
    from monitor.tui.live_feed import BleScanner, open_live

    if not args.device:
        scanner = BleScanner(target=exercise, record=args.record, policy=policy)
        MonitorApp(
            translate=analysis_messages,
            scanner=scanner,
            voice=args.voice,
            muted=args.mute,
            keep_history=True,
        ).run()
        return 0
    requests = asyncio.run(_requests(args, policy))
    feed = open_live(requests, target=exercise, record=args.record, policy=policy)
    return run_session(feed, voice=args.voice, muted=args.mute)


async def _requests(args: argparse.Namespace, policy: LinkPolicy) -> list[Any]:
    """A SensorRequest per --device, its profile given or recognised from the advertisement."""
    from monitor.profiles.loader import get_profile
    from monitor.sources.live import SensorRequest

    requests = []
    for index, device in enumerate(args.device):
        profile = (
            get_profile(args.profile[index])
            if args.profile
            else await _recognise(device, policy.find_timeout_s)
        )
        default_name = ("back", "thigh")[index] if len(args.device) > 1 else profile.stream().name
        name = args.name[index] if args.name else default_name
        requests.append(SensorRequest(device, profile, name))
    return requests


async def _run(
    args: argparse.Namespace, exercise: Any, policy: LinkPolicy, printer: _Printer
) -> int:
    from monitor.sources.live import LiveSession

    requests = await _requests(args, policy)
    session = LiveSession(
        requests,
        exercise=exercise,
        record=args.record,
        policy=policy,
        on_event=printer.event,
        on_analysis=printer.analysis,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await session.run(stop)
    except MonitorError as error:
        if args.record is not None and session.recorder is not None:
            raise MonitorError(f"{error} (everything received is saved in {args.record})") from None
        raise
    if args.record is not None:
        printer.note(f"session recorded in {args.record}")
    return 0


async def _recognise(device: str, timeout_s: float) -> Profile:
    from monitor.profiles.loader import load_profiles
    from monitor.sources.ble import find_device, matching_profiles

    found = await find_device(device, timeout_s)
    adv_uuids = list(found.details.get("props", {}).get("UUIDs", [])) if found.details else []
    matches = matching_profiles(list(load_profiles().values()), found.name, adv_uuids)
    if not matches:
        raise MonitorError(
            f"{device}: no firmware profile recognises {found.name!r}; pass --profile ID "
            "(`monitor profiles list`)"
        )
    return matches[0]


class _Printer:
    """Headless output: one line per event, or one JSON object per line."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def _out(self, record: dict[str, Any], line: str) -> None:
        print(json.dumps(record, separators=(",", ":")) if self.as_json else line, flush=True)

    def event(self, event: Event) -> None:
        clock = datetime.fromtimestamp(event.t_ns / 1e9).strftime("%H:%M:%S")
        self._out(event.to_json(), f"{clock} {event.kind:<12} {event.message}")

    def analysis(self, stream: str, event: AnalysisEvent, host_t_ns: int) -> None:
        record = {"stream": stream, "host_t_ns": host_t_ns, **event.model_dump(mode="json")}
        clock = datetime.fromtimestamp(host_t_ns / 1e9).strftime("%H:%M:%S")
        detail = _describe(event)
        self._out(record, f"{clock} {event.kind:<12} {stream}: {detail}")

    def note(self, text: str) -> None:
        if not self.as_json:
            print(text, file=sys.stderr)


def _describe(event: AnalysisEvent) -> str:
    from monitor.analysis.results import RepCounted, WarningRaised

    data = event.model_dump(mode="json")
    data.pop("kind", None)
    data.pop("t_s", None)
    if isinstance(event, RepCounted):
        rep = event.rep
        return f"rep {rep.index} (set {rep.set_index}), peak {rep.peak_angle_deg:.0f} deg"
    if isinstance(event, WarningRaised):
        return event.warning.message
    return json.dumps(data, separators=(",", ":"))[:160]
