"""The analysis pipeline: sample blocks in, events out, a summary at the end.

    pipeline = AnalysisPipeline("knee_to_chest_single")     # or an Exercise, Prescription, Program
    for block in source:
        for event in pipeline.process(block):
            ...                                              # RepCounted, WarningRaised, ...
    result = pipeline.summary()                              # AnalysisSummary (pydantic)

Orientation (VQF) -> gravity in the sensor frame -> self-calibration (neutral, axis) -> angle in
the plane of the exercise -> rep/hold/set state machine and warning monitors. Every stage is
causal and keeps its state between blocks, so any chunking of a recording gives the same events
and summary; memory is bounded (the calibration buffer is capped, the rest is per-rep results).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfilt, sosfilt_zi

from monitor.analysis.calibration import (
    MIN_PLANE_QUALITY,
    SelfCalibrator,
    axis_rate_dps,
    make_calibration,
    out_of_plane_deg,
    segment_angle_deg,
)
from monitor.analysis.exercises import (
    Exercise,
    Mode,
    Prescription,
    get_exercise,
    prescription_for,
)
from monitor.analysis.moves import ReturnMove, ReturnMoveFinder
from monitor.analysis.orientation import Backend, OrientationFilter
from monitor.analysis.programs import Program
from monitor.analysis.reps import DetectorSettings, RepDetector
from monitor.analysis.results import (
    AnalysisEvent,
    AnalysisSummary,
    Calibrated,
    Calibration,
    RepCounted,
    WarningKind,
    WarningRaised,
)
from monitor.analysis.warnings import (
    SignalWatch,
    ThresholdMonitor,
    imbalance_message,
    warning_event,
)
from monitor.core.samples import SampleBlock

RATE_ESTIMATE_SAMPLES = 16  # samples buffered at the start to measure the sample rate
STILL_DPS = 10.0  # smoothed angular speed under which the segment counts as still
SLIP_DEG = 30.0  # change of the out-of-plane tilt that means the sensor turned on the segment
SLIP_STILL_S = 1.0  # ... held still this long (not a passing wobble)
SIGNAL_GAP_S = 0.5  # no samples for longer: the signal was lost (a warning, a fresh orientation)


@dataclass(frozen=True, slots=True)
class _Filtered:
    """A block's samples as the analysis uses them."""

    t_ns: np.ndarray
    gravity: np.ndarray  # up in the sensor frame
    quat: np.ndarray  # orientation, scalar first, sensor to earth
    gyro_lp: np.ndarray  # low-passed angular rate, rad/s
    still: np.ndarray  # bool: the smoothed angular speed is low

    def __len__(self) -> int:
        return len(self.t_ns)

    def __getitem__(self, rows: slice) -> _Filtered:
        return _Filtered(*(getattr(self, name)[rows] for name in self.__slots__))


def _lowpass(cutoff_hz: float, rate_hz: float) -> np.ndarray:
    return butter(2, min(cutoff_hz, 0.45 * rate_hz), fs=rate_hz, output="sos")


