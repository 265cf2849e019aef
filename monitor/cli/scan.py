"""`monitor scan`: nearby BLE devices, their signal strength and the profiles that match them."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

if TYPE_CHECKING:  # bleak is imported when the verb runs, not for every `monitor` command
    from monitor.sources.ble import Found


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scan",
        help="list nearby Bluetooth LE sensors and the profiles that match them",
        description="Scan for advertising Bluetooth LE devices; show name, address, signal "
        "strength (RSSI, dBm) and the firmware profiles that recognise them.",
    )
    parser.add_argument(
        "--timeout", type=float, default=5.0, metavar="S", help="scan duration (default 5 s)"
    )
    parser.add_argument(
        "--all", action="store_true", help="also list devices no profile recognises"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON array")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from monitor.profiles.loader import load_profiles
    from monitor.sources.ble import scan

    profiles = list(load_profiles().values())
    if args.json:
        found = asyncio.run(scan(profiles, args.timeout))
    else:
        found = asyncio.run(_scan_with_progress(profiles, args.timeout))
    if not args.all:
        found = [f for f in found if f.profiles]
    if args.json:
        json.dump([f.to_json() for f in found], sys.stdout, indent=2)
        print()
        return 0
    _print_table(found, args.timeout)
    return 0


async def _scan_with_progress(profiles: list, timeout_s: float) -> list[Found]:
    from monitor.sources.ble import scan

    console = Console(stderr=True)
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("Scanning (0 found)", total=timeout_s)
        count = 0

        def found(_f: Found) -> None:
            nonlocal count
            count += 1
            progress.update(task, description=f"Scanning ({count} found)")

        scanning = asyncio.create_task(scan(profiles, timeout_s, on_found=found))
        step = min(0.1, timeout_s)
        while not scanning.done():
            await asyncio.wait([scanning], timeout=step)
            progress.advance(task, step)
        return scanning.result()


def _print_table(found: list[Found], timeout_s: float) -> None:
    console = Console()
    if not found:
        console.print(
            f"No known sensor found in {timeout_s:g} s. Is it on and not connected to a phone? "
            "(--all lists every device)"
        )
        return
    table = Table("Name", "Address", "RSSI", "Profiles")
    for f in found:
        table.add_row(f.name or "?", f.address, f"{f.rssi} dBm", ", ".join(f.profiles) or "-")
    console.print(table)
