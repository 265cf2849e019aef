"""Program sessions: the user's steps through a program are recorded, and replay, `monitor
analyze` and `monitor export` give each item the stretches the steps gave it.

The sessions are the virtual sensor's (`simulate(..., program=...)` records a step to the next
item between the script's reps segments, as the live screen records the user's `n`), written
through the real recording writer and decoded by the real replay path; the truth is the
simulator's own rep list."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from monitor.analysis.exercises import get_exercise, prescription_for
from monitor.analysis.programs import Program, load_program
from monitor.analysis.results import WarningKind
from monitor.cli import main
from monitor.core import Event, EventKind, SampleBlock
from monitor.session.program_steps import ProgramRun, Step, step_event, steps_from_events
from monitor.session.recording import RecordingWriter, read_recording
from monitor.session.summary import SensorInfo, load_summary
from monitor.sources.inputs import open_input
from monitor.sources.motion import IdleSegment, MotionScript, RepsSegment
from monitor.sources.simulate import recording_header, simulate, write_recording
from monitor.tui.feed import Command
from monitor.tui.pipeline_feed import PipelineFeed
from monitor.tui.replay_feed import open_replay
from monitor.tui.track import ProgramTrack

PROGRAM_TOML = """
name = "Two knee items"

[[exercises]]
exercise = "knee_to_chest_single"
sets = 1
reps = 2
hold_s = 2

