"""The Textual app and the factory that builds it for the CLI and for the tests."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import App

from monitor.session.history import current_nudge, open_history
from monitor.session.summary import SessionSummary
from monitor.sources.importers import input_digest
from monitor.tui.cues import CuePlayer
from monitor.tui.feed import Scanner, SessionFeed
from monitor.tui.screens import LiveScreen, PickSensorScreen, ReplayScreen
from monitor.tui.screens.live import Translate


class MonitorApp(App[None]):
    """One session on screen: pick a sensor (optional), follow it live or replayed, summarise.

    With `keep_history` the finished session goes into the local history (off the UI thread) and
    the history's maintenance nudge is shown at the start; the demo leaves the history alone.
    """

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
        keep_history: bool = False,
    ) -> None:
        super().__init__()
        if (feed is None) == (scanner is None):
            raise ValueError("give exactly one of feed (a session) or scanner (pick a sensor)")
        self.feed = feed
        self.scanner = scanner
        self.translate = translate
        self.cues = CuePlayer(self.bell, voice=voice, muted=muted)
        self.keep_history = keep_history

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
        if self.keep_history:
            self.check_nudge()

    @work(thread=True, group="history")
    def check_nudge(self) -> None:
        """The maintenance nudge, if the program's frequency has lapsed (never creates the
        database): a line on the pick-a-sensor screen, else a notification."""
        try:
            nudge = current_nudge()
        except Exception as error:  # a broken history must not stop a session
            self.call_from_thread(self.notify, f"history not read: {error}", severity="warning")
            return
        if nudge is not None:
            self.call_from_thread(self.show_nudge, nudge)

    def show_nudge(self, nudge: str) -> None:
        if isinstance(self.screen, PickSensorScreen):
            self.screen.show_nudge(nudge)
        else:
            self.notify(nudge, title="maintenance", timeout=15)

    @on(LiveScreen.Finished)
    def session_finished(self, message: LiveScreen.Finished) -> None:
        if self.keep_history and self.feed is not None and message.summary.exercises:
            self.record_session(message.summary, self.feed.recording)

    @work(thread=True, group="history")
    def record_session(self, summary: SessionSummary, recording: str) -> None:
        """Store the finished session; a failure is one line on screen, never the UI's end."""
        path = Path(recording) if recording else None
        try:
            digest = input_digest(path) if path is not None and path.exists() else None
            with open_history() as history:
                session_id = history.record(summary, recording=path, input_digest=digest)
        except Exception as error:
            self.call_from_thread(
                self.notify, f"session not kept in the history: {error}", severity="error"
            )
            return
        self.call_from_thread(self.notify, f"session {session_id} kept in your history", timeout=6)


def run_session(
    feed: SessionFeed, *, voice: bool = False, muted: bool = False, keep_history: bool = True
) -> int:
    """Show `feed` until the user quits; the CLI verbs' TUI path."""
    from monitor.tui.adapt import analysis_messages

    MonitorApp(
        translate=analysis_messages,
        feed=feed,
        voice=voice,
        muted=muted,
        keep_history=keep_history,
    ).run()
    return 0
