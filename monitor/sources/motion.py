"""Motion model of the virtual sensor: a scripted exercise session -> ideal IMU samples + truth.

The moving body segment (thigh, pelvis, trunk) has its own frame S: x anterior, y to the
subject's left, z superior (cranial), as in the anatomical standing position. Its orientation in
the world (z up) is

    R_seg(t) = R_neutral * Rot(axis, theta(t)) * Rot(shift_axis, phi(t))

where `theta` is the exercise angle (the ground truth the analysis must recover) and `phi` a
small off-axis posture shift. The sensor is strapped on with an arbitrary rotation R_mount
(sensor frame -> S) at a lever arm r from the joint the segment turns about, so

    gyro = R_mount^T w,    acc = R_mount^T (dw/dt x r + w x (w x r)) + R_sensor^T (0, 0, g)

with w the segment's body-frame angular velocity. Every movement is a minimum-jerk profile, so
angle, rate and angular acceleration are exact closed forms and the simulated gyro integrates
to the truth angle. All arrays are computed vectorised over the whole session.
"""

from __future__ import annotations

import itertools
import json
import tomllib
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from scipy.spatial.transform import Rotation

from monitor.core import GRAVITY, SampleBlock
from monitor.errors import InputFileError

Vec3 = tuple[float, float, float]
FloatArray = NDArray[np.float64]

# Earth's field in the world frame (z up), mid-latitude Europe: ~20 uT horizontal, ~44 uT down.
EARTH_FIELD_UT = np.array([20.0, 0.0, -44.0])


class Posture(StrEnum):
    """Orientation of the segment's neutral pose relative to gravity."""

    STANDING = "standing"
    SUPINE = "supine"
    PRONE = "prone"
    SIDE_LYING = "side_lying"


