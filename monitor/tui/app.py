"""The Textual app and the factory that builds it for the CLI and for the tests."""

from __future__ import annotations

from pathlib import Path

from textual.app import App

from monitor.tui.cues import CuePlayer
from monitor.tui.feed import Scanner, SessionFeed
from monitor.tui.screens import LiveScreen, PickSensorScreen, ReplayScreen
from monitor.tui.screens.live import Translate


class MonitorApp(App[None]):
    """One session on screen: pick a sensor (optional), follow it live or replayed, summarise."""

    CSS_PATH = Path(__file__).with_name("monitor.tcss")
    TITLE = "backstretch monitor"
    ENABLE_COMMAND_PALETTE = False

    def __init__(
        self,
        *,
        translate: Translate,
        feed: SessionFeed | None = None,
        scanner: Scanner | None = None,
        voice: bool = False,
        muted: bool = False,
    ) -> None:
        super().__init__()
        if (feed is None) == (scanner is None):
            raise ValueError("give exactly one of feed (a session) or scanner (pick a sensor)")
        self.feed = feed
        self.scanner = scanner
        self.translate = translate
        self.cues = CuePlayer(self.bell, voice=voice, muted=muted)

    def session_screen(self, feed: SessionFeed) -> LiveScreen:
        screen_class = ReplayScreen if feed.playback is not None else LiveScreen
        return screen_class(feed, self.translate, self.cues)

    def open_live(self, feed: SessionFeed) -> None:
        self.feed = feed
        self.switch_screen(self.session_screen(feed))

    def on_mount(self) -> None:
        if self.feed is not None:
            self.push_screen(self.session_screen(self.feed))
        else:
            assert self.scanner is not None
            self.push_screen(PickSensorScreen(self.scanner, self.open_live))


def run_session(feed: SessionFeed, *, voice: bool = False, muted: bool = False) -> int:
    """Show `feed` until the user quits; the CLI verbs' TUI path."""
    from monitor.tui.adapt import analysis_messages

    MonitorApp(translate=analysis_messages, feed=feed, voice=voice, muted=muted).run()
    return 0
