"""The live session screen; a replay is the same screen fed by a recording, plus playback keys."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Label

from monitor.session.program_steps import STEP_KINDS
from monitor.session.summary import SessionSummary
from monitor.tui import cues
from monitor.tui.feed import Command, FeedUpdate, LinkState, LinkStatus, SessionFeed, Severity
from monitor.tui.messages import (
    AngleRing,
    ExerciseChanged,
    FeedEnded,
    FeedEvent,
    HoldCompleted,
    HoldProgress,
    LinkChanged,
    RepCounted,
    Restarted,
    SafetyWarning,
    SetCompleted,
    WarningView,
)
from monitor.tui.widgets import (
    AnglePlot,
    ExerciseHeader,
    HoldTimer,
    RepCount,
    StatusBar,
    WarningsPanel,
)
from monitor.tui.widgets.timefmt import clock

FRAME_RATE_HZ = 30.0
STATUS_EVERY_FRAMES = 8  # the status line's figures change slowly: redrawn about 4 times a second
PLOT_WINDOW_S = 15.0
# Seconds of angle kept for the plot at the highest rate we stream (2 sensors share one trace).
_RING_CAPACITY = int(PLOT_WINDOW_S * 2 * 400)

Translate = Callable[[object], Iterable[Message]]


class LiveScreen(Screen[None]):
    """Count, hold timer, angle plot, warnings and link status of one session."""

    class Finished(Message):
        """The session ended on the user's q: its summary, for the app to keep."""

        def __init__(self, summary: SessionSummary) -> None:
            super().__init__()
            self.summary = summary

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "command('calibrate')", "Calib"),
        Binding("n", "command('next_exercise')", "Next"),
        Binding("b", "command('previous_exercise')", "Prev"),
        Binding("p", "pause", "Pause"),
        Binding("m", "command('mark')", "Mark"),
        Binding("v", "mute", "Mute"),
        Binding("q", "finish", "Summary"),
    ]

    def __init__(self, feed: SessionFeed, translate: Translate, player: cues.CuePlayer) -> None:
        super().__init__()
        self.feed = feed
        self.translate = translate
        self.player = player
        self.ring = AngleRing(_RING_CAPACITY)
        self.samples_received = 0  # raw samples the feed delivered (the benchmark checks it)
        self.status: LinkStatus | None = None  # newest; drawn by the frame timer
        self._shown_status: LinkStatus | None = None
        self._frames = 0
        self.ended = False

    def compose(self) -> ComposeResult:
        yield ExerciseHeader(id="exercise")
        with Horizontal(id="progress"):
            yield RepCount(id="reps")
            with Vertical(id="progress-right"):
                yield HoldTimer(id="hold")
                yield Label("", id="last-event")
        with Horizontal(id="middle"):
            yield AnglePlot(self.ring, PLOT_WINDOW_S, id="plot")
            yield WarningsPanel(id="warnings")
        yield StatusBar(id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#warnings").border_title = "warnings"
        self.query_one("#plot").border_title = f"angle, last {PLOT_WINDOW_S:.0f} s"
        self.show_exercise()
        self.set_interval(1 / FRAME_RATE_HZ, self.frame)
        self.pump()

    @work(exclusive=True, group="feed")
    async def pump(self) -> None:
        """Move the feed's updates into the ring buffer (samples) and messages (analysis)."""
        async for update in self.feed.updates():
            self.absorb(update)
        self.post_message(FeedEnded("end of data"))

    def absorb(self, update: FeedUpdate) -> None:
        if update.restart:
            self.post_message(Restarted())
        self.samples_received += update.samples
        self.ring.extend(update.angle_t_s, update.angle_deg)
        for event in update.analysis:
            for message in self.translate(event):
                self.post_message(message)
        for event in update.events:
            self.post_message(FeedEvent(update.t_s, str(event.kind), event.message))
        if any(event.kind in STEP_KINDS for event in update.events):
            self.post_message(ExerciseChanged())  # a replay reached a recorded step
        if update.status is not None:
            previous, self.status = self.status, update.status
            if previous is None or (previous.state, previous.battery_pct) != (
                update.status.state,
                update.status.battery_pct,
            ):
                self.post_message(LinkChanged(update.status))

    def frame(self) -> None:
        """The frame timer: redraw the plot, and (every few frames) the status line."""
        self.query_one(AnglePlot).tick()
        self._frames += 1
        if self._frames % STATUS_EVERY_FRAMES and not self.ended:
            return
        if self.status is not None and self.status is not self._shown_status:
            self._shown_status = self.status
            self.query_one(StatusBar).show(self.status)

    def show_exercise(self) -> None:
        view = self.feed.exercise()
        self.query_one(ExerciseHeader).show(view)
        self.query_one(RepCount).show(
            view.reps_done, view.reps_target, view.set_index, view.sets_total
        )
        self.query_one(AnglePlot).set_zone(view.target_deg, view.limit_deg, view.both_sides)
        if view.hold_s is None:
            self.query_one(HoldTimer).show(0.0, None)

    def note(self, t_s: float, text: str) -> None:
        self.query_one("#last-event", Label).update(f"{clock(t_s)}  {text}")

    @on(RepCounted)
    def rep_counted(self, message: RepCounted) -> None:
        self.show_exercise()
        peak = f", peak {message.peak_deg:.0f}°" if message.peak_deg is not None else ""
        self.note(message.t_s, f"rep {message.count}{peak}")
        self.player.play(cues.REP, count=message.count)

    @on(SetCompleted)
    def set_completed(self, message: SetCompleted) -> None:
        self.show_exercise()
        self.note(message.t_s, f"set {message.set_index} complete: {message.reps} reps")
        self.player.play(cues.SET_COMPLETE)

    @on(HoldProgress)
    def hold_progress(self, message: HoldProgress) -> None:
        self.query_one(HoldTimer).show(message.held_s, message.target_s)

    @on(HoldCompleted)
    def hold_completed(self, message: HoldCompleted) -> None:
        self.note(message.t_s, f"hold complete: {message.held_s:.1f} s")
        self.player.play(cues.HOLD_COMPLETE)

    @on(SafetyWarning)
    def safety_warning(self, message: SafetyWarning) -> None:
        self.query_one(WarningsPanel).add(message.warning)
        self.player.play(cues.warning_cue(message.warning.kind))

    @on(ExerciseChanged)
    def exercise_changed(self) -> None:
        self.show_exercise()

    @on(LinkChanged)
    def link_changed(self, message: LinkChanged) -> None:
        if message.status.state is LinkState.RECONNECTING:
            self.notify("sensor lost: reconnecting, the session goes on", severity="warning")

    @on(FeedEvent)
    def feed_event(self, message: FeedEvent) -> None:
        severity = Severity.CAUTION if message.kind in ("disconnect", "gap") else Severity.INFO
        view = WarningView(message.t_s, message.kind, severity, message.message)
        self.query_one(WarningsPanel).add(view)

    @on(Restarted)
    def restarted(self) -> None:
        self.ring.clear()
        self.query_one(WarningsPanel).clear()
        self.query_one(HoldTimer).show(0.0, None)
        self.query_one("#last-event", Label).update("")
        self.show_exercise()

    @on(FeedEnded)
    def feed_ended(self, message: FeedEnded) -> None:
        self.ended = True
        self.frame()  # the last data drawn now, not at the next tick
        self.notify(f"{message.reason}: press q for the summary", timeout=8)

    def action_command(self, name: str) -> None:
        self.notify(self.feed.command(Command(name)), timeout=3)
        self.show_exercise()

    def action_pause(self) -> None:
        self.action_command("pause")

    def action_mute(self) -> None:
        self.notify("cues muted" if self.player.toggle_mute() else "cues on", timeout=2)

    async def action_finish(self) -> None:
        await self.feed.close()
        self.workers.cancel_group(self, "feed")
        from monitor.tui.screens.summary import SummaryScreen

        summary = self.feed.summary()
        self.app.switch_screen(SummaryScreen(summary))
        self.app.post_message(self.Finished(summary))


class ReplayScreen(LiveScreen):
    """The live screen over a recording, with play/pause, speed and skip."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pause", "Pause", show=False),
        Binding("space", "pause", "Play"),
        Binding("s", "cycle_speed", "Speed"),
        Binding("1", "speed(1)", "1x", show=False),
        Binding("2", "speed(2)", "2x", show=False),
        Binding("4", "speed(4)", "4x", show=False),
        Binding("0", "speed(0)", "Max", show=False),
        Binding("left", "skip(-10)", "-10s", key_display="←"),
        Binding("right", "skip(10)", "+10s", key_display="→"),
    ]
    SPEEDS: ClassVar[tuple[int, ...]] = (1, 2, 4, 0)  # 0: as fast as possible

    def action_pause(self) -> None:
        assert self.feed.playback is not None
        paused = self.feed.playback.toggle_pause()
        self.notify("paused" if paused else "playing", timeout=2)

    def action_speed(self, speed: int) -> None:
        assert self.feed.playback is not None
        self.feed.playback.set_speed(float(speed) if speed else None)
        self.notify(f"speed {speed}x" if speed else "speed max", timeout=2)

    def action_cycle_speed(self) -> None:
        assert self.feed.playback is not None
        speed = self.feed.playback.speed_label.split()[0]
        labels = [f"{s}x" if s else "max" for s in self.SPEEDS]
        following = (labels.index(speed) + 1) % len(labels) if speed in labels else 0
        self.action_speed(self.SPEEDS[following])

    def action_skip(self, seconds: int) -> None:
        assert self.feed.playback is not None
        self.feed.playback.skip(float(seconds))