# Columns are the world directions of the segment's x (anterior), y (left), z (superior) axes.
_POSTURE_MATRICES: dict[Posture, list[list[float]]] = {
    Posture.STANDING: [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
    Posture.SUPINE: [[0, 0, 1], [0, -1, 0], [1, 0, 0]],
    Posture.PRONE: [[0, 0, 1], [0, 1, 0], [-1, 0, 0]],
    Posture.SIDE_LYING: [[0, 0, 1], [-1, 0, 0], [0, -1, 0]],
}


@dataclass(frozen=True, slots=True)
class ExerciseKind:
    """How one exercise moves the segment the sensor sits on, and its default dose."""

    segment: str
    posture: Posture
    axis: Vec3  # in the segment frame; positive theta = the exercise's direction
    rom_deg: float
    up_s: float
    down_s: float
    hold_s: float
    lever_arm_m: Vec3  # joint -> sensor, segment frame
    alternating: bool = False  # sides in turn, right first (positive theta = left)
    neutral_offset_deg: float = 0.0  # start pose already turned about the axis (hook lying)


_FLEX = (0.0, -1.0, 0.0)  # about the right-pointing axis: the distal end moves anteriorly
_EXTEND = (0.0, 1.0, 0.0)

_KNEE_TO_CHEST = ExerciseKind(
    "thigh", Posture.SUPINE, _FLEX, 70, 2.0, 2.0, 5.0, (0.06, 0.0, -0.2), False, 45
)

# Ids as in the exercise library (monitor/analysis/data/exercises), so a simulated recording's
# header names an exercise the analysis knows.
EXERCISES: dict[str, ExerciseKind] = {
    "knee_to_chest_single": _KNEE_TO_CHEST,
    "knee_to_chest_double": _KNEE_TO_CHEST,
    "hamstring_stretch": ExerciseKind(
        "thigh", Posture.SUPINE, _FLEX, 60, 3.0, 3.0, 20.0, (0.06, 0.0, -0.2)
    ),
    "piriformis_stretch": ExerciseKind(
        "thigh",
        Posture.SUPINE,
        (-0.35, -0.94, 0.0),
        40,
        3.0,
        3.0,
        20.0,
        (0.06, 0.0, -0.2),
        False,
        45,
    ),
    "pelvic_tilt": ExerciseKind(
        "pelvis", Posture.SUPINE, _EXTEND, 12, 1.5, 1.5, 3.0, (-0.08, 0.0, 0.1)
    ),
    "bridge": ExerciseKind("pelvis", Posture.SUPINE, _FLEX, 25, 2.0, 2.0, 5.0, (-0.1, 0.0, -0.45)),
    "lower_trunk_rotation": ExerciseKind(
        "pelvis", Posture.SUPINE, (0.0, 0.0, 1.0), 40, 2.0, 2.0, 3.0, (-0.1, 0.1, 0.0), True
    ),
    "partial_situp": ExerciseKind(
        "trunk", Posture.SUPINE, _EXTEND, 30, 1.5, 1.5, 2.0, (0.1, 0.0, 0.35)
    ),
    "cat_cow": ExerciseKind(
        "trunk", Posture.PRONE, _EXTEND, 20, 2.0, 2.0, 3.0, (0.0, 0.0, 0.25), True
    ),
    "prone_press_up": ExerciseKind(
        "trunk", Posture.PRONE, _FLEX, 30, 2.0, 2.0, 3.0, (-0.1, 0.0, 0.3)
    ),
    "generic": ExerciseKind(
        "segment", Posture.STANDING, _EXTEND, 45, 1.5, 1.5, 0.0, (0.0, 0.0, 0.2)
    ),
}
_ALIASES = {name.replace("_", "-"): name for name in EXERCISES} | {
    "knee_to_chest": "knee_to_chest_single",
    "trunk_rotation": "lower_trunk_rotation",
    "crunch": "partial_situp",
    "sit_up": "partial_situp",
    "press_up": "prone_press_up",
}


def exercise_kind(name: str) -> tuple[str, ExerciseKind]:
    """The canonical id and definition of an exercise name (`knee-to-chest` = `knee_to_chest`)."""
    key = _ALIASES.get(name, name.replace("-", "_"))
    key = _ALIASES.get(key, key)
    if key not in EXERCISES:
        raise ValueError(f"unknown exercise {name!r}; known: {', '.join(sorted(EXERCISES))}")
    return key, EXERCISES[key]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RepVariation(_Model):
    """Override one rep of a set: an overdone, rushed or cut-short rep for testing warnings."""

    set: int = Field(1, ge=1)
    rep: int = Field(ge=1)
    rom_deg: float | None = Field(None, gt=0, le=180)
    up_s: float | None = Field(None, gt=0)
    down_s: float | None = Field(None, gt=0)
    hold_s: float | None = Field(None, ge=0)
    peak_speed_dps: float | None = Field(None, gt=0, description="sets up_s/down_s")
    label: str = Field("", description="copied into the truth, e.g. 'overdone', 'too_fast'")


class RepsSegment(_Model):
    """Sets of reps: move to the end range (minimum jerk), hold, return, rest."""

    type: Literal["reps"] = "reps"
    sets: int = Field(1, ge=1, le=20)
    reps: int = Field(5, ge=1, le=200)
    rom_deg: float | None = Field(None, gt=0, le=180, description="default: the exercise's")
    rom_jitter_deg: float = Field(1.5, ge=0, description="per-rep random spread (sd)")
    up_s: float | None = Field(None, gt=0)
    down_s: float | None = Field(None, gt=0)
    hold_s: float | None = Field(None, ge=0)
    peak_speed_dps: float | None = Field(None, gt=0, description="sets up_s/down_s")
    tempo_jitter: float = Field(0.05, ge=0, le=0.5, description="relative spread of durations")
    rest_s: float = Field(2.0, ge=0, description="between reps")
    set_rest_s: float = Field(20.0, ge=0, description="between sets")
    hold_wobble_deg: float = Field(0.4, ge=0, description="sway while holding (sd)")
    variations: list[RepVariation] = Field(default_factory=list)

    @model_validator(mode="after")
    def _variations_exist(self) -> RepsSegment:
        for variation in self.variations:
            if variation.set > self.sets or variation.rep > self.reps:
                raise ValueError(
                    f"variation of set {variation.set} rep {variation.rep}: the segment has "
                    f"{self.sets} set(s) of {self.reps} rep(s)"
                )
        return self


class IdleSegment(_Model):
    """Lying or standing still apart from small posture shifts (about any axis)."""

    type: Literal["idle"] = "idle"
    duration_s: float = Field(10.0, gt=0)
    shift_deg: float = Field(1.5, ge=0, description="size of posture shifts (sd)")
    shift_every_s: float = Field(4.0, gt=0.5)


def _segment_type(value: object) -> str:
    """A segment without `type` is a reps segment (the common case in script files)."""
    if isinstance(value, dict):
        return str(value.get("type", "reps"))
    return str(getattr(value, "type", "reps"))


Segment = Annotated[
    Annotated[RepsSegment, Tag("reps")] | Annotated[IdleSegment, Tag("idle")],
    Discriminator(_segment_type),
]


class Noise(_Model):
    acc_mps2: float = Field(0.02, ge=0, description="white noise sd per sample")
    gyro_rads: float = Field(0.002, ge=0, description="white noise sd per sample")
    mag_ut: float = Field(0.3, ge=0)
    gyro_bias_dps: Vec3 | Literal["random"] = "random"
    gyro_bias_sd_dps: float = Field(0.3, ge=0, description="spread of a random bias per axis")
    gyro_bias_walk_dps: float = Field(
        0.0, ge=0, description="bias instability: random walk, deg/s per sqrt(s)"
    )
    acc_bias_mps2: Vec3 = (0.0, 0.0, 0.0)


class Disconnect(_Model):
    at_s: float = Field(ge=0)
    duration_s: float = Field(gt=0)


class ClockJump(_Model):
    """The clock the samples are stamped with steps at `at_s` (session time).

    Sensor-clocked streams: the sensor's own clock (a time set, a firmware reset). Host-clocked
    ones: the host's wall clock the arrivals are stamped with (an NTP step, a manual change).
    """

    at_s: float = Field(ge=0)
    by_s: float = Field(0.0, description="step in seconds (negative: backwards)")
    reset: bool = Field(False, description="the clock restarts from zero (then steps by_s)")


class Link(_Model):
    """What the BLE link does to the notifications."""

    drop_probability: float = Field(0.0, ge=0, lt=1, description="share of packets lost")
    drop_burst: float = Field(1.0, ge=1, description="mean length of a loss burst (packets)")
    duplicate_probability: float = Field(
        0.0, ge=0, lt=1, description="share of notifications delivered twice"
    )
    reorder_probability: float = Field(
        0.0, ge=0, lt=1, description="share of notifications delivered after the next one"
    )
    clock_jumps: list[ClockJump] = Field(default_factory=list)
    disconnects: list[Disconnect] = Field(default_factory=list)
    latency_ms: float = Field(20.0, ge=0)
    jitter_ms: float = Field(8.0, ge=0, description="mean extra delivery delay (exponential)")
    connection_interval_ms: float = Field(15.0, gt=0, description="deliveries fall on events")
    clock_drift_ppm: float = Field(25.0, description="sensor clock fast by this much")


class Slip(_Model):
    """The strap slips: the sensor turns on the segment by a rotation in its own frame."""

    at_s: float = Field(ge=0)
    rotation_deg: Vec3 = Field(description="roll, pitch, yaw of the turn (xyz, sensor frame)")
    duration_s: float = Field(0.4, gt=0)


class MotionScript(_Model):
    """A simulated session: exercise, dose, mounting, sensor errors and link faults."""

    exercise: str = "knee_to_chest_single"
    rate_hz: float = Field(100.0, ge=25, le=400, description="nearest the profile supports")
    posture: Posture | None = None
    axis: Vec3 | None = Field(None, description="segment-frame exercise axis override")
    neutral_offset_deg: float | None = None
    lever_arm_m: Vec3 | None = None
    mounting_deg: Vec3 | Literal["random"] = Field(
        (0.0, 0.0, 0.0), description="sensor on segment: roll, pitch, yaw (xyz, degrees)"
    )
    lead_in_s: float = Field(4.0, ge=0, description="still neutral pose first (calibration)")
    lead_out_s: float = Field(2.0, ge=0)
    segments: list[Segment] = Field(default_factory=lambda: [RepsSegment()])
    slips: list[Slip] = Field(default_factory=list, description="in time order, not overlapping")
    noise: Noise = Field(default_factory=Noise)
    link: Link = Field(default_factory=Link)
    magnetometer: bool = Field(
        True, description="synthesize() output only: a profile's stream sends what it carries"
    )

    @field_validator("exercise")
    @classmethod
    def _known_exercise(cls, value: str) -> str:
        return exercise_kind(value)[0]

    @field_validator("slips")
    @classmethod
    def _slips_one_at_a_time(cls, slips: list[Slip]) -> list[Slip]:
        for before, after in itertools.pairwise(slips):
            if after.at_s < before.at_s + before.duration_s:
                raise ValueError(
                    f"slip at {after.at_s} s starts before the one at {before.at_s} s ends"
                )
        return slips

    @field_validator("axis")
    @classmethod
    def _nonzero_axis(cls, value: Vec3 | None) -> Vec3 | None:
        if value is not None and np.linalg.norm(value) < 1e-6:
            raise ValueError("axis must not be the zero vector")
        return value

    @classmethod
    def load(cls, path: Path) -> MotionScript:
        """Read a script from TOML or JSON; errors name the file and the field."""
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise InputFileError(f"{path}: cannot read motion script: {error}") from None
        return cls.parse(data, str(path))

    @classmethod
    def parse(cls, data: object, source: str) -> MotionScript:
        """Validate script data; the error is one line naming `source`, the field and why."""
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            first = error.errors()[0]
            # Segment locations carry the union tag ("segments.0.reps.reps"): drop it.
            loc = [p for i, p in enumerate(first["loc"]) if not (i == 2 and p in ("reps", "idle"))]
            where = ".".join(str(p) for p in loc) or "(top level)"
            message = first["msg"].removeprefix("Value error, ")
            raise InputFileError(f"{source}: {where}: {message}") from None

    @property
    def kind(self) -> ExerciseKind:
        return exercise_kind(self.exercise)[1]


class Phase(IntEnum):
    """What the segment is doing at a sample (truth labels)."""

    IDLE = 0
    REST = 1
    UP = 2
    HOLD = 3
    DOWN = 4


@dataclass(frozen=True, slots=True)
class RepTruth:
    set: int  # 1-based
    rep: int  # 1-based within its set
    number: int  # 1-based over the session
    side: str  # "left" / "right" for alternating exercises, else ""
    start_s: float
    end_s: float
    hold_start_s: float
    hold_end_s: float
    target_rom_deg: float
    peak_angle_deg: float
    peak_speed_dps: float
    label: str

    @property
    def hold_s(self) -> float:
        return self.hold_end_s - self.hold_start_s


@dataclass(frozen=True, slots=True)
class MotionTruth:
    """Ground truth on the sample grid (t in seconds from the session start, sensor time)."""

    t_s: FloatArray
    angle_deg: FloatArray  # signed angle from neutral about the exercise axis
    speed_dps: FloatArray
    phase: NDArray[np.uint8]
    set: NDArray[np.int32]  # 0 outside sets
    rep: NDArray[np.int32]  # session rep number, 0 outside reps
    reps: list[RepTruth]
    axis_sensor: FloatArray  # the exercise axis in the sensor frame (unit)


@dataclass(frozen=True, slots=True)
class Motion:
    samples: SampleBlock  # t_ns from 0, ideal + noise + bias, project units
    clean: SampleBlock  # without noise and bias
    truth: MotionTruth
    gyro_bias_rads: FloatArray
    mounting: Rotation


class _Track:
    """A piecewise minimum-jerk trajectory that tiles time from 0, with per-piece labels."""

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.durations: list[float] = []
        self.begin: list[float] = []
        self.end: list[float] = []
        self.labels: list[tuple[int, int, int]] = []  # phase, set, rep number
        self.now = 0.0
        self.value = 0.0

    def move(self, duration: float, target: float, label: tuple[int, int, int]) -> None:
        if duration <= 0:
            return
        self.starts.append(self.now)
        self.durations.append(duration)
        self.begin.append(self.value)
        self.end.append(target)
        self.labels.append(label)
        self.now += duration
        self.value = target

    def stay(self, duration: float, label: tuple[int, int, int]) -> None:
        self.move(duration, self.value, label)

    def evaluate(self, t: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, NDArray]:
        """Value, first and second derivative at `t`, and the piece index of each sample."""
        if not self.starts:
            zeros = np.zeros_like(t)
            return zeros, zeros, zeros, np.zeros(t.shape, dtype=np.int64)
        starts = np.asarray(self.starts)
        index = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(starts) - 1)
        duration = np.asarray(self.durations)[index]
        tau = np.clip((t - starts[index]) / duration, 0.0, 1.0)
        delta = np.asarray(self.end)[index] - np.asarray(self.begin)[index]
        shape = tau**3 * (10 - 15 * tau + 6 * tau**2)
        slope = 30 * tau**2 * (1 - tau) ** 2
        curve = 60 * tau * (1 - tau) * (1 - 2 * tau)
        value = np.asarray(self.begin)[index] + delta * shape
        return value, delta * slope / duration, delta * curve / duration**2, index


