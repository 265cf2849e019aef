"""Capture what a real replay tells the screen, for the snapshot tests.

The snapshots are pictures of the screens; they should change when the screens change, not each
time the analysis is tuned. So they are drawn from a capture of the feed's updates (angle trace,
the pipeline's events, link status, exercise view, the summary), taken from a real replay of a
bundled recording through the real analysis. Regenerate after an analysis change that should
show (then update the snapshots):

    python tests/functional/capture_feed.py
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from monitor.analysis.results import AnalysisEvent
from monitor.core import Event, EventKind
from monitor.session.summary import load_summary
from monitor.tui.feed import Command, ExerciseView, FeedUpdate, LinkState, LinkStatus

HERE = Path(__file__).resolve().parent
RECORDING = HERE.parents[1] / "recordings" / "metamotion_s_lower_trunk_rotation.mrec"
CAPTURE = HERE / "data" / "trunk_rotation_feed.json"
_EVENTS: TypeAdapter[Any] = TypeAdapter(AnalysisEvent)


def _rounded(values: Any) -> list[float]:
    return [round(float(v), 3) for v in values]


async def capture() -> dict[str, Any]:
    from monitor.tui.replay_feed import open_replay

    feed = open_replay(RECORDING, speed=None)
    updates = []
    shown: dict[str, Any] = {}

    def changed(key: str, value: Any) -> Any:
        """Status and view are stored only when they change (None: as before)."""
        if shown.get(key) == value:
            return None
        shown[key] = value
        return value

    async for update in feed.updates():
        updates.append(
            {
                "t_s": round(update.t_s, 3),
                "angle_t_s": _rounded(update.angle_t_s),
                "angle_deg": _rounded(update.angle_deg),
                "analysis": [_EVENTS.dump_python(e, mode="json") for e in update.analysis],
                "events": [e.to_json() for e in update.events],
                "status": changed("status", dataclasses.asdict(update.status)),
                "samples": update.samples,
                "view": changed("view", dataclasses.asdict(feed.exercise())),
            }
        )
    return {
        "recording": RECORDING.name,
        "title": feed.title,
        "updates": updates,
        "summary": json.loads(feed.summary().to_json()),
    }


class CapturedPlayback:
    """Replay controls for a capture: the keys are accepted, the capture plays as it is."""

    def __init__(self, duration_s: float) -> None:
        self.paused = False
        self.duration_s = duration_s
        self.position_s = duration_s
        self.speed_label = "max"

    def toggle_pause(self) -> bool:
        self.paused = not self.paused
        return self.paused

    def set_speed(self, speed: float | None) -> None:
        self.speed_label = "max" if speed is None else f"{speed:g}x"

    def skip(self, seconds: float) -> None:
        return None


class CapturedFeed:
    """A `SessionFeed` giving back a capture, update by update, as fast as the screen takes it."""

    def __init__(self, path: Path = CAPTURE, playback: Any = None) -> None:
        self.data = json.loads(path.read_text(encoding="utf-8"))
        self.title = self.data["title"]
        self.playback = playback
        self._view = ExerciseView(**self._view_fields(self.data["updates"][0]["view"]))

    @staticmethod
    def _view_fields(view: dict[str, Any]) -> dict[str, Any]:
        target = view["target_deg"]
        return {**view, "target_deg": tuple(target) if target is not None else None}

    async def updates(self):  # type: ignore[no-untyped-def]
        import numpy as np

        status = None
        for item in self.data["updates"]:
            if item["view"] is not None:
                self._view = ExerciseView(**self._view_fields(item["view"]))
            if item["status"] is not None:
                fields = item["status"]
                status = LinkStatus(**{**fields, "state": LinkState(fields["state"])})
            yield FeedUpdate(
                t_s=item["t_s"],
                angle_t_s=np.asarray(item["angle_t_s"], dtype=np.float64),
                angle_deg=np.asarray(item["angle_deg"], dtype=np.float64),
                analysis=tuple(_EVENTS.validate_python(e) for e in item["analysis"]),
                events=tuple(
                    Event(e["t_ns"], EventKind(e["kind"]), e["message"], e["stream"], e["data"])
                    for e in item["events"]
                ),
                status=status,
                samples=item["samples"],
            )
            await asyncio.sleep(0)

    def exercise(self) -> ExerciseView:
        return self._view

    def command(self, command: Command) -> str:
        return f"{command} (captured session)"

    async def close(self) -> None:
        return None

    def summary(self):  # type: ignore[no-untyped-def]
        return load_summary(json.dumps(self.data["summary"]))


if __name__ == "__main__":
    CAPTURE.parent.mkdir(exist_ok=True)
    CAPTURE.write_text(json.dumps(asyncio.run(capture()), separators=(",", ":")) + "\n")
    print(f"wrote {CAPTURE}")