[[exercises]]
exercise = "knee_to_chest_double"
sets = 1
reps = 3
hold_s = 2
"""
FIRST_REPS, SECOND_REPS = 2, 3
SCRIPT = MotionScript(
    exercise="knee_to_chest_single",
    rate_hz=50,
    segments=[
        RepsSegment(reps=FIRST_REPS, hold_s=2),
        IdleSegment(duration_s=8, shift_deg=0),
        RepsSegment(reps=SECOND_REPS, hold_s=2),
    ],
)
PROFILE = "witmotion_wt901ble"  # host-clocked: the step is stamped on the host clock's samples


@pytest.fixture(scope="module")
def program_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("program") / "two_knee_items.toml"
    path.write_text(PROGRAM_TOML, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def program(program_file: Path) -> Program:
    return load_program(program_file)


@pytest.fixture(scope="module")
def session(program: Program):
    return simulate(SCRIPT, PROFILE, seed=3, program=program)


@pytest.fixture(scope="module")
def recording(session, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rec") / "program.mrec"
    write_recording(session, path)
    return path


def truth_by_item(session) -> list[list]:
    reps = session.truth.reps
    return [reps[:FIRST_REPS], reps[FIRST_REPS:]]


def analyze_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    capsys.readouterr()
    assert main(["analyze", *args, "--json", "--no-history"]) == 0
    return json.loads(capsys.readouterr().out)


def matches_truth(reps: list[dict], truth: list) -> bool:
    """Each counted rep starts within a second of its true rep, one to one."""
    starts = sorted(r["start_s"] for r in reps)
    return len(starts) == len(truth) and all(
        abs(s - t.start_s) < 1.0 for s, t in zip(starts, truth, strict=True)
    )


def test_simulate_records_a_step_to_the_second_item_between_the_segments(recording, session):
    recorded = read_recording(recording)
    assert recorded.header.program == "two_knee_items"
    steps = [e.event for e in recorded.events if e.event.kind is EventKind.PROGRAM_ITEM]
    assert len(steps) == 1
    assert steps[0].data == {"item": 2, "exercise": "knee_to_chest_double"}
    samples = open_input(recording).blocks[0]
    at_s = (steps[0].t_ns - int(samples.t_ns[0])) / 1e9
    before, after = truth_by_item(session)
    assert before[-1].end_s < at_s < after[0].start_s


def test_analyze_gives_every_item_the_reps_of_its_stretches(
    recording, program_file, session, capsys
):
    out = analyze_json(capsys, str(recording), "--program", str(program_file))
    assert out["program"]["id"] == "two_knee_items"
    assert [item["item"] for item in out["items"]] == [1, 2]
    assert [item["exercise_id"] for item in out["items"]] == [
        "knee_to_chest_single",
        "knee_to_chest_double",
    ]
    for item, truth in zip(out["items"], truth_by_item(session), strict=True):
        assert item["rep_count"] == len(truth)
        assert matches_truth(item["reps"], truth)  # on the session clock, like the screen
        assert {"sets", "warnings", "calibration", "duration_s"} <= set(item)
    assert out["rep_count"] == FIRST_REPS + SECOND_REPS


def test_analyze_table_has_one_section_per_item(recording, program_file, capsys):
    capsys.readouterr()
    assert main(["analyze", str(recording), "--program", str(program_file), "--no-history"]) == 0
    out = capsys.readouterr().out
    assert "item 1 of 2" in out and "item 2 of 2" in out
    assert out.index("Single knee to chest") < out.index("item 2 of 2")
    assert out.index("Double knee to chest") > out.index("item 2 of 2")


def test_with_item_or_without_steps_the_output_is_one_summary_as_before(
    recording, program_file, session, capsys, tmp_path
):
    one = analyze_json(capsys, str(recording), "--program", str(program_file), "--item", "2")
    assert "items" not in one and one["exercise_id"] == "knee_to_chest_double"
    assert one["rep_count"] == FIRST_REPS + SECOND_REPS  # the whole recording, as one item

    plain = tmp_path / "plain.mrec"
    write_recording(simulate(SCRIPT, PROFILE, seed=3), plain)  # no program: no steps
    assert not steps_from_events(e.event for e in read_recording(plain).events)
    whole = analyze_json(capsys, str(plain), "--program", str(program_file))
    assert "items" not in whole and whole["exercise_id"] == "knee_to_chest_single"
    assert whole["rep_count"] == FIRST_REPS + SECOND_REPS


def test_without_a_program_the_steps_are_named_in_one_warning(recording, capsys):
    capsys.readouterr()
    assert main(["analyze", str(recording), "--json", "--no-history"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["rep_count"] == FIRST_REPS + SECOND_REPS
    lines = captured.err.splitlines()
    assert len(lines) == 1 and "give --program FILE to analyse each item" in lines[0]


def test_export_summary_covers_every_item_the_steps_visited(
    recording, program_file, session, tmp_path
):
    out = tmp_path / "summary.json"
    args = [str(recording), "--program", str(program_file), "--no-history"]
    assert main(["export", *args, "--format", "json", "-o", str(out)]) == 0
    summary = load_summary(out.read_text(encoding="utf-8"))
    assert summary.session.program is not None and summary.session.program.id == "two_knee_items"
    assert [e.exercise_id for e in summary.exercises] == [
        "knee_to_chest_single",
        "knee_to_chest_double",
    ]
    assert [e.adherence.reps_done for e in summary.exercises] == [FIRST_REPS, SECOND_REPS]
    assert summary.trace is not None and summary.trace.t_s[-1] > truth_by_item(session)[1][-1].end_s
    # The screen's summary of a replay of the same file agrees with the export.
    screen = replayed_summary(recording, load_program(program_file))
    assert [e.adherence.reps_done for e in screen.exercises] == [FIRST_REPS, SECOND_REPS]
    assert [r.start_s for e in screen.exercises for r in e.reps] == [
        r.start_s for e in summary.exercises for r in e.reps
    ]


def replayed_summary(path: Path, program: Program, *, skip_back_at_item: int | None = None):
    """A replay on the screen's feed (no screen) to its end; its session summary. With
    `skip_back_at_item`, the replay skips back to the start once that item is reached."""
    feed = open_replay(path, speed=None, target=program)

    async def run() -> int:
        restarts = 0
        async for update in feed.updates():
            restarts += update.restart
            if skip_back_at_item and feed.exercise().position == skip_back_at_item and not restarts:
                assert feed.playback is not None
                feed.playback.skip(-1e6)
        return restarts

    restarts = asyncio.run(run())
    assert restarts == (1 if skip_back_at_item else 0)
    return feed.summary()


def test_replay_follows_the_steps_and_a_skip_back_starts_over_the_same(recording, program):
    once = replayed_summary(recording, program)
    again = replayed_summary(recording, program, skip_back_at_item=2)
    assert again == once


def with_events(session, path: Path, extra: list[Event]) -> Path:
    """The session's recording with `extra` events written among its entries at their time."""
    entries = session.recorded()
    with RecordingWriter(path, recording_header(session), flush_interval_s=None) as writer:
        pending = sorted(extra, key=lambda e: e.t_ns)
        for host_t_ns, entry in entries:
            while pending and pending[0].t_ns <= host_t_ns:
                writer.write_event(pending.pop(0), host_t_ns)
            if isinstance(entry, Event):
                writer.write_event(entry, host_t_ns)
            else:
                writer.write_notification(
                    session.stream, entry.characteristic, entry.data, host_t_ns
                )
    return path