_MIN_JERK_PEAK = 1.875  # peak speed of a minimum-jerk move = 1.875 * distance / duration


def _durations(
    rom: float, up: float, down: float, speed: float | None, rng: np.random.Generator, jitter: float
) -> tuple[float, float]:
    if speed is not None:
        up = down = _MIN_JERK_PEAK * rom / speed
    spread = rng.normal(1.0, jitter, size=2).clip(0.7, 1.3) if jitter else np.ones(2)
    return up * float(spread[0]), down * float(spread[1])


def _script_tracks(
    script: MotionScript, rng: np.random.Generator
) -> tuple[_Track, _Track, list[dict]]:
    """Exercise-angle track (degrees), off-axis shift track and the planned reps."""
    kind = script.kind
    main, shift = _Track(), _Track()
    idle = (int(Phase.IDLE), 0, 0)
    main.stay(script.lead_in_s, idle)
    shift.stay(script.lead_in_s, idle)
    planned: list[dict] = []
    set_number = 0
    for segment in script.segments:
        if isinstance(segment, IdleSegment):
            _idle(main, shift, segment, rng)
            continue
        for set_index in range(segment.sets):
            set_number += 1
            if set_index:
                main.stay(segment.set_rest_s, idle)
            for rep_index in range(segment.reps):
                planned.append(
                    _rep(main, kind, segment, set_number, set_index, rep_index, len(planned), rng)
                )
                last = rep_index == segment.reps - 1
                if not last:
                    main.stay(segment.rest_s, (int(Phase.REST), set_number, 0))
        shift.stay(main.now - shift.now, idle)
    main.stay(script.lead_out_s, idle)
    shift.stay(main.now - shift.now, idle)
    return main, shift, planned


