"""The real `monitor demo` and `monitor replay` in a pseudo-terminal, read back from the screen."""

from __future__ import annotations

import sys

from tui_helpers import PELVIC_TILT
from tui_terminal import Terminal

from monitor.analysis.exercises import get_exercise
from monitor.cli.demo import bundled_sample
from monitor.session.recording import read_recording


def _exercise_name(path) -> str:  # type: ignore[no-untyped-def]
    return get_exercise(read_recording(path).header.exercise).name


def test_monitor_demo_shows_the_session_then_the_summary() -> None:
    sample = bundled_sample()
    assert sample is not None, "a sample recording ships with the monitor"
    name = _exercise_name(sample)
    terminal = Terminal(
        [sys.executable, "-m", "monitor", "demo", "--speed", "max", "--mute"], columns=80, lines=24
    )
    try:
        screen = terminal.wait_for(lambda text: " ended " in text, timeout=180)
        assert name in screen
        assert "reps" in screen and "set 1" in screen
        assert "hold" in screen and "warnings" in screen
        assert "q Summary" in screen  # the keys are in the footer
        terminal.send("q")
        screen = terminal.wait_for(lambda text: "Export HTML" in text, timeout=180)
        assert "Session summary" in screen and name in screen
        terminal.send("q")
    finally:
        code = terminal.close()
    assert code == 0


def test_monitor_replay_plays_a_recording_on_the_same_screen() -> None:
    terminal = Terminal(
        [sys.executable, "-m", "monitor", "replay", str(PELVIC_TILT), "--speed", "max", "--mute"],
        columns=120,
        lines=40,
    )
    try:
        screen = terminal.wait_for(lambda text: " ended " in text, timeout=180)
        assert _exercise_name(PELVIC_TILT) in screen
        assert "WitMotion WT901BLE" in screen  # the status line names the sensor
        assert "Play" in screen and "Speed" in screen
        terminal.send("q")
        terminal.wait_for(lambda text: "Export HTML" in text, timeout=180)
        terminal.send("q")
    finally:
        code = terminal.close()
    assert code == 0


def test_a_bad_file_is_one_line_not_a_traceback(tmp_path) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "broken.mrec"
    broken.write_bytes(b"not a recording at all")
    terminal = Terminal([sys.executable, "-m", "monitor", "replay", str(broken)])
    code = terminal.close(timeout=180)
    text = terminal.text().replace("\n", "")
    assert code == 2
    assert "monitor: error:" in text and "broken.mrec" in text and "Traceback" not in text


def test_monitor_live_without_bluetooth_says_so_on_the_pick_screen(tmp_path) -> None:  # type: ignore[no-untyped-def]
    terminal = Terminal(
        [sys.executable, "-m", "monitor", "live", "--mute"],
        env={"DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus"},
    )
    try:
        # the message and the scan table can reach the terminal in separate frames: wait for both
        screen = terminal.wait_for(
            lambda text: "to scan again" in text.replace("\n", "") and "signal" in text,
            timeout=180,
        ).replace("\n", "")
        assert "cannot scan for Bluetooth devices" in screen
        assert "signal" in screen and "profile" in screen  # the scan table
        terminal.send("q")
    finally:
        code = terminal.close()
    assert code == 0
