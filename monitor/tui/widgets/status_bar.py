"""The status line: sensor, battery, received rate, packet loss, link state, recording file."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.widgets import Static

from monitor.tui.feed import LinkState, LinkStatus
from monitor.tui.widgets.timefmt import clock

_STATE_STYLE = {
    LinkState.STREAMING: "green",
    LinkState.CONNECTING: "yellow",
    LinkState.RECONNECTING: "bold black on yellow",
    LinkState.PAUSED: "bold black on cyan",
    LinkState.ENDED: "dim",
}


def render_status(status: LinkStatus) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f" {status.state.value} ", style=_STATE_STYLE[status.state])
    text.append(f" {status.sensor or 'no sensor'}")
    if status.battery_pct is not None:
        text.append(f"  bat {status.battery_pct}%", style="red" if status.battery_pct < 15 else "")
    if status.rate_hz is not None:
        nominal = f"/{status.nominal_hz:.0f}" if status.nominal_hz else ""
        text.append(f"  {status.rate_hz:.0f}{nominal} Hz")
    if status.loss_pct is not None:
        text.append(f"  loss {status.loss_pct:.1f}%", style="red" if status.loss_pct >= 5 else "")
    if status.duration_s is not None:
        text.append(f"  {clock(status.position_s)}/{clock(status.duration_s)} {status.speed}")
    if status.recording:
        text.append(f"  ● {Path(status.recording).name}", style="dim")
    return text


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; }
    """

    def show(self, status: LinkStatus) -> None:
        self.update(render_status(status))