def _idle(main: _Track, shift: _Track, segment: IdleSegment, rng: np.random.Generator) -> None:
    """Posture shifts: quick small moves about the exercise axis and an off axis, then still."""
    label = (int(Phase.IDLE), 0, 0)
    shift.stay(main.now - shift.now, label)
    end = main.now + segment.duration_s
    while main.now < end:
        gap = min(segment.shift_every_s * rng.uniform(0.6, 1.4), end - main.now)
        move = min(0.8, gap / 2)
        main.move(move, float(rng.normal(0, segment.shift_deg * 0.5)), label)
        shift.move(move, float(rng.normal(0, segment.shift_deg)), label)
        main.stay(gap - move, label)
        shift.stay(gap - move, label)
    main.move(0.8, 0.0, label)
    shift.move(0.8, 0.0, label)


def _rep(
    track: _Track,
    kind: ExerciseKind,
    segment: RepsSegment,
    set_number: int,
    set_index: int,
    rep_index: int,
    number_before: int,
    rng: np.random.Generator,
) -> dict:
    variation = next(
        (v for v in segment.variations if v.set == set_index + 1 and v.rep == rep_index + 1),
        None,
    )

    def pick(name: str, default: float | None) -> float | None:
        chosen = getattr(variation, name, None) if variation else None
        if chosen is not None:
            return chosen
        own = getattr(segment, name, None)
        return own if own is not None else default

    rom = float(pick("rom_deg", kind.rom_deg))
    if not (variation and variation.rom_deg is not None):
        rom = max(1.0, rom + float(rng.normal(0, segment.rom_jitter_deg)))
    up, down = _durations(
        rom,
        float(pick("up_s", kind.up_s)),
        float(pick("down_s", kind.down_s)),
        pick("peak_speed_dps", None),
        rng,
        0.0 if variation and variation.peak_speed_dps else segment.tempo_jitter,
    )
    hold = float(pick("hold_s", kind.hold_s))
    number = number_before + 1
    side = ""
    sign = 1.0
    if kind.alternating:
        side = "right" if number % 2 else "left"  # right first, as the exercise library
        sign = 1.0 if side == "left" else -1.0
    target = sign * rom
    start = track.now
    track.move(up, target, (int(Phase.UP), set_number, number))
    hold_start = track.now
    remaining = hold
    while remaining > 1e-9:
        piece = min(remaining, float(rng.uniform(0.8, 1.5)))
        if remaining - piece < 0.4:
            piece = remaining
        sway = float(rng.normal(0, segment.hold_wobble_deg))
        track.move(piece, target + sway, (int(Phase.HOLD), set_number, number))
        remaining -= piece
    hold_end = track.now
    track.move(down, 0.0, (int(Phase.DOWN), set_number, number))
    return {
        "set": set_number,
        "rep": rep_index + 1,
        "number": number,
        "side": side,
        "start_s": start,
        "end_s": track.now,
        "hold_start_s": hold_start,
        "hold_end_s": hold_end,
        "target_rom_deg": rom,
        "label": variation.label if variation else "",
    }


