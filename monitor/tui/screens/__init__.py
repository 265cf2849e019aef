"""The screens: pick a sensor, live session (and its replay variant), summary."""

from monitor.tui.screens.live import LiveScreen, ReplayScreen
from monitor.tui.screens.pick_sensor import PickSensorScreen
from monitor.tui.screens.summary import SummaryScreen

__all__ = ["LiveScreen", "PickSensorScreen", "ReplayScreen", "SummaryScreen"]
