"""The hold timer: a bar counting up to the prescribed seconds."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar


class HoldTimer(Horizontal):
    DEFAULT_CSS = """
    HoldTimer { height: 1; }
    HoldTimer #hold-label { width: auto; padding-right: 1; }
    HoldTimer ProgressBar { width: 1fr; }
    HoldTimer Bar { width: 1fr; }
    HoldTimer.done #hold-label { color: $success; text-style: bold; }
    """

    def compose(self) -> ComposeResult:
        yield Label("hold  --", id="hold-label")
        yield ProgressBar(total=1.0, show_percentage=False, show_eta=False, id="hold-bar")

    def show(self, held_s: float, target_s: float | None) -> None:
        bar = self.query_one(ProgressBar)
        label = self.query_one("#hold-label", Label)
        if not target_s:
            label.update("hold  --")
            bar.update(total=1.0, progress=0.0)
            self.remove_class("done")
            return
        shown = min(held_s, target_s)
        label.update(f"hold {shown:4.1f}/{target_s:.0f} s")
        bar.update(total=target_s, progress=shown)
        self.set_class(held_s >= target_s, "done")
