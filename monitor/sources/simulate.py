"""Virtual sensor: a motion script -> the byte-exact notification stream a bundled profile sends.

The motion model (`monitor.sources.motion`) gives the measured samples; the profile's own
encoder (`ProfileDecoder.encode`, the inverse of decoding, axis mapping included) turns them into
the firmware's notifications, batched as the firmware batches them; a link model then loses
packets (bursty), drops the connection for scripted spans (the sensor restarts its stream and
repeats its start response), and delivers what is left late and in bunches on BLE connection
events. The result records and replays through the very same decode path as a live sensor.

Clocks: session time 0 is the start of the motion script. Sensor-clocked streams (Polar PMD,
Movesense) stamp samples at `sensor_t0_ns + t`; host-clocked ones at `host_t0_ns + t` (their
decoded times then follow host arrivals, a few tens of ms later). Truth times are seconds of
session time on the sensor's clock.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from monitor import __version__
from monitor.core import Event, EventKind, Notification, SampleBlock
from monitor.errors import MonitorError
from monitor.profiles.decoder import ProfileDecoder
from monitor.profiles.loader import get_profile, load_profile, profile_files
from monitor.profiles.model import Profile
from monitor.session.recording import RecordingHeader, RecordingWriter, StreamInfo
from monitor.sources.motion import Link, MotionPlan, MotionScript, MotionTruth, Phase, plan_motion
from monitor.sources.stream import stream_channels

DEFAULT_START_UTC = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)
SIMULATED_ADDRESS = "00:00:5E:00:53:00"  # documentation range (RFC 7042)

# Where a sensor's own clock stands at session time 0, per codec with a sensor clock.
# Polar: device time in ns since 2000-01-01; an H10 resets to 2019-01-01 (PROTOCOLS.md §1).
# Movesense: ms since boot; the sensor booted a couple of minutes earlier.
_SENSOR_CLOCK_AT_START_NS = {
    "pmd": int(
        (datetime(2019, 1, 1, tzinfo=UTC) - datetime(2000, 1, 1, tzinfo=UTC)).total_seconds()
    )
    * 1_000_000_000
    + 3_600_000_000_000,
    "movesense": 123_456_000_000,
}


@dataclass(frozen=True, slots=True)
class SimulatedSession:
    """Everything a simulated session produced.

    `notifications` are in arrival order with host times (Unix ns), the start responses
    (session preamble) included, one per connection; `events` are the link events the app
    records (connect, disconnect, reconnect); `lost` are GAP events saying which data
    notifications the link lost (the decoder should report gaps there). `clean` and
    `measured` hold the samples before the encoder quantised them, one block per channel
    rate, on the stream's sample clock; `truth` is on the grid of the first of them.
    """

    profile: Profile
    stream: str
    settings: dict[str, Any]
    script: MotionScript
    seed: int
    start_utc: datetime
    host_t0_ns: int
    sensor_t0_ns: int
    notifications: list[Notification]
    events: list[Event]
    lost: list[Event]
    clean: list[SampleBlock]
    measured: list[SampleBlock]
    truth: MotionTruth
    plan: MotionPlan

    def decoder(self) -> ProfileDecoder:
        """A fresh decoder with the settings the simulated sensor used."""
        return ProfileDecoder(self.profile, self.settings, self.stream)

    def entries(self) -> list[Notification | Event]:
        """Notifications and link events in host-time order, as a recording holds them."""
        keyed = [(n.host_t_ns, 1, i, n) for i, n in enumerate(self.notifications)]
        keyed += [(e.t_ns, 0, i, e) for i, e in enumerate(self.events)]
        return [entry for *_, entry in sorted(keyed, key=lambda k: k[:3])]


def _nearest(value: float, choices: Iterable[Any]) -> Any:
    options = [c for c in choices if isinstance(c, int | float)]
    return min(options, key=lambda c: (abs(float(c) - value), c)) if options else None


def _settings_for(profile: Profile, stream_name: str | None, rate_hz: float) -> dict[str, Any]:
    """Codec settings with every rate setting at the supported value nearest `rate_hz`."""
    stream = profile.stream(stream_name)
    chosen: dict[str, Any] = {}
    for setting in {stream.rate_setting, *stream.channel_rate_settings.values()}:
        nearest = _nearest(rate_hz, stream.choices.get(setting, []))
        if nearest is not None:
            chosen[setting] = nearest
    return chosen


def _channel_groups(decoder: ProfileDecoder) -> list[tuple[float, list[str]]]:
    """Channels the stream carries, grouped by rate (first group holds acc where present)."""
    channels = stream_channels(decoder.profile, decoder.settings, decoder.stream.name)
    groups: dict[float, list[str]] = {}
    for channel in channels:
        groups.setdefault(decoder.rate_hz(channel), []).append(channel)
    return list(groups.items())


def _connected_spans(link: Link, duration_s: float) -> list[tuple[float, float]]:
    spans, start = [], 0.0
    for cut in sorted(link.disconnects, key=lambda d: d.at_s):
        if cut.at_s >= duration_s:
            break
        if cut.at_s > start:
            spans.append((start, cut.at_s))
        start = max(start, cut.at_s + cut.duration_s)
    if start < duration_s:
        spans.append((start, duration_s))
    return spans


def lost_packets(count: int, link: Link, rng: np.random.Generator) -> NDArray[np.bool_]:
    """Which of `count` packets the link loses: alternating good and bad runs (Gilbert model).

    Bad runs last `drop_burst` packets on average and good runs long enough that the share
    lost is `drop_probability`.
    """
    lost = np.zeros(count, dtype=bool)
    p = link.drop_probability
    if p <= 0 or count == 0:
        return lost
    mean_good = link.drop_burst * (1 - p) / p
    position = 0
    while position < count:
        pairs = max(16, int(2 * (count - position) / (mean_good + link.drop_burst)))
        good = (
            rng.geometric(min(1.0, 1 / mean_good), pairs) if mean_good >= 1 else np.ones(pairs, int)
        )
        bad = rng.geometric(1 / link.drop_burst, pairs)
        runs = np.column_stack([good, bad]).ravel()
        states = np.tile([False, True], pairs)
        pattern = np.repeat(states, runs)
        take = min(count - position, pattern.size)
        lost[position : position + take] = pattern[:take]
        position += take
    return lost


def arrival_s(emit_s: NDArray[np.float64], link: Link, rng: np.random.Generator) -> NDArray:
    """Host arrival times: clock drift, latency, random delay, next connection event, in order."""
    interval = link.connection_interval_ms / 1e3
    delay = link.latency_ms / 1e3 + rng.exponential(link.jitter_ms / 1e3 or 1e-12, emit_s.size)
    host = emit_s / (1 + link.clock_drift_ppm * 1e-6) + delay
    phase = rng.uniform(0, interval)
    on_event = np.ceil((host - phase) / interval) * interval + phase
    return np.maximum.accumulate(on_event) if on_event.size else on_event


def simulate(
    script: MotionScript,
    profile_id: str,
    seed: int = 0,
    *,
    stream: str | None = None,
    start_utc: datetime = DEFAULT_START_UTC,
) -> SimulatedSession:
    """Simulate `script` on the sensor of `profile_id` (an id or a .toml path); deterministic."""
    profile = get_profile(profile_id)
    settings = _settings_for(profile, stream, script.rate_hz)
    decoder = ProfileDecoder(profile, settings, stream)
    settings = decoder.settings
    plan = plan_motion(script, seed)
    groups = _channel_groups(decoder)

    host_t0_ns = int(start_utc.timestamp()) * 1_000_000_000
    sensor_t0_ns = (
        _SENSOR_CLOCK_AT_START_NS.get(decoder.stream.codec, 0)
        if not decoder.host_clock
        else host_t0_ns
    )
    spans = _connected_spans(script.link, plan.duration_s)

    clean_blocks, measured_blocks = [], []
    encoded: list[Notification] = []  # host_t_ns: emission time on the sample clock
    span_ends: list[NDArray[np.float64]] = []
    preambles: list[Notification] = []
    for index, (rate, channels) in enumerate(groups):
        t_s = plan.grid(rate)
        ideal = plan.ideal(t_s)
        clean_blocks.append(_only(ideal, channels, sensor_t0_ns))
        measured = _only(plan.measured(ideal, index), channels, sensor_t0_ns)
        measured_blocks.append(measured)
        for begin, end in spans:
            inside = np.flatnonzero((t_s >= begin) & (t_s < end))
            if inside.size == 0:
                continue
            # A fresh encoder per connection: the firmware restarts its stream on reconnect.
            encoder = ProfileDecoder(profile, settings, stream)
            if index == 0:
                at = _host_ns(host_t0_ns, begin)
                preambles += [
                    Notification(n.characteristic, n.data, at) for n in encoder.session_preamble()
                ]
            sent = encoder.encode(measured.slice(int(inside[0]), int(inside[-1]) + 1))
            encoded += sent
            span_ends.append(np.full(len(sent), end))

    emit_ns = np.fromiter((n.host_t_ns for n in encoded), dtype=np.int64, count=len(encoded))
    order = np.argsort(emit_ns, kind="stable")
    emit_s = (emit_ns[order] - sensor_t0_ns) / 1e9
    span_end = np.concatenate(span_ends)[order] if span_ends else np.empty(0)
    link_rng = np.random.default_rng([seed, 2])
    lost = lost_packets(len(encoded), script.link, link_rng)
    arrive = arrival_s(emit_s, script.link, link_rng)
    # Whatever was still in flight when the link dropped never arrives.
    cut_off = (arrive > span_end) & (span_end < plan.duration_s)
    arrive_ns = host_t0_ns + np.round(arrive * 1e9).astype(np.int64)
    received = preambles + [
        Notification(encoded[i].characteristic, encoded[i].data, int(arrive_ns[k]))
        for k, i in enumerate(order.tolist())
        if not (lost[k] or cut_off[k])
    ]
    received.sort(key=lambda n: n.host_t_ns)  # stable: a start response precedes its data

    name = decoder.stream.name
    truth_t = plan.grid(groups[0][0])
    return SimulatedSession(
        profile=profile,
        stream=name,
        settings=settings,
        script=script,
        seed=seed,
        start_utc=start_utc,
        host_t0_ns=host_t0_ns,
        sensor_t0_ns=sensor_t0_ns,
        notifications=received,
        events=_link_events(spans, plan.duration_s, host_t0_ns, name),
        lost=_lost_events(emit_s, lost, host_t0_ns, name),
        clean=clean_blocks,
        measured=measured_blocks,
        truth=plan.truth(truth_t),
        plan=plan,
    )


def _host_ns(host_t0_ns: int, seconds: float) -> int:
    return host_t0_ns + round(float(seconds) * 1e9)


def _only(block: SampleBlock, channels: list[str], t0_ns: int) -> SampleBlock:
    kept = {c: getattr(block, c) for c in channels}
    return SampleBlock(t_ns=block.t_ns + t0_ns, **kept)


def _link_events(
    spans: list[tuple[float, float]], duration_s: float, host_t0_ns: int, stream: str
) -> list[Event]:
    def at(seconds: float) -> int:
        return _host_ns(host_t0_ns, seconds)

    events = []
    for index, (begin, end) in enumerate(spans):
        kind = EventKind.CONNECT if index == 0 else EventKind.RECONNECT
        events.append(Event(at(begin), kind, f"{kind} (simulated)", stream))
        if end < duration_s:
            events.append(Event(at(end), EventKind.DISCONNECT, "link lost (simulated)", stream))
    return events


def _lost_events(
    emit_s: NDArray[np.float64], lost: NDArray[np.bool_], host_t0_ns: int, stream: str
) -> list[Event]:
    """One GAP per run of lost notifications: from the last one received to the last one lost."""
    events = []
    edges = np.diff(np.concatenate([[0], lost.astype(np.int8), [0]]))
    for first, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        since = float(emit_s[first - 1]) if first else 0.0
        until = float(emit_s[stop - 1])
        events.append(
            Event(
                _host_ns(host_t0_ns, since),
                EventKind.GAP,
                f"{stop - first} notification(s) lost by the simulated link",
                stream,
                {"from_s": since, "to_s": until, "notifications": int(stop - first)},
            )
        )
    return events


# --------------------------------------------------------------------------- output files


def profile_text(profile: Profile) -> str:
    """The profile file's text (the recording carries a copy)."""
    for path in reversed(profile_files()):
        if load_profile(path).id == profile.id:
            return path.read_text(encoding="utf-8")
    raise MonitorError(f"profile {profile.id!r}: cannot find its file to copy into the recording")


