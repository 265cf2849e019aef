"""Pick a sensor: scan results refreshing in a table; enter connects."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from monitor.errors import MonitorError
from monitor.tui.feed import Scanner, ScanRow, SessionFeed


def scan_cells(row: ScanRow) -> tuple[str, ...]:
    return (
        row.name or "(no name)",
        row.address,
        "" if row.rssi is None else f"{row.rssi} dBm",
        row.profile or "no profile matches",
        "" if row.battery_pct is None else f"{row.battery_pct}%",
    )


class PickSensorScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "connect", "Connect"),
        Binding("r", "rescan", "Rescan"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, scanner: Scanner, open_live: Callable[[SessionFeed], None]) -> None:
        super().__init__()
        self.scanner = scanner
        self.open_live = open_live
        self.rows: dict[str, ScanRow] = {}

    def compose(self) -> ComposeResult:
        yield Static("Scanning for sensors... pick one and press enter", id="scan-title")
        yield Static("", id="nudge")
        yield DataTable(id="scan-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("name", "address", "signal", "profile", "battery")
        self.scan_forever()

    @work(exclusive=True, group="scan")
    async def scan_forever(self) -> None:
        while True:
            try:
                found = await self.scanner.scan()
            except MonitorError as error:  # no adapter, Bluetooth off: say so, keep the screen
                self.query_one("#scan-title", Static).update(f"{error}; press r to scan again")
                return
            self.show(found)

    def show(self, found: list[ScanRow]) -> None:
        table = self.query_one(DataTable)
        for row in found:
            if row.address in self.rows:
                for column, value in zip(table.columns, scan_cells(row), strict=True):
                    table.update_cell(row.address, column, value)
            else:
                table.add_row(*scan_cells(row), key=row.address)
            self.rows[row.address] = row
        count = len(self.rows)
        self.query_one("#scan-title", Static).update(
            f"{count} sensor{'s' if count != 1 else ''} found; pick one and press enter"
        )

    def show_nudge(self, nudge: str) -> None:
        """The history's maintenance reminder, above the sensors found."""
        line = self.query_one("#nudge", Static)
        line.update(nudge)
        line.display = True

    def action_rescan(self) -> None:
        self.scan_forever()

    @on(DataTable.RowSelected)
    def action_connect(self) -> None:
        table = self.query_one(DataTable)
        if not self.rows:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        try:
            feed = self.scanner.open(self.rows[str(key)])
        except MonitorError as error:
            self.notify(str(error), severity="error")
            return
        self.workers.cancel_group(self, "scan")
        self.open_live(feed)
