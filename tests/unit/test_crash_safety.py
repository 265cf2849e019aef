"""Crash safety: the recorder and the history database SIGKILLed at random moments.

A fork server (this file run as a script) imports the monitor once and forks one child per run,
so a run costs a fork instead of a Python start-up. A recorder child writes a simulated session
through the real `RecordingWriter`: the first `skip_s` seconds at once (the session so far,
flushed), the rest paced in real time, noting in a side file each entry it has handed to the
writer. A history child stores sessions in a loop through the real `History.record`, noting each
id once `record` has returned. The test kills each child with SIGKILL after a random delay, then
checks what is on disk against what the child had handed over.

`benchmarks/crash_campaign.py` runs the same campaign with more kills and prints the figures.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.analysis.exercises import Prescription, get_exercise, prescription_for
from monitor.analysis.pipeline import AnalysisPipeline
from monitor.core import Event, Notification
from monitor.session.history import SCHEMA_VERSION, History
from monitor.session.recording import RecordingHeader, RecordingWriter, read_recording
from monitor.session.summary import SessionSummary, load_summary
from monitor.sources.inputs import open_input
from monitor.sources.motion import MotionScript, RepsSegment
from monitor.sources.simulate import SimulatedSession, recording_header, simulate

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "golden" / "session.json"
PROFILES = ("polar_verity_sense", "witmotion_wt901ble", "metamotion_s")
SCRIPT = MotionScript(
    exercise="knee_to_chest_single",
    rate_hz=52,
    segments=[RepsSegment(reps=5, hold_s=1.0, rest_s=1.0)],
)
MAX_LOSS_S = 1.0  # the promise: a crash loses at most the last second


# ---- the simulated sessions (the same in the fork server and in the test) ----------------------


@functools.cache
def session(profile: str, seed: int) -> SimulatedSession:
    return simulate(SCRIPT, profile, seed)


@functools.cache
def header(profile: str, seed: int) -> RecordingHeader:
    return recording_header(session(profile, seed))


def entry_time(entry: Notification | Event) -> int:
    return entry.t_ns if isinstance(entry, Event) else entry.host_t_ns


def write_entry(writer: RecordingWriter, stream: str, entry: Notification | Event) -> None:
    if isinstance(entry, Event):
        writer.write_event(entry, entry.t_ns)
    else:
        writer.write_notification(stream, entry.characteristic, entry.data, entry.host_t_ns)


def comparable(entry: Notification | Event) -> tuple:
    if isinstance(entry, Event):
        return ("event", json.dumps(entry.to_json(), sort_keys=True), entry.t_ns)
    return ("notification", entry.characteristic.lower(), bytes(entry.data), entry.host_t_ns)


def read_back(path: Path) -> tuple[list[tuple], list[str]]:
    """A recording's entries in written order (events where they were), and its warnings."""
    recording = read_recording(path)
    by_position: dict[int, list[tuple]] = {}
    for recorded in recording.events:
        event = recorded.event
        by_position.setdefault(recorded.position, []).append(
            ("event", json.dumps(event.to_json(), sort_keys=True), recorded.host_t_ns)
        )
    entries: list[tuple] = []
    for i in range(len(recording) + 1):
        entries += by_position.get(i, [])
        if i < len(recording):
            channel = recording.channels[recording.channel[i]]
            data = recording.data[recording.offsets[i] : recording.offsets[i + 1]]
            entries.append(
                ("notification", channel.characteristic, data, int(recording.host_t_ns[i]))
            )
    return entries, recording.warnings


def analyse(path: Path) -> dict[str, Any]:
    """What replay and analysis make of a recording: samples, events, the analysis summary."""
    loaded = open_input(path, "recording")
    pipeline = AnalysisPipeline(prescription())
    for block in loaded.blocks:
        pipeline.process(block)
    return {
        "samples": {name: len(block) for name, block in loaded.streams.items()},
        "events": [event.to_json() for event in loaded.events],
        "bad_packets": loaded.metadata.bad_packets,
        "summary": pipeline.summary().model_dump(mode="json"),
    }


