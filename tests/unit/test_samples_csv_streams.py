"""`export --format samples-csv` on a two-sensor recording: one file per sensor, each reading
back through the generic CSV importer as the samples the recording replays to."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from monitor.cli import main
from monitor.core import Event
from monitor.session.recording import RecordingHeader, RecordingWriter, StreamInfo
from monitor.sources.inputs import open_input
from monitor.sources.motion import MotionScript, RepsSegment
from monitor.sources.simulate import profile_text, simulate

SCRIPT = MotionScript(exercise="generic", segments=[RepsSegment(reps=3, hold_s=1, rest_s=1)])


def two_sensor_recording(path: Path) -> None:
    """A back sensor (WitMotion) and a thigh sensor (MetaMotion S), as `monitor live` with two
    devices records them: one header, both sensors' notifications in arrival order."""
    sessions = {
        "back": simulate(SCRIPT, "witmotion_wt901ble", seed=3),
        "thigh": simulate(SCRIPT, "metamotion_s", seed=4),
    }
    header = RecordingHeader(
        start_utc=sessions["back"].start_utc,
        exercise="generic",
        streams=[
            StreamInfo.for_profile(
                name,
                session.profile.id,
                profile_text(session.profile),
                settings=session.settings,
                profile_stream=session.stream,
            )
            for name, session in sessions.items()
        ],
    )
    entries = sorted(
        (
            (entry.t_ns if isinstance(entry, Event) else entry.host_t_ns, order, name, entry)
            for order, (name, session) in enumerate(sessions.items())
            for entry in session.entries()
        ),
        key=lambda item: item[:2],
    )
    with RecordingWriter(path, header, flush_interval_s=None) as writer:
        for t_ns, _, name, entry in entries:
            if isinstance(entry, Event):
                writer.write_event(entry, t_ns)
            else:
                writer.write_notification(name, entry.characteristic, entry.data, t_ns)


def test_one_file_per_sensor_each_reads_back(tmp_path: Path, capsys) -> None:
    recording = tmp_path / "two.mrec"
    two_sensor_recording(recording)
    loaded = open_input(recording)
    assert list(loaded.streams) == ["back", "thigh"]
    out = tmp_path / "samples.csv"
    assert main(["export", str(recording), "--format", "samples-csv", "-o", str(out)]) == 0
    thigh = tmp_path / "samples-thigh.csv"
    assert capsys.readouterr().out.split() == ["wrote", str(out), "wrote", str(thigh)]
    for name, path in (("back", out), ("thigh", thigh)):
        assert f"# stream: {name};" in path.read_text(encoding="utf-8")
        assert path.stat().st_mode & 0o777 == 0o600
        block = open_input(path).streams[open_input(path).primary]
        source = loaded.streams[name]
        assert len(block) == len(source)
        np.testing.assert_allclose(block.acc, source.acc, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(block.gyro, source.gyro, rtol=1e-6, atol=1e-7)
        elapsed = (source.t_ns - source.t_ns[0]) / 1e9
        np.testing.assert_allclose((block.t_ns - block.t_ns[0]) / 1e9, elapsed, atol=2e-6)


def test_no_file_is_written_when_one_of_them_exists(tmp_path: Path, capsys) -> None:
    recording = tmp_path / "two.mrec"
    two_sensor_recording(recording)
    out = tmp_path / "samples.csv"
    (tmp_path / "samples-thigh.csv").write_text("mine\n")
    assert main(["export", str(recording), "--format", "samples-csv", "-o", str(out)]) == 2
    assert "samples-thigh.csv already exists; use --force" in capsys.readouterr().err
    assert not out.exists() and (tmp_path / "samples-thigh.csv").read_text() == "mine\n"
    args = ["export", str(recording), "--format", "samples-csv", "-o", str(out), "--force"]
    assert main(args) == 0
    assert out.exists() and "# stream: thigh;" in (tmp_path / "samples-thigh.csv").read_text()


@pytest.mark.parametrize("name", ["../up", "a b/c", "..."])
def test_stream_names_never_leave_the_output_folder(tmp_path: Path, name: str) -> None:
    from monitor.session.samples_csv import output_paths

    loaded = SimpleNamespace(primary="back", metadata=SimpleNamespace(streams=["back", name]))
    paths = output_paths(loaded, tmp_path / "out.csv")  # type: ignore[arg-type]
    assert all(path.parent == tmp_path for path in paths.values())
