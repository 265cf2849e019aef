"""Virtual sensor: a motion script -> the byte-exact notification stream a bundled profile sends.

The motion model (`monitor.sources.motion`) gives the measured samples; the profile's own
encoder (`ProfileDecoder.encode`, the inverse of decoding, axis mapping included) turns them into
the firmware's notifications, batched as the firmware batches them; a link model then loses
packets (bursty), drops the connection for scripted spans (the sensor restarts its stream and
repeats its start response), and delivers what is left late and in bunches on BLE connection
events. Faults beyond a normal link can be scripted too: notifications delivered twice or after
their successor, and the clock stepping or resetting. The result records and replays through
the very same decode path as a live sensor.

Given a program, each reps segment of the script is one item of it, in order, and the session
records a step to the next item half way between the segments' reps, as the live screen records
the user's `n` (monitor.session.program_steps): so program sessions can be analysed per item.

Clocks: session time 0 is the start of the motion script. Sensor-clocked streams (Polar PMD,
Movesense) stamp samples at `sensor_t0_ns + t`; host-clocked ones at `host_t0_ns + t` (their
decoded times then follow host arrivals, a few tens of ms later). Truth times are seconds of
session time on the sensor's clock. A scripted clock jump steps the sensor's clock (sensor-clocked
streams) or the host's wall clock that stamps arrivals (host-clocked ones) from then on.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from monitor import __version__
from monitor.analysis.programs import Program
from monitor.core import Event, EventKind, Notification, SampleBlock
from monitor.errors import MonitorError
from monitor.paths import open_private
from monitor.profiles.decoder import ProfileDecoder
from monitor.profiles.loader import get_profile, profile_entries
from monitor.profiles.model import Profile
from monitor.session.program_steps import Step, step_event
from monitor.session.recording import RecordingHeader, RecordingWriter, StreamInfo
from monitor.sources.motion import (
    ClockJump,
    Link,
    MotionPlan,
    MotionScript,
    MotionTruth,
    Phase,
    RepsSegment,
    plan_motion,
)
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
class SimulatedStep:
    """A program step the session records: at session time `at_s`, arriving at `host_t_ns`."""

    at_s: float
    host_t_ns: int
    event: Event


@dataclass(frozen=True, slots=True)
class SimulatedSession:
    """Everything a simulated session produced.

    `notifications` are in arrival order with host times (Unix ns), the start responses
    (session preamble) included, one per connection; `events` are the link events the app
    records (connect, disconnect, reconnect); `lost` are GAP events saying which data
    notifications the link lost (the decoder should report gaps there). `clean` and
    `measured` hold the samples before the encoder quantised them, one block per channel
    rate, on the stream's sample clock (before any scripted clock jump); `truth` is on the
    grid of the first of them. `arrival_s` and `event_s` are the session times (s) at which
    each notification arrived and each event happened: the order of the recording even when
    a stepped host clock makes the stamps run backwards. `faults` counts what was injected.
    `program` (its id) and `steps` when simulated with a program.
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
    arrival_s: NDArray[np.float64]
    event_s: NDArray[np.float64]
    faults: dict[str, int]
    program: str = ""
    steps: tuple[SimulatedStep, ...] = ()

    def decoder(self) -> ProfileDecoder:
        """A fresh decoder with the settings the simulated sensor used."""
        return ProfileDecoder(self.profile, self.settings, self.stream)

    def entries(self) -> list[Notification | Event]:
        """Notifications and link events in host-time order, as a recording holds them."""
        return [entry for _, entry in self._ordered(with_steps=False)]

    def recorded(self) -> list[tuple[int, Notification | Event]]:
        """Everything the recording holds (program steps too), in order, with host times."""
        return self._ordered(with_steps=True)

    def _ordered(self, *, with_steps: bool) -> list[tuple[int, Notification | Event]]:
        keyed: list[tuple[float, int, int, int, Notification | Event]] = [
            (float(t), 1, i, n.host_t_ns, n)
            for i, (t, n) in enumerate(zip(self.arrival_s, self.notifications, strict=True))
        ]
        keyed += [
            (float(t), 0, i, e.t_ns, e)
            for i, (t, e) in enumerate(zip(self.event_s, self.events, strict=True))
        ]
        if with_steps:
            first = len(self.events)
            keyed += [
                (s.at_s, 0, first + i, s.host_t_ns, s.event) for i, s in enumerate(self.steps)
            ]
        return [(host, entry) for *_, host, entry in sorted(keyed, key=lambda k: k[:3])]


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


