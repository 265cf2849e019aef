"""open_input: recordings and CSV told apart by content, loaded into aligned samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monitor.errors import InputFileError
from monitor.session.recording import MAGIC
from monitor.sources.inputs import open_input
from monitor.sources.motion import MotionScript, RepsSegment
from monitor.sources.replay import replay_all
from monitor.sources.simulate import simulate, write_recording

CSV = (
    "# from another tool\n"
    "time_s,acc_x_mps2,acc_y_mps2,acc_z_mps2,gyro_x_rads,gyro_y_rads,gyro_z_rads\n"
    + "".join(f"{i / 50:.2f},0,0,9.81,0.1,0,0\n" for i in range(100))
)


@pytest.fixture(scope="module")
def recording_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    session = simulate(
        MotionScript(exercise="bridge", segments=[RepsSegment(reps=2)]), "witmotion_wt901ble"
    )
    # named .csv on purpose: the kind comes from the content
    path = tmp_path_factory.mktemp("in") / "session.csv"
    write_recording(session, path)
    return path


def test_recording_is_recognised_by_content(recording_path: Path) -> None:
    loaded = open_input(recording_path)
    meta = loaded.metadata
    assert meta.kind == "recording"
    assert meta.profile == "witmotion_wt901ble" and meta.exercise == "bridge"
    assert meta.start is not None and meta.device_name.startswith("Simulated")
    assert meta.streams == [loaded.primary] and meta.rates_hz[loaded.primary] > 0
    expected = replay_all(recording_path).samples[loaded.primary]
    (block,) = loaded.blocks
    assert block.channels == ("acc", "gyro")
    np.testing.assert_array_equal(block.t_ns, expected.t_ns)
    np.testing.assert_array_equal(block.gyro, expected.gyro)
    assert list(loaded) == loaded.blocks
    assert [e.kind.value for e in loaded.events][:1] == ["connect"]


def test_csv_is_recognised_by_content(tmp_path: Path) -> None:
    path = tmp_path / "looks_like.mrec"
    path.write_text(CSV)
    loaded = open_input(path)
    assert loaded.metadata.kind == "csv"
    assert loaded.metadata.rates_hz == {"csv": pytest.approx(50)}
    (block,) = loaded.blocks
    assert len(block) == 100 and block.channels == ("acc", "gyro")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "no header row"),
        (MAGIC[:5], "ends inside the recording preamble"),
        (MAGIC + b"\x01\x00", "ends inside the recording preamble"),
        (b"\x00\x01\x02\xff\xfe", "not UTF-8"),
        (b"hello,world\n1,2\n", "no time_s column"),
    ],
)
def test_bad_inputs_are_one_line_errors(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "input"
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=problem) as raised:
        open_input(path)
    assert "\n" not in str(raised.value) and str(path) in str(raised.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="cannot read"):
        open_input(tmp_path / "nope.mrec")
    with pytest.raises(InputFileError, match="is a directory"):
        open_input(tmp_path)


def test_recording_with_a_broken_profile_copy_names_the_file(tmp_path: Path) -> None:
    from monitor.session.recording import RecordingHeader, RecordingWriter, StreamInfo

    header = RecordingHeader(
        streams=[StreamInfo.for_profile("back", "polar_h10", "id = 'broken'\n")]
    )
    path = tmp_path / "broken.mrec"
    with RecordingWriter(path, header, flush_interval_s=None):
        pass
    with pytest.raises(InputFileError, match=r"broken\.mrec: profile 'polar_h10' stored for"):
        open_input(path)


def test_recording_without_notifications_opens_empty(tmp_path: Path) -> None:
    from monitor.profiles.loader import get_profile
    from monitor.session.recording import RecordingHeader, RecordingWriter, StreamInfo
    from monitor.sources.simulate import profile_text

    text = profile_text(get_profile("polar_h10"))
    header = RecordingHeader(streams=[StreamInfo.for_profile("back", "polar_h10", text)])
    path = tmp_path / "empty.mrec"
    with RecordingWriter(path, header, flush_interval_s=None):
        pass
    loaded = open_input(path)
    assert loaded.metadata.kind == "recording" and loaded.blocks == [] and loaded.events == []


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"", "empty file, not a recording"), (b"t_s,ax\n0,1\n", "not a monitor recording")],
)
def test_a_broken_mrec_is_named_as_a_recording_by_every_verb(tmp_path, capsys, content, problem):
    """A .mrec that is empty or lost its magic is a broken recording, not a CSV to parse."""
    from monitor.cli import main

    path = tmp_path / "session.mrec"
    path.write_bytes(content)
    export = ["export", str(path), "--format", "json", "-o", str(tmp_path / "s.json")]
    for argv in (["analyze", str(path)], export):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and problem in err and str(path) in err
