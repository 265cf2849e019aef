"""The rep count in large digits against the target, readable from the floor."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Digits, Label


class RepCount(Vertical):
    DEFAULT_CSS = """
    RepCount { height: auto; width: auto; min-width: 14; }
    RepCount Digits { width: auto; }
    RepCount #rep-target { color: $text-muted; }
    """

    def compose(self) -> ComposeResult:
        yield Digits("0", id="rep-digits")
        yield Label("reps", id="rep-target")

    def show(self, done: int, target: int | None, set_index: int, sets_total: int | None) -> None:
        self.query_one("#rep-digits", Digits).update(str(done))
        of_target = f"of {target} reps" if target else "reps"
        of_sets = f"set {set_index} of {sets_total}" if sets_total else f"set {set_index}"
        label = self.query_one("#rep-target", Label)
        label.update(f"{of_target} · {of_sets}")
        label.set_class(target is not None and done > target, "over")