@dataclass(frozen=True, slots=True)
class SteppedClock:
    """A clock reading `bases[k] + t` (ns; t in session seconds) from session time `starts[k]`."""

    starts: NDArray[np.float64]
    bases: NDArray[np.int64]

    @classmethod
    def stepping(cls, origin_ns: int, jumps: Sequence[ClockJump]) -> SteppedClock:
        starts, bases = [0.0], [origin_ns]
        for jump in sorted(jumps, key=lambda j: j.at_s):
            base = -round(jump.at_s * 1e9) if jump.reset else bases[-1]
            starts.append(jump.at_s)
            bases.append(base + round(jump.by_s * 1e9))
        return cls(np.array(starts), np.array(bases, dtype=np.int64))

    def base_at(self, seconds: NDArray[np.float64]) -> NDArray[np.int64]:
        return self.bases[np.searchsorted(self.starts, seconds, side="right") - 1]

    def ns(self, seconds: NDArray[np.float64]) -> NDArray[np.int64]:
        """Clock readings at session times `seconds`."""
        seconds = np.asarray(seconds, dtype=np.float64)
        return self.base_at(seconds) + np.round(seconds * 1e9).astype(np.int64)

    def at(self, seconds: float) -> int:
        return int(self.ns(np.array([seconds]))[0])

    def pieces(self, begin: float, end: float) -> list[tuple[float, float, int]]:
        """`(from_s, to_s, base_ns)` of the steady stretches of [begin, end)."""
        edges = [begin, *(float(s) for s in self.starts if begin < s < end), end]
        return [(a, b, int(self.base_at(np.array([a]))[0])) for a, b in itertools.pairwise(edges)]


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
    program: Program | None = None,
) -> SimulatedSession:
    """Simulate `script` on the sensor of `profile_id` (an id or a .toml path); deterministic.
    With `program`, its items are the script's reps segments in order (module docstring)."""
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
    jumps = script.link.clock_jumps
    sensor_clock = SteppedClock.stepping(sensor_t0_ns, [] if decoder.host_clock else jumps)
    host_clock = SteppedClock.stepping(host_t0_ns, jumps if decoder.host_clock else [])
    spans = _connected_spans(script.link, plan.duration_s)

    clean_blocks, measured_blocks = [], []
    encoded: list[Notification] = []
    emitted: list[NDArray[np.float64]] = []  # session time each notification was sent
    span_ends: list[NDArray[np.float64]] = []
    preambles: list[Notification] = []
    preamble_s: list[float] = []
    for index, (rate, channels) in enumerate(groups):
        t_s = plan.grid(rate)
        ideal = plan.ideal(t_s)
        clean_blocks.append(_only(ideal, channels, sensor_t0_ns))
        measured = _only(plan.measured(ideal, index), channels, sensor_t0_ns)
        measured_blocks.append(measured)
        for begin, end in spans:
            if not ((t_s >= begin) & (t_s < end)).any():
                continue
            # A fresh encoder per connection: the firmware restarts its stream on reconnect.
            encoder = ProfileDecoder(profile, settings, stream)
            if index == 0:
                preambles += encoder.session_preamble()
                preamble_s += [begin] * (len(preambles) - len(preamble_s))
            for lo, hi, base_ns in sensor_clock.pieces(begin, end):
                inside = np.flatnonzero((t_s >= lo) & (t_s < hi))
                if inside.size == 0:
                    continue
                piece = measured.slice(int(inside[0]), int(inside[-1]) + 1)
                sent = _encode(encoder, _shifted(piece, base_ns - sensor_t0_ns))
                encoded += sent
                # the encoder stamps each notification with its last sample's clock reading
                emitted.append(np.array([(n.host_t_ns - base_ns) / 1e9 for n in sent]))
                span_ends.append(np.full(len(sent), end))

    emit_all = np.concatenate(emitted) if emitted else np.empty(0)
    order = np.argsort(emit_all, kind="stable")
    emit_s = emit_all[order]
    span_end = np.concatenate(span_ends)[order] if span_ends else np.empty(0)
    link_rng = np.random.default_rng([seed, 2])
    lost = lost_packets(len(encoded), script.link, link_rng)
    arrive = arrival_s(emit_s, script.link, link_rng)
    # Whatever was still in flight when the link dropped never arrives.
    cut_off = (arrive > span_end) & (span_end < plan.duration_s)
    kept = np.flatnonzero(~(lost | cut_off))
    delivered, faults = _misdeliver(kept, span_end, script.link, np.random.default_rng([seed, 3]))
    faults["clock_jumps"] = len(jumps)
    sent_order = order[kept[delivered]].tolist()
    # Each position keeps its arrival time; a reordered pair swaps contents.
    times_s = np.concatenate([preamble_s, arrive[kept[np.sort(delivered)]]])
    notes = [*preambles, *(encoded[i] for i in sent_order)]
    arrival_order = np.argsort(times_s, kind="stable")  # a start response precedes its data
    times_s = times_s[arrival_order]
    stamps = host_clock.ns(times_s)
    received = [
        Notification(notes[i].characteristic, notes[i].data, int(stamps[k]))
        for k, i in enumerate(arrival_order.tolist())
    ]

    name = decoder.stream.name
    events, event_s = _link_events(spans, plan.duration_s, host_clock, name)
    sample_clock = host_clock if decoder.host_clock else sensor_clock
    steps = (
        _program_steps(plan, program, sample_clock, host_clock, name) if program is not None else ()
    )
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
        events=events,
        lost=_lost_events(emit_s, lost, host_clock, name),
        clean=clean_blocks,
        measured=measured_blocks,
        truth=plan.truth(truth_t),
        plan=plan,
        arrival_s=times_s,
        event_s=event_s,
        faults=faults,
        program=program.id if program is not None else "",
        steps=steps,
    )