BAD_DATA = [{"item": 9}, {"item": "two"}, {}, {"item": True}, {"item": 0}, {"item": 2.5}]


def test_bad_step_events_are_one_warning_each_and_ignored(session, program_file, capsys, tmp_path):
    second = truth_by_item(session)[1]
    at_ns = session.host_t0_ns + int((second[1].start_s + 0.5) * 1e9)  # inside item 2's reps
    bad = [
        Event(at_ns + k, EventKind.PROGRAM_ITEM, "garbage", session.stream, data)
        for k, data in enumerate(BAD_DATA)
    ]
    path = with_events(session, tmp_path / "bad.mrec", bad)
    capsys.readouterr()
    assert (
        main(["analyze", str(path), "--program", str(program_file), "--json", "--no-history"]) == 0
    )
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if "ignored" in line]
    assert len(warnings) == len(BAD_DATA)
    assert all(line.startswith("monitor: warning: ") for line in warnings)
    assert "no item 9 (the program has 2)" in captured.err and "'two'" in captured.err
    assert "Traceback" not in captured.err
    items = json.loads(captured.out)["items"]
    assert [item["rep_count"] for item in items] == [FIRST_REPS, SECOND_REPS]  # still followed

    # The screen lists each as a line and goes on.
    feed = open_replay(path, speed=None, target=load_program(program_file))

    async def lines() -> list[str]:
        return [e.message async for u in feed.updates() for e in u.events if "ignored" in e.message]

    assert len(asyncio.run(lines())) == len(BAD_DATA)
    assert feed.exercise().position == 2


def still(start_s: float, seconds: float, rate_hz: float = 100.0) -> SampleBlock:
    t_ns = np.round((start_s + np.arange(0, seconds, 1 / rate_hz)) * 1e9).astype(np.int64)
    acc = np.tile([0.0, 0.0, 9.81], (len(t_ns), 1))
    return SampleBlock(t_ns=t_ns, acc=acc, gyro=np.zeros((len(t_ns), 3)), stream="back")


