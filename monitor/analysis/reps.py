"""Causal rep, hold and set detection on the calibrated angle: a state machine with hysteresis.

The machine is event driven: within a block it jumps from one threshold crossing to the next with
vectorised searches, so the Python work is per crossing, not per sample, and the result does not
depend on how the samples were split into blocks.

A rep starts when the angle leaves the rest pose (a baseline that follows the still angle between
reps, so slow posture drift is not counted) by `enter` degrees and ends when it comes back within
`exit`; both thresholds follow the range of recent reps (hysteresis scaled to the person), never
below the exercise's `min_rom_deg`. Staying still away from the rest pose for `rebase_s` is not a
rep: the rest pose moved (posture change or a slipped sensor) and the baseline is re-anchored.
Resting still for `sink_s` on the far side of the rest pose (against the exercise's direction),
or coming back most of the way from a rep and resting or turning there, re-anchors the baseline
at once: reps start and end wherever the person rests or turns.
A hold is time spent slow and within a wobble tolerance of the angle where it began; a set ends
after `set_gap_s` without reps. For a movement the exercise does not describe (`generic`), a rep
counts only once the movement repeats: the first rep of a set unlike the reps before it is held
until the next one is like it, and movements far off the plane are not reps, so one-off shifts
and fidgets between sets are not counted; a rest on the far side of neutral that comes back to
neutral and rests there was a rep to the other side (`_FarSide`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.signal import lfilter

from monitor.analysis.moves import ReturnMove
from monitor.analysis.results import (
    AnalysisEvent,
    AnalysisWarning,
    HoldComplete,
    HoldProgress,
    Rep,
    RepCounted,
    SetComplete,
    SetResult,
    WarningKind,
    WarningRaised,
)


@dataclass(frozen=True)
class DetectorSettings:
    min_rom_deg: float = 8.0
    enter_fraction: float = 0.35  # of the reference range
    exit_fraction: float = 0.5  # of the enter threshold
    exit_peak_fraction: float = 0.35  # or of the rep's peak (incomplete returns), up to 3/4 enter
    pause_return_fraction: float = 0.4  # or still (or turning back) under this fraction of the
    # peak: a new rest pose
    turn_dps: float = 10.0  # speed back towards the end range that shows the next rep has begun
    signal_gap_s: float = 0.5  # samples this far apart: the signal was lost in between
    reference_weight: float = 0.3  # how fast the reference range follows new reps
    set_relax_fraction: float = 0.5  # the reference range kept over a set break
    alternating: bool = False
    any_direction: bool = False  # the direction is learned from the first rep after each rebase
    sides: tuple[str, str] = ("right", "left")
    hold_target_s: float = 0.0
    hold_speed_dps: float = 12.0
    hold_tolerance_deg: float = 4.0
    hold_tolerance_fraction: float = 0.15
    min_rep_s: float = 0.6
    max_rep_s: float = 120.0
    set_gap_s: float = 12.0
    target_reps: int = 5
    target_sets: int = 1
    rom_target_deg: float | None = None
    rom_target_pct: float | None = None  # of `calibration_rom_deg`, when no degrees are given
    confirm_by_repeat: bool = False  # count only movements that repeat (see `RepShape`)
    rebase_s: float = 10.0
    sink_s: float = 0.5  # still this long on the far side of the rest pose: it is the rest pose
    slip_s: float = 1.0
    slip_deg: float = 30.0  # off the plane of the exercise, still for `slip_s`: the sensor turned
    baseline_tau_s: float = 3.0
    rate_hz: float = 25.0


@dataclass
class RunTimer:
    """Finds where a run of True flags has lasted `min_s`, runs carried across blocks."""

    min_s: float
    since_ns: int | None = None

    def first_reached(self, t_ns: np.ndarray, flag: np.ndarray) -> int | None:
        if flag.size == 0:
            return None
        starts = np.flatnonzero(flag & np.concatenate(([True], ~flag[:-1])))
        run_start = np.full(t_ns.shape, -1, dtype=np.int64)
        run_start[starts] = t_ns[starts]
        if flag[0] and self.since_ns is not None:
            run_start[0] = self.since_ns
        run_start = np.where(flag, np.maximum.accumulate(run_start), -1)
        reached = _first(flag & (t_ns - run_start >= int(self.min_s * 1e9)))
        self.since_ns = int(run_start[-1]) if flag[-1] else None
        return reached


def _first(mask: np.ndarray) -> int | None:
    if mask.size == 0:
        return None
    k = int(np.argmax(mask))
    return k if mask[k] else None


@dataclass(frozen=True)
class _PendingRep:
    """A rep whose return never came: the person stayed at the end range (`shift` degrees from
    the old rest pose). It is counted when the next rep goes back from there by at least half
    of `shift`, which shows the movement ran between the two poses (not a posture change)."""

    rep: Rep
    shift: float
    warnings: tuple[WarningRaised, ...]


# what the detector follows of the rep in progress (a move's rep is built from the same fields)
_TRACKED = ("_side", "_start_ns", "_peak", "_peak_angle", "_peak_speed", "_held_s", "_hold_done")


@dataclass(frozen=True)
class _FarSide:
    """A rest on the far side of the rest pose `home` (`angle`, reached after leaving home at
    `start_ns`, rested on from `rested_ns`). For an exercise that may go either way, coming
    back home and resting there shows it was a rep to the other side (cat-cow, a rotation to
    each side), not a new rest pose. Only a home near the calibrated neutral counts as one
    (held at the end range longer than rested between reps, the end range can look like it)."""

    start_ns: int
    rested_ns: int
    home: float
    angle: float


MOVES_ALIKE = 3  # a small move (`return_move`) counts as the third alike: two fidgets may match
MAX_WAITING = 3  # reps kept waiting for a like one (one odd rep does not lose the one before)


@dataclass(frozen=True)
class RepShape:
    """Where a rep went: its peak in the plane, how far off the plane it was there (degrees),
    its side and its duration. Two reps are alike when both stay near the plane of the exercise
    (a peak further off it than `off_plane_deg` and than half its angle in the plane is another
    movement), end at about the same place and last about as long."""

    peak_deg: float
    tilt_deg: float
    side: int
    duration_s: float
    off_plane_deg: float

    @property
    def in_plane(self) -> bool:
        return abs(self.tilt_deg) <= max(self.off_plane_deg, 0.5 * self.peak_deg)

    def mirrored(self) -> RepShape:
        """The same rep made to the other side."""
        return RepShape(
            self.peak_deg, self.tilt_deg, -self.side, self.duration_s, self.off_plane_deg
        )

    def like(self, other: RepShape) -> bool:
        larger = max(self.peak_deg, other.peak_deg)
        apart = np.hypot(self.peak_deg - other.peak_deg, self.tilt_deg - other.tilt_deg)
        durations = sorted((self.duration_s, other.duration_s))
        return (
            self.in_plane
            and other.in_plane
            and self.side == other.side
            and apart <= 0.5 * larger
            and durations[0] >= 0.4 * durations[1]
        )


@dataclass
class RepDetector:
    settings: DetectorSettings
    reference_deg: float
    t0_ns: int = 0
    calibration_rom_deg: float | None = None  # None: the next rep's peak becomes it
    reps: list[Rep] = field(default_factory=list)
    sets: list[SetResult] = field(default_factory=list)
    # REST state
    out: bool = False
    baseline: float = 0.0
    direction: int = 1  # +1 or -1; 0 while an any-direction exercise has not shown its way
    rebased: list[tuple[int, float]] = field(default_factory=list)  # (t_ns, shift deg)
    _last_low_ns: int | None = None
    _armed: bool = True  # the excursion was under `enter` at the last sample: a rep may start
    _last_end_ns: int | None = None
    _set_open: bool = False
    _set_start_ns: int = 0
    _reps_in_set: int = 0
    _sets_started: int = 0
    # OUT state
    _side: int = 1
    _start_ns: int = 0
    _peak: float = 0.0
    _peak_angle: float = 0.0
    _peak_ns: int = 0
    _peak_speed: float = 0.0
    _holding: bool = False
    _hold_anchor: float = 0.0
    _hold_start_ns: int = 0
    _held_s: float = 0.0  # time held at the end range in this rep, all hold segments
    _held_before_s: float = 0.0  # ... in the finished segments
    _hold_done: bool = False
    _released: bool = False
    _next_progress_s: float = 1.0
    # an excursion that stayed at its end range until the rest pose was re-anchored there
    _pending: _PendingRep | None = None
    # confirm_by_repeat: the last counted rep's shape, and a rep waiting for its repeat
    _template: RepShape | None = None
    _unconfirmed: list[tuple[RepShape, _PendingRep]] = field(default_factory=list)
    _prev_t_ns: int | None = None  # the last sample processed, and its speed
    _prev_speed: float = 0.0
    _peak_tilt: float = 0.0
    # small out-and-back moves (`return_move`): the last counted, and ones waiting for a repeat
    # any-direction exercises: a rest on the far side, which may be a rep of the other side
    _far: _FarSide | None = None
    _last_home_ns: int | None = None  # the last sample near the rest pose
    _move_template: ReturnMove | None = None
    _rep_move: ReturnMove | None = None  # the move the last rep the angle counted made
    _moves_waiting: list[tuple[ReturnMove, _PendingRep]] = field(default_factory=list)

    @property
    def enter_deg(self) -> float:
        s = self.settings
        return max(s.min_rom_deg, s.enter_fraction * self.reference_deg)

    @property
    def exit_deg(self) -> float:
        return self.settings.exit_fraction * self.enter_deg

    def _t(self, t_ns: int) -> float:
        return (int(t_ns) - self.t0_ns) / 1e9

    def current_hold_s(self, now_ns: int) -> float:
        return (now_ns - self._hold_start_ns) / 1e9 if self._holding else 0.0

    def process(
        self,
        t_ns: np.ndarray,
        angle: np.ndarray,
        speed: np.ndarray,
        still: np.ndarray,
        tilt: np.ndarray | None = None,
    ) -> list[AnalysisEvent]:
        """Consume one block: angle deg, speed deg/s, still flags, and how far (deg) the sensor
        sits off the calibrated plane. Rebases go to `rebased`; when the sensor stayed off the
        plane at rest for `slip_s`, processing stops there and `slip_index` tells where (the
        caller re-anchors the calibration and continues after it)."""
        events: list[AnalysisEvent] = []
        n = len(t_ns)
        tilt = np.zeros(n) if tilt is None else tilt
        off_plane = tilt > self.settings.slip_deg
        i = 0
        while i < n:
            if not self.out:
                i = self._rest(t_ns, angle, still, off_plane, i, events)
                if self.slip_index is not None:
                    break
            if i < n and self.out:
                i = self._out(t_ns, angle, speed, still, tilt, i, events)
        last = n - 1 if self.slip_index is None else self.slip_index
        if n:
            self._prev_t_ns, self._prev_speed = int(t_ns[last]), float(speed[last])
        return events

    def __post_init__(self) -> None:
        self.direction = 0 if self.settings.any_direction else 1
        self._settled = RunTimer(self.settings.rebase_s)
        self._slip = RunTimer(self.settings.slip_s)
        self._sunk = RunTimer(self.settings.sink_s)
        self._home = RunTimer(self.settings.sink_s)
        self.slip_index: int | None = None
        self._anchor = 0.0  # rest angle the baseline may follow (set at rep ends and rebases)

    def reset_pose(self) -> None:
        """A new calibration: the angle is measured from a new neutral pose."""
        self.baseline = self._anchor = 0.0
        self.out = False
        self._armed = True
        self._holding = False
        self._last_low_ns = None
        self._settled.since_ns = None
        self._sunk.since_ns = None
        self._pending = None
        self._far = None
        if self.settings.any_direction:
            self.direction = 0

    def _excursion(self, values: np.ndarray) -> np.ndarray:
        if self.settings.alternating or self.direction == 0:
            return np.abs(values)
        return self.direction * values

    # --- REST: waiting for the angle to leave the neutral zone -------------------------------
    def _rest(
        self,
        t_ns: np.ndarray,
        angle: np.ndarray,
        still: np.ndarray,
        off_plane: np.ndarray,
        i: int,
        events: list,
    ) -> int:
        enter = self.enter_deg
        baseline = self._baseline_before(angle[i:], still[i:])
        excursion = self._excursion(angle[i:] - baseline)
        below = excursion < enter
        j = _first(~below & np.concatenate(([self._armed], below[:-1])))  # upward crossing
        stop = len(t_ns) if j is None else i + j
        set_end = None  # the set ends here; the thresholds change after this sample
        if self._set_open and self._last_end_ns is not None:
            deadline = self._last_end_ns + int(self.settings.set_gap_s * 1e9)
            k = _first(t_ns[i:stop] >= deadline)
            if k is not None:
                stop, j, set_end = i + k + 1, None, i + k
        far_side = still[i:stop] & (excursion[: stop - i] < -self.exit_deg)
        moved = self._sunk.first_reached(t_ns[i:stop], far_side)
        if moved is not None:
            stop = i + moved + 1
            j = None
        slipped = self._slip.first_reached(t_ns[i:stop], off_plane[i:stop] & still[i:stop])
        if slipped is not None:
            stop = i + slipped + 1
            self.slip_index = i + slipped
            j = moved = None
        self._advance_baseline(angle[i:stop], still[i:stop])
        self._settled.since_ns = None
        near = np.abs(angle[i:stop] - baseline[: stop - i]) < self.exit_deg
        low = np.flatnonzero(near | still[i:stop])  # a rep starts after the last rest sample
        if low.size:
            self._last_low_ns = int(t_ns[i + int(low[-1])])
        home = np.flatnonzero(near)
        if home.size:
            self._last_home_ns = int(t_ns[i + int(home[-1])])
        if set_end is not None and stop == set_end + 1:
            self._close_set(int(t_ns[set_end]), events)
        if moved is not None:
            rested_ns = int(t_ns[stop - 1])
            size = abs(float(angle[stop - 1]) - self.baseline)
            neutral_home = abs(self.baseline) <= max(self.exit_deg, 0.25 * size)
            if (
                self.settings.any_direction
                and self.direction != 0
                and neutral_home
                and self._rep_sized(size)
            ):
                left_ns = self._last_home_ns if self._last_home_ns is not None else rested_ns
                self._far = _FarSide(left_ns, rested_ns, self.baseline, float(angle[stop - 1]))
                self._home.since_ns = None
            self._rest_here(rested_ns, float(angle[stop - 1]), events)
            return stop
        if j is None:
            self._armed = bool(below[stop - i - 1]) if stop > i else self._armed
            return stop
        self._sunk.since_ns = None
        self._begin_rep(stop, t_ns, angle, events)
        return stop

    def _rest_here(self, t_ns: int, angle: float, events: list) -> None:
        """The rest pose moved to `angle`. A stayed-out rep whose return this is (back by at
        least half its shift) is counted now."""
        pending, self._pending = self._pending, None
        if pending and self.direction * (angle - self.baseline) <= -abs(pending.shift) / 2:
            self._confirm(pending, t_ns, events)
        self.baseline = self._anchor = angle
        self._sunk.since_ns = None
        self._armed = True
        self._last_low_ns = t_ns

    def _baseline_before(self, angle: np.ndarray, still: np.ndarray) -> np.ndarray:
        """Baseline in force at each sample: an exponential mean of the rest samples before it."""
        alpha = 1.0 / max(1.0, self.settings.baseline_tau_s * self.settings.rate_hz)
        positions = self._rest_positions(angle, still)
        if positions.size == 0:
            return np.full(angle.shape, self.baseline)
        smoothed, _ = lfilter(
            [alpha], [1.0, alpha - 1.0], angle[positions], zi=[(1 - alpha) * self.baseline]
        )
        after = np.full(angle.shape, self.baseline)
        last = np.full(angle.shape, -1)
        last[positions[positions + 1 < angle.size] + 1] = np.arange(positions.size)[
            positions + 1 < angle.size
        ]
        last = np.maximum.accumulate(last)
        has = last >= 0
        after[has] = smoothed[last[has]]
        return after

    def _rest_positions(self, angle: np.ndarray, still: np.ndarray) -> np.ndarray:
        """Still samples near the anchored rest angle: the ones the baseline may follow."""
        return np.flatnonzero(still & (np.abs(angle - self._anchor) < self.exit_deg))

    def _advance_baseline(self, angle: np.ndarray, still: np.ndarray) -> None:
        positions = self._rest_positions(angle, still)
        if positions.size:
            alpha = 1.0 / max(1.0, self.settings.baseline_tau_s * self.settings.rate_hz)
            smoothed, _ = lfilter(
                [alpha], [1.0, alpha - 1.0], angle[positions], zi=[(1 - alpha) * self.baseline]
            )
            self.baseline = float(smoothed[-1])

    def _begin_rep(self, j: int, t_ns: np.ndarray, angle: np.ndarray, events: list) -> None:
        self.out = True
        self._side = 1 if angle[j] >= self.baseline else -1
        self._start_ns = self._last_low_ns if self._last_low_ns is not None else int(t_ns[j])
        self._peak = 0.0
        self._peak_speed = 0.0
        self._holding = False
        self._held_s = self._held_before_s = 0.0
        self._hold_done = False
        self._released = False
        self._open_set(self._t(t_ns[j]), events)

    def _open_set(self, t_s: float, events: list) -> None:
        """A rep began (at `_start_ns`, seen at `t_s`): warn past the dose; open a set."""
        if self._set_open and self._reps_in_set >= self.settings.target_reps:
            events.append(
                _warning(
                    WarningKind.TOO_MANY_REPS,
                    t_s,
                    f"rep {self._reps_in_set + 1} of a {self.settings.target_reps}-rep set: "
                    "more is not better",
                    self._reps_in_set + 1,
                )
            )
        if not self._set_open:
            self._set_open = True
            self._set_start_ns = self._start_ns
            self._reps_in_set = 0
            self._sets_started += 1
            if self._sets_started > self.settings.target_sets:
                events.append(
                    _warning(
                        WarningKind.TOO_MANY_SETS,
                        t_s,
                        f"set {self._sets_started} started: {self.settings.target_sets} "
                        "prescribed, more is not better",
                        self._sets_started,
                    )
                )

    # --- OUT: tracking peak and holds until the angle is back under the exit threshold ----------
    def _out(
        self,
        t_ns: np.ndarray,
        angle: np.ndarray,
        speed: np.ndarray,
        still: np.ndarray,
        tilt: np.ndarray,
        i: int,
        events: list,
    ) -> int:
        signed = self._side * (angle - self.baseline)
        running_peak = np.maximum.accumulate(np.maximum(signed[i:], self._peak))
        exit_level = np.maximum(
            self.exit_deg,
            np.minimum(self.settings.exit_peak_fraction * running_peak, 0.75 * self.enter_deg),
        )
        rising = self._side * speed[i:] > self.settings.turn_dps
        paused = (still[i:] | rising) & (
            signed[i:] < self.settings.pause_return_fraction * running_peak
        )
        prev_t, turned = self._turned_in_gap(t_ns, speed, i)
        e_rel = _first((signed[i:] < exit_level) | paused | turned)
        e = len(t_ns) if e_rel is None else i + e_rel
        self._slip.since_ns = None
        settled = self._settled.first_reached(t_ns[i:e], still[i:e])
        if self._far is not None:
            far = self._far
            home = still[i:e] & (np.abs(angle[i:e] - far.home) < self.exit_deg)
            back = self._home.first_reached(t_ns[i:e], home)
            if back is not None and (settled is None or back <= settled):
                k = i + back  # the speed of the way back so far, as the rep's peak speed
                self._peak_speed = max(self._peak_speed, float(np.abs(speed[i : k + 1]).max()))
                return self._far_side_rep(k, t_ns, angle, events)
        tracked = e if settled is None else i + settled + 1
        if tracked > i:
            top = i + int(np.argmax(signed[i:tracked]))
            if signed[top] > self._peak:
                self._peak = float(signed[top])
                self._peak_angle = float(angle[top])
                self._peak_ns = int(t_ns[top])
                self._peak_tilt = float(tilt[top])
            self._peak_speed = max(self._peak_speed, float(np.abs(speed[i:tracked]).max()))
            self._track_hold(t_ns, signed, speed, i, tracked, events)
        if settled is not None or e_rel is not None:
            self._far = None  # whatever the excursion from there was, it was not back home
        if settled is not None:  # still away from the rest pose: the rest pose moved
            k = i + settled
            shift = float(angle[k] - self.baseline)
            self.rebased.append((int(t_ns[k]), shift))
            self._pending = self._stayed_out_rep(shift)
            self.baseline = self._anchor = float(angle[k])
            if self.settings.any_direction:
                self.direction = 0
            self.out = False
            self._holding = False
            self._last_low_ns = int(t_ns[k])
            return k + 1
        too_long = _first(t_ns[i:e] - self._start_ns > int(self.settings.max_rep_s * 1e9))
        if too_long is not None:  # not a rep: the pose changed; wait for a new neutral zone
            self.out = False
            self._holding = False
            self._last_low_ns = None
            return i + too_long
        if e_rel is None:
            return e
        # a rep that turned back while the signal was lost ends at the last sample before it
        end_ns = int(prev_t[e_rel]) if turned[e_rel] else int(t_ns[e])
        if self._holding:
            self._end_hold(end_ns, released=True, events=events)
        self.out = False
        # the thresholds may have fallen with this rep: cross them afresh (after a turn in a
        # gap the next rep is already under way)
        self._armed = bool(turned[e_rel])
        self._last_low_ns = int(t_ns[e])
        duration_s = (end_ns - self._start_ns) / 1e9
        if duration_s >= self.settings.min_rep_s and self._peak >= self.enter_deg:
            pending, self._pending = self._pending, None
            if pending and self._side * pending.shift < 0 and self._peak >= abs(pending.shift) / 2:
                self._confirm(pending, end_ns, events)
            self._count_rep(end_ns, events)
        if paused[e_rel] and signed[e] >= exit_level[e_rel]:  # came back most of the way, rests
            self.baseline = self._anchor = float(angle[e])
        return e

    def _rep_sized(self, degrees: float) -> bool:
        """As large as a rep: over `enter` and half the reference range."""
        return degrees >= max(self.enter_deg, 0.5 * self.reference_deg)

    def _far_side_rep(self, k: int, t_ns: np.ndarray, angle: np.ndarray, events: list) -> int:
        """Back home from a rest on the far side and resting there (sample `k`): the way
        there and back was a rep to the other side (as large as half the reps seen, at least),
        and home is the rest pose again."""
        far, self._far = self._far, None
        held_s = (self._start_ns - far.rested_ns) / 1e9 + self.settings.sink_s
        self._holding = False
        self.out = False
        size = abs(far.angle - far.home)
        if self._rep_sized(size):
            self._side, self._start_ns = -self.direction, far.start_ns
            self._peak, self._peak_angle, self._peak_tilt = size, far.angle, 0.0
            self._held_s = held_s
            self._hold_done = held_s >= self.settings.hold_target_s
            self._count_rep(int(t_ns[k]), events)
        self.baseline = self._anchor = float(angle[k])
        self._armed = True
        self._last_low_ns = int(t_ns[k])
        return k + 1

    def _turned_in_gap(
        self, t_ns: np.ndarray, speed: np.ndarray, i: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each sample's predecessor time from `i` on, and where the signal came back after a
        loss with the segment going out again although it was coming back before: the rep
        ended and the next began while no samples came."""
        first_t = int(t_ns[i - 1]) if i else self._prev_t_ns
        first_speed = float(speed[i - 1]) if i else self._prev_speed
        if first_t is None:
            first_t, first_speed = int(t_ns[i]), 0.0
        prev_t = np.concatenate(([first_t], t_ns[i:-1]))
        prev_speed = np.concatenate(([first_speed], speed[i:-1]))
        turn = self.settings.turn_dps
        turned = (
            (t_ns[i:] - prev_t > int(self.settings.signal_gap_s * 1e9))
            & (self._side * prev_speed < -turn)
            & (self._side * speed[i:] > turn)
            & (t_ns[i:] > self._start_ns)  # not the gap this rep began after
        )
        return prev_t, turned

    def _stayed_out_rep(self, shift: float) -> _PendingRep | None:
        """The excursion that ended in a re-anchoring, kept as a rep candidate ending where it
        reached its peak: it must be rep sized and have lasted `min_rep_s` up to there."""
        too_short = (self._peak_ns - self._start_ns) / 1e9 < self.settings.min_rep_s
        if too_short or abs(shift) < self.enter_deg:
            return None
        rep, warnings = self._build_rep(self._peak_ns)
        return _PendingRep(rep=rep, shift=shift, warnings=tuple(warnings))

    def _confirm(self, pending: _PendingRep, t_ns: int, events: list) -> None:
        """Count a stayed-out rep now (`t_ns`), in the set it was made in."""
        rep = pending.rep.model_copy(update={"index": len(self.reps) + 1})
        self.reps.append(rep)
        if self._set_open and self._sets_started == rep.set_index:
            self._reps_in_set += 1
        elif self.sets and self.sets[-1].index == rep.set_index:
            done = self.sets[-1]
            self.sets[-1] = done.model_copy(
                update={"reps": done.reps + 1, "end_s": max(done.end_s, rep.end_s)}
            )
        t_s = self._t(t_ns)
        events.extend(w.model_copy(update={"t_s": t_s}) for w in pending.warnings)
        events.append(RepCounted(t_s=t_s, rep=rep))

    def _track_hold(
        self,
        t_ns: np.ndarray,
        signed: np.ndarray,
        speed: np.ndarray,
        i: int,
        e: int,
        events: list,
    ) -> None:
        s = self.settings
        while i < e:
            if not self._holding:
                h = _first(
                    (np.abs(speed[i:e]) < s.hold_speed_dps) & (signed[i:e] >= self.enter_deg)
                )
                if h is None:
                    return
                i += h
                self._holding = True
                self._hold_anchor = float(signed[i])
                self._hold_start_ns = int(t_ns[i])
                self._next_progress_s = 1.0
            tolerance = max(s.hold_tolerance_deg, s.hold_tolerance_fraction * self._hold_anchor)
            k_rel = _first(np.abs(signed[i:e] - self._hold_anchor) > tolerance)
            k = e if k_rel is None else i + k_rel
            self._hold_ticks(t_ns[i:k], events)
            if k_rel is None:
                return
            self._end_hold(int(t_ns[k]), released=signed[k] < self._hold_anchor, events=events)
            i = k

    def _hold_ticks(self, t_ns: np.ndarray, events: list) -> None:
        """Progress each whole second held, and completion when the target is reached."""
        if t_ns.size == 0:
            return
        target = self.settings.hold_target_s
        held_last = (int(t_ns[-1]) - self._hold_start_ns) / 1e9
        self._held_s = self._held_before_s + held_last
        if target > 0 and not self._hold_done and held_last >= target:
            k = int(np.searchsorted(t_ns, self._hold_start_ns + int(target * 1e9)))
            self._emit_progress(t_ns[: k + 1], events)
            self._hold_done = True
            events.append(HoldComplete(t_s=self._t(t_ns[k]), held_s=target))
        elif target > 0 and not self._hold_done:
            self._emit_progress(t_ns, events)

    def _emit_progress(self, t_ns: np.ndarray, events: list) -> None:
        target = self.settings.hold_target_s
        held = (t_ns - self._hold_start_ns) / 1e9
        while self._next_progress_s < target and held[-1] >= self._next_progress_s:
            k = int(np.searchsorted(held, self._next_progress_s))
            events.append(
                HoldProgress(t_s=self._t(t_ns[k]), held_s=self._next_progress_s, target_s=target)
            )
            self._next_progress_s += 1.0

    def _end_hold(self, t_end_ns: int, *, released: bool, events: list) -> None:
        self._holding = False
        held = (t_end_ns - self._hold_start_ns) / 1e9
        self._held_before_s += held
        self._held_s = self._held_before_s
        target = self.settings.hold_target_s
        if released and target > 0 and not self._hold_done and not self._released:
            self._released = True
            events.append(
                _warning(
                    WarningKind.HOLD_RELEASED_EARLY,
                    self._t(t_end_ns),
                    f"hold released after {held:.1f} s of {target:g} s",
                    held,
                )
            )

    def _build_rep(self, t_end_ns: int) -> tuple[Rep, list[WarningRaised]]:
        """The rep being tracked, ending at `t_end_ns`, and its short-of-target warning."""
        s = self.settings
        flags: list[str] = []
        warnings: list[WarningRaised] = []
        target = s.rom_target_deg
        if target is None and s.rom_target_pct:
            target = (self.calibration_rom_deg or self._peak) * s.rom_target_pct / 100
        if target is not None and self._peak < target - max(3.0, 0.1 * target):
            flags.append("short")
            warnings.append(
                _warning(
                    WarningKind.SHORT_OF_TARGET,
                    self._t(t_end_ns),
                    f"rep reached {self._peak:.0f} deg of the {target:.0f} deg target",
                    self._peak,
                )
            )
        if s.hold_target_s > 0 and not self._hold_done:
            flags.append("hold_short")
        side = (s.sides[0] if self._side > 0 else s.sides[1]) if s.alternating else None
        return Rep(
            index=len(self.reps) + 1,
            set_index=self._sets_started,
            start_s=self._t(self._start_ns),
            end_s=self._t(t_end_ns),
            peak_angle_deg=self._peak_angle,
            hold_s=self._held_s,
            peak_speed_dps=self._peak_speed,
            side=side,
            flags=flags,
        ), warnings

    def _count_rep(self, t_end_ns: int, events: list) -> None:
        s = self.settings
        follow = self.reference_deg + s.reference_weight * (self._peak - self.reference_deg)
        self.reference_deg = min(follow, self._peak)  # falls at once, grows gradually
        self._last_end_ns = t_end_ns
        self._anchor = self.baseline
        if self.direction == 0:
            self.direction = self._side
        if s.confirm_by_repeat and not self._repeated(t_end_ns, events):
            return
        self._reps_in_set += 1
        if self.calibration_rom_deg is None:  # this rep is the calibration movement
            self.calibration_rom_deg = self._peak
        rep, warnings = self._build_rep(t_end_ns)
        events.extend(warnings)
        self.reps.append(rep)
        events.append(RepCounted(t_s=rep.end_s, rep=rep))

    def _repeated(self, t_end_ns: int, events: list) -> bool:
        """Whether the rep just ended repeats the movement: in the plane of the exercise, and
        in a set that already has reps, or like the last counted rep, or like one of the reps
        before it that wait (the oldest such is counted now, first, with any waiting rep as
        large to the other side). Otherwise it waits."""
        shape = RepShape(
            peak_deg=self._peak,
            tilt_deg=self._peak_tilt,
            side=self._side,
            duration_s=(t_end_ns - self._start_ns) / 1e9,
            off_plane_deg=self.settings.slip_deg,
        )
        if not shape.in_plane:
            return False
        like = [waiting for waiting in self._unconfirmed if shape.like(waiting[0])]
        repeats = self._template is not None and shape.like(self._template)
        if not like and self._reps_in_set == 0 and not repeats:
            rep, warnings = self._build_rep(t_end_ns)
            pending = _PendingRep(rep=rep, shift=0.0, warnings=tuple(warnings))
            self._unconfirmed = [*self._unconfirmed[-(MAX_WAITING - 1) :], (shape, pending)]
            return False
        if like and self.calibration_rom_deg is None:
            self.calibration_rom_deg = like[0][0].peak_deg
        # the oldest waiting rep it repeats counts too, and so does a rep as large to the
        # other side (the movement goes both ways), in the order they were made
        for waiting in self._unconfirmed:
            other = waiting[0]
            mirror = other.side != shape.side and other.in_plane and shape.like(other.mirrored())
            if (like and waiting is like[0]) or mirror:
                self._confirm(waiting[1], t_end_ns, events)
        self._unconfirmed = []
        self._template = shape
        return True

    def return_move(self, move: ReturnMove, events: list) -> None:
        """An out-and-back movement the whole orientation showed (`moves.py`), for a movement
        the exercise does not describe. Where the angle saw no rep, it is one: a move too small
        for the angle (under `enter` degrees of rotation) once it is the third alike (then
        each next like one counts at once); a larger
        one when it is the movement the angle's last rep made (the rest pose had shifted so
        far that the angle missed it)."""
        if not self.settings.confirm_by_repeat:
            return
        start_s, end_s = self._t(move.start_ns), self._t(move.end_ns)
        last = self.reps[-1] if self.reps else None
        if last is not None and start_s < last.end_s and end_s > last.start_s:
            self._rep_move = move  # what a counted rep looks like in the whole orientation
            return
        if (
            (self.out and self._start_ns < move.end_ns)
            or self._pending is not None
            or (self._last_end_ns is not None and move.start_ns < self._last_end_ns)
            or any(start_s < waiting.rep.end_s for _, waiting in self._unconfirmed)
        ):
            return
        if move.angle_deg >= self.enter_deg:
            if self._rep_move is not None and move.like(self._rep_move):
                self._confirm(self._move_rep(move, events), move.found_ns, events)
            return
        candidate = self._move_rep(move, events)
        like = [waiting for m, waiting in self._moves_waiting if move.like(m)]
        repeated = len(like) + 1 >= MOVES_ALIKE
        if not repeated and not (self._move_template and move.like(self._move_template)):
            self._moves_waiting = [*self._moves_waiting[-(MAX_WAITING - 1) :], (move, candidate)]
            return
        for waiting in like if repeated else []:
            self._confirm(waiting, move.found_ns, events)
        self._moves_waiting = []
        self._move_template = move
        self._confirm(candidate, move.found_ns, events)

    def _move_rep(self, move: ReturnMove, events: list) -> _PendingRep:
        """The rep a move makes (its set opened, past-the-dose warned), ready to be counted;
        a rep the angle follows meanwhile (begun after the move) keeps its state."""
        tracked = {name: getattr(self, name) for name in _TRACKED}
        self._side, self._start_ns = 1, move.start_ns
        self._peak = self._peak_angle = move.angle_deg
        self._peak_speed = move.peak_speed_dps
        self._held_s = move.held_s
        self._hold_done = self._held_s >= self.settings.hold_target_s
        self._open_set(self._t(move.found_ns), events)
        self._last_end_ns = move.end_ns
        rep, warnings = self._build_rep(move.end_ns)
        if self.out:
            for name, value in tracked.items():
                setattr(self, name, value)
        return _PendingRep(rep=rep, shift=0.0, warnings=tuple(warnings))

    def _close_set(self, t_ns: int, events: list) -> None:
        """A set ends. The next may be done with another range (a lighter dose, tiredness):
        the thresholds relax halfway and relearn from its reps."""
        self._set_open = False
        floor = self.settings.min_rom_deg / self.settings.enter_fraction
        self.reference_deg = max(floor, self.settings.set_relax_fraction * self.reference_deg)
        self._unconfirmed = []
        self._moves_waiting = []
        if self._reps_in_set == 0:  # only movements that never repeated: no set after all
            self._sets_started -= 1
            return
        result = SetResult(
            index=self._sets_started,
            start_s=self._t(self._set_start_ns),
            end_s=self._t(self._last_end_ns or t_ns),
            reps=self._reps_in_set,
            target_reps=self.settings.target_reps,
        )
        self.sets.append(result)
        events.append(SetComplete(t_s=self._t(t_ns), set=result))

    def open_set(self) -> SetResult | None:
        """The set in progress (for the summary at the end of a session)."""
        if not self._set_open or self._reps_in_set == 0:
            return None
        return SetResult(
            index=self._sets_started,
            start_s=self._t(self._set_start_ns),
            end_s=self._t(self._last_end_ns or self._set_start_ns),
            reps=self._reps_in_set,
            target_reps=self.settings.target_reps,
        )


def _warning(kind: WarningKind, t_s: float, message: str, value: float) -> WarningRaised:
    return WarningRaised(
        t_s=t_s, warning=AnalysisWarning(kind=kind, t_s=t_s, message=message, value=value)
    )
