"""The exercises of a session in order, one `AnalysisPipeline` each, and where the user is.

This is bookkeeping around the pipeline, not analysis: counts, sets, holds and warnings all come
from the pipeline's events and summaries. Every pipeline is started on the session's clock (its
`t0_ns` is the session's first sample), so all events and summaries share one timeline.
"""

from __future__ import annotations

from datetime import UTC, datetime

from monitor import __version__
from monitor.analysis.exercises import Mode, Prescription, get_exercise, prescription_for
from monitor.analysis.pipeline import AnalysisPipeline
from monitor.analysis.programs import Program
from monitor.analysis.results import AnalysisEvent, AnalysisSummary, RepCounted, SetComplete
from monitor.core import SampleBlock
from monitor.session import summary as session_summary
from monitor.tui.feed import ExerciseView


class ProgramTrack:
    """Feeds blocks to the current exercise's pipeline; `move` goes to the next or previous one."""

    def __init__(self, target: str | Program, *, rate_hz: float | None = None) -> None:
        if isinstance(target, Program):
            self.program: Program | None = target
            self.prescriptions = target.prescriptions()
        else:
            self.program = None
            self.prescriptions = [prescription_for(get_exercise(target))]
        self.rate_hz = rate_hz
        self.session_t0_ns: int | None = None
        self.index = 0
        self.pipelines: dict[int, AnalysisPipeline] = {}
        self._set_index = 1
        self._set_reps = 0
        self.pipeline = self._pipeline_for(0)

    @property
    def prescription(self) -> Prescription:
        return self.prescriptions[self.index]

    def _pipeline_for(self, index: int) -> AnalysisPipeline:
        if index not in self.pipelines:
            pipeline = AnalysisPipeline(self.prescriptions[index], rate_hz=self.rate_hz)
            pipeline.t0_ns = self.session_t0_ns
            self.pipelines[index] = pipeline
        return self.pipelines[index]

    def process(self, block: SampleBlock) -> list[AnalysisEvent]:
        if len(block) == 0:
            return []
        if self.session_t0_ns is None:
            self.session_t0_ns = int(block.t_ns[0])
            self.pipeline.t0_ns = self.session_t0_ns
        events = self.pipeline.process(block)
        for event in events:
            if isinstance(event, RepCounted):
                if event.rep.set_index != self._set_index:
                    self._set_index, self._set_reps = event.rep.set_index, 0
                self._set_reps += 1
            elif isinstance(event, SetComplete):
                self._set_index, self._set_reps = event.set.index + 1, 0
        return events

    def session_s(self, t_ns: int) -> float:
        return 0.0 if self.session_t0_ns is None else (t_ns - self.session_t0_ns) / 1e9

    def move(self, step: int) -> bool:
        """Go to the next (+1) or previous (-1) exercise; False at either end of the program.

        Going back resumes that exercise's pipeline where it was left.
        """
        index = self.index + step
        if not 0 <= index < len(self.prescriptions):
            return False
        self.index = index
        self.pipeline = self._pipeline_for(index)
        detector_sets = self.pipeline.summary().sets
        self._set_index = detector_sets[-1].index if detector_sets else 1
        self._set_reps = detector_sets[-1].reps if detector_sets else 0
        return True

    def recalibrate(self) -> None:
        """The current exercise learns neutral and axis again from the next still pose and
        movement; its count, sets and warnings carry on."""
        self.pipeline.recalibrate()

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

    def results(self) -> list[tuple[AnalysisSummary, Prescription]]:
        """The pipeline summary of every exercise started, in program order."""
        ordered = sorted(self.pipelines.items(), key=lambda item: item[0])
        return [
            (pipeline.summary(), self.prescriptions[index])
            for index, pipeline in ordered
            if pipeline.last_t_ns is not None
        ]

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
