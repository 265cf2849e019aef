"""Malformed-notification fuzzing of every bundled profile stream (tests and benchmark share it).

A case takes a clean stream (the notifications the firmware would send for random motion, from
the profile's own encoder), spoils a run of it in one way, feeds everything through a fresh
`ProfileDecoder` the way live BLE (one at a time) or replay (batches) does, and checks:

- no exception leaves `ProfileDecoder.feed`;
- every result has exactly one BAD_PACKET event per bad packet it counts, and a case never
  counts more bad packets than notifications it spoiled (reassembling codecs: plus one per
  spoiled notification for the message it broke; WitMotion counts skipped byte runs: plus the
  sync pairs random bytes happen to hold);
- every sample is finite and has shape (n, 3);
- sample times never go backwards unless the same result reports a CLOCK_RESET (host clocks:
  never); sensor-clock times stay within the encoded timeline widened by `MAX_CLOCK_JUMP_NS`;
- resynchronisation: the clean notifications after the spoiled run decode to exactly the
  samples they decode to in the clean stream, except the first `resync` of them (the rest of a
  message or packet the garbage ran into: Movesense, WitMotion). Sensor clocks: times too,
  from the second frame of each channel after the garbage on (the first is timed from the
  sample rate, or from a spoiled frame's time). Host clocks: times match within 1 ns once
  the clock's window of notifications has passed (see `monitor.profiles.timing`).

A sensor clock's first frame has nothing to be checked against and is taken on trust, so cases
spoil from the second frame of each channel on.

`Case` fixes every random choice by a seed, so a failure found by the benchmark replays exactly.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from monitor.core import GRAVITY, EventKind, Notification, NotificationBatch, SampleBlock
from monitor.profiles.codecs.base import DecodeResult
from monitor.profiles.codecs.device_clock import MAX_CLOCK_JUMP_NS
from monitor.profiles.decoder import ProfileDecoder
from monitor.profiles.loader import load_profiles

KINDS = ("truncated", "oversized", "random", "bitflip", "wrong_characteristic")
CHANNELS = ("acc", "gyro", "mag")
SECONDS = 3.0
MIN_NOTIFICATIONS = 60
PREFIX_MAX = 120  # clean notifications before the garbage: enough to fill a host clock window
UNRELATED_UUID = "0000feed-0000-1000-8000-00805f9b34fb"
# Settings (choices of the profiles, or negotiated) that change the framing, fuzzed as well.
VARIANTS = [
    "movesense/imu+measurement=IMU9",  # three blocks: longer messages
    "movesense/imu+att_mtu=23",  # the minimum ATT MTU: one message in 11 notifications
    "metamotion_r/imu+packed=false",  # one sample per notification
    "polar_h10/acc+acc_sample_rate_hz=25",
]


@cache
def streams() -> list[str]:
    """`profile/stream` of every bundled stream, then `profile/stream+setting=value` variants."""
    bundled = [
        f"{profile.id}/{stream.name}"
        for profile in load_profiles(include_user=False).values()
        for stream in profile.streams
    ]
    return [*bundled, *VARIANTS]


@dataclass(frozen=True, slots=True)
class Case:
    """One spoiled run: `count` notifications from index `start` of the clean stream."""

    kind: str
    start: int
    count: int
    seed: int
    batched: bool  # replay-style batches before the resync point, else one at a time


@dataclass(slots=True)
class Outcome:
    bad_packets: int = 0
    silent: int = 0  # spoiled notifications that gave no samples, no count and no event
    violations: list[str] = field(default_factory=list)
    exception: str | None = None


@dataclass(frozen=True, slots=True)
class Output:
    """What one notification decoded to: per channel (times, values)."""

    channels: dict[str, tuple[np.ndarray, np.ndarray]]

    @staticmethod
    def of(result: DecodeResult) -> Output:
        channels = {}
        for channel in CHANNELS:
            blocks = [b for b in result.blocks if getattr(b, channel) is not None]
            if blocks:
                channels[channel] = (
                    np.concatenate([b.t_ns for b in blocks]),
                    np.concatenate([getattr(b, channel) for b in blocks]),
                )
        return Output(channels)


class StreamFixture:
    """A bundled stream's clean notifications and what each decodes to."""

    def __init__(self, name: str) -> None:
        path, _, variant = name.partition("+")
        profile_id, self.stream = path.split("/")
        self.profile = load_profiles(include_user=False)[profile_id]
        self.settings = dict(item.split("=") for item in variant.split(",") if item)
        decoder = self.decoder()
        self.codec = decoder.stream.codec
        self.host_clock = decoder.host_clock
        self.window = decoder.stream.clock.window
        self.own = list(decoder.stream.characteristics)
        gatt = self.profile.gatt
        others = {*gatt.data, *gatt.control, gatt.battery or "", UNRELATED_UUID} - {*self.own, ""}
        self.foreign = sorted(others)
        self.preamble = decoder.session_preamble()
        block = motion(SECONDS, decoder.rate_hz())
        self.notifications = decoder.encode(block)
        if len(self.notifications) < MIN_NOTIFICATIONS:  # long frames: a longer stream
            block = motion(SECONDS * MIN_NOTIFICATIONS / len(self.notifications), decoder.rate_hz())
            self.notifications = decoder.encode(block)
        self.t_range = (int(block.t_ns[0]), int(block.t_ns[-1]))
        for note in self.preamble:
            decoder.feed_notification(note)
        self.reference = [Output.of(decoder.feed_notification(n)) for n in self.notifications]
        # Reassembly: a spoiled notification can take down the message it is part of, and
        # what follows the garbage decodes again from the next whole message on.
        silent_run = longest = 0  # notifications in a row that complete nothing
        for output in self.reference:
            silent_run = 0 if output.channels else silent_run + 1
            longest = max(longest, silent_run)
        self.parts = longest + 1 if self.codec == "movesense" else 1
        self.resync = {"movesense": self.parts, "witmotion": 1}.get(self.codec, 0)
        # Frames of a channel after the resync point before its times must match again.
        self.settle = self.window if self.host_clock else 1
        # A sensor clock's first frame has nothing to be checked against: it is taken on trust.
        first_output = [
            min(i for i, r in enumerate(self.reference) if c in r.channels)
            for c in CHANNELS
            if any(c in r.channels for r in self.reference)
        ]
        self.first_spoiled = 0 if self.host_clock else max(first_output) + 1

    def suffix_end(self, first: int) -> int:
        """Where the clean stream may stop: every channel settled and checked twice more."""
        seen = dict.fromkeys(CHANNELS, 0)
        needed = {
            c: self.settle + 2 for c in CHANNELS if any(c in r.channels for r in self.reference)
        }
        for index in range(first, len(self.reference)):
            for channel in self.reference[index].channels:
                seen[channel] += 1
            if all(seen[c] >= n for c, n in needed.items()):
                return index + 1
        return len(self.reference)

    def decoder(self) -> ProfileDecoder:
        return ProfileDecoder(self.profile, self.settings, stream=self.stream)

    def case(self, kind: str, draw: int, count: int, seed: int, batched: bool) -> Case:
        """A case spoiling `count` notifications from a start chosen by `draw` (any int)."""
        last_start = min(len(self.notifications) // 3, PREFIX_MAX)
        start = self.first_spoiled + draw % (last_start - self.first_spoiled)
        return Case(kind, start, count, seed, batched)

    def random_case(self, rng: np.random.Generator, kind: str) -> Case:
        draw, count, seed, batched = rng.integers([0, 1, 0, 0], [PREFIX_MAX, 6, 2**32, 2])
        return self.case(kind, int(draw), int(count), int(seed), bool(batched))


@cache
def fixture(name: str) -> StreamFixture:
    return StreamFixture(name)


def motion(seconds: float, rate_hz: float) -> SampleBlock:
    n = int(seconds * rate_hz)
    rng = np.random.default_rng(11)
    return SampleBlock(
        t_ns=1_000_000_000_000 + np.rint(np.arange(n) * 1e9 / rate_hz).astype(np.int64),
        acc=rng.uniform(-3, 3, (n, 3)) * GRAVITY,
        gyro=np.deg2rad(rng.uniform(-500, 500, (n, 3))),
        mag=rng.uniform(-60, 60, (n, 3)),
    )


# --------------------------------------------------------------------------- mutations


def spoil(fix: StreamFixture, case: Case, rng: np.random.Generator) -> list[Notification]:
    """The spoiled notifications standing in for `notifications[start:start+count]`."""
    originals = fix.notifications[case.start : case.start + case.count]
    out = []
    for note in originals:
        data = note.data
        if case.kind == "truncated":
            data = data[: int(rng.integers(0, len(data)))] if data else data
        elif case.kind == "oversized":
            extra = int(rng.choice([1, 2, 7, 20, 300]))
            data = data + rng.integers(0, 256, extra, dtype=np.uint8).tobytes()
        elif case.kind == "random":
            size = int(rng.choice([0, 1, 2, 3, int(rng.integers(0, 64)), len(data), 600]))
            data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        elif case.kind == "bitflip":
            flipped = bytearray(data)
            for bit in rng.integers(0, 8 * len(data), int(rng.integers(1, 4))):
                flipped[bit // 8] ^= 1 << (bit % 8)
            data = bytes(flipped)
        characteristic = note.characteristic
        if case.kind == "wrong_characteristic":
            choices = [*fix.foreign, *(c for c in fix.own if c != characteristic)]
            characteristic = str(rng.choice(choices))
        out.append(Notification(characteristic, data, note.host_t_ns))
    return out


def runs(
    notifications: list[Notification], rng: np.random.Generator
) -> Iterator[NotificationBatch]:
    """Batches of one characteristic, cut at random places (replay reads chunks)."""
    index = 0
    while index < len(notifications):
        first = notifications[index]
        stop = index + 1
        limit = index + int(rng.integers(1, 40))
        while (
            stop < min(limit, len(notifications))
            and notifications[stop].characteristic == first.characteristic
        ):
            stop += 1
        chunk = notifications[index:stop]
        yield NotificationBatch.from_payloads(
            first.characteristic, [n.data for n in chunk], [n.host_t_ns for n in chunk]
        )
        index = stop


# --------------------------------------------------------------------------- checks


class Checker:
    """Per-result invariants, and the running state they need across results."""

    def __init__(self, fix: StreamFixture, outcome: Outcome) -> None:
        self.fix = fix
        self.outcome = outcome
        self.last_t: dict[str, int] = {}

    def result(self, result: DecodeResult, where: str) -> None:
        violations = self.outcome.violations
        events = sum(e.kind == EventKind.BAD_PACKET for e in result.events)
        if events != result.bad_packets:
            violations.append(f"{where}: {result.bad_packets} bad packets, {events} events")
        self.outcome.bad_packets += result.bad_packets
        reset = any(e.kind == EventKind.CLOCK_RESET for e in result.events)
        low, high = self.fix.t_range
        for block in result.blocks:
            n = len(block)
            for channel in block.channels:
                values = getattr(block, channel)
                if values.shape != (n, 3):
                    violations.append(f"{where}: {channel} shape {values.shape}, {n} samples")
                elif not np.isfinite(values).all():
                    violations.append(f"{where}: {channel} not finite")
                for name, extra in block.extra.items():
                    if extra.shape[:1] != (n,) or not np.all(np.isfinite(extra)):
                        violations.append(f"{where}: extra {name} bad shape or not finite")
                if n == 0:
                    continue
                t = block.t_ns
                backwards = np.any(np.diff(t) < 0) or t[0] < self.last_t.get(channel, t[0])
                if backwards and (self.fix.host_clock or not reset):
                    violations.append(f"{where}: {channel} times go backwards unreported")
                self.last_t[channel] = int(t[-1])
                if not self.fix.host_clock and (
                    t.min() < low - MAX_CLOCK_JUMP_NS or t.max() > high + MAX_CLOCK_JUMP_NS
                ):
                    violations.append(f"{where}: {channel} times off the sensor timeline")


def concatenated(results: list[DecodeResult]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per channel: (times, values) of every sample, in order."""
    outputs = [Output.of(result) for result in results]
    return {
        channel: (
            np.concatenate([o.channels[channel][0] for o in outputs if channel in o.channels]),
            np.concatenate([o.channels[channel][1] for o in outputs if channel in o.channels]),
        )
        for channel in CHANNELS
        if any(channel in o.channels for o in outputs)
    }


def check_resync(fix: StreamFixture, case: Case, got: dict, violations: list[str]) -> None:
    """The samples of the clean notifications after the garbage, as in the clean stream.

    Values from `resync` notifications after the garbage on. Sensor clocks: times from the
    second frame of each channel on; host clocks: once `window` notifications of the channel
    have passed.
    """
    first = case.start + case.count + fix.resync
    stop = fix.suffix_end(first)
    for channel in CHANNELS:
        holding = [i for i in range(first, stop) if channel in fix.reference[i].channels]
        if not holding:
            continue
        expected_t = np.concatenate([fix.reference[i].channels[channel][0] for i in holding])
        expected = np.concatenate([fix.reference[i].channels[channel][1] for i in holding])
        where = f"{channel} after {case.count} {case.kind} at {case.start}"
        if channel not in got or got[channel][1].shape[0] < expected.shape[0]:
            violations.append(f"{where}: samples missing after the resync point")
            continue
        t, values = (a[-expected.shape[0] :] for a in got[channel])
        if not np.array_equal(values, expected):
            violations.append(f"{where}: values differ from the clean stream")
            continue
        if len(holding) <= fix.settle:
            continue
        timed = sum(fix.reference[i].channels[channel][0].shape[0] for i in holding[fix.settle :])
        error = np.abs(t[-timed:] - expected_t[-timed:])
        if error.max() > (1 if fix.host_clock else 0):
            violations.append(f"{where}: times differ by up to {error.max()} ns")


def allowed_bad_packets(fix: StreamFixture, spoiled: list[Notification]) -> int:
    """Bad packets a spoiled run may count: one per notification, and one for its message.

    WitMotion counts skipped byte runs: random bytes that happen to hold a sync pair decode as
    a packet and split the garbage around them into two runs.
    """
    allowed = len(spoiled) * (2 if fix.parts > 1 else 1)
    if fix.codec == "witmotion":  # and a tail kept for the next notification, skipped then
        allowed += 1 + sum(n.data.count(b"\x55\x61") + n.data.count(b"\x55\x71") for n in spoiled)
    return allowed


def run_case(fix: StreamFixture, case: Case) -> Outcome:
    """Spoil, feed, check. Never raises: an exception is recorded in the outcome."""
    rng = np.random.default_rng(case.seed)
    outcome = Outcome()
    decoder = fix.decoder()
    checker = Checker(fix, outcome)
    end = case.start + case.count
    clean = fix.notifications[: fix.suffix_end(end + fix.resync)]
    spoiled = spoil(fix, case, rng)
    try:
        for note in fix.preamble:
            checker.result(decoder.feed_notification(note), "preamble")
        # The prefix is clean; it builds the state (clocks, previous frame times) garbage meets.
        for batch in runs(clean[: case.start], rng):
            checker.result(decoder.feed(batch), "clean prefix")
        before = outcome.bad_packets
        after: list[DecodeResult] = []
        if case.batched:  # replay: garbage and what follows in the same batches
            for batch in runs([*spoiled, *clean[end:]], rng):
                after.append(decoder.feed(batch))
                checker.result(after[-1], f"{case.kind} and clean batch")
        else:  # live: one notification at a time
            for note in spoiled:
                result = decoder.feed_notification(note)
                checker.result(result, f"{case.kind} notification")
                after.append(result)
                outcome.silent += not (result.blocks or result.events)
            for batch in runs(clean[end:], rng):
                after.append(decoder.feed(batch))
                checker.result(after[-1], "clean batch")
        check_resync(fix, case, concatenated(after), outcome.violations)
        if outcome.bad_packets - before > allowed_bad_packets(fix, spoiled):
            outcome.violations.append(
                f"{outcome.bad_packets - before} bad packets for {case.count} spoiled"
            )
    except Exception as error:
        outcome.exception = f"{type(error).__name__}: {error}"
    return outcome


@dataclass(slots=True)
class Tally:
    cases: int = 0
    bad_packets: int = 0
    silent: int = 0
    exceptions: int = 0
    violations: int = 0
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, case: Case, outcome: Outcome) -> None:
        self.cases += 1
        self.by_kind[case.kind] += 1
        self.bad_packets += outcome.bad_packets
        self.silent += outcome.silent
        problems = outcome.violations + ([outcome.exception] if outcome.exception else [])
        self.exceptions += outcome.exception is not None
        self.violations += bool(outcome.violations)
        if problems and len(self.examples) < 5:
            self.examples.append(f"{case}: {problems[0]}")


def fuzz_stream(name: str, cases: int, seed: int) -> Tally:
    fix = fixture(name)
    rng = np.random.default_rng(seed)
    tally = Tally()
    started = time.perf_counter()
    for i in range(cases):
        case = fix.random_case(rng, KINDS[i % len(KINDS)])
        tally.add(case, run_case(fix, case))
    tally.seconds = time.perf_counter() - started
    return tally
