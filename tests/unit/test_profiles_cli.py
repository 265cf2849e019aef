"""`monitor profiles ...` from the command line: output and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from monitor.cli import main
from monitor.core import GRAVITY
from monitor.profiles.loader import bundled_profiles_dir


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_json_names_every_bundled_profile(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "profiles", "list", "--json")
    assert code == 0
    rows = {row["id"]: row for row in json.loads(out)}
    assert {"nordic_thingy52", "arduino_nano33_ble_sense", "polar_h10", "metamotion_s"} <= set(rows)
    assert rows["polar_h10"]["file"].endswith("polar_h10.toml")


def test_show_prints_rendered_start_sequence(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "profiles", "show", "nordic_thingy52")
    assert code == 0
    assert "start: write ef680401-9b35-4933-9b10-52ffa9740042 e8 03 f4 01 f4 01 32 00 01" in out
    code, out, _ = run(capsys, "profiles", "show", "nordic_thingy52", "--json")
    assert json.loads(out)["streams"][0]["codec"] == "struct"


def test_check_accepts_good_and_rejects_broken_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = bundled_profiles_dir() / "nordic_thingy52.toml"
    code, out, _ = run(capsys, "profiles", "check", str(good))
    assert code == 0 and "ok" in out
    broken = tmp_path / "broken.toml"
    broken.write_text(good.read_text().replace('timestamp = "host"', "timestamp = 3"))
    code, _, err = run(capsys, "profiles", "check", str(broken))
    assert code == 2
    assert err.count("\n") == 1
    assert str(broken) in err and "streams[0].timestamp" in err


def test_decode_prints_samples_with_unit_keys(capsys: pytest.CaptureFixture[str]) -> None:
    payload = np.array([0, 0, 1024, 0, 0, 0, 16, 0, 0], "<i2").tobytes().hex()
    code, out, _ = run(capsys, "profiles", "decode", "nordic_thingy52", payload)
    assert code == 0
    block = json.loads(out)["blocks"][0]
    assert block["acc_mps2"] == [[0.0, 0.0, GRAVITY]]
    assert block["gyro_rads"] == [[0.0, 0.0, 0.0]]
    assert block["mag_ut"] == [[1.0, 0.0, 0.0]]
    assert block["t_ns"] == [0]


def test_decode_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "profiles", "decode", "nordic_thingy52", "zz")
    assert code == 2 and "expected hex bytes" in err
    code, _, err = run(capsys, "profiles", "decode", "nordic_thingy52", "00", "--set", "foo=1")
    assert code == 2 and "unknown setting foo" in err
    code, _, err = run(capsys, "profiles", "decode", "nordic_thingy52", "00", "--set", "rate_hz")
    assert code == 2 and "expected KEY=VALUE" in err
