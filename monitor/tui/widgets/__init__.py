"""Widgets of the live screen; rendering is done by pure functions returning Rich text."""

from monitor.tui.widgets.angle_plot import AnglePlot, render_angle_plot
from monitor.tui.widgets.exercise_header import ExerciseHeader, render_exercise
from monitor.tui.widgets.hold_timer import HoldTimer
from monitor.tui.widgets.rep_count import RepCount
from monitor.tui.widgets.status_bar import StatusBar, render_status
from monitor.tui.widgets.warnings_panel import WarningsPanel, render_warnings

__all__ = [
    "AnglePlot",
    "ExerciseHeader",
    "HoldTimer",
    "RepCount",
    "StatusBar",
    "WarningsPanel",
    "render_angle_plot",
    "render_exercise",
    "render_status",
    "render_warnings",
]
