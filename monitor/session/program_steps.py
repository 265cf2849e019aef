"""A program session's steps, and which program item each stretch of samples belongs to.

On the live screen the user moves through the therapist's program (next / previous exercise),
asks for a re-calibration and pauses counting. Each of these is recorded in the session's
recording as an event (`step_event`) stamped with the sensor-clock time of the last sample the
screen had received. `ProgramRun` plays such steps back over the samples: one `AnalysisPipeline`
per program item, all on the session clock (their `t0_ns` is the session's first sample), each
fed only the samples of the stretches its item had; a re-calibration re-calibrates the item in
progress; paused stretches are fed to none.

A step stamped T applies after every sample stamped T or earlier, so the stretches do not depend
on where the event sits among the notifications of the file (the live screen can be a few
blocks behind the recorder). Replay (the screen's `ProgramTrack`), `monitor analyze` and
`monitor export` all go through `ProgramRun`, so they agree on which exercise each stretch was.

Item numbers in the events are 1-based (`{"item": 2}` is the program's second exercise), as
`--item N` on the command line; `Step.item` is the 0-based index.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from monitor.analysis.exercises import Prescription
from monitor.analysis.pipeline import AnalysisPipeline
from monitor.analysis.results import AnalysisEvent, AnalysisSummary
from monitor.core import Event, EventKind, SampleBlock

STEP_KINDS = frozenset(
    {EventKind.PROGRAM_ITEM, EventKind.CALIBRATION, EventKind.PAUSE, EventKind.RESUME}
)
_MESSAGES = {
    EventKind.CALIBRATION: "re-calibration requested",
    EventKind.PAUSE: "counting paused",
    EventKind.RESUME: "counting again",
}


@dataclass(frozen=True, slots=True)
class Step:
    """One thing the user told the session, at `t_ns` on the analysed stream's sample clock."""

    t_ns: int
    kind: EventKind  # one of STEP_KINDS
    item: int | None = None  # PROGRAM_ITEM: 0-based index of the item gone to
    problem: str = ""  # why a recorded step cannot be applied (its data is not an item number)


def step_event(step: Step, *, stream: str = "", exercise: Prescription | None = None) -> Event:
    """The recording's event for `step`; `exercise` is the item gone to (PROGRAM_ITEM)."""
    if step.kind is not EventKind.PROGRAM_ITEM:
        return Event(step.t_ns, step.kind, _MESSAGES[step.kind], stream)
    if step.item is None:
        raise ValueError("a program item step needs the item it goes to")
    data: dict[str, object] = {"item": step.item + 1}
    name = f"item {step.item + 1}"
    if exercise is not None:
        data["exercise"] = exercise.exercise.id
        name += f": {exercise.exercise.name}"
    return Event(step.t_ns, EventKind.PROGRAM_ITEM, name, stream, data)


def steps_from_events(events: Iterable[Event]) -> list[Step]:
    """The steps among recorded `events`, in time order. A program item step whose `item` is
    not a whole number from 1 keeps a `problem` (applied, it only leaves a warning)."""
    steps = []
    for event in events:
        if event.kind not in STEP_KINDS:
            continue
        if event.kind is not EventKind.PROGRAM_ITEM:
            steps.append(Step(event.t_ns, event.kind))
            continue
        number = event.data.get("item")
        if isinstance(number, int) and not isinstance(number, bool) and number >= 1:
            steps.append(Step(event.t_ns, event.kind, item=number - 1))
        else:
            problem = f"its item {number!r} is not an item number (1, 2, ...)"
            steps.append(Step(event.t_ns, event.kind, problem=problem))
    return sorted(steps, key=lambda step: step.t_ns)