def _neutral(script: MotionScript, axis: FloatArray) -> Rotation:
    kind = script.kind
    posture = script.posture or kind.posture
    offset = (
        kind.neutral_offset_deg if script.neutral_offset_deg is None else script.neutral_offset_deg
    )
    base = Rotation.from_matrix(np.array(_POSTURE_MATRICES[posture], dtype=float))
    return base * Rotation.from_rotvec(np.radians(offset) * axis)


def _mounting(script: MotionScript, rng: np.random.Generator) -> Rotation:
    if script.mounting_deg == "random":
        return Rotation.random(rng=rng)
    return Rotation.from_euler("xyz", script.mounting_deg, degrees=True)


def _unit(vector: Vec3) -> FloatArray:
    array = np.asarray(vector, dtype=float)
    return array / np.linalg.norm(array)


@dataclass(frozen=True, slots=True)
class MotionPlan:
    """One scripted session, fixed by its seed; samples it at any instants.

    Channels of one sensor can run at different rates (Polar H10 ACC 200 Hz, Verity GYRO 52 Hz):
    each is sampled on its own grid from the same trajectory.
    """

    script: MotionScript
    seed: int
    main: _Track
    shift: _Track
    reps: list[RepTruth]
    axis: FloatArray
    shift_axis: FloatArray
    lever: FloatArray
    neutral: Rotation
    mounting: Rotation
    gyro_bias_rads: FloatArray

    @property
    def duration_s(self) -> float:
        return self.main.now

    def grid(self, rate_hz: float) -> FloatArray:
        """Sample instants (s) at `rate_hz` over the whole session."""
        return np.arange(int(np.floor(self.duration_s * rate_hz)) + 1) / rate_hz

    def ideal(self, t_s: FloatArray) -> SampleBlock:
        """Noise-free acc, gyro and mag at `t_s` (sensor time, s from start)."""
        theta, theta_d, theta_dd = (np.radians(v) for v in self.main.evaluate(t_s)[:3])
        phi, phi_d, phi_dd = (np.radians(v) for v in self.shift.evaluate(t_s)[:3])
        axis, shift_axis = self.axis, self.shift_axis

        def world_to_segment(vector: FloatArray) -> FloatArray:
            """A world vector in the moving segment's frame: undo neutral, theta, then phi."""
            in_neutral = self.neutral.inv().apply(vector)
            return _rotate(_rotate(in_neutral, axis, -theta), shift_axis, -phi)

        # Body-frame angular velocity and acceleration of the segment (closed form, module doc).
        axis_body = _rotate(axis, shift_axis, -phi)
        omega = axis_body * theta_d[:, None] + shift_axis * phi_d[:, None]
        alpha = (
            axis_body * theta_dd[:, None]
            + shift_axis * phi_dd[:, None]
            - np.cross(shift_axis, axis_body) * (phi_d * theta_d)[:, None]
        )
        lever = self.lever
        linear = np.cross(alpha, lever) + np.cross(omega, np.cross(omega, lever))
        to_sensor, slip_rate = self._mounting_at(t_s)
        specific_force = linear + world_to_segment(np.array([0.0, 0.0, GRAVITY]))
        return SampleBlock(
            t_ns=np.round(t_s * 1e9).astype(np.int64),
            acc=to_sensor.apply(specific_force),
            gyro=to_sensor.apply(omega) + slip_rate,
            mag=to_sensor.apply(world_to_segment(EARTH_FIELD_UT)),
        )

    def _mounting_at(self, t_s: FloatArray) -> tuple[Rotation, FloatArray]:
        """Segment -> sensor rotation at `t_s`, and the sensor's turn rate on the segment.

        Each slip is a minimum-jerk turn about a fixed axis of the sensor; slips do not
        overlap, so the one under way is the last factor and its rate is already in the
        sensor frame.
        """
        mounting, rate = self.mounting, np.zeros((t_s.size, 3))
        for slip in self.script.slips:
            turn = Rotation.from_euler("xyz", slip.rotation_deg, degrees=True).as_rotvec()
            track = _Track()
            track.stay(slip.at_s, (0, 0, 0))
            track.move(slip.duration_s, 1.0, (0, 0, 0))
            done, speed, _, _ = track.evaluate(t_s)
            mounting = mounting * Rotation.from_rotvec(done[:, None] * turn)
            rate += speed[:, None] * turn
        return mounting.inv(), rate

    def measured(self, ideal: SampleBlock, stream: int = 0) -> SampleBlock:
        """`ideal` plus the scripted bias and white noise (own random stream per `stream`)."""
        rng = np.random.default_rng([self.seed, 1, stream])
        noise = self.script.noise
        shape = (len(ideal), 3)

        def noisy(values: FloatArray | None, sd: float, offset: object) -> FloatArray | None:
            return None if values is None else values + offset + rng.normal(0.0, sd, shape)

        acc = noisy(ideal.acc, noise.acc_mps2, np.asarray(noise.acc_bias_mps2))
        gyro = noisy(ideal.gyro, noise.gyro_rads, self.gyro_bias_rads)
        mag = noisy(ideal.mag, noise.mag_ut, 0.0)
        if gyro is not None and noise.gyro_bias_walk_dps > 0:
            # Bias instability: a random walk from the initial bias, sd growing with sqrt(t).
            dt = np.diff(ideal.t_ns, prepend=ideal.t_ns[:1]) / 1e9
            steps = rng.normal(0.0, 1.0, shape) * np.sqrt(dt)[:, None]
            gyro = gyro + np.radians(noise.gyro_bias_walk_dps) * np.cumsum(steps, axis=0)
        return SampleBlock(t_ns=ideal.t_ns, acc=acc, gyro=gyro, mag=mag)

    def truth(self, t_s: FloatArray) -> MotionTruth:
        theta, theta_d, _, piece = self.main.evaluate(t_s)
        labels = np.asarray(self.main.labels, dtype=np.int32)[piece]
        return MotionTruth(
            t_s=t_s,
            angle_deg=theta,
            speed_dps=np.abs(theta_d),
            phase=labels[:, 0].astype(np.uint8),
            set=labels[:, 1],
            rep=labels[:, 2],
            reps=self.reps,
            axis_sensor=self.mounting.inv().apply(self.axis),
        )


