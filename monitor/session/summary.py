"""The session summary: what was done in one session, against what was prescribed.

`SessionSummary` is the contract between analysis and everything that presents a finished session
(exports, the history, the therapist report). It is versioned (`schema_version`) and its JSON Schema
is committed next to this file (`summary.schema.json`); a test fails when the two drift. Regenerate
the schema with `python -m monitor.session.summary`.

Times inside a session are seconds from the session start; the start itself is an aware UTC
datetime. Nothing here names a person: the input is referred to by its file name only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from numpy.typing import ArrayLike
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from monitor.analysis.exercises import Dose, Limits
from monitor.analysis.exercises import Prescription as AnalysisPrescription
from monitor.analysis.programs import Program
from monitor.analysis.results import AnalysisSummary
from monitor.analysis.results import Calibration as AnalysisCalibration
from monitor.core.events import Event, EventKind

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("summary.schema.json")

# A hold counts as done when it reaches this share of the prescribed time (tolerates a late stop
# of the hold timer by one sample or a reaction-time early release).
HOLD_TOLERANCE = 0.9


def _round3(value: float) -> float:
    """Millisecond / millidegree precision: keeps exports readable and byte-stable."""
    rounded = round(float(value), 3)
    return 0.0 if rounded == 0 else rounded  # no "-0.0" in the output


Seconds = Annotated[float, Field(ge=0), AfterValidator(_round3)]
Degrees = Annotated[float, AfterValidator(_round3)]
Rate = Annotated[float, Field(ge=0), AfterValidator(_round3)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SensorInfo(_Model):
    """Which sensor produced the data and how it was decoded (no personal data)."""

    profile: str = Field(description="Firmware profile id used to decode the data.")
    model: str | None = Field(default=None, description="Sensor model, e.g. 'Polar Verity Sense'.")
    device: str | None = Field(
        default=None, description="Device identifier as advertised (BLE address or name)."
    )
    placement: str | None = Field(default=None, description="Where the sensor was worn.")
    sample_rate_hz: Rate | None = None


class ProgramRef(_Model):
    """The therapist's program the session followed, if any."""

    id: str
    name: str | None = None
    sessions_per_week: float | None = Field(
        default=None, gt=0, description="Prescribed frequency; daily is 7."
    )


class SessionMeta(_Model):
    start: AwareDatetime = Field(description="Session start, UTC.")
    duration_s: Seconds
    source: Literal["live", "replay", "import"] = Field(
        description="live: streamed from a sensor; replay: re-analysed recording; import: CSV."
    )
    input_name: str | None = Field(
        default=None, description="File name of the recording or CSV (no directory)."
    )
    sensor: SensorInfo
    program: ProgramRef | None = None
    monitor_version: str

    @field_validator("start")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @field_validator("input_name")
    @classmethod
    def _name_only(cls, value: str | None) -> str | None:
        return None if value is None else Path(value).name


class Prescription(_Model):
    """The dose the program asks for; every field optional (a free session has none)."""

    sets: int | None = Field(default=None, ge=1)
    reps: int | None = Field(default=None, ge=1, description="Reps per set.")
    hold_s: Seconds | None = None
    rest_s: Seconds | None = None
    target_deg: Degrees | None = Field(default=None, description="Range-of-motion target.")
    limit_deg: Degrees | None = Field(default=None, description="Range beyond which it warns.")
    max_speed_dps: Rate | None = None


class Rep(_Model):
    index: int = Field(ge=1, description="1-based within its set.")
    start_s: Seconds
    end_s: Seconds
    peak_angle_deg: Degrees
    hold_s: Seconds = 0.0
    peak_speed_dps: Rate
    side: str | None = Field(default=None, description="Direction in alternating exercises.")
    flags: tuple[str, ...] = Field(
        default=(), description="What went wrong with this rep, e.g. too_fast, range_limit."
    )


class SetSummary(_Model):
    index: int = Field(ge=1)
    start_s: Seconds
    end_s: Seconds
    reps: tuple[Rep, ...]


class Adherence(_Model):
    """Done against prescribed; `None` where the prescription does not say."""

    sets_done: int
    sets_prescribed: int | None
    reps_done: int
    reps_prescribed: int | None = Field(description="Total over all prescribed sets.")
    holds_done: int = Field(description="Reps whose hold reached the prescribed time.")
    hold_s_prescribed: Seconds | None
    hold_s_mean: Seconds | None = Field(description="Mean hold over the reps.")
    completion: float | None = Field(
        description="reps_done / reps_prescribed; above 1 means more than prescribed."
    )


class ExerciseSummary(_Model):
    exercise_id: str
    name: str
    mode: str = Field(default="reps", description="reps, hold or reps_with_hold.")
    start_s: Seconds
    end_s: Seconds
    prescription: Prescription | None = None
    sets: tuple[SetSummary, ...]
    adherence: Adherence

    @property
    def reps(self) -> tuple[Rep, ...]:
        return tuple(rep for s in self.sets for rep in s.reps)

    @property
    def peak_angle_deg(self) -> float | None:
        """Range of motion reached: the largest peak over all reps, to either side."""
        return max((abs(rep.peak_angle_deg) for rep in self.reps), default=None)


