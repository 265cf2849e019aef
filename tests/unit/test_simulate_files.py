"""`monitor simulate` writes its files like every other output and survives a broken user
profile, as the other verbs do."""

from __future__ import annotations

import os
from pathlib import Path

from monitor import paths
from monitor.cli import main


def _simulate(out: Path, *extra: str) -> int:
    argv = ["simulate", "--profile", "witmotion_wt901ble", "--reps", "2", "-o", str(out)]
    return main([*argv, *extra])


def test_a_broken_user_profile_is_skipped_with_a_warning(tmp_path: Path, capsys) -> None:
    folder = paths.user_profiles_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "broken.toml").write_text("id = [unclosed\n", encoding="utf-8")
    assert _simulate(tmp_path / "s.mrec") == 0
    err = capsys.readouterr().err
    assert "broken.toml" in err and "skipped" in err and "Traceback" not in err
    assert (tmp_path / "s.mrec").is_file()


def test_outputs_are_private_and_links_are_not_written_through(tmp_path: Path) -> None:
    previous = os.umask(0)  # 0600 whatever the umask
    try:
        _check_private_outputs(tmp_path)
    finally:
        os.umask(previous)


def _check_private_outputs(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    out = tmp_path / "s.csv"
    (tmp_path / "s.csv.truth.csv").symlink_to(victim)
    assert _simulate(out, "--format", "csv", "--force") == 0
    for path in (out, tmp_path / "s.csv.truth.csv"):
        assert not path.is_symlink() and path.stat().st_mode & 0o777 == 0o600
    assert victim.read_text() == "keep me\n"
