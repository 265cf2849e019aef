"""What the TUI consumes, whatever the data comes from (replay, simulation, Bluetooth LE).

A `SessionFeed` is an async producer of `FeedUpdate`s: the samples' angle trace, the analysis
events the pipeline produced for them, link events and the link status. The screens only know this
protocol, so a replay, the simulator and a live sensor drive the very same live screen. This module
is plain data (no Textual) so feeds can be built and tested headless.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from monitor.core import Event


class LinkState(StrEnum):
    CONNECTING = "connecting"
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    PAUSED = "paused"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """The status bar's facts about the data source; None means not known (yet)."""

    sensor: str = ""
    state: LinkState = LinkState.CONNECTING
    battery_pct: int | None = None
    rate_hz: float | None = None  # samples received per second, on the sensor's clock
    nominal_hz: float | None = None
    loss_pct: float | None = None
    recording: str = ""  # file the session is written to (live) or read from (replay)
    position_s: float | None = None  # replay: where playback is
    duration_s: float | None = None  # replay: length of the recording
    speed: str = ""  # replay: "1x", "2x", "4x", "max"


@dataclass(frozen=True, slots=True)
class ExerciseView:
    """The exercise in progress and its prescription, as the live screen shows it."""

    name: str
    instruction: str = ""
    set_index: int = 1  # 1-based set in progress
    sets_total: int | None = None
    reps_done: int = 0
    reps_target: int | None = None
    hold_s: float | None = None  # prescribed hold; None for exercises without one
    target_deg: tuple[float, float] | None = None  # the target zone (low, high)
    limit_deg: float | None = None
    both_sides: bool = False  # alternating exercise: zone and limit apply on either side of 0°
    position: int = 1  # 1-based place in the program
    program_length: int = 1


class Severity(StrEnum):
    INFO = "info"
    CAUTION = "caution"
    STOP = "stop"


@dataclass(frozen=True, slots=True)
class FeedUpdate:
    """What arrived since the previous update.

    `angle_t_s`/`angle_deg` are the segment angle for the new samples (session seconds, degrees);
    `analysis` holds the pipeline's events in order; `samples` counts raw samples received.
    """

    t_s: float
    angle_t_s: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    angle_deg: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    analysis: tuple[Any, ...] = ()
    events: tuple[Event, ...] = ()
    status: LinkStatus | None = None
    samples: int = 0
    restart: bool = False  # the source went back in time: forget the trace and warnings shown


class Command(StrEnum):
    CALIBRATE = "calibrate"
    NEXT_EXERCISE = "next_exercise"
    PREVIOUS_EXERCISE = "previous_exercise"
    PAUSE = "pause"
    MARK = "mark"


@runtime_checkable
class Playback(Protocol):
    """Replay controls; live feeds have none."""

    def toggle_pause(self) -> bool:
        """Pause or resume; returns True when now paused."""

    def set_speed(self, speed: float | None) -> None:
        """Real-time multiple; None replays as fast as possible."""

    def skip(self, seconds: float) -> None:
        """Jump forward (positive) or back (negative) by `seconds` of recording time."""

    @property
    def position_s(self) -> float:
        """Recording time reached."""

    @property
    def duration_s(self) -> float:
        """Length of the recording."""

    @property
    def speed_label(self) -> str:
        """ "1x", "2x", "4x" or "max", with "paused" when paused."""


class SessionFeed(Protocol):
    """A source of updates for the live screen."""

    title: str
    playback: Playback | None
    recording: str  # file the session is written to (live) or read from (replay); "" if none

    def updates(self) -> AsyncIterator[FeedUpdate]:
        """Updates until the source ends (end of recording) or `close()` is called."""

    def exercise(self) -> ExerciseView:
        """The exercise now in progress."""

    def command(self, command: Command) -> str:
        """Apply a key command; returns a short line saying what happened."""

    async def close(self) -> None:
        """Stop the source (stop sequence, flush the recording)."""

    def summary(self) -> Any:
        """The session summary model of the analysis pipeline."""


@dataclass(frozen=True, slots=True)
class ScanRow:
    """One sensor found by a scan, as the pick-a-sensor table lists it."""

    name: str
    address: str
    rssi: int | None = None
    profile: str | None = None  # id of the matching firmware profile, None when unknown
    battery_pct: int | None = None


class Scanner(Protocol):
    """Finds sensors and opens a session feed on the one picked."""

    async def scan(self) -> list[ScanRow]:
        """One scan round: what is advertising now."""

    def open(self, row: ScanRow) -> SessionFeed:
        """A feed that connects to `row` when its updates are first iterated."""
