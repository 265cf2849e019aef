"""The `monitor` command line. Each verb lives in its own module with a `register(subparsers)`.

Errors the user can act on are `MonitorError`s: printed as one line on stderr, exit code 2,
never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from monitor import __version__
from monitor.errors import MonitorError

# Verb modules under monitor.cli, in the order `monitor --help` lists them.
VERB_MODULES: list[str] = [
    "profiles",
    "analyze",
    "program",
    "simulate",
    "history",
    "report",
    "scan",
    "live",
    "demo",
    "replay",
    "export",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="monitor",
        description="backstretch session monitor: count reps, time holds and warn about overdoing "
        "it, from one commodity IMU. Not a medical device: follow your clinician's advice.",
    )
    parser.add_argument("--version", action="version", version=f"monitor {__version__}")
    subparsers = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for name in VERB_MODULES:
        importlib.import_module(f"monitor.cli.{name}").register(subparsers)
    return parser


class _StderrWarnings(logging.Handler):
    """`monitor: warning: ...` lines on the stderr of the moment (a running TUI captures it)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"monitor: {record.levelname.lower()}: {record.getMessage()}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    logger = logging.getLogger("monitor")
    if not any(isinstance(h, _StderrWarnings) for h in logger.handlers):
        logger.addHandler(_StderrWarnings(logging.WARNING))
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MonitorError as error:
        print(f"monitor: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("monitor: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
