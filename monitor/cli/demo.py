"""`monitor demo`: the live screen on a bundled sample session, no sensor needed.

It replays the bundled sample recording (or, with `--simulate` or when none is bundled, a session
the virtual sensor generates on the spot) through the same decode path, analysis and screen as a
live sensor, so a newcomer sees counts, the hold timer, the angle against its limits, warnings
and the summary at the end.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from monitor import paths
from monitor.analysis.programs import Program, ProgramItem, load_program
from monitor.cli.options import replay_speed
from monitor.errors import MonitorError

DEMO_PROFILE = "witmotion_wt901ble"
DEMO_EXERCISE = "knee_to_chest_single"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="see a whole session on screen with no sensor (start here)",
        description="Open the live session screen on a bundled sample recording: rep count, hold "
        "timer, angle against the target and limit, warnings, then the summary (q). Keys are "
        "listed at the bottom of the screen.",
    )
    parser.add_argument(
        "--recording", type=Path, metavar="FILE", help="replay this recording instead"
    )
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="generate a fresh session with the virtual sensor instead of the bundled one",
    )
    parser.add_argument(
        "--speed",
        type=replay_speed,
        default=1.0,
        metavar="1|2|4|max",
        help="replay speed (default 1)",
    )
    parser.add_argument("--exercise", help="analyse as this exercise (default: the recording's)")
    parser.add_argument("--program", type=Path, metavar="FILE", help="analyse with this program")
    parser.add_argument("--voice", action="store_true", help="speak the cues (espeak-ng / say)")
    parser.add_argument("--mute", action="store_true", help="no audible cues")
    parser.set_defaults(func=run)


def bundled_sample() -> Path | None:
    """The sample the demo replays: a bundled recording named demo*, else the first one."""
    folder = paths.bundled_dir("recordings")
    found = sorted(folder.glob("*.mrec")) if folder.is_dir() else []
    preferred = [p for p in found if p.name.startswith("demo")]
    return (preferred or found or [None])[0]


# What the simulated demo session is analysed against: the motion below follows it except for
# one rep taken too far and one rushed, so the warnings have something to say.
DEMO_PROGRAM = Program(
    name="demo: knee to chest",
    exercises=[
        ProgramItem(
            exercise=DEMO_EXERCISE,
            sets=1,
            reps=5,
            hold_s=5.0,
            rom_target_deg=60.0,
            rom_limit_deg=90.0,
            max_speed_dps=90.0,
        )
    ],
)


def simulate_sample(folder: Path) -> Path:
    """A knee-to-chest session from the virtual sensor, with one rep overdone and one rushed."""
    from monitor.sources.motion import MotionScript, RepsSegment, RepVariation
    from monitor.sources.simulate import simulate, write_recording

    script = MotionScript(
        exercise=DEMO_EXERCISE,
        segments=[
            RepsSegment(
                sets=1,
                reps=5,
                rom_deg=70.0,
                hold_s=6.0,
                variations=[
                    RepVariation(set=1, rep=3, rom_deg=105.0, label="overdone"),
                    RepVariation(set=1, rep=4, peak_speed_dps=200.0, hold_s=2.0, label="rushed"),
                ],
            )
        ],
    )
    path = folder / "demo-simulated.mrec"
    write_recording(simulate(script, DEMO_PROFILE, seed=7), path)
    return path


def run(args: argparse.Namespace) -> int:
    from monitor.tui.app import run_session
    from monitor.tui.replay_feed import open_replay

    target: str | Program | None = args.exercise
    if args.program is not None:
        target = load_program(args.program)
    with tempfile.TemporaryDirectory(prefix="monitor-demo-") as scratch:
        sample = args.recording or (None if args.simulate else bundled_sample())
        if sample is None:
            sample = simulate_sample(Path(scratch))
            target = target or DEMO_PROGRAM
        elif not sample.is_file():
            raise MonitorError(f"{sample}: no such recording")
        feed = open_replay(sample, speed=args.speed, target=target)
        return run_session(feed, voice=args.voice, muted=args.mute, keep_history=False)
