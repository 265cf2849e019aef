"""Time to load and decode a 1-hour 100 Hz recording, per bundled profile (goal: < 0.3 s).

Each recording is simulated (the profile's own encoder, link jitter, no losses) at the rate
nearest 100 Hz the profile supports, and written as the live app writes it: one chunk per
second of host time. Then: `read_recording` (load), `replay_all` (decode + align, bulk
pieces), best of `--runs`, wall and CPU time (the CPU figure is the one to trust on a shared
machine); `--paced` also times the replay path at full speed in 0.1 s pieces (the screen's).

    python benchmarks/bench_recording.py [--minutes 60] [--profile ID ...] [--paced]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from monitor.core import Event
from monitor.profiles.loader import load_profiles
from monitor.session.recording import RecordingWriter, read_recording
from monitor.sources.motion import MotionScript, RepsSegment
from monitor.sources.replay import Replayer, replay_all
from monitor.sources.simulate import recording_header, simulate


def write_like_live(session, path: Path) -> None:
    header = recording_header(session)
    with RecordingWriter(path, header, flush_interval_s=None, max_chunk_entries=1 << 20) as w:
        second = None
        for entry in session.entries():
            t_ns = entry.t_ns if isinstance(entry, Event) else entry.host_t_ns
            if second is not None and t_ns // 1_000_000_000 != second:
                w.flush()
            second = t_ns // 1_000_000_000
            if isinstance(entry, Event):
                w.write_event(entry, t_ns)
            else:
                w.write_notification(session.stream, entry.characteristic, entry.data, t_ns)


def best_of(runs: int, action) -> tuple[float, float, object]:
    """Best wall and best CPU time of `runs` calls (CPU time: the machine may be shared)."""
    wall, cpu, result = float("inf"), float("inf"), None
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = action()
        wall = min(wall, time.perf_counter() - started)
        cpu = min(cpu, time.process_time() - started_cpu)
    return wall, cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--profile", action="append", help="profile id (default: all bundled)")
    parser.add_argument("--runs", type=int, default=3, help="best of N timings")
    parser.add_argument(
        "--paced", action="store_true", help="also time the 0.1 s-piece replay path"
    )
    args = parser.parse_args()
    profiles = args.profile or sorted(load_profiles(include_user=False))
    script = MotionScript(rate_hz=100, lead_in_s=args.minutes * 60, segments=[RepsSegment(reps=2)])
    print(
        f"{'profile':26} {'notif.':>8} {'MB':>5} {'chunks':>6} {'samples':>8} "
        f"{'load s':>6} {'decode s':>8} {'total s':>7} {'cpu s':>6} {'Msamples/s':>10}"
        + (f" {'paced s':>7}" if args.paced else "")
    )
    with tempfile.TemporaryDirectory() as folder:
        for profile_id in profiles:
            session = simulate(script, profile_id, seed=1)
            path = Path(folder) / f"{profile_id}.mrec"
            write_like_live(session, path)
            load_s, load_cpu, recording = best_of(args.runs, lambda p=path: read_recording(p))
            decode_s, decode_cpu, result = best_of(args.runs, lambda r=recording: replay_all(r))
            samples = sum(len(b) for b in result.samples.values())
            chunks = int(recording.host_t_ns[-1] - recording.host_t_ns[0]) // 10**9 + 1
            line = (
                f"{profile_id:26} {len(recording):8d} {path.stat().st_size / 1e6:5.1f} "
                f"{chunks:6d} {samples:8d} {load_s:6.3f} {decode_s:8.3f} "
                f"{load_s + decode_s:7.3f} {load_cpu + decode_cpu:6.3f} "
                f"{samples / decode_cpu / 1e6:10.1f}"
            )
            if args.paced:
                started = time.perf_counter()
                for _ in Replayer(recording).steps():
                    pass
                line += f" {time.perf_counter() - started:7.2f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