def _program_steps(
    plan: MotionPlan,
    program: Program,
    sample_clock: SteppedClock,
    host_clock: SteppedClock,
    stream: str,
) -> tuple[SimulatedStep, ...]:
    """A step to item k+1 half way between the last rep of reps segment k and the first of
    segment k+1, stamped on the clock the samples decode to."""
    segments = [s for s in plan.script.segments if isinstance(s, RepsSegment)]
    if len(segments) > len(program.exercises):
        raise MonitorError(
            f"program {program.id!r} has {len(program.exercises)} item(s), the script "
            f"{len(segments)} reps segments: give one item per reps segment"
        )
    prescriptions = program.prescriptions()
    first_reps = np.cumsum([0, *(s.sets * s.reps for s in segments)])
    steps = []
    for item in range(1, len(segments)):
        first = int(first_reps[item])
        at_s = (plan.reps[first - 1].end_s + plan.reps[first].start_s) / 2
        step = Step(sample_clock.at(at_s), EventKind.PROGRAM_ITEM, item=item)
        event = step_event(step, stream=stream, exercise=prescriptions[item])
        steps.append(SimulatedStep(at_s, host_clock.at(at_s), event))
    return tuple(steps)


def _encode(encoder: ProfileDecoder, block: SampleBlock) -> list[Notification]:
    try:
        return encoder.encode(block)
    except ValueError as error:  # e.g. a clock stepped before the format's epoch
        raise MonitorError(f"the sensor cannot send these samples: {error}") from None


def _shifted(block: SampleBlock, shift_ns: int) -> SampleBlock:
    if shift_ns == 0:
        return block
    channels = {c: getattr(block, c) for c in block.channels}
    return SampleBlock(t_ns=block.t_ns + shift_ns, stream=block.stream, **channels)


def _misdeliver(
    kept: NDArray[np.int64], span_end: NDArray[np.float64], link: Link, rng: np.random.Generator
) -> tuple[NDArray[np.int64], dict[str, int]]:
    """Delivery order of the `kept` notifications (indices into `kept`): some swapped with
    their successor on the same connection, some delivered twice (both with the same
    arrival); and how many of each."""
    n = kept.size
    delivered = np.arange(n)
    swap = rng.random(n) < link.reorder_probability
    swap[-1:] = False
    same_link = np.zeros(n, dtype=bool)
    same_link[:-1] = span_end[kept[:-1]] == span_end[kept[1:]]
    swapped = 0
    for i in np.flatnonzero(swap & same_link).tolist():
        if i > 0 and delivered[i] != i:  # already moved by the swap before it
            continue
        delivered[[i, i + 1]] = delivered[[i + 1, i]]
        swapped += 1
    twice = rng.random(n) < link.duplicate_probability
    delivered = np.repeat(delivered, np.where(twice, 2, 1))
    return delivered, {"reordered": swapped, "duplicated": int(twice.sum())}


def _only(block: SampleBlock, channels: list[str], t0_ns: int) -> SampleBlock:
    kept = {c: getattr(block, c) for c in channels}
    return SampleBlock(t_ns=block.t_ns + t0_ns, **kept)


def _link_events(
    spans: list[tuple[float, float]], duration_s: float, clock: SteppedClock, stream: str
) -> tuple[list[Event], NDArray[np.float64]]:
    """The link events and their session times."""
    events, times = [], []
    for index, (begin, end) in enumerate(spans):
        kind = EventKind.CONNECT if index == 0 else EventKind.RECONNECT
        events.append(Event(clock.at(begin), kind, f"{kind} (simulated)", stream))
        times.append(begin)
        if end < duration_s:
            message = "link lost (simulated)"
            events.append(Event(clock.at(end), EventKind.DISCONNECT, message, stream))
            times.append(end)
    return events, np.array(times)


