"""The exercises of a session in order, one `AnalysisPipeline` each, and where the user is.

This is bookkeeping around the pipeline, not analysis: counts, sets, holds and warnings all come
from the pipeline's events and summaries. The items, their pipelines on the session clock and the
recorded steps between them are `monitor.session.program_steps.ProgramRun` (which `monitor
analyze` and `export` use too); this adds what the screen shows: the set in progress, the view.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from monitor import __version__
from monitor.analysis.exercises import Mode, get_exercise, prescription_for
from monitor.analysis.programs import Program
from monitor.analysis.results import AnalysisEvent, RepCounted, SetComplete
from monitor.core import SampleBlock
from monitor.session import summary as session_summary
from monitor.session.program_steps import ProgramRun, Step
from monitor.tui.feed import ExerciseView


class ProgramTrack(ProgramRun):
    """The program run the screen follows, plus the set in progress it shows; `steps` are the
    recorded ones a replay applies at their time."""

    def __init__(
        self,
        target: str | Program,
        *,
        rate_hz: float | None = None,
        steps: Iterable[Step] = (),
    ) -> None:
        if isinstance(target, Program):
            self.program: Program | None = target
            prescriptions = target.prescriptions()
        else:
            self.program = None
            prescriptions = [prescription_for(get_exercise(target))]
        self._set_index = 1
        self._set_reps = 0
        super().__init__(prescriptions, steps=steps, rate_hz=rate_hz)

    def _feed(self, piece: SampleBlock) -> list[AnalysisEvent]:
        events = super()._feed(piece)
        for event in events:
            if isinstance(event, RepCounted):
                if event.rep.set_index != self._set_index:
                    self._set_index, self._set_reps = event.rep.set_index, 0
                self._set_reps += 1
            elif isinstance(event, SetComplete):
                self._set_index, self._set_reps = event.set.index + 1, 0
        return events

    def _moved(self) -> None:
        """Going back resumes that exercise's pipeline where it was left: its set in progress."""
        detector_sets = self.pipeline.summary().sets
        self._set_index = detector_sets[-1].index if detector_sets else 1
        self._set_reps = detector_sets[-1].reps if detector_sets else 0

    def view(self) -> ExerciseView:
        prescription = self.prescription
        exercise, dose = prescription.exercise, prescription.dose
        calibration = self.pipeline.calibration
        wanted = session_summary.prescription_from(
            dose,
            prescription.limits,
            exercise.mode.value,
            calibration.rom_deg if calibration else None,
        )
        zone = None
        if wanted.target_deg is not None:
            high = wanted.limit_deg if wanted.limit_deg is not None else wanted.target_deg * 1.25
            zone = (wanted.target_deg, high)
        return ExerciseView(
            name=exercise.name,
            instruction=exercise.description.split("\n")[0],
            set_index=self._set_index,
            sets_total=dose.sets,
            reps_done=self._set_reps,
            reps_target=dose.reps,
            hold_s=dose.hold_s if exercise.mode is not Mode.REPS else None,
            target_deg=zone,
            limit_deg=wanted.limit_deg,
            position=self.index + 1,
            program_length=len(self.prescriptions),
        )

    def summary(
        self,
        *,
        source: str,
        sensor: session_summary.SensorInfo,
        start: datetime | None = None,
        input_name: str | None = None,
        gaps: tuple[session_summary.Gap, ...] = (),
        trace: session_summary.AngleTrace | None = None,
    ) -> session_summary.SessionSummary:
        results = self.results()
        duration = max((r.duration_s for r, _ in results), default=0.0)
        program = session_summary.program_ref(self.program) if self.program is not None else None
        meta = session_summary.SessionMeta(
            start=start or datetime.now(UTC),
            duration_s=max(duration, 0.0),
            source=source,
            input_name=input_name,
            sensor=sensor,
            program=program,
            monitor_version=__version__,
        )
        return session_summary.from_analyses(results, meta=meta, gaps=gaps, trace=trace)