def write_recording(session: SimulatedSession, path: Path, *, overwrite: bool = False) -> None:
    """The session as a .mrec recording, exactly what the live app would have logged."""
    note = (
        f"simulated by monitor {__version__}: seed {session.seed}, "
        f"script {session.script.model_dump_json(exclude_defaults=True)}"
    )
    header = RecordingHeader(
        start_utc=session.start_utc,
        exercise=session.script.exercise,
        note=note,
        streams=[
            StreamInfo.for_profile(
                session.stream,
                session.profile.id,
                profile_text(session.profile),
                settings=session.settings,
                profile_stream=session.stream,
                device_name=f"Simulated {session.profile.name}",
                device_address=SIMULATED_ADDRESS,
            )
        ],
    )
    with RecordingWriter(path, header, flush_interval_s=None, exclusive=not overwrite) as writer:
        for entry in session.entries():
            if isinstance(entry, Event):
                writer.write_event(entry, entry.t_ns)
            else:
                writer.write_notification(
                    session.stream, entry.characteristic, entry.data, entry.host_t_ns
                )


def truth_path(output: Path) -> Path:
    return output.with_name(output.name + ".truth.csv")


def write_truth_csv(session: SimulatedSession, path: Path) -> None:
    """Ground truth per sample: session time, segment angle, phase, set and rep number."""
    truth = session.truth
    reps = [
        {
            "set": r.set,
            "rep": r.rep,
            "side": r.side,
            "start_s": round(r.start_s, 4),
            "end_s": round(r.end_s, 4),
            "hold_s": round(r.hold_s, 4),
            "peak_angle_deg": round(r.peak_angle_deg, 3),
            "peak_speed_dps": round(r.peak_speed_dps, 3),
            "label": r.label,
        }
        for r in truth.reps
    ]
    names = [p.name.lower() for p in Phase]
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.write(
            f"# ground truth of a simulated session: profile {session.profile.id}, exercise "
            f"{session.script.exercise}, seed {session.seed}\n"
            f"# t_s is session time on the sensor clock; sample clock t0: sensor "
            f"{session.sensor_t0_ns} ns, host {session.host_t0_ns} ns\n"
            f"# reps: {json.dumps(reps, separators=(',', ':'))}\n"
        )
        if session.script.slips:  # only then, so the usual files keep three comment lines
            slips = [slip.model_dump() for slip in session.script.slips]
            handle.write(f"# slips: {json.dumps(slips, separators=(',', ':'))}\n")
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["t_s", "angle_deg", "phase", "set", "rep"])
        writer.writerows(
            zip(
                (f"{t:.4f}" for t in truth.t_s),
                (f"{a:.3f}" for a in truth.angle_deg),
                (names[p] for p in truth.phase),
                truth.set.tolist(),
                truth.rep.tolist(),
                strict=True,
            )
        )


def write_samples_csv(session: SimulatedSession, path: Path) -> None:
    """The measured samples (first rate group) in the generic CSV layout of other tools."""
    block = session.measured[0]
    columns = [np.round((block.t_ns - session.sensor_t0_ns) / 1e9, 6)[:, None]]
    header = ["time_s"]
    for channel, unit in (("acc", "mps2"), ("gyro", "rads"), ("mag", "ut")):
        values = getattr(block, channel)
        if values is not None:
            columns.append(values)
            header += [f"{channel}_{axis}_{unit}" for axis in "xyz"]
    with path.open("w", encoding="utf-8") as handle:
        handle.write(
            f"# simulated by monitor {__version__}: profile {session.profile.id}, exercise "
            f"{session.script.exercise}, seed {session.seed}\n"
        )
        np.savetxt(
            handle,
            np.hstack(columns),
            fmt="%.6f",
            delimiter=",",
            header=",".join(header),
            comments="",
        )