class WarningEntry(_Model):
    kind: str = Field(description="e.g. range_limit, too_fast, hold_released_early.")
    t_s: Seconds
    message: str
    exercise_id: str | None = None


class Gap(_Model):
    start_s: Seconds
    duration_s: Seconds
    reason: str


class Calibration(_Model):
    """The reference the angles are measured from (neutral pose and axis of motion)."""

    method: str = Field(description="'explicit' (guided neutral pose) or 'self' (from the data).")
    at_s: Seconds = Field(description="When the calibration completed.")
    neutral_gravity: tuple[float, float, float] | None = Field(
        default=None, description="Gravity direction at neutral, sensor frame (unit vector)."
    )
    axis: tuple[float, float, float] | None = Field(
        default=None, description="Axis of motion, sensor frame (unit vector)."
    )
    range_deg: Degrees | None = Field(default=None, description="Range of the calibration move.")
    plane_quality: float | None = Field(
        default=None, ge=0, le=1, description="1: vertical plane (reliable), 0: horizontal."
    )


class AngleTrace(_Model):
    """The segment angle over the session, decimated for charts (not for re-analysis)."""

    t_s: tuple[Seconds, ...]
    angle_deg: tuple[Degrees, ...]

    @field_validator("angle_deg")
    @classmethod
    def _finite(cls, values: tuple[float, ...]) -> tuple[float, ...]:
        if not all(math.isfinite(v) for v in values):
            raise ValueError("angle trace must be finite")
        return values


class SessionSummary(_Model):
    schema_version: Literal[1] = SCHEMA_VERSION
    session: SessionMeta
    calibration: Calibration | None = None
    exercises: tuple[ExerciseSummary, ...] = ()
    warnings: tuple[WarningEntry, ...] = ()
    gaps: tuple[Gap, ...] = ()
    trace: AngleTrace | None = None

    @property
    def rep_count(self) -> int:
        return sum(ex.adherence.reps_done for ex in self.exercises)

    def to_json(self) -> str:
        """Canonical JSON text (two-space indent, trailing newline): the `json` export format."""
        return self.model_dump_json(indent=2) + "\n"


def adherence(sets: Sequence[SetSummary], prescription: Prescription | None) -> Adherence:
    """Done against prescribed for one exercise."""
    reps = [rep for s in sets for rep in s.reps]
    p = prescription or Prescription()
    reps_prescribed = p.reps * (p.sets or 1) if p.reps is not None else None
    holds_done = sum(rep.hold_s >= HOLD_TOLERANCE * p.hold_s for rep in reps) if p.hold_s else 0
    return Adherence(
        sets_done=len(sets),
        sets_prescribed=p.sets,
        reps_done=len(reps),
        reps_prescribed=reps_prescribed,
        holds_done=holds_done,
        hold_s_prescribed=p.hold_s,
        hold_s_mean=sum(rep.hold_s for rep in reps) / len(reps) if reps else None,
        completion=round(len(reps) / reps_prescribed, 3) if reps_prescribed else None,
    )


def decimate_trace(t_s: ArrayLike, angle_deg: ArrayLike, *, max_points: int = 1500) -> AngleTrace:
    """A chart-sized `AngleTrace`: non-finite samples dropped, then every k-th sample so at most
    `max_points` remain."""
    t = np.asarray(t_s, dtype=np.float64)
    angle = np.asarray(angle_deg, dtype=np.float64)
    finite = np.isfinite(angle) & np.isfinite(t)
    t, angle = t[finite], angle[finite]
    step = max(1, math.ceil(len(t) / max_points))
    return AngleTrace(t_s=tuple(t[::step].tolist()), angle_deg=tuple(angle[::step].tolist()))


def prescription_from(
    dose: Dose, limits: Limits, mode: str, calibration_range_deg: float | None
) -> Prescription:
    """The analysis prescription (dose and limits) in degrees; limits given as a percentage of
    the range measured at calibration resolve against that range, as the pipeline does."""
    target, limit = limits.rom_target_deg, limits.rom_limit_deg
    if calibration_range_deg:
        if target is None and limits.rom_target_pct:
            target = calibration_range_deg * limits.rom_target_pct / 100
        if limit is None and limits.rom_limit_pct:
            limit = calibration_range_deg * (1 + limits.rom_limit_pct / 100)
    return Prescription(
        sets=dose.sets,
        reps=dose.reps,
        hold_s=dose.hold_s if mode != "reps" and dose.hold_s else None,
        rest_s=dose.rest_s,
        target_deg=target,
        limit_deg=limit,
        max_speed_dps=limits.max_speed_dps,
    )


