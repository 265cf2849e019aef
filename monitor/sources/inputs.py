"""Open any input the monitor analyses: a recording (.mrec), a generic CSV, or another app's
export (monitor.sources.importers: MetaBase, Polar Sensor Logger, phyphox).

The kind is told from the content (a recording starts with its magic bytes), not from the file
name; `input_format` forces one. Either way the result is aligned sample blocks per stream,
events and metadata.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from monitor.core import Event, SampleBlock
from monitor.errors import InputFileError
from monitor.session.recording import MAGIC, read_recording
from monitor.sources.csv_import import STREAM as CSV_STREAM
from monitor.sources.csv_import import read_csv
from monitor.sources.replay import replay_all


@dataclass(slots=True)
class InputMetadata:
    kind: str  # "recording", "csv" or an importer's format name
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
    channel_rates_hz: dict[str, float] = field(default_factory=dict)  # imports: per sensor file
    files: list[Path] = field(default_factory=list)  # imports: every file read


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


INPUT_FORMATS = ("auto", "recording", "csv", "metabase", "polar-sensor-logger", "phyphox")


def open_input(path: Path | str, input_format: str = "auto") -> LoadedInput:
    """Read a recording, a CSV or an import; InputFileError (one line) when broken or unknown."""
    from monitor.sources import importers  # they build on this module's types

    path = Path(path)
    if input_format in importers.FORMATS:
        return importers.load(path, input_format)
    if input_format not in INPUT_FORMATS:
        raise InputFileError(
            f"unknown input format {input_format!r}; use one of {', '.join(INPUT_FORMATS)}"
        )
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            if input_format == "auto" and (found := importers.detect(path)):
                return found.load(path)
            raise InputFileError(
                f"{path}: is a directory, expected a recording, a CSV file or an app's export "
                "folder"
            )
        if not stat.S_ISREG(mode):  # opening a pipe would wait for a writer
            raise InputFileError(f"{path}: not a regular file (a device, pipe or socket)")
        with path.open("rb") as handle:
            head = handle.read(len(MAGIC))
    except OSError as error:
        raise InputFileError(f"{path}: cannot read: {error.strerror or error}") from None
    if input_format == "csv":
        return _open_csv(path)
    if head == MAGIC or input_format == "recording":
        return _open_recording(path)
    if MAGIC.startswith(head) and head:
        raise InputFileError(f"{path}: file ends inside the recording preamble (byte {len(head)})")
    try:
        if found := importers.detect(path):
            return found.load(path)
        return _open_csv(path)
    except InputFileError:
        if path.suffix.lower() == ".mrec":  # named a recording, readable as nothing: say why
            return _open_recording(path)
        raise


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
        warnings=imported.warnings,
    )
    return LoadedInput(
        metadata=metadata, streams={CSV_STREAM: imported.block}, events=imported.events
    )
