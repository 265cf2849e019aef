"""Warnings, newest first, coloured by severity, each with its session time."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.widgets import Static

from monitor.tui.feed import Severity
from monitor.tui.messages import WarningView
from monitor.tui.widgets.timefmt import clock

SEVERITY_STYLE = {
    Severity.INFO: "cyan",
    Severity.CAUTION: "bold yellow",
    Severity.STOP: "bold white on red",
}
_KEEP = 50


def render_warnings(warnings: list[WarningView]) -> Text:
    """One line per warning, newest first."""
    if not warnings:
        return Text("no warnings", style="dim")
    text = Text(no_wrap=True, overflow="ellipsis")
    for i, warning in enumerate(reversed(warnings)):
        if i:
            text.append("\n")
        text.append(f"{clock(warning.t_s):>5} ", style="dim")
        text.append(warning.message, style=SEVERITY_STYLE[warning.severity])
    return text


class WarningsPanel(Static):
    DEFAULT_CSS = """
    WarningsPanel { height: 1fr; min-height: 3; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(render_warnings([]), **kwargs)  # type: ignore[arg-type]
        self.entries: deque[WarningView] = deque(maxlen=_KEEP)

    def clear(self) -> None:
        self.entries.clear()
        self.update(render_warnings([]))

    def add(self, warning: WarningView) -> None:
        self.entries.append(warning)
        self.update(render_warnings(list(self.entries)))
