"""The exercise in progress: name, place in the program and the one-line instruction."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from monitor.tui.feed import ExerciseView


def render_exercise(view: ExerciseView) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(view.name, style="bold")
    if view.program_length > 1:
        text.append(f"  ({view.position}/{view.program_length})", style="dim")
    if view.target_deg is not None:
        low, high = view.target_deg
        text.append(f"  target {low:.0f}-{high:.0f}°", style="green")
    if view.limit_deg is not None:
        text.append(f"  limit {view.limit_deg:.0f}°", style="red")
    if view.instruction:
        text.append("\n")
        text.append(view.instruction, style="italic")
    return text


class ExerciseHeader(Static):
    DEFAULT_CSS = """
    ExerciseHeader { height: auto; max-height: 2; }
    """

    def show(self, view: ExerciseView) -> None:
        self.update(render_exercise(view))