@functools.cache
def prescription() -> Prescription:
    return prescription_for(get_exercise(SCRIPT.exercise))


@functools.cache
def sample_summary() -> SessionSummary:
    """The golden session without its angle trace (smaller rows: a quicker integrity check)."""
    return load_summary(GOLDEN.read_text(encoding="utf-8")).model_copy(update={"trace": None})


# ---- the children (in the fork server) ----------------------------------------------------------


class Progress:
    """An append-only side file: one line per step the child has finished."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def note(self, text: str) -> None:
        os.write(self.fd, text.encode() + b"\n")


def record_child(command: dict[str, Any]) -> None:
    simulated = session(command["profile"], command["seed"])
    entries = simulated.entries()
    times = [entry_time(e) for e in entries]
    live_from = times[0] + int(command["skip_s"] * 1e9)
    progress = Progress(command["progress"])
    progress.note("start")
    writer = RecordingWriter(command["path"], header(command["profile"], command["seed"]))
    progress.note("opened")
    index = 0
    while index < len(entries) and times[index] < live_from:  # the session so far
        write_entry(writer, simulated.stream, entries[index])
        index += 1
    writer.flush()
    wall0 = time.time_ns()
    progress.note(f"live {wall0} {index}")
    for live_index in range(index, len(entries)):
        delay_ns = wall0 + times[live_index] - live_from - time.time_ns()
        if delay_ns > 0:
            time.sleep(delay_ns / 1e9)
        write_entry(writer, simulated.stream, entries[live_index])
        progress.note(f"{live_index} {time.time_ns()}")
    progress.note("done")


def history_child(command: dict[str, Any]) -> None:
    progress = Progress(command["progress"])
    progress.note("start")
    sample = sample_summary()
    with History(Path(command["db"])) as history:
        progress.note("opened")
        for n in itertools.count():
            digest = f"{command['run']}-{n}"
            start = sample.session.start.replace(year=2020 + n % 7, microsecond=n)
            summary = sample.model_copy(
                update={"session": sample.session.model_copy(update={"start": start})}
            )
            session_id = history.record(summary, input_digest=digest)
            progress.note(f"{session_id} {digest}")


CHILDREN = {"record": record_child, "history": history_child}


def serve() -> None:
    """Read one JSON command per line; fork a child for "record"/"history" (reply its pid),
    reap a killed child on "reap" (reply its wait status). Children run until killed; they are
    reaped only when asked, so a pid is never reused while the test may still kill it."""
    for line in sys.stdin:
        command = json.loads(line)
        if command["task"] == "record":  # simulated once here, not in every child
            header(command["profile"], command["seed"])
        if command["task"] == "reap":
            _, status = os.waitpid(command["pid"], 0)
            reply: dict[str, Any] = {"status": status}
        else:
            pid = os.fork()
            if pid == 0:
                try:
                    CHILDREN[command["task"]](command)
                    time.sleep(3600)  # done: wait for the kill like the others
                except BaseException as error:  # reported through the side file
                    Progress(command["progress"]).note(f"error {error!r}")
                finally:
                    os._exit(1)
            reply = {"pid": pid}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


# ---- the test side ------------------------------------------------------------------------------


class ForkServer:
    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env=env,
            text=True,
        )

    def call(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


@contextlib.contextmanager
def fork_server() -> Iterator[ForkServer]:
    server = ForkServer()
    try:
        yield server
    finally:
        server.close()


@dataclass
class Kill:
    command: dict[str, Any]
    kill_ns: int
    progress: list[str] = field(default_factory=list)


def campaign(server: ForkServer, lanes: list[Iterator[dict[str, Any]]]) -> Iterator[Kill]:
    """Run each lane's commands one after the other, the lanes side by side; kill each child
    with SIGKILL after its `kill_after_s` and yield it once reaped. A thread does the starting
    and killing, so checking one kill never delays the next."""
    kills: queue.Queue[Kill | BaseException | None] = queue.Queue()

    def run() -> None:
        running: dict[int, tuple[float, dict[str, Any], int]] = {}  # pid: deadline, command, lane

        def start(lane: int) -> None:
            command = next(lanes[lane], None)
            if command is not None:
                pid = server.call(**command)["pid"]
                running[pid] = (time.monotonic() + command["kill_after_s"], command, lane)

        try:
            for lane in range(len(lanes)):
                start(lane)
            while running:
                pid = min(running, key=lambda p: running[p][0])
                deadline, command, lane = running.pop(pid)
                time.sleep(max(0.0, deadline - time.monotonic()))
                kill_ns = time.time_ns()
                os.kill(pid, signal.SIGKILL)
                status = server.call(task="reap", pid=pid)["status"]
                assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
                notes = Path(command["progress"])  # none yet if killed straight after the fork
                progress = notes.read_text().splitlines() if notes.exists() else []
                kills.put(Kill(command, kill_ns, progress))
                start(lane)
            kills.put(None)
        except BaseException as error:
            kills.put(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    while (kill := kills.get()) is not None:
        if isinstance(kill, BaseException):
            raise kill
        assert not any(line.startswith("error") for line in kill.progress), kill.progress
        yield kill
    worker.join()


def recorder_lanes(
    folder: Path, lanes: int, kills: int, rng: random.Random, max_delay_s: float = 1.5
) -> list[Iterator[dict[str, Any]]]:
    duration_s = session(PROFILES[0], 0).plan.duration_s

    def lane(number: int) -> Iterator[dict[str, Any]]:
        for run in range(number, kills, lanes):
            yield {
                "task": "record",
                "profile": PROFILES[run % len(PROFILES)],
                "seed": run % 2,
                "skip_s": rng.uniform(0, duration_s - 1),
                "kill_after_s": rng.uniform(0, max_delay_s),
                "path": str(folder / f"run{run}.mrec"),
                "progress": str(folder / f"run{run}.progress"),
            }

    return [lane(n) for n in range(lanes)]


def check_recording(kill: Kill, folder: Path) -> dict[str, Any]:
    """Assert the crash promises for one killed recorder; its figures."""
    command = kill.command
    path = Path(command["path"])
    if not path.exists():  # killed before the file was there: nothing was written
        assert "opened" not in kill.progress
        return {"phase": "before the file"}
    simulated = session(command["profile"], command["seed"])
    expected = simulated.entries()
    entries, warnings = read_back(path)
    assert entries == [comparable(e) for e in expected[: len(entries)]]  # a whole prefix
    figures: dict[str, Any] = {
        "profile": command["profile"],
        "entries": len(entries),
        "torn": bool(warnings),
        "phase": "start",
    }

    times = [entry_time(e) for e in expected]
    live = [line.split() for line in kill.progress if line.startswith("live")]
    if live:
        wall0, first_live = int(live[0][1]), int(live[0][2])
        assert len(entries) >= first_live  # the session so far was flushed before going live
        handed = {
            int(i): int(t) for i, t in (ln.split() for ln in kill.progress if ln[0].isdigit())
        }
        lost = [i for i in handed if i >= len(entries)]
        live_from = times[0] + int(command["skip_s"] * 1e9)
        kept_t = times[len(entries) - 1] if entries else live_from
        figures.update(
            phase="live",
            # how long before the kill the oldest entry that did not make it was handed over
            lost_age_s=(kill.kill_ns - handed[min(lost)]) / 1e9 if lost else 0.0,
            # the span of session time lost, and the brief's measure: kill time minus the
            # host time of the last entry on disk (a sensor's own gaps between notifications
            # and the child's lag behind its schedule count too)
            lost_span_s=(times[max(lost)] - kept_t) / 1e9 if lost else 0.0,
            since_kill_s=max(0, min(live_from + kill.kill_ns - wall0, times[-1]) - kept_t) / 1e9,
        )
        assert figures["lost_age_s"] <= MAX_LOSS_S, figures

    clean = folder / f"{path.stem}.clean.mrec"  # the same prefix, written and closed cleanly
    recording_header = header(command["profile"], command["seed"])
    with RecordingWriter(clean, recording_header, flush_interval_s=None) as writer:
        for entry in expected[: len(entries)]:
            write_entry(writer, simulated.stream, entry)
    torn, whole = analyse(path), analyse(clean)
    assert torn == whole
    # Every rep the whole session has that had ended by the end of what was kept is there,
    # the same (the analysis is causal), so a rep finished a second before the kill counts.
    reference = reference_reps(command["profile"], command["seed"], folder)
    summary = torn["summary"]
    ended = [rep for rep in reference if rep["end_s"] <= summary["duration_s"]]
    assert summary["reps"][: len(ended)] == ended
    figures["reps"] = summary["rep_count"]
    return figures


_REFERENCES: dict[tuple[str, int], list[dict[str, Any]]] = {}


def reference_reps(profile: str, seed: int, folder: Path) -> list[dict[str, Any]]:
    """The reps of the whole session, recorded and closed cleanly."""
    if (profile, seed) not in _REFERENCES:
        simulated = session(profile, seed)
        path = folder / f"whole-{profile}-{seed}.mrec"
        with RecordingWriter(path, header(profile, seed), flush_interval_s=None) as writer:
            for entry in simulated.entries():
                write_entry(writer, simulated.stream, entry)
        _REFERENCES[profile, seed] = analyse(path)["summary"]["reps"]
    return _REFERENCES[profile, seed]


def test_recorder_killed_at_random_moments(tmp_path: Path) -> None:
    """SIGKILLed 108 times at random moments (opening the file, writing the session so far,
    recording live): every file there reads back as a whole prefix of what was written, loses
    at most the last second of what the recorder was given, and replays and analyses exactly
    like that prefix written cleanly."""
    rng = random.Random(7)
    with fork_server() as server:
        results = [
            check_recording(kill, tmp_path)
            for kill in campaign(server, recorder_lanes(tmp_path, 12, 108, rng))
        ]
    assert len(results) == 108
    assert sum(r["phase"] == "live" for r in results) >= 20  # most land while recording live
    assert max(r.get("reps", 0) for r in results) >= 3  # prefixes with reps were compared


# ---- history ------------------------------------------------------------------------------------


def history_lanes(
    folder: Path, lanes: int, kills: int, rng: random.Random
) -> list[Iterator[dict[str, Any]]]:
    def lane(number: int) -> Iterator[dict[str, Any]]:
        for run in range(number, kills, lanes):
            yield {
                "task": "history",
                "run": run,
                "db": str(folder / f"lane{number}-{run // (lanes * 6)}.sqlite3"),
                "kill_after_s": rng.uniform(0, 0.25),
                "progress": str(folder / f"history{run}.progress"),
            }

    return [lane(n) for n in range(lanes)]


def check_history(kill: Kill) -> dict[str, Any]:
    """The database opens, passes its integrity check, and holds every session whose `record`
    returned, each with all its rows."""
    db = Path(kill.command["db"])
    returned = dict(line.split() for line in kill.progress if line[0].isdigit())
    History(db).close()  # opens (and finishes a migration a kill interrupted)
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        stored = conn.execute(
            "SELECT s.id, s.input_digest, count(e.position) FROM sessions AS s "
            "LEFT JOIN exercise_results AS e ON e.session_id = s.id GROUP BY s.id"
        ).fetchall()
    digests = {str(session_id): digest for session_id, digest, _ in stored}
    assert {i: digests.get(i) for i in returned} == returned
    per_session = len(sample_summary().exercises)
    assert {rows for _, _, rows in stored} <= {per_session}  # each session whole
    return {"returned": len(returned), "stored": len(stored), "opened": "opened" in kill.progress}


def test_history_killed_at_random_moments(tmp_path: Path) -> None:
    """SIGKILLed 104 times while opening (creating, migrating) or storing sessions: the
    database always opens, passes `PRAGMA integrity_check`, and keeps every session whose
    `record` had returned."""
    rng = random.Random(11)
    with fork_server() as server:
        results = [
            check_history(kill) for kill in campaign(server, history_lanes(tmp_path, 8, 104, rng))
        ]
    assert len(results) == 104
    assert sum(r["returned"] for r in results) >= 100  # sessions were being stored when killed


if __name__ == "__main__":
    serve()
