"""What a LiveSession hands its callbacks, kept for the tests to look at."""

from __future__ import annotations

from monitor.core import Event, EventKind, SampleBlock


class Collected:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.blocks: dict[str, list[SampleBlock]] = {}

    def event(self, event: Event) -> None:
        self.events.append(event)

    def samples(self, stream: str, block: SampleBlock) -> None:
        self.blocks.setdefault(stream, []).append(block)

    def count(self, kind: EventKind, stream: str = "back") -> int:
        return sum(e.kind == kind and e.stream == stream for e in self.events)

    def block(self, stream: str = "back") -> SampleBlock:
        return SampleBlock.concat(self.blocks[stream])

    def kinds(self, stream: str) -> list[EventKind]:
        return [e.kind for e in self.events if e.stream == stream]
