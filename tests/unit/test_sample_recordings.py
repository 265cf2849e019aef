"""The bundled sample sessions are what recordings/README.md says regenerates them."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from monitor import __version__, cli
from monitor.core import EventKind
from monitor.profiles.loader import get_profile
from monitor.session.recording import profile_sha256, read_recording
from monitor.sources.simulate import profile_text

RECORDINGS = Path(__file__).resolve().parents[2] / "recordings"


def _commands() -> list[list[str]]:
    lines = (RECORDINGS / "README.md").read_text(encoding="utf-8").splitlines()
    return [shlex.split(line)[1:] for line in lines if line.startswith("monitor simulate ")]


def _output(argv: list[str]) -> str:
    return argv[argv.index("-o") + 1]


COMMANDS = _commands()


def test_readme_lists_a_command_per_recording() -> None:
    bundled = sorted(p.name for p in RECORDINGS.glob("*.mrec"))
    assert bundled and sorted(_output(argv) for argv in COMMANDS) == bundled
    for name in bundled:
        assert (RECORDINGS / f"{name}.truth.csv").is_file()
        assert (RECORDINGS / name).stat().st_size < 300_000


@pytest.mark.parametrize("argv", COMMANDS, ids=_output)
def test_regenerating_gives_identical_bytes(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = _output(argv)
    committed = read_recording(RECORDINGS / name).header
    info = committed.streams[0]
    current = profile_text(get_profile(info.profile_id))
    if profile_sha256(current) != info.profile_sha256 or committed.app_version != __version__:
        pytest.skip(f"{name} predates a profile or version change: regenerate it (README.md)")
    monkeypatch.setattr(cli, "VERB_MODULES", ["simulate"])
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 0
    for produced in (name, f"{name}.truth.csv"):
        assert (tmp_path / produced).read_bytes() == (RECORDINGS / produced).read_bytes(), produced


@pytest.mark.parametrize("argv", COMMANDS, ids=_output)
def test_sample_recording_reads_back_whole(argv: list[str]) -> None:
    recording = read_recording(RECORDINGS / _output(argv))
    assert recording.warnings == []
    assert recording.header.exercise
    assert recording.events[0].event.kind == EventKind.CONNECT
    assert len(recording) > 300
