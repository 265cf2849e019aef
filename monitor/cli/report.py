"""`monitor report`: the multi-session HTML report for the therapist."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from monitor.cli.history import local_midnight, parse_date
from monitor.session.history import open_history


def run(args: argparse.Namespace) -> int:
    from monitor.session.export import write_private  # matplotlib: only when reporting
    from monitor.session.report import therapist_report

    since = local_midnight(args.since) if args.since else None
    with open_history() as history:
        sessions = history.sessions(since=since)
        summaries = [history.summary(session.id)[0] for session in sessions]
    page = therapist_report(sessions, summaries, now=datetime.now(UTC), tz=None, since=args.since)
    write_private(page, args.output, force=args.force)
    print(f"wrote {args.output} ({len(sessions)} sessions)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write a multi-session HTML report for the therapist",
        description="Adherence, range-of-motion trends and warnings over the sessions in the "
        "local history, as one self-contained HTML file (opens offline; nothing is sent).",
    )
    parser.add_argument(
        "--since", type=parse_date, metavar="DATE", help="from this day (YYYY-MM-DD)"
    )
    parser.add_argument(
        "-o", "--output", type=Path, required=True, metavar="OUT", help="HTML file to write"
    )
    parser.add_argument("--force", action="store_true", help="replace OUT if it exists")
    parser.set_defaults(func=run)
