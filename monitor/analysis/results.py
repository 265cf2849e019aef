"""What the analysis reports: live events from `AnalysisPipeline.process` and the session summary.

Times are sensor time in seconds from the first sample of the session (`t_s`), so a summary of a
recording does not depend on when it was analysed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class WarningKind(StrEnum):
    RANGE_LIMIT = "range_limit"  # beyond the prescribed range-of-motion limit
    TOO_FAST = "too_fast"  # angular speed over the prescribed maximum
    HOLD_RELEASED_EARLY = "hold_released_early"
    SHORT_OF_TARGET = "short_of_target"  # a rep that did not reach the target range
    TOO_MANY_REPS = "too_many_reps"
    TOO_MANY_SETS = "too_many_sets"
    IMBALANCE = "imbalance"  # left/right in alternating exercises
    SENSOR_SLIPPED = "sensor_slipped"
    SIGNAL_LOST = "signal_lost"
    CALIBRATION = "calibration"  # the calibration is unreliable (e.g. horizontal-plane motion)


class AnalysisWarning(BaseModel):
    kind: WarningKind
    t_s: float
    message: str
    value: float | None = None  # the measured quantity (degrees, deg/s, seconds, count)


class Calibration(BaseModel):
    """Reference for the angle: neutral gravity direction and the axis of motion, sensor frame."""

    model_config = ConfigDict(extra="forbid")

    neutral_gravity: tuple[float, float, float]
    axis: tuple[float, float, float]
    rom_deg: float = Field(description="range of the calibration movement, degrees")
    method: Literal["self", "explicit"] = "self"
    t_s: float = Field(0.0, description="sensor time the calibration completed")
    plane_quality: float = Field(
        1.0, description="how well gravity resolves the angle: 1 vertical plane, 0 horizontal"
    )
    neutral_orientation: tuple[float, float, float, float] | None = Field(
        None,
        description="orientation at the neutral pose (quaternion, scalar first) on this "
        "session's heading; set when the movement turns about the vertical, where gravity "
        "cannot see it: the angle is then the turn about the axis from it",
    )


class Rep(BaseModel):
    index: int = Field(description="1-based rep number within the session")
    set_index: int = Field(description="1-based set number")
    start_s: float
    end_s: float
    peak_angle_deg: float
    hold_s: float = Field(description="time held still at the end range")
    peak_speed_dps: float
    side: str | None = Field(None, description="direction of an alternating exercise")
    flags: list[str] = Field(default_factory=list)


class SetResult(BaseModel):
    index: int
    start_s: float
    end_s: float
    reps: int
    target_reps: int | None = None


class RepCounted(BaseModel):
    kind: Literal["rep"] = "rep"
    t_s: float
    rep: Rep


class SetComplete(BaseModel):
    kind: Literal["set_complete"] = "set_complete"
    t_s: float
    set: SetResult


class HoldProgress(BaseModel):
    kind: Literal["hold_progress"] = "hold_progress"
    t_s: float
    held_s: float
    target_s: float


class HoldComplete(BaseModel):
    kind: Literal["hold_complete"] = "hold_complete"
    t_s: float
    held_s: float


class WarningRaised(BaseModel):
    kind: Literal["warning"] = "warning"
    t_s: float
    warning: AnalysisWarning


class Calibrated(BaseModel):
    kind: Literal["calibration"] = "calibration"
    t_s: float
    calibration: Calibration


AnalysisEvent = Annotated[
    RepCounted | SetComplete | HoldProgress | HoldComplete | WarningRaised | Calibrated,
    Field(discriminator="kind"),
]


class AnalysisSummary(BaseModel):
    """Everything `monitor analyze --json` prints; export and history build on it."""

    exercise_id: str
    exercise_name: str
    mode: str
    duration_s: float
    sample_rate_hz: float | None
    rep_count: int
    reps: list[Rep]
    sets: list[SetResult]
    warnings: list[AnalysisWarning]
    calibration: Calibration | None
    target_reps: int
    target_sets: int
    target_hold_s: float