def _rotate(vectors: FloatArray, axis: FloatArray, angles: FloatArray) -> FloatArray:
    """Rotate `vectors` (one or one per angle) about the unit `axis` by `angles` (Rodrigues)."""
    cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]
    vectors = np.broadcast_to(vectors, (angles.size, 3))
    along = (vectors @ axis)[:, None] * axis
    return vectors * cos + np.cross(axis, vectors) * sin + along * (1 - cos)


def plan_motion(script: MotionScript, seed: int) -> MotionPlan:
    """Lay out the session's trajectory, mounting and bias; deterministic for `seed`."""
    rng = np.random.default_rng(seed)
    kind = script.kind
    axis = _unit(script.axis or kind.axis)
    # Off-axis posture shifts turn about an axis perpendicular to the exercise axis.
    helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
    shift_axis = np.cross(axis, helper)
    shift_axis /= np.linalg.norm(shift_axis)
    main, shift, planned = _script_tracks(script, rng)
    mounting = _mounting(script, rng)
    noise = script.noise
    if noise.gyro_bias_dps == "random":
        bias = np.radians(rng.normal(0.0, noise.gyro_bias_sd_dps, size=3))
    else:
        bias = np.radians(np.asarray(noise.gyro_bias_dps, dtype=float))
    return MotionPlan(
        script=script,
        seed=seed,
        main=main,
        shift=shift,
        reps=[_rep_truth(plan, main) for plan in planned],
        axis=axis,
        shift_axis=shift_axis,
        lever=np.asarray(script.lever_arm_m or kind.lever_arm_m, dtype=float),
        neutral=_neutral(script, axis),
        mounting=mounting,
        gyro_bias_rads=bias,
    )


def synthesize(script: MotionScript, rate_hz: float, seed: int) -> Motion:
    """Ideal and measured IMU samples at `rate_hz` (sensor time from 0) plus the ground truth."""
    plan = plan_motion(script, seed)
    t_s = plan.grid(rate_hz)
    clean = plan.ideal(t_s)
    if not script.magnetometer:
        clean = SampleBlock(t_ns=clean.t_ns, acc=clean.acc, gyro=clean.gyro)
    return Motion(
        samples=plan.measured(clean),
        clean=clean,
        truth=plan.truth(t_s),
        gyro_bias_rads=plan.gyro_bias_rads,
        mounting=plan.mounting,
    )


def _rep_truth(plan: dict, track: _Track) -> RepTruth:
    """Peaks from the rep's pieces: a minimum-jerk move is monotone, extremes sit at its ends."""
    mine = [i for i, label in enumerate(track.labels) if label[2] == plan["number"]]
    ends = [track.end[i] for i in mine]
    speeds = [
        _MIN_JERK_PEAK * abs(track.end[i] - track.begin[i]) / track.durations[i] for i in mine
    ]
    return RepTruth(peak_angle_deg=max(ends, key=abs), peak_speed_dps=max(speeds), **plan)