class AnalysisPipeline:
    """Streams one exercise of a session; see the module docstring."""

    def __init__(
        self,
        target: str | Exercise | Prescription | Program,
        *,
        item: int = 0,
        calibration: Calibration | None = None,
        rate_hz: float | None = None,
        backend: Backend = "vqf",
    ) -> None:
        self.prescription = _resolve(target, item)
        self.exercise = self.prescription.exercise
        self.backend = backend
        self.rate_hz = rate_hz
        self.calibration = calibration
        self.t0_ns: int | None = None
        self.last_t_ns: int | None = None
        self.angle_deg = 0.0  # latest angle in the exercise plane (live display)
        self.speed_dps = 0.0
        self._trace: list[tuple[np.ndarray, np.ndarray]] = []
        self.warnings: list = []
        self._pending: list[SampleBlock] = []
        self._signal = SignalWatch(max_gap_s=SIGNAL_GAP_S)
        self._filter: OrientationFilter | None = None
        self._calibrator: SelfCalibrator | None = None
        self._detector: RepDetector | None = None
        self._imbalance_sets: set[int] = set()
        self._set_aside = False  # `set_aside` was called: the next block starts afresh
        self._move_finder: ReturnMoveFinder | None = None
        self._moves: list[ReturnMove] = []  # found, not yet handed to the detector

    # --- public API ---------------------------------------------------------------------------
    def process(self, block: SampleBlock) -> list[AnalysisEvent]:
        """Analyse the next samples (acc + gyro on one timeline); returns what happened."""
        self._trace.clear()
        if len(block) == 0:
            return []
        if block.acc is None or block.gyro is None:
            raise ValueError("analysis needs accelerometer and gyroscope samples in each block")
        finite = np.isfinite(block.acc).all(axis=1) & np.isfinite(block.gyro).all(axis=1)
        if not finite.all():
            block = SampleBlock(
                t_ns=block.t_ns[finite], acc=block.acc[finite], gyro=block.gyro[finite]
            )
        if self.t0_ns is None:
            self.t0_ns = int(block.t_ns[0])
        if self._filter is None:
            self._pending.append(block)
            pending = SampleBlock.concat([_core(b) for b in self._pending])
            if self.rate_hz is None and len(pending) < RATE_ESTIMATE_SAMPLES:
                return []
            self._pending.clear()
            self._start(pending)
            block = pending
        return self._run(block)

    def recalibrate(self) -> None:
        """Learn neutral and axis again from the next still pose and movement (the sensor was
        moved, or the user asks); what was counted stays and counting goes on: reps, sets and
        warnings carry over, the next rep's range becomes the calibrated one."""
        if self._filter is None:
            return  # not started: the first samples calibrate it anyway
        self._calibrator = self._self_calibrator()
        if self._detector is not None:
            self._detector.calibration_rom_deg = None

    def tick(self, now_ns: int) -> list[AnalysisEvent]:
        """Live use: call with the sensor-clock time while no samples arrive (signal lost)."""
        if self.t0_ns is None:
            return []
        event = self._signal.silent_since(now_ns, self.t0_ns)
        return self._record([event]) if event else []

    @property
    def last_angles(self) -> tuple[np.ndarray, np.ndarray]:
        """(t_ns, angle_deg) of the samples the last `process` call measured (live plots).

        Empty until calibrated; the call that completes the calibration also returns the
        first movement it held back."""
        if not self._trace:
            return np.empty(0, np.int64), np.empty(0)
        t_ns, angle = zip(*self._trace, strict=True)
        return np.concatenate(t_ns), np.concatenate(angle)

    @property
    def rep_count(self) -> int:
        return len(self._detector.reps) if self._detector else 0

    @property
    def holding_s(self) -> float:
        if self._detector is None or self.last_t_ns is None:
            return 0.0
        return self._detector.current_hold_s(self.last_t_ns)

    def summary(self) -> AnalysisSummary:
        detector = self._detector
        sets = list(detector.sets) if detector else []
        if detector and (current := detector.open_set()) is not None:
            sets.append(current)
        duration = 0.0
        if self.t0_ns is not None and self.last_t_ns is not None:
            duration = (self.last_t_ns - self.t0_ns) / 1e9
        dose = self.prescription.dose
        return AnalysisSummary(
            exercise_id=self.exercise.id,
            exercise_name=self.exercise.name,
            mode=self.exercise.mode.value,
            duration_s=duration,
            sample_rate_hz=self.rate_hz,
            rep_count=self.rep_count,
            reps=list(detector.reps) if detector else [],
            sets=sets,
            warnings=sorted((w.warning for w in self.warnings), key=lambda w: w.t_s),
            calibration=self.calibration,
            target_reps=dose.reps,
            target_sets=dose.sets,
            target_hold_s=dose.hold_s if self.exercise.mode is not Mode.REPS else 0.0,
        )

    # --- internals ----------------------------------------------------------------------------
    def _start(self, first: SampleBlock) -> None:
        if self.rate_hz is None:
            steps = np.diff(first.t_ns)
            steps = steps[steps > 0]
            if steps.size == 0:
                raise ValueError("sample timestamps do not advance; cannot tell the sample rate")
            self.rate_hz = float(1e9 / np.median(steps))
        rate = self.rate_hz
        self._filter = OrientationFilter(rate, self.backend)
        if self.exercise.any_direction:
            self._move_finder = ReturnMoveFinder(rate)
        self._still_sos = _lowpass(2.0, rate)
        self._speed_sos = _lowpass(4.0, rate)
        self._speed_zi = np.zeros((self._speed_sos.shape[0], 2, 3))
        dose, limits = self.prescription.dose, self.prescription.limits
        hold_s = dose.hold_s if self.exercise.mode is not Mode.REPS else 0.0
        self._settings = DetectorSettings(
            min_rom_deg=self.exercise.min_rom_deg,
            alternating=self.exercise.alternating,
            any_direction=self.exercise.any_direction,
            rebase_s=max(10.0, 2 * hold_s + 5.0),
            rate_hz=rate,
            slip_s=SLIP_STILL_S,
            slip_deg=SLIP_DEG,
            signal_gap_s=SIGNAL_GAP_S,
            confirm_by_repeat=self.exercise.any_direction,
            sides=self.exercise.sides,
            hold_target_s=hold_s,
            set_gap_s=float(np.clip(dose.rest_s / 2, 8.0, 20.0)),
            max_rep_s=max(60.0, 3 * hold_s + 20.0),
            target_reps=dose.reps,
            target_sets=dose.sets,
            rom_target_deg=limits.rom_target_deg,
            rom_target_pct=limits.rom_target_pct,
        )
        self._speed_monitor = (
            ThresholdMonitor(
                WarningKind.TOO_FAST,
                limits.max_speed_dps,
                0.2 * limits.max_speed_dps,
                "moving too fast: {value:.0f} deg/s (limit {limit:.0f}); slow down",
            )
            if limits.max_speed_dps
            else None
        )
        if self.calibration is not None:
            self._calibrated(self.calibration, range_pending=False)

    def set_aside(self) -> None:
        """The session's samples go elsewhere for a while (another exercise of the program, a
        pause): the hole before the next block is not a loss of signal. What the segment did
        meanwhile is unknown all the same, so the filters start afresh there."""
        if self.last_t_ns is not None:
            self._signal.last_t_ns = None
            self._set_aside = True

    def _run(self, block: SampleBlock) -> list[AnalysisEvent]:
        events: list[AnalysisEvent] = list(self._signal.process(block.t_ns, self.t0_ns))
        samples, resumes = self._filtered(block)
        self.last_t_ns = int(block.t_ns[-1])
        i = 0
        for end in [*(r for r in resumes if r > 0), len(samples)]:
            if i in resumes and self.calibration and self.calibration.neutral_orientation:
                # the angle's heading reference did not survive the filter's restart
                self.recalibrate()
            piece = samples[:end]
            while i < end:
                if self._detector is None or self._calibrator is not None:
                    i = self._calibrate(piece, i, events)
                else:
                    i = self._detect(piece, i, events)
        return self._record(events)

    def _filtered(self, block: SampleBlock) -> tuple[_Filtered, list[int]]:
        """Gravity, orientation, low-passed gyro and still flags of `block`, and where the
        filters started afresh: after a loss of signal (or time set aside), what the segment
        did while no samples came can be neither integrated (orientation) nor smoothed over
        (speed)."""
        t_ns = block.t_ns
        previous = np.concatenate(([t_ns[0] if self.last_t_ns is None else self.last_t_ns], t_ns))
        resumes = np.flatnonzero(np.diff(previous) > int(SIGNAL_GAP_S * 1e9)).tolist()
        if self._set_aside:
            self._set_aside = False
            resumes = sorted({0, *resumes})
        parts = []
        for a, b in itertools.pairwise([0, *resumes, len(t_ns)]):
            if a == b:
                continue
            gyro = block.gyro[a:b]
            rate_norm = np.degrees(np.linalg.norm(gyro, axis=1))
            if self.last_t_ns is None and a == 0:  # the very first samples
                self._still_zi = sosfilt_zi(self._still_sos) * rate_norm[0]
            elif a in resumes:
                self._filter.restart()
                self._still_zi = sosfilt_zi(self._still_sos) * rate_norm[0]
                self._speed_zi = sosfilt_zi(self._speed_sos)[:, :, None] * gyro[0]
                if self._move_finder:
                    self._move_finder.restart()
            orientation = self._filter.process(gyro, block.acc[a:b])
            if self._move_finder:
                self._moves += self._move_finder.process(t_ns[a:b], orientation.quat)
            smooth_norm, self._still_zi = sosfilt(self._still_sos, rate_norm, zi=self._still_zi)
            gyro_lp, self._speed_zi = sosfilt(self._speed_sos, gyro, axis=0, zi=self._speed_zi)
            parts.append((orientation.gravity, orientation.quat, gyro_lp, smooth_norm < STILL_DPS))
        columns = (np.concatenate(column) for column in zip(*parts, strict=True))
        return _Filtered(t_ns, *columns), resumes

    def _calibrate(self, samples: _Filtered, i: int, events: list) -> int:
        if self._calibrator is None:
            self._calibrator = self._self_calibrator()
        rest = samples[i:]
        found = self._calibrator.update(
            rest.t_ns, rest.gravity, rest.gyro_lp, rest.still, rest.quat
        )
        if found is None:
            # only moves within the buffer are replayed with it: forget the older ones
            kept_from = self._calibrator.buffer_start_ns()
            self._moves = [
                m for m in self._moves if kept_from is not None and m.found_ns >= kept_from
            ]
            return len(samples)
        calibration, k = found
        buffer_t, buffer_gravity, buffer_gyro, buffer_quat = self._calibrator.buffered()
        done_ns = int(buffer_t[-1]) if len(buffer_t) else int(samples.t_ns[i + k])
        calibration = calibration.model_copy(update={"t_s": (done_ns - self.t0_ns) / 1e9})
        self._calibrator = None
        if self._detector is not None:
            self._detector.reset_pose()
        self._calibrated(calibration, range_pending=True)
        events.append(Calibrated(t_s=calibration.t_s, calibration=calibration))
        if calibration.plane_quality < MIN_PLANE_QUALITY:
            events.append(
                warning_event(
                    WarningKind.CALIBRATION,
                    calibration.t_s,
                    "the movement turns about the vertical, where gravity cannot see it: the "
                    "angle comes from the gyroscope and drifts slowly; recalibrate if it wanders",
                    calibration.plane_quality,
                )
            )
        still_buffer = np.degrees(np.linalg.norm(buffer_gyro, axis=1)) < STILL_DPS
        buffered = _Filtered(buffer_t, buffer_gravity, buffer_quat, buffer_gyro, still_buffer)
        j = 0
        while j < len(buffered):
            j = self._detect(buffered, j, events)
        return i + k

    def _self_calibrator(self) -> SelfCalibrator:
        return SelfCalibrator(
            self.rate_hz,
            axis_learn_deg=float(np.clip(1.5 * self.exercise.min_rom_deg, 8.0, 15.0)),
            repose_s=max(3.0, 2 * self._settings.hold_target_s + 2.0),
        )

    def _calibrated(self, calibration: Calibration, *, range_pending: bool) -> None:
        """Use a calibration. With `range_pending` the range is the next rep's (the
        self-calibration's first rep): limits and targets in percent of it wait for it."""
        self.calibration = calibration
        self._range_pending = range_pending
        if self._detector is None:
            reference = max(calibration.rom_deg, self.exercise.min_rom_deg / 0.35)
            self._detector = RepDetector(self._settings, reference_deg=reference, t0_ns=self.t0_ns)
        if not range_pending:
            self._detector.calibration_rom_deg = calibration.rom_deg
        self._apply_range(calibration.rom_deg)
        self._axis = np.asarray(calibration.axis)
        self._neutral_tilt = float(
            out_of_plane_deg(np.asarray(calibration.neutral_gravity)[None, :], self._axis)[0]
        )

    def _apply_range(self, rom_deg: float) -> None:
        """The range limit in force for a calibrated range of `rom_deg`."""
        limits = self.prescription.limits
        limit = limits.rom_limit_deg
        if limit is None and limits.rom_limit_pct and not self._range_pending:
            limit = rom_deg * (1 + limits.rom_limit_pct / 100)
        self._range_monitor = (
            ThresholdMonitor(
                WarningKind.RANGE_LIMIT,
                limit,
                3.0,
                "beyond the range limit: {value:.0f} deg (limit {limit:.0f}); ease off",
            )
            if limit
            else None
        )

    def _first_rep_range(self, rep_events: list, events: list) -> RepCounted | None:
        """The calibration rep of a self-calibration: its peak is the calibrated range."""
        first = next((e for e in rep_events if isinstance(e, RepCounted)), None)
        if first is None:
            return None
        rom = round(abs(first.rep.peak_angle_deg), 6)
        self.calibration = self.calibration.model_copy(update={"rom_deg": rom})
        self._range_pending = False
        events.append(Calibrated(t_s=first.t_s, calibration=self.calibration))
        return first

    def _detect(self, samples: _Filtered, i: int, events: list) -> int:
        """Detect from sample `i` on, up to a slip or to the next out-and-back move found from
        the orientation (handed over at its sample); returns where it stopped."""
        self._moves = [move for move in self._moves if move.found_ns >= samples.t_ns[i]]
        part = samples[i:]
        if self._moves:
            end = int(np.searchsorted(part.t_ns, self._moves[0].found_ns, side="right"))
            part = part[:end]
        stop = self._detect_until(part, events)
        while self._moves and self._moves[0].found_ns <= part.t_ns[stop - 1]:
            self._detector.return_move(self._moves.pop(0), events)
        return i + stop

    def _detect_until(self, samples: _Filtered, events: list) -> int:
        t_ns, gravity, still = samples.t_ns, samples.gravity, samples.still
        angle = segment_angle_deg(gravity, samples.quat, self.calibration)
        speed = axis_rate_dps(samples.gyro_lp, self._axis)
        t_s = (t_ns - self.t0_ns) / 1e9
        detector = self._detector
        tilt = np.abs(out_of_plane_deg(gravity, self._axis) - self._neutral_tilt)
        rep_events = detector.process(t_ns, angle, speed, still, tilt)
        slipped, detector.slip_index = detector.slip_index, None
        stop = len(t_ns) if slipped is None else slipped + 1
        for rebase_ns, shift in detector.rebased:
            events.append(
                warning_event(
                    WarningKind.SENSOR_SLIPPED,
                    (rebase_ns - self.t0_ns) / 1e9,
                    f"rest pose moved by {shift:+.0f} deg (posture change or slipped sensor); "
                    "counting from the new pose",
                    shift,
                )
            )
        detector.rebased.clear()
        magnitude = np.abs(angle[:stop]) if self.exercise.alternating else angle[:stop]
        split = 0
        if self._range_pending and (first := self._first_rep_range(rep_events, events)):
            split = int(np.searchsorted(t_s[:stop], first.t_s, side="right"))
            if self._range_monitor:
                events.extend(self._range_monitor.process(t_s[:split], magnitude[:split]))
            self._apply_range(self.calibration.rom_deg)
        if self._range_monitor:
            events.extend(self._range_monitor.process(t_s[split:stop], magnitude[split:]))
        if self._speed_monitor:
            events.extend(self._speed_monitor.process(t_s[:stop], np.abs(speed[:stop])))
        for event in rep_events:
            events.append(event)
            if isinstance(event, RepCounted) and self.exercise.alternating:
                self._check_balance(event, events)
        self._trace.append((t_ns[:stop], angle[:stop]))
        if stop:
            self.angle_deg = float(angle[stop - 1])
            self.speed_dps = float(speed[stop - 1])
        if slipped is not None:
            self._resettle(
                float(t_s[slipped]), samples[slipped : slipped + 1], tilt[slipped], events
            )
        return stop

    def _resettle(self, t_s: float, pose: _Filtered, tilt: float, events: list) -> None:
        """The sensor turned on the segment: the still pose now is the neutral, same axis."""
        events.append(
            warning_event(
                WarningKind.SENSOR_SLIPPED,
                t_s,
                f"sensor seems to have slipped ({tilt:.0f} deg off the plane of the exercise); "
                "counting from the current pose",
                tilt,
            )
        )
        calibration = make_calibration(
            pose.gravity[0],
            self._axis,
            method=self.calibration.method,
            t_s=t_s,
            rom_deg=self.calibration.rom_deg,
            neutral_quat=pose.quat[0],
        )
        self._detector.reset_pose()
        self._calibrated(calibration, range_pending=self._range_pending)
        events.append(Calibrated(t_s=t_s, calibration=calibration))

    def _check_balance(self, event: RepCounted, events: list) -> None:
        set_index = event.rep.set_index
        if set_index in self._imbalance_sets:
            return
        message = imbalance_message(self._detector.reps, set_index, self.exercise.sides)
        if message:
            self._imbalance_sets.add(set_index)
            events.append(warning_event(WarningKind.IMBALANCE, event.t_s, message, None))

    def _record(self, events: list[AnalysisEvent]) -> list[AnalysisEvent]:
        events.sort(key=lambda event: event.t_s)
        self.warnings.extend(e for e in events if isinstance(e, WarningRaised))
        return events


def _core(block: SampleBlock) -> SampleBlock:
    return SampleBlock(t_ns=block.t_ns, acc=block.acc, gyro=block.gyro)


def _resolve(target: str | Exercise | Prescription | Program, item: int) -> Prescription:
    if isinstance(target, Prescription):
        return target
    if isinstance(target, Exercise):
        return prescription_for(target)
    if isinstance(target, Program):
        prescriptions = target.prescriptions()
        if not 0 <= item < len(prescriptions):
            raise ValueError(f"program has {len(prescriptions)} exercises; no item {item + 1}")
        return prescriptions[item]
    return prescription_for(get_exercise(target))
