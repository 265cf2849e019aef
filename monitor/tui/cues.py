"""Audible cues for someone on a mat two metres from the screen.

Each cue has a distinct bell rhythm (terminal bell, the default) and a short phrase (spoken through
espeak-ng on Linux or `say` on macOS with `--voice`). Playing never blocks the UI: bell rhythms run
as asyncio tasks, speech as a subprocess that is not waited for. A newer cue of higher priority
interrupts one still playing; cues can be muted at any time.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass

from monitor.analysis.results import WarningKind


@dataclass(frozen=True, slots=True)
class Cue:
    name: str
    rhythm: tuple[float, ...]  # seconds to wait before each bell after the first
    phrase: str
    priority: int  # warnings interrupt progress cues, not the other way round


REP = Cue("rep", (), "{count}", 1)
HOLD_COMPLETE = Cue("hold_complete", (0.15,), "hold done", 2)
SET_COMPLETE = Cue("set_complete", (0.15, 0.15), "set complete", 2)
# One pattern per warning kind the analysis raises: bursts and long gaps, so they never sound like
# progress cues (which are evenly spaced).
WARNING_CUES = {
    WarningKind.RANGE_LIMIT: Cue("range_limit", (0.08, 0.08, 0.08), "too far, ease off", 5),
    WarningKind.TOO_MANY_REPS: Cue("too_many_reps", (0.08, 0.08, 0.5, 0.08), "enough reps", 5),
    WarningKind.TOO_MANY_SETS: Cue(
        "too_many_sets", (0.08, 0.08, 0.5, 0.08, 0.08), "enough sets for today", 5
    ),
    WarningKind.TOO_FAST: Cue("too_fast", (0.5, 0.08), "slow down", 4),
    WarningKind.SENSOR_SLIPPED: Cue("sensor_slipped", (0.08, 0.5, 0.08), "check the strap", 4),
    WarningKind.SIGNAL_LOST: Cue("signal_lost", (0.08, 0.5, 0.08, 0.5), "sensor signal lost", 4),
    WarningKind.HOLD_RELEASED_EARLY: Cue("hold_released_early", (0.5, 0.5), "hold longer", 3),
    WarningKind.SHORT_OF_TARGET: Cue("short_of_target", (0.5,), "a bit further", 3),
    WarningKind.IMBALANCE: Cue("imbalance", (0.3, 0.08), "even out both sides", 3),
    WarningKind.CALIBRATION: Cue("calibration", (0.3, 0.08, 0.08), "calibrate again", 3),
}
GENERIC_WARNING = Cue("warning", (0.3, 0.3, 0.3), "warning", 3)


def warning_cue(kind: str) -> Cue:
    return WARNING_CUES.get(kind, GENERIC_WARNING)


def speech_command() -> list[str] | None:
    """The system's speech command, or None when there is none."""
    if sys.platform == "darwin" and shutil.which("say"):
        return ["say"]
    for name in ("espeak-ng", "espeak"):
        if path := shutil.which(name):
            return [path, "-s", "170"]
    return None


class CuePlayer:
    """Plays cues on the running event loop; `bell` rings the terminal bell once."""

    def __init__(self, bell: Callable[[], None], *, voice: bool = False, muted: bool = False):
        self._bell = bell
        self.muted = muted
        self.voice_command = speech_command() if voice else None
        self.played: list[str] = []  # names of cues played, newest last (for tests and logs)
        self._task: asyncio.Task[None] | None = None
        self._playing: Cue | None = None

    def toggle_mute(self) -> bool:
        self.muted = not self.muted
        if self.muted:
            self._stop_current()
        return self.muted

    def play(self, cue: Cue, **words: object) -> None:
        if self.muted:
            return
        busy = self._task is not None and not self._task.done()
        if busy and self._playing is not None and self._playing.priority > cue.priority:
            return  # a more important cue is still sounding
        self._stop_current()
        self.played.append(cue.name)
        self._playing = cue
        if self.voice_command is None:
            self._bell()  # the first bell at once; the rest of the rhythm follows
        self._task = asyncio.get_running_loop().create_task(self._sound(cue, words))

    def _stop_current(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _sound(self, cue: Cue, words: dict[str, object]) -> None:
        if self.voice_command is not None:
            await self._speak(cue.phrase.format(**words))
            return
        for pause in cue.rhythm:
            await asyncio.sleep(pause)
            self._bell()

    async def _speak(self, phrase: str) -> None:
        assert self.voice_command is not None
        try:
            process = await asyncio.create_subprocess_exec(
                *self.voice_command,
                phrase,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except OSError:
            self.voice_command = None  # speech broke (uninstalled?): fall back to the bell
            self._bell()
            return
        try:
            await process.wait()
        except asyncio.CancelledError:
            if process.returncode is None:
                process.terminate()
            raise