def _lost_events(
    emit_s: NDArray[np.float64], lost: NDArray[np.bool_], clock: SteppedClock, stream: str
) -> list[Event]:
    """One GAP per run of lost notifications: from the last one received to the last one lost."""
    events = []
    edges = np.diff(np.concatenate([[0], lost.astype(np.int8), [0]]))
    for first, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        since = float(emit_s[first - 1]) if first else 0.0
        until = float(emit_s[stop - 1])
        events.append(
            Event(
                clock.at(since),
                EventKind.GAP,
                f"{stop - first} notification(s) lost by the simulated link",
                stream,
                {"from_s": since, "to_s": until, "notifications": int(stop - first)},
            )
        )
    return events


# --------------------------------------------------------------------------- checking against truth


@dataclass(frozen=True, slots=True)
class RepScore:
    """Counted reps against the truth: which truth reps were found, missed, and what was
    counted with no rep behind it (invented)."""

    truth: int
    matched: int
    missed: list[int]  # truth rep numbers
    invented: list[float]  # session times (s) of counted reps nothing explains
    exposed: list[int]  # truth rep numbers a link or clock fault touched

    @property
    def missed_unexposed(self) -> list[int]:
        """Reps lost although no fault touched them (the analysis's own misses)."""
        return [n for n in self.missed if n not in self.exposed]


def fault_windows(session: SimulatedSession, margin_s: float = 1.0) -> list[tuple[float, float]]:
    """Session-time spans (s) where the link or the clock disturbed the data."""
    link = session.script.link
    spans = [(d.at_s, d.at_s + d.duration_s) for d in link.disconnects]
    spans += [(e.data["from_s"], e.data["to_s"]) for e in session.lost]
    spans += [(j.at_s, j.at_s) for j in link.clock_jumps]
    return [(a - margin_s, b + margin_s) for a, b in spans]


def score_reps(
    session: SimulatedSession,
    counted_s: Sequence[tuple[float, float]],
    margin_s: float = 0.5,
    windows: Sequence[tuple[float, float]] | None = None,
) -> RepScore:
    """Match counted reps `(start, end)` (session seconds) to the truth's, one to one, each to
    the unmatched truth rep it overlaps most (give or take `margin_s`). A counted rep that
    overlaps no rep at all was invented; two reps merged into one count as one missed. Reps
    are exposed where `windows` (default: the script's `fault_windows`) touch them."""
    windows = fault_windows(session) if windows is None else windows
    truth = session.truth.reps
    exposed = [r.number for r in truth if any(a <= r.end_s and r.start_s <= b for a, b in windows)]
    unused = list(truth)
    matched, invented = 0, []
    for start, end in sorted(counted_s):
        overlap = [
            (min(end, r.end_s + margin_s) - max(start, r.start_s - margin_s), -r.number, r)
            for r in unused
        ]
        best = max(overlap, default=None, key=lambda o: o[:2])
        if best is None or best[0] <= 0:
            invented.append(float(start))
        else:
            unused.remove(best[2])
            matched += 1
    return RepScore(len(truth), matched, [r.number for r in unused], invented, exposed)


# --------------------------------------------------------------------------- output files


def profile_text(profile: Profile) -> str:
    """The profile file's text (the recording carries a copy); broken user files are skipped
    with a warning, as everywhere else."""
    for path, loaded in reversed(profile_entries()):
        if loaded.id == profile.id:
            return path.read_text(encoding="utf-8")
    raise MonitorError(f"profile {profile.id!r}: cannot find its file to copy into the recording")


def recording_header(session: SimulatedSession) -> RecordingHeader:
    """The header the live app would write for this session's sensor."""
    note = (
        f"simulated by monitor {__version__}: seed {session.seed}, "
        f"script {session.script.model_dump_json(exclude_defaults=True)}"
    )
    return RecordingHeader(
        start_utc=session.start_utc,
        exercise=session.script.exercise,
        program=session.program,
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


def write_recording(session: SimulatedSession, path: Path, *, overwrite: bool = False) -> None:
    """The session as a .mrec recording, exactly what the live app would have logged."""
    header = recording_header(session)
    with RecordingWriter(path, header, flush_interval_s=None, exclusive=not overwrite) as writer:
        for host_t_ns, entry in session.recorded():
            if isinstance(entry, Event):
                writer.write_event(entry, host_t_ns)
            else:
                channel = entry.characteristic
                writer.write_notification(session.stream, channel, entry.data, host_t_ns)


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
    with io.StringIO() as handle:
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
        _write_private(path, handle.getvalue())


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
    with io.StringIO() as handle:
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
        _write_private(path, handle.getvalue())


def _write_private(path: Path, text: str) -> None:
    """A 0600 file put in place whole; an existing one (the caller checked --force) or a link
    there is replaced, never written through."""
    with open_private(path, exclusive=False) as out:
        out.write(text.encode("utf-8"))
