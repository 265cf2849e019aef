"""Helpers for driving the real app over real recordings (imported by the tests here)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from textual.message import Message
from textual.pilot import Pilot

from monitor.tui.adapt import analysis_messages
from monitor.tui.app import MonitorApp
from monitor.tui.feed import SessionFeed
from monitor.tui.screens import LiveScreen

REPO_ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = REPO_ROOT / "recordings"
PELVIC_TILT = RECORDINGS / "witmotion_wt901ble_pelvic_tilt.mrec"
TRUNK_ROTATION = RECORDINGS / "metamotion_s_lower_trunk_rotation.mrec"


class MessageLog:
    """Every message posted in the app, once each (the `message_hook` of `run_test` sees a
    message again at every node it bubbles to)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._seen: set[int] = set()

    def __call__(self, message: Message) -> None:
        if id(message) not in self._seen:
            self._seen.add(id(message))
            self.messages.append(message)

    def of(self, kind: type[Message]) -> list:
        return [m for m in self.messages if type(m) is kind]


def make_app(feed: SessionFeed) -> MonitorApp:
    return MonitorApp(translate=analysis_messages, feed=feed, muted=True)


async def until(pilot: Pilot, condition: Callable[[], bool], timeout_s: float = 180.0) -> None:
    """Let the app run until `condition()` holds (generous: CI machines can be slow)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the app did not get there in time"
        await pilot.pause(0.05)


def live_screen(app: MonitorApp) -> LiveScreen:
    screen = app.screen
    assert isinstance(screen, LiveScreen)
    return screen


async def replay_to_end(pilot: Pilot) -> LiveScreen:
    screen = live_screen(pilot.app)  # type: ignore[arg-type]
    await until(pilot, lambda: screen.ended)
    await pilot.pause()
    return screen


PROGRAMS = REPO_ROOT / "monitor" / "analysis" / "data" / "programs"
