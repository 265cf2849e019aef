"""Audible cues: distinct rhythms, never blocking, muting, speech through a real subprocess."""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from pathlib import Path

from monitor.tui import cues


def _all_cues() -> list[cues.Cue]:
    return [cues.REP, cues.HOLD_COMPLETE, cues.SET_COMPLETE, *cues.WARNING_CUES.values()]


def test_every_cue_sounds_different() -> None:
    rhythms = [cue.rhythm for cue in _all_cues()]
    phrases = [cue.phrase for cue in _all_cues()]
    assert len(set(rhythms)) == len(rhythms)
    assert len(set(phrases)) == len(phrases)
    assert all(cue.priority > cues.REP.priority for cue in cues.WARNING_CUES.values())


async def test_bell_rhythm_plays_without_blocking() -> None:
    rings: list[float] = []
    player = cues.CuePlayer(lambda: rings.append(time.monotonic()))
    player.play(cues.SET_COMPLETE)
    assert len(rings) == 1  # the first bell at once; the rest waits on the loop, not on us
    await asyncio.sleep(0.5)
    assert len(rings) == 1 + len(cues.SET_COMPLETE.rhythm)
    gaps = [b - a for a, b in itertools.pairwise(rings)]
    assert all(gap >= 0.14 for gap in gaps)


async def test_warning_interrupts_progress_cue_but_not_the_reverse() -> None:
    rings: list[str] = []
    player = cues.CuePlayer(lambda: rings.append("bell"))
    player.play(cues.SET_COMPLETE)
    player.play(cues.warning_cue("range_limit"))
    player.play(cues.REP, count=3)  # dropped: the warning is still sounding
    await asyncio.sleep(0.6)
    assert player.played == ["set_complete", "range_limit"]
    assert len(rings) == 1 + 1 + len(cues.WARNING_CUES["range_limit"].rhythm)


async def test_muted_player_is_silent() -> None:
    rings: list[str] = []
    player = cues.CuePlayer(lambda: rings.append("bell"))
    assert player.toggle_mute() is True
    player.play(cues.warning_cue("too_fast"))
    await asyncio.sleep(0.1)
    assert rings == [] and player.played == []
    assert player.toggle_mute() is False
    player.play(cues.REP, count=1)
    await asyncio.sleep(0.05)
    assert rings == ["bell"]


def test_unknown_warning_kind_still_gets_a_cue() -> None:
    assert cues.warning_cue("something_new") is cues.GENERIC_WARNING


async def test_voice_speaks_the_phrase_in_a_subprocess(tmp_path: Path) -> None:
    spoken = tmp_path / "spoken.txt"
    player = cues.CuePlayer(lambda: None, voice=True)
    writer = "import sys; open(sys.argv[1], 'a').write(sys.argv[2] + '\\n')"
    player.voice_command = [sys.executable, "-c", writer, str(spoken)]
    player.play(cues.REP, count=4)
    assert not spoken.exists()  # play() returned before the speech program even started
    for _ in range(100):
        await asyncio.sleep(0.05)
        if spoken.exists():
            break
    assert spoken.read_text() == "4\n"


async def test_missing_speech_program_falls_back_to_the_bell(tmp_path: Path) -> None:
    rings: list[str] = []
    player = cues.CuePlayer(lambda: rings.append("bell"), voice=True)
    player.voice_command = [str(tmp_path / "no-such-speaker")]
    player.play(cues.HOLD_COMPLETE)
    await asyncio.sleep(0.1)
    assert rings == ["bell"] and player.voice_command is None


def test_every_warning_kind_of_the_analysis_has_its_own_cue() -> None:
    from monitor.analysis.results import WarningKind

    assert set(cues.WARNING_CUES) == set(WarningKind)