class FedRun(ProgramRun):
    """A ProgramRun that notes which item got which samples."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fed: list[tuple[int, int, int]] = []  # (item, first t_ns, last t_ns)

    def _feed(self, piece):  # type: ignore[no-untyped-def]
        if not self.paused:
            item, first, last = self.index, int(piece.t_ns[0]), int(piece.t_ns[-1])
            if self.fed and self.fed[-1][0] == item and first - self.fed[-1][2] == 10_000_000:
                item, first, _ = self.fed.pop()  # the same stretch, another chunk
            self.fed.append((item, first, last))
        return super()._feed(piece)


def ms(value: float) -> int:
    return round(value * 1e6)


def test_a_step_splits_the_samples_at_its_time_whatever_the_chunking():
    pelvic = prescription_for(get_exercise("pelvic_tilt"))
    bridge = prescription_for(get_exercise("bridge"))
    steps = [
        Step(ms(3005), EventKind.PROGRAM_ITEM, item=1),  # between two samples
        Step(ms(5000), EventKind.PAUSE),  # on a sample: that sample is before the pause
        Step(ms(6000), EventKind.RESUME),
        Step(ms(8000), EventKind.CALIBRATION),
        Step(ms(9000), EventKind.PROGRAM_ITEM, item=0),
        Step(ms(20000), EventKind.PROGRAM_ITEM, item=1),  # after the data: applied at finish
    ]
    block = still(0.0, 10.0)
    expected = [
        (0, 0, ms(3000)),
        (1, ms(3010), ms(5000)),
        (1, ms(6010), ms(9000)),
        (0, ms(9010), ms(9990)),
    ]
    for cuts in ([], [1, 301, 500, 601, 999], list(range(7, 1000, 37))):
        run = FedRun([pelvic, bridge], steps=steps)
        for a, b in zip([0, *cuts], [*cuts, len(block)], strict=True):
            run.process(block.slice(a, b))
        assert run.fed == expected, cuts
        assert run.index == 0 and not run.warnings
        run.finish()
        assert run.index == 1 and run.applied[-1] == steps[-1]
        assert run.visited() == [0, 1]
        assert [p.t0_ns for p in run.pipelines.values()] == [0, 0]  # one session clock
        # the stretches that went to another item or were paused are no loss of signal
        said = [w.kind for p in run.pipelines.values() for w in p.summary().warnings]
        assert WarningKind.SIGNAL_LOST not in said


def test_the_live_feed_records_each_key_at_the_last_sample_received():
    """Keys on the live screen go to the recording at the time of the last sample received;
    the samples received up to then are analysed by the item in progress first."""
    recorded: list[Event] = []
    two_items = Program.model_validate(
        {"name": "p", "exercises": [{"exercise": "pelvic_tilt"}, {"exercise": "bridge"}]}
    )
    blocks = [still(0.0, 1.0), still(1.0, 0.02), still(1.02, 0.5)]

    async def produce():  # type: ignore[no-untyped-def]
        for block in blocks:
            yield block

    feed = PipelineFeed(
        produce(),
        lambda: ProgramTrack(two_items),
        title="live",
        sensor=SensorInfo(profile="witmotion_wt901ble", sample_rate_hz=100.0),
        source="live",
        primary_stream="back",
        record=recorded.append,
    )

    async def run() -> None:
        updates = feed.updates()
        await updates.__anext__()
        await updates.__anext__()  # the second block: received, not analysed yet
        assert feed.track.pipelines[0].last_t_ns == ms(990)
        assert feed.command(Command.NEXT_EXERCISE) == "now: Bridge"
        assert feed.track.pipelines[0].last_t_ns == ms(1010)  # analysed before the step
        feed.command(Command.CALIBRATE)
        feed.command(Command.MARK)
        assert feed.command(Command.PAUSE).startswith("paused")
        assert feed.command(Command.PAUSE) == "counting again"
        feed.command(Command.PREVIOUS_EXERCISE)
        assert feed.command(Command.PREVIOUS_EXERCISE) == "no more exercises that way"
        async for _ in updates:
            pass

    asyncio.run(run())
    pressed = ms(1010)
    assert [(e.kind, e.t_ns) for e in recorded] == [
        (EventKind.PROGRAM_ITEM, pressed),
        (EventKind.CALIBRATION, pressed),
        (EventKind.MARKER, pressed),
        (EventKind.PAUSE, pressed),
        (EventKind.RESUME, pressed),
        (EventKind.PROGRAM_ITEM, pressed),
    ]
    assert [e.data.get("item") for e in recorded] == [2, None, None, None, None, 1]
    assert recorded[0].data["exercise"] == "bridge" and recorded[0].stream == "back"
    assert feed.track.pipelines[1].last_t_ns is None  # no sample came while on item 2
    assert feed.track.pipelines[0].last_t_ns == ms(1510)
    assert steps_from_events(recorded) == [
        Step(pressed, EventKind.PROGRAM_ITEM, item=1),
        Step(pressed, EventKind.CALIBRATION),
        Step(pressed, EventKind.PAUSE),
        Step(pressed, EventKind.RESUME),
        Step(pressed, EventKind.PROGRAM_ITEM, item=0),
    ]
    assert step_event(Step(5, EventKind.PAUSE)).message == "counting paused"


def test_simulate_cli_takes_a_program_and_refuses_what_cannot_hold_its_steps(
    program_file, tmp_path, capsys
):
    out = tmp_path / "cli.mrec"
    base = ["simulate", "--profile", PROFILE, "--rate", "25", "--program", str(program_file)]
    assert main([*base, "--reps", "2", "-o", str(out)]) == 0  # one reps segment: no step
    assert "0 program step(s)" in capsys.readouterr().out
    assert read_recording(out).header.program == "two_knee_items"

    assert main([*base, "--format", "csv", "-o", str(tmp_path / "x.csv")]) == 2
    assert "use --format mrec" in capsys.readouterr().err
    script = tmp_path / "three.json"
    script.write_text(json.dumps({"segments": [{"reps": 1}, {"reps": 1}, {"reps": 1}]}))
    assert main([*base, "--script", str(script), "-o", str(tmp_path / "y.mrec")]) == 2
    err = capsys.readouterr().err
    assert "has 2 item(s), the script 3 reps segments" in err and "Traceback" not in err
