"""The analysis pipeline's events, as the messages the screens handle.

Severity is a presentation choice (colour, which cue interrupts which): "stop" for doing more or
further than prescribed, "caution" for what makes the data or the movement unsafe to trust,
"info" for coaching.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.message import Message

from monitor.analysis import results
from monitor.analysis.results import WarningKind
from monitor.tui import messages
from monitor.tui.feed import Severity

SEVERITY = {
    WarningKind.RANGE_LIMIT: Severity.STOP,
    WarningKind.TOO_MANY_REPS: Severity.STOP,
    WarningKind.TOO_MANY_SETS: Severity.STOP,
    WarningKind.TOO_FAST: Severity.CAUTION,
    WarningKind.SENSOR_SLIPPED: Severity.CAUTION,
    WarningKind.SIGNAL_LOST: Severity.CAUTION,
    WarningKind.HOLD_RELEASED_EARLY: Severity.INFO,
    WarningKind.SHORT_OF_TARGET: Severity.INFO,
    WarningKind.IMBALANCE: Severity.INFO,
    WarningKind.CALIBRATION: Severity.INFO,
}


def analysis_messages(event: object) -> Iterable[Message]:
    """The message(s) for one `AnalysisEvent`; events the screen does not show give none."""
    match event:
        case results.RepCounted(t_s=t_s, rep=rep):
            yield messages.RepCounted(t_s, rep.index, rep.peak_angle_deg)
        case results.SetComplete(t_s=t_s, set=done):
            yield messages.SetCompleted(t_s, done.index, done.reps)
        case results.HoldProgress(t_s=t_s, held_s=held_s, target_s=target_s):
            yield messages.HoldProgress(t_s, held_s, target_s)
        case results.HoldComplete(t_s=t_s, held_s=held_s):
            yield messages.HoldCompleted(t_s, held_s)
        case results.WarningRaised(warning=warning):
            severity = SEVERITY.get(warning.kind, Severity.CAUTION)
            view = messages.WarningView(warning.t_s, warning.kind, severity, warning.message)
            yield messages.SafetyWarning(view)
        case results.Calibrated():
            yield messages.ExerciseChanged()
