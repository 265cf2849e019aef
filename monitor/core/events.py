"""Things that happen to a stream besides samples: links, gaps, bad packets, user markers."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    CONNECT = "connect"
    DISCONNECT = "disconnect"
    RECONNECT = "reconnect"
    GAP = "gap"  # samples missing between two received ones (sequence or timing)
    BAD_PACKET = "bad_packet"  # a notification that could not be decoded
    CLOCK_RESET = "clock_reset"  # the sensor's clock went backwards or jumped
    CONTROL = "control"  # a control-point response (e.g. Polar start response with FACTOR)
    LINK_QUALITY = "link_quality"
    BATTERY = "battery"
    MARKER = "marker"  # the user marked a moment
    CALIBRATION = "calibration"  # the user asked for a re-calibration of the current exercise
    PROGRAM_ITEM = "program_item"  # the user went to another program item: data {"item": N}
    PAUSE = "pause"  # the user paused counting (samples are still recorded)
    RESUME = "resume"  # ... and counts again
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Event:
    """An event at `t_ns` on the same clock as the samples of `stream`."""

    t_ns: int
    kind: EventKind
    message: str
    stream: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "t_ns": self.t_ns,
            "kind": str(self.kind),
            "message": self.message,
            "stream": self.stream,
            "data": self.data,
        }
