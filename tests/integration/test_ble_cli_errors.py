"""`monitor live` / `monitor scan` argument problems: one line on stderr, exit 2, no traceback."""

from __future__ import annotations

import pytest

from monitor.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--device", "a", "--device", "b", "--device", "c"], "at most two sensors at once"),
        (["--device", "a", "--device", "b", "--profile", "polar_h10"], "give --profile once per"),
        (["--device", "a", "--profile", "no_such_sensor"], "no firmware profile 'no_such_sensor'"),
    ],
)
def test_live_argument_errors_are_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["live", *argv, "--no-tui"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_scan_without_bluetooth_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    """No BlueZ reachable (no daemon on the bus address): an actionable one-line error."""
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")
    assert main(["scan", "--timeout", "0.2", "--json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("monitor: error: cannot scan for Bluetooth devices")
    assert err.count("\n") == 1