class ProgramRun:
    """The program's items, one pipeline each, and where the session is in it; see the module
    docstring. `steps` (recorded ones) are applied as the samples reach their time; `apply`
    applies one at once (a key pressed on the screen)."""

    def __init__(
        self,
        prescriptions: Sequence[Prescription],
        *,
        steps: Iterable[Step] = (),
        rate_hz: float | None = None,
        keep_angles: bool = False,
    ) -> None:
        if not prescriptions:
            raise ValueError("a program run needs at least one item")
        self.prescriptions = list(prescriptions)
        self.rate_hz = rate_hz
        self.session_t0_ns: int | None = None
        self.index = 0
        self.paused = False
        self.fed_t_ns: int | None = None  # the last sample given to a pipeline
        self.pipelines: dict[int, AnalysisPipeline] = {}
        self.warnings: list[str] = []  # recorded steps that could not be applied, one line each
        self.applied: list[Step] = []  # recorded steps applied (the screen takes and lists them)
        self._steps = sorted(steps, key=lambda step: step.t_ns)
        self._next_step = 0
        self._angles: list[tuple[np.ndarray, np.ndarray]] | None = [] if keep_angles else None
        self.pipeline = self._pipeline_for(0)

    @property
    def prescription(self) -> Prescription:
        return self.prescriptions[self.index]

    def process(self, block: SampleBlock) -> list[AnalysisEvent]:
        """Feed the next samples (in time order); recorded steps due within them are applied
        between the samples at or before their time and those after."""
        if len(block) == 0:
            return []
        if self.session_t0_ns is None:
            self.session_t0_ns = int(block.t_ns[0])
            for pipeline in self.pipelines.values():
                pipeline.t0_ns = self.session_t0_ns
        events: list[AnalysisEvent] = []
        start = 0
        last_t_ns = int(block.t_ns[-1])
        while self._next_step < len(self._steps) and self._steps[self._next_step].t_ns <= last_t_ns:
            step = self._steps[self._next_step]
            cut = int(np.searchsorted(block.t_ns, step.t_ns, side="right"))
            if cut > start:
                events += self._feed(block.slice(start, cut))
                start = cut
            self._next_step += 1
            self._apply_recorded(step)
        if start < len(block):
            events += self._feed(block.slice(start, len(block)) if start else block)
        return events

    def finish(self) -> None:
        """The data ended: the recorded steps after the last sample are applied too."""
        while self._next_step < len(self._steps):
            self._next_step += 1
            self._apply_recorded(self._steps[self._next_step - 1])

    def apply(self, step: Step) -> str:
        """Apply `step` now; returns "" or, changing nothing, why it cannot be applied."""
        problem = step.problem or self._problem(step)
        if problem:
            return problem
        match step.kind:
            case EventKind.PROGRAM_ITEM:
                assert step.item is not None
                self.pipeline.set_aside()  # its next samples come after the other items'
                self.index = step.item
                self.pipeline = self._pipeline_for(step.item)
                self._moved()
            case EventKind.CALIBRATION:
                self.pipeline.recalibrate()
            case EventKind.PAUSE:
                self.paused = True
                self.pipeline.set_aside()
            case EventKind.RESUME:
                self.paused = False
            case _:
                raise ValueError(f"{step.kind} is not a program step")
        return ""

    def session_s(self, t_ns: int) -> float:
        return 0.0 if self.session_t0_ns is None else (t_ns - self.session_t0_ns) / 1e9

    def results(self) -> list[tuple[AnalysisSummary, Prescription]]:
        """The pipeline summary of every item that had samples, in program order."""
        return [
            (self.pipelines[index].summary(), self.prescriptions[index]) for index in self.visited()
        ]

    def visited(self) -> list[int]:
        """The items (0-based) that had samples, in program order."""
        return sorted(i for i, p in self.pipelines.items() if p.last_t_ns is not None)

    def angles(self) -> tuple[np.ndarray, np.ndarray]:
        """(t_ns, degrees) measured by whichever item's pipeline had the samples, in time
        order (`keep_angles=True` only)."""
        if not self._angles:
            return np.empty(0, np.int64), np.empty(0)
        t_ns, angle = zip(*self._angles, strict=True)
        return np.concatenate(t_ns), np.concatenate(angle)

    # --- for subclasses ------------------------------------------------------------------------
    def _feed(self, piece: SampleBlock) -> list[AnalysisEvent]:
        """Samples of one stretch to the item in progress (none while paused)."""
        if self.paused:
            return []
        events = self.pipeline.process(piece)
        self.fed_t_ns = int(piece.t_ns[-1])
        if self._angles is not None:
            t_ns, angle = self.pipeline.last_angles
            if len(t_ns):
                self._angles.append((t_ns, angle))
        return events

    def _moved(self) -> None:
        """Called after the item in progress changed."""

    # --- internals -----------------------------------------------------------------------------
    def _pipeline_for(self, index: int) -> AnalysisPipeline:
        if index not in self.pipelines:
            pipeline = AnalysisPipeline(self.prescriptions[index], rate_hz=self.rate_hz)
            pipeline.t0_ns = self.session_t0_ns
            self.pipelines[index] = pipeline
        return self.pipelines[index]

    def _problem(self, step: Step) -> str:
        if step.kind is not EventKind.PROGRAM_ITEM:
            return ""
        count = len(self.prescriptions)
        if step.item is None or not 0 <= step.item < count:
            number = "?" if step.item is None else step.item + 1
            having = "analysed as one exercise" if count == 1 else f"the program has {count}"
            return f"there is no item {number} ({having})"
        return ""

    def _apply_recorded(self, step: Step) -> None:
        problem = self.apply(step)
        if problem:
            where = self.session_s(step.t_ns)
            self.warnings.append(f"recorded {step.kind} step at {where:.1f} s ignored: {problem}")
        else:
            self.applied.append(step)
