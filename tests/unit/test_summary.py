"""The session summary model: committed schema, round trip, adherence, privacy of the metadata."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from monitor.analysis.exercises import get_exercise, prescription_for
from monitor.analysis.results import AnalysisSummary, AnalysisWarning, WarningKind
from monitor.analysis.results import Calibration as AnalysisCalibration
from monitor.analysis.results import Rep as AnalysisRep
from monitor.core.events import Event, EventKind
from monitor.session import summary as summary_module
from monitor.session.summary import (
    Prescription,
    Rep,
    SensorInfo,
    SessionMeta,
    SessionSummary,
    SetSummary,
    adherence,
    data_gaps,
    decimate_trace,
    from_analyses,
    load_summary,
)

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "golden" / "session.json"


def test_committed_schema_matches_the_model():
    committed = summary_module.SCHEMA_PATH.read_text(encoding="utf-8")
    assert committed == summary_module.json_schema(), (
        "summary.schema.json is stale: run `python -m monitor.session.summary` and commit it"
    )


def test_schema_is_versioned_and_rejects_unknown_versions():
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    assert data["schema_version"] == summary_module.SCHEMA_VERSION
    data["schema_version"] = summary_module.SCHEMA_VERSION + 1
    with pytest.raises(ValidationError, match="schema_version"):
        SessionSummary.model_validate(data)


def test_sample_round_trips_byte_for_byte():
    text = SAMPLE.read_text(encoding="utf-8")
    assert load_summary(text).to_json() == text


def test_unknown_fields_are_rejected():
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    data["session"]["patient_name"] = "x"
    with pytest.raises(ValidationError, match="patient_name"):
        SessionSummary.model_validate(data)


def test_metadata_keeps_the_file_name_only_and_utc():
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    data["session"]["input_name"] = "/home/someone/recordings/session.mrec"
    data["session"]["start"] = "2026-11-20T08:30:00+01:00"
    meta = SessionSummary.model_validate(data).session
    assert meta.input_name == "session.mrec"
    assert meta.start == datetime(2026, 11, 20, 7, 30, tzinfo=UTC)
    assert meta.start.utcoffset() == timedelta(0)
    data["session"]["start"] = "2026-11-20T08:30:00"  # naive: ambiguous, refused
    with pytest.raises(ValidationError, match="timezone"):
        SessionSummary.model_validate(data)


def _rep(index: int, hold_s: float) -> Rep:
    return Rep(
        index=index,
        start_s=10.0 * index,
        end_s=10.0 * index + 8,
        peak_angle_deg=80,
        hold_s=hold_s,
        peak_speed_dps=40,
    )


def test_adherence_counts_done_against_prescribed():
    sets = [
        SetSummary(index=1, start_s=0, end_s=60, reps=tuple(_rep(i, 20) for i in range(1, 6))),
        SetSummary(index=2, start_s=90, end_s=150, reps=(_rep(1, 19), _rep(2, 17.9), _rep(3, 5))),
    ]
    result = adherence(sets, Prescription(sets=2, reps=5, hold_s=20))
    assert (result.sets_done, result.sets_prescribed) == (2, 2)
    assert (result.reps_done, result.reps_prescribed) == (8, 10)
    # 19 s reaches 90% of 20 s; 17.9 s does not.
    assert result.holds_done == 6
    assert result.hold_s_mean == pytest.approx((5 * 20 + 19 + 17.9 + 5) / 8, abs=1e-3)
    assert result.completion == 0.8


def test_adherence_without_prescription_and_overdo():
    sets = [SetSummary(index=1, start_s=0, end_s=60, reps=(_rep(1, 0), _rep(2, 0)))]
    free = adherence(sets, None)
    assert free.reps_prescribed is None and free.completion is None and free.holds_done == 0
    over = adherence(sets * 3, Prescription(sets=1, reps=2))
    assert over.completion == 3.0  # more than prescribed stays visible


def test_decimated_trace_is_bounded_and_drops_non_finite():
    t = np.arange(10_000) / 100.0
    angle = np.sin(t)
    angle[5] = np.nan
    trace = decimate_trace(t, angle, max_points=500)
    assert len(trace.t_s) == len(trace.angle_deg) <= 500
    assert all(np.isfinite(trace.angle_deg))
    assert trace.t_s[0] == 0.0 and trace.t_s == tuple(sorted(trace.t_s))


def test_values_are_rounded_for_stable_output():
    rep = Rep(
        index=1,
        start_s=1.23456,
        end_s=2.0,
        peak_angle_deg=-0.0001,
        peak_speed_dps=3.33333,
    )
    assert (rep.start_s, rep.peak_angle_deg, rep.peak_speed_dps) == (1.235, 0.0, 3.333)
    assert "-0.0" not in rep.model_dump_json()


def test_start_accepts_any_timezone():
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    east = datetime(2026, 11, 20, 12, 0, tzinfo=timezone(timedelta(hours=5)))
    data["session"]["start"] = east.isoformat()
    assert SessionSummary.model_validate(data).session.start.hour == 7


def test_data_gaps_come_from_the_timestamps_with_the_logged_reason():
    t0 = 1_000_000_000_000
    t_ns = t0 + np.concatenate([np.arange(0, 10, 0.02), np.arange(12.5, 20, 0.02), [20.3]]) * 1e9
    t_ns = t_ns.astype(np.int64)
    events = [
        Event(t_ns=t0 + int(10.2e9), kind=EventKind.DISCONNECT, message="link lost"),
        Event(t_ns=t0 + int(12.4e9), kind=EventKind.RECONNECT, message="reconnected"),
        Event(t_ns=t0 + int(15e9), kind=EventKind.BATTERY, message="battery 80%"),
    ]
    (gap,) = data_gaps(t_ns, events)  # the 0.3 s step at the end is below the threshold
    assert gap.start_s == pytest.approx(9.98) and gap.duration_s == pytest.approx(2.52)
    assert gap.reason == "link lost; reconnected"
    (unexplained,) = data_gaps(t_ns, [])
    assert unexplained.reason == "no samples for 2.5 s"
    assert data_gaps(t_ns[:1], events) == []


def test_summary_from_the_pipeline_results_of_a_two_exercise_session():
    def rep(index, set_index, start, hold, peak=60.0):
        return AnalysisRep(
            index=index,
            set_index=set_index,
            start_s=start,
            end_s=start + 8,
            peak_angle_deg=peak,
            hold_s=hold,
            peak_speed_dps=-45.0,  # sign of direction: the summary keeps the magnitude
        )

    knee = prescription_for(get_exercise("knee_to_chest_single"))
    knee = knee.model_copy(
        update={
            "dose": knee.dose.model_copy(update={"sets": 2, "reps": 2, "hold_s": 5.0}),
            "limits": knee.limits.model_copy(update={"rom_limit_deg": None, "rom_limit_pct": 20}),
        }
    )
    calibration = AnalysisCalibration(
        neutral_gravity=(0, 0, 1), axis=(1, 0, 0), rom_deg=70.0, t_s=4.0
    )
    knee_result = AnalysisSummary(
        exercise_id="knee_to_chest_single",
        exercise_name="Single knee to chest",
        mode="reps_with_hold",
        duration_s=120,
        sample_rate_hz=100,
        rep_count=3,
        reps=[rep(1, 1, 10, 5.2), rep(2, 1, 20, 2.0), rep(3, 2, 60, 5.0, peak=90)],
        sets=[],
        warnings=[AnalysisWarning(kind=WarningKind.RANGE_LIMIT, t_s=63, message="too far")],
        calibration=calibration,
        target_reps=2,
        target_sets=2,
        target_hold_s=5,
    )
    tilt = prescription_for(get_exercise("pelvic_tilt"))
    tilt_result = knee_result.model_copy(
        update={
            "exercise_id": "pelvic_tilt",
            "exercise_name": "Pelvic tilt",
            "mode": "reps",
            "reps": [rep(1, 1, 130, 0.0, peak=15)],
            "warnings": [AnalysisWarning(kind=WarningKind.TOO_FAST, t_s=31, message="fast")],
            "calibration": None,
        }
    )
    meta = SessionMeta(
        start=datetime(2026, 11, 20, 7, tzinfo=UTC),
        duration_s=150,
        source="live",
        sensor=SensorInfo(profile="metamotion_s"),
        monitor_version="test",
    )
    summary = from_analyses([(knee_result, knee), (tilt_result, tilt)], meta=meta)

    first, second = summary.exercises
    assert [[r.index for r in s.reps] for s in first.sets] == [[1, 2], [1]]
    assert (first.sets[1].start_s, first.sets[1].end_s) == (60.0, 68.0)
    assert first.reps[0].peak_speed_dps == 45.0
    assert first.prescription.limit_deg == pytest.approx(84.0)  # 20% over the 70° calibration
    assert first.prescription.hold_s == 5.0 and second.prescription.hold_s is None
    assert (first.adherence.reps_done, first.adherence.reps_prescribed) == (3, 4)
    assert first.adherence.holds_done == 2  # 5.2 s and 5.0 s reach 5 s; 2.0 s does not
    assert [(w.t_s, w.kind, w.exercise_id) for w in summary.warnings] == [
        (31.0, "too_fast", "pelvic_tilt"),
        (63.0, "range_limit", "knee_to_chest_single"),
    ]
    assert summary.calibration.range_deg == 70.0 and summary.calibration.method == "self"
    assert load_summary(summary.to_json()) == summary
