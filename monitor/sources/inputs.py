"""Open any input the monitor analyses: a recording (.mrec) or a generic CSV.

The kind is told from the content (a recording starts with its magic bytes), not from the file
name. Either way the result is aligned sample blocks per stream, events and metadata.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from monitor.core import Event, SampleBlock
from monitor.errors import InputFileError
from monitor.session.recording import MAGIC, read_recording
from monitor.sources.csv_import import STREAM as CSV_STREAM
from monitor.sources.csv_import import read_csv
from monitor.sources.replay import replay_all


@dataclass(slots=True)
class InputMetadata:
    kind: Literal["recording", "csv"]
    path: Path
    streams: list[str]
    rates_hz: dict[str, float]  # nominal (recording) or measured (CSV) per stream
    profile: str = ""  # profile id of the first stream ("" for CSV)
    profiles: dict[str, str] = field(default_factory=dict)  # stream -> profile id
    exercise: str = ""
    program: str = ""
    start: datetime | None = None
    device_name: str = ""
    device_address: str = ""
    bad_packets: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class LoadedInput:
    """Every stream's samples (one aligned block each), the events, and what the file says."""

    metadata: InputMetadata
    streams: dict[str, SampleBlock]
    events: list[Event]

    @property
    def primary(self) -> str:
        """The first stream: the one single-sensor analysis uses."""
        return self.metadata.streams[0]

    @property
    def blocks(self) -> list[SampleBlock]:
        """The primary stream's samples as a list of blocks (empty if it has none)."""
        block = self.streams[self.primary]
        return [block] if len(block) else []

    def __iter__(self) -> Iterator[SampleBlock]:
        return iter(self.blocks)


def open_input(path: Path | str) -> LoadedInput:
    """Read a recording or a CSV; InputFileError (one line) when it is neither or is broken."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(len(MAGIC))
    except IsADirectoryError:
        raise InputFileError(f"{path}: is a directory, expected a recording or CSV file") from None
    except OSError as error:
        raise InputFileError(f"{path}: cannot read: {error.strerror or error}") from None
    if head == MAGIC:
        return _open_recording(path)
    if MAGIC.startswith(head) and head:
        raise InputFileError(f"{path}: file ends inside the recording preamble (byte {len(head)})")
    return _open_csv(path)


def _open_recording(path: Path) -> LoadedInput:
    result = replay_all(read_recording(path))
    header = result.recording.header
    first = header.streams[0]
    streams = [s.name for s in header.streams]
    metadata = InputMetadata(
        kind="recording",
        path=path,
        streams=streams,
        rates_hz=result.rates_hz,
        profile=first.profile_id,
        profiles={s.name: s.profile_id for s in header.streams},
        exercise=header.exercise,
        program=header.program,
        start=header.start_utc,
        device_name=first.device_name,
        device_address=first.device_address,
        bad_packets=sum(result.bad_packets.values()),
        warnings=list(result.recording.warnings),
    )
    return LoadedInput(metadata=metadata, streams=result.samples, events=result.events)


def _open_csv(path: Path) -> LoadedInput:
    imported = read_csv(path)
    metadata = InputMetadata(
        kind="csv",
        path=path,
        streams=[CSV_STREAM],
        rates_hz={CSV_STREAM: imported.rate_hz},
    )
    return LoadedInput(
        metadata=metadata, streams={CSV_STREAM: imported.block}, events=imported.events
    )