def program_ref(program: Program) -> ProgramRef:
    """The summary's reference to a program. Its prescribed frequency (`sessions_per_week`)
    drives the weekly adherence and the maintenance nudge; programs without one get neither."""
    return ProgramRef(id=program.id, name=program.name, sessions_per_week=program.sessions_per_week)


def calibration_from(calibration: AnalysisCalibration) -> Calibration:
    return Calibration(
        method=calibration.method,
        at_s=max(calibration.t_s, 0.0),
        neutral_gravity=calibration.neutral_gravity,
        axis=calibration.axis,
        range_deg=calibration.rom_deg,
        plane_quality=min(max(calibration.plane_quality, 0.0), 1.0),
    )


def exercise_from(result: AnalysisSummary, prescription: AnalysisPrescription) -> ExerciseSummary:
    """One exercise of the session from the pipeline's summary and the prescription it ran."""
    by_set: dict[int, list[Rep]] = {}
    for rep in result.reps:
        reps = by_set.setdefault(rep.set_index, [])
        reps.append(
            Rep(
                index=len(reps) + 1,
                start_s=max(rep.start_s, 0.0),
                end_s=max(rep.end_s, 0.0),
                peak_angle_deg=rep.peak_angle_deg,
                hold_s=max(rep.hold_s, 0.0),
                peak_speed_dps=abs(rep.peak_speed_dps),
                side=rep.side,
                flags=tuple(rep.flags),
            )
        )
    sets = [
        SetSummary(
            index=index,
            start_s=min(rep.start_s for rep in reps),
            end_s=max(rep.end_s for rep in reps),
            reps=tuple(reps),
        )
        for index, reps in sorted(by_set.items())
    ]
    calibration_range = result.calibration.rom_deg if result.calibration else None
    wanted = prescription_from(
        prescription.dose, prescription.limits, result.mode, calibration_range
    )
    return ExerciseSummary(
        exercise_id=result.exercise_id,
        name=result.exercise_name,
        mode=result.mode,
        start_s=sets[0].start_s if sets else 0.0,
        end_s=sets[-1].end_s if sets else max(result.duration_s, 0.0),
        prescription=wanted,
        sets=tuple(sets),
        adherence=adherence(sets, wanted),
    )


def from_analyses(
    results: Sequence[tuple[AnalysisSummary, AnalysisPrescription]],
    *,
    meta: SessionMeta,
    gaps: Sequence[Gap] = (),
    trace: AngleTrace | None = None,
) -> SessionSummary:
    """The session summary from the pipeline's summary of each exercise done (one pipeline per
    exercise, all on the session clock) and the prescription each ran with."""
    calibration = next((r.calibration for r, _ in results if r.calibration), None)
    warnings = [
        WarningEntry(
            kind=str(w.kind), t_s=max(w.t_s, 0.0), message=w.message, exercise_id=r.exercise_id
        )
        for r, _ in results
        for w in r.warnings
    ]
    return SessionSummary(
        session=meta,
        calibration=calibration_from(calibration) if calibration else None,
        exercises=tuple(exercise_from(result, prescription) for result, prescription in results),
        warnings=tuple(sorted(warnings, key=lambda w: w.t_s)),
        gaps=tuple(gaps),
        trace=trace,
    )


GAP_EVENTS = (EventKind.GAP, EventKind.DISCONNECT, EventKind.RECONNECT, EventKind.CLOCK_RESET)


def data_gaps(t_ns: np.ndarray, events: Iterable[Event], *, min_gap_s: float = 0.5) -> list[Gap]:
    """Holes in the samples (longer than `min_gap_s` and three sample periods), in seconds from
    the first sample, each with the reason the data path logged for it if one falls inside.

    Found from the timestamps themselves, so every cause counts (link loss, dropped packets, a
    paused sensor) whatever its producer reported; events on another clock just give no reason.
    """
    if len(t_ns) < 2:
        return []
    steps = np.diff(t_ns)
    period = float(np.median(steps))
    holes = np.flatnonzero(steps > max(min_gap_s * 1e9, 3 * period))
    notes = sorted((e.t_ns, e.message) for e in events if e.kind in GAP_EVENTS)
    gaps = []
    for index in holes.tolist():
        start, end = int(t_ns[index]), int(t_ns[index + 1])
        reasons = [message for at, message in notes if start - period <= at <= end]
        gaps.append(
            Gap(
                start_s=(start - int(t_ns[0])) / 1e9,
                duration_s=(end - start) / 1e9,
                reason="; ".join(reasons) or f"no samples for {(end - start) / 1e9:.1f} s",
            )
        )
    return gaps


def json_schema() -> str:
    """The committed JSON Schema text for `SessionSummary`."""
    return json.dumps(SessionSummary.model_json_schema(), indent=2, sort_keys=True) + "\n"


def load_summary(text: str) -> SessionSummary:
    """Parse a summary JSON document (as written by `SessionSummary.to_json`)."""
    return SessionSummary.model_validate_json(text)


if __name__ == "__main__":
    SCHEMA_PATH.write_text(json_schema(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
