"""What the importers share: reading tables with line-exact errors, pairing files by name,
checking timestamps, and putting per-sensor series on one clock.

Each importer reads one file per sensor into a `Series` (its own timeline, project units) and
hands the series to `loaded_input`, which merges them over their common time span.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfiltfilt

from monitor import textfiles
from monitor.core import Event, EventKind, SampleBlock
from monitor.core.samples import FloatArray, Int64Array
from monitor.errors import InputFileError
from monitor.sources.csv_import import TORN, _gap_events, implausible
from monitor.sources.inputs import InputMetadata, LoadedInput

CHANNELS = ("acc", "gyro", "mag")
NO_GYRO_NOTICE = (
    "no gyroscope in {source}: the angular rate is estimated from the accelerometer's tilt, "
    "so rotation about the vertical (e.g. trunk rotation lying on the back) cannot be measured "
    "and fast movements read less exactly"
)


def fail(path: Path, line: int, problem: str) -> InputFileError:
    return InputFileError(f"{path}: line {line}: {problem}")


def read_text(path: Path) -> str:
    """The file as text (bounded, UTF-8 or UTF-16 with a BOM); InputFileError when unreadable."""
    return textfiles.read_text(path)


def first_line(path: Path, limit: int = 4096) -> str:
    """The first line of a regular file ("" when it cannot be read or is not text): for
    detection, so it never opens a pipe or device."""
    if not path.is_file():
        return ""
    try:
        with path.open("rb") as handle:
            head = handle.read(limit)
    except OSError:
        return ""
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        return ""
    return text.splitlines()[0] if text.strip() else ""


def inside(folder: Path, candidate: Path) -> Path:
    """`candidate`, found by listing `folder`, unless it is a link that leads out of it.

    Files found next to the one the user named are read only when they really are in that
    folder: a symbolic link to elsewhere (another user's files, /etc) is refused.
    """
    target = candidate.resolve()
    if not target.is_relative_to(folder.resolve()):
        raise InputFileError(
            f"{candidate}: a symbolic link out of {folder} (to {target}); not followed"
        )
    return candidate


@dataclass(slots=True)
class Table:
    """Numeric rows of one file, with the file line number of each row."""

    lines: np.ndarray  # (n,) int: 1-based line number in the file
    columns: list[np.ndarray]  # one array per requested column
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Column:
    index: int  # position in the row
    name: str  # as the header spells it, for messages
    dtype: type = np.float64


def read_table(
    path: Path,
    text: str,
    columns: Sequence[Column],
    *,
    delimiter: str = ",",
    header_lines: int = 1,
) -> Table:
    """Parse the rows after the header; a bad value names its line and column.

    A last line without its newline that does not parse (a file cut off mid-write) is dropped
    with a warning instead of failing the whole file.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    offset = 0
    for _ in range(header_lines):
        offset = text.find("\n", offset) + 1 or len(text)
    body = text[offset:]
    warnings: list[str] = []
    if body.strip() and not body.endswith("\n"):
        cut = body.rfind("\n") + 1
        if _bad_row(body[cut:], columns, delimiter) is not None:
            line = header_lines + body.count("\n", 0, cut) + 1
            warnings.append(f"{path}: line {line}: {TORN}")
            body = body[:cut]
    if not body.strip():
        raise InputFileError(f"{path}: header only, no data rows")
    dtype = np.dtype([(f"c{i}", c.dtype) for i, c in enumerate(columns)])
    try:
        rows = np.loadtxt(
            io.StringIO(body),
            delimiter=delimiter,
            usecols=[c.index for c in columns],
            dtype=dtype,
            ndmin=1,
            quotechar='"',
        )
    except ValueError:
        for number, line in enumerate(body.split("\n"), start=header_lines + 1):
            if line.strip() and (problem := _bad_row(line, columns, delimiter)):
                raise fail(path, number, problem) from None
        raise InputFileError(f"{path}: not a numeric table") from None
    numbers = np.arange(header_lines + 1, header_lines + 1 + len(rows))
    if len(rows) != body.count("\n") + (not body.endswith("\n")):  # blank lines skipped
        numbers = np.asarray(
            [n for n, line in enumerate(body.split("\n"), header_lines + 1) if line.strip()]
        )
    parsed = [rows[f"c{i}"] for i in range(len(columns))]
    for column, values in zip(columns, parsed, strict=True):
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            row = int(np.flatnonzero(~np.isfinite(values))[0])
            raise fail(path, int(numbers[row]), f"{column.name} is not a finite number")
    return Table(lines=numbers, columns=parsed, warnings=warnings)


def _bad_row(line: str, columns: Sequence[Column], delimiter: str) -> str | None:
    """What is wrong with one row, or None when every requested column parses."""
    fields = line.split(delimiter)
    needed = max(c.index for c in columns) + 1
    if len(fields) < needed:
        return f"expected at least {needed} columns, found {len(fields)}"
    for column in columns:
        value = fields[column.index].strip().strip('"')
        try:
            column.dtype(value)
        except ValueError:
            return f"{column.name}: {textfiles.clip(value)} is not a number"
        except OverflowError:
            return f"{column.name}: {textfiles.clip(value)} is out of range"
    return None


def header_fields(line: str, delimiter: str) -> list[str]:
    return [name.strip().strip('"').strip() for name in line.split(delimiter)]


def expect_header(path: Path, found: list[str], expected: Sequence[str]) -> None:
    """The header must start with `expected` (case-insensitive); else name the first mismatch."""
    for index, name in enumerate(expected):
        got = found[index] if index < len(found) else "(missing)"
        if got.lower() != name.lower():
            raise fail(path, 1, f"column {index + 1} is {textfiles.clip(got)}, expected {name!r}")


@dataclass(slots=True)
class Series:
    """One sensor's samples on its own clock, in the project's units."""

    channel: str  # "acc", "gyro" or "mag"
    path: Path
    t_ns: Int64Array
    values: FloatArray  # (n, 3)
    lines: np.ndarray  # file line of each sample (for messages)
    nominal_rate_hz: float | None = None  # what the file name or header declares

    @property
    def rate_hz(self) -> float:
        steps = np.diff(self.t_ns)
        steps = steps[steps > 0]
        return float(1e9 / np.median(steps)) if steps.size else 0.0


def add_series(series: dict[str, Series], one: Series, label: str) -> None:
    """Keep `one` under its channel; a second file of one channel (`label`, e.g. "Gyroscope")
    is an error naming both."""
    if one.channel in series:
        raise InputFileError(
            f"{one.path}: a second {label} file besides {series[one.channel].path}"
        )
    series[one.channel] = one


def checked_events(series: Series, stream: str) -> list[Event]:
    """Values must be ones an IMU can give and timestamps must never run backwards; long
    intervals are reported as GAP events."""
    if problem := implausible(series.channel, series.values):
        row, text = problem
        raise fail(series.path, int(series.lines[row]), text)
    t_ns = series.t_ns
    if len(t_ns) < 2:
        raise InputFileError(f"{series.path}: needs at least two samples, found {len(t_ns)}")
    steps = np.diff(t_ns)
    if (steps < 0).any():
        row = int(np.flatnonzero(steps < 0)[0]) + 1
        raise fail(
            series.path,
            int(series.lines[row]),
            f"time goes backwards ({(t_ns[row - 1] - t_ns[row]) / 1e6:g} ms earlier than the "
            "line before)",
        )
    if not (steps > 0).any():
        raise InputFileError(f"{series.path}: the time never advances")
    return [
        replace(
            event,
            stream=stream,
            message=f"{series.channel} ({series.path.name}): {event.message}",
            data={**event.data, "channel": series.channel},
        )
        for event in _gap_events(t_ns, 1.0 / series.rate_hz)
    ]


def pair_by_prefix(path: Path, pattern: re.Pattern[str], what: str) -> tuple[str, dict[str, Path]]:
    """The files of one recording: `path` is one of them or their folder.

    `pattern` matches a file name with groups `prefix` (shared by the files of one recording)
    and `sensor`. Returns the prefix and sensor -> file.
    """
    if path.is_dir():
        groups: dict[str, dict[str, Path]] = {}
        for candidate in sorted(path.iterdir()):
            if match := pattern.fullmatch(candidate.name):
                groups.setdefault(match["prefix"], {})[match["sensor"]] = inside(path, candidate)
        if not groups:
            raise InputFileError(f"{path}: no {what} files in this folder")
        if len(groups) > 1:
            names = ", ".join(sorted(groups))
            raise InputFileError(
                f"{path}: holds {len(groups)} {what} recordings ({names}); give one of its files"
            )
        ((prefix, files),) = groups.items()
        return prefix, files
    match = pattern.fullmatch(path.name)
    if match is None:
        return "", {}
    files = {
        m["sensor"]: candidate if candidate == path else inside(path.parent, candidate)
        for candidate in sorted(path.parent.iterdir())
        if (m := pattern.fullmatch(candidate.name)) and m["prefix"] == match["prefix"]
    }
    return match["prefix"], files


def tilt_rate_from_acc(t_ns: Int64Array, acc: FloatArray, cutoff_hz: float = 3.0) -> FloatArray:
    """Angular rate (rad/s) about the horizontal axes, from how gravity turns in the sensor frame.

    Gravity is fixed in the world, so in the sensor frame dg/dt = g x w; the part of w
    perpendicular to g is -(g x dg/dt) / |g|^2. Rotation about g itself leaves no trace in the
    accelerometer: that component is zero. The accelerometer is low-passed (zero phase) first so
    that movement accelerations and noise do not read as rotation.
    """
    t_s = (t_ns - t_ns[0]) / 1e9
    rate = 1.0 / float(np.median(np.diff(t_s)[np.diff(t_s) > 0]))
    smooth = acc
    if len(acc) > 15:
        sos = butter(2, min(cutoff_hz, 0.4 * rate), fs=rate, output="sos")
        smooth = sosfiltfilt(sos, acc, axis=0)
    derivative = np.gradient(smooth, t_s, axis=0)
    norm2 = np.maximum(np.einsum("ij,ij->i", smooth, smooth), 1e-6)
    return -np.cross(smooth, derivative) / norm2[:, None]


def on_one_clock(
    series: dict[str, Series], stream: str
) -> tuple[SampleBlock, list[Event], list[str]]:
    """Merge per-sensor series onto the fastest motion sensor's timestamps over their overlap.

    The other series are linearly interpolated; clock samples that fall inside a gap of another
    series are dropped (a gap is reported, never bridged). Returns the block, the events and
    notices for the user.
    """
    events: list[Event] = []
    for one in series.values():
        events.extend(checked_events(one, stream))
    motion = [s for c, s in series.items() if c in ("acc", "gyro")]
    reference = max(motion, key=lambda s: s.rate_hz)
    start = max(int(s.t_ns[0]) for s in series.values())
    end = min(int(s.t_ns[-1]) for s in series.values())
    if end <= start:
        spans = "; ".join(f"{s.path.name}: {_span(s)}" for s in series.values())
        raise InputFileError(f"{reference.path}: the sensors' clocks never overlap ({spans})")
    notices: list[str] = []
    keep = (reference.t_ns >= start) & (reference.t_ns <= end)
    t_ns = reference.t_ns[keep]
    channels: dict[str, FloatArray] = {}
    covered = np.ones(len(t_ns), dtype=bool)
    for channel, other in series.items():
        if other is reference:
            channels[channel] = reference.values[keep]
            continue
        channels[channel] = np.column_stack(
            [np.interp(t_ns, other.t_ns, other.values[:, axis]) for axis in range(3)]
        )
        covered &= _outside_gaps(t_ns, other)
    if not covered.all():
        t_ns = t_ns[covered]
        channels = {c: v[covered] for c, v in channels.items()}
    trimmed = sum(
        int(np.count_nonzero(s.t_ns < start) + np.count_nonzero(s.t_ns > end))
        for s in series.values()
    )
    if trimmed and len(series) > 1:
        notices.append(
            f"{stream}: {trimmed} samples outside the sensors' common time span "
            f"({(end - start) / 1e9:.1f} s) were left out"
        )
    if len(t_ns) < 2:
        files = ", ".join(str(s.path) for s in series.values())
        raise InputFileError(f"{files}: fewer than two samples where all sensors overlap")
    if "gyro" not in channels:
        channels["gyro"] = tilt_rate_from_acc(t_ns, channels["acc"])
        notice = NO_GYRO_NOTICE.format(source=reference.path.name)
        notices.append(notice)
        events.append(Event(t_ns=int(t_ns[0]), kind=EventKind.INFO, message=notice, stream=stream))
    events.sort(key=lambda e: e.t_ns)
    return SampleBlock(t_ns=t_ns, stream=stream, **channels), events, notices


def _outside_gaps(t_ns: Int64Array, series: Series) -> np.ndarray:
    """False where `t_ns` falls between two samples of `series` further apart than a gap."""
    period = 1e9 / series.rate_hz
    threshold = max(3 * period, period + 50e6)
    after = np.clip(np.searchsorted(series.t_ns, t_ns), 1, len(series.t_ns) - 1)
    span = series.t_ns[after] - series.t_ns[after - 1]
    return span <= threshold


def _span(series: Series) -> str:
    return f"{series.t_ns[0] / 1e9:.3f}..{series.t_ns[-1] / 1e9:.3f} s"


def loaded_input(
    kind: str,
    path: Path,
    series: dict[str, Series],
    *,
    stream: str,
    start: datetime | None = None,
    device_name: str = "",
    device_address: str = "",
    warnings: Sequence[str] = (),
) -> LoadedInput:
    """Merge the series and describe the result as a LoadedInput (one stream)."""
    if "acc" not in series:
        files = ", ".join(s.path.name for s in series.values()) or str(path)
        raise InputFileError(f"{path}: no accelerometer data ({files}); the analysis needs it")
    block, events, notices = on_one_clock(series, stream)
    metadata = InputMetadata(
        kind=kind,
        path=path,
        streams=[stream],
        rates_hz={stream: float(1e9 / np.median(np.diff(block.t_ns)))},
        channel_rates_hz={c: s.nominal_rate_hz or round(s.rate_hz, 3) for c, s in series.items()},
        files=sorted({s.path for s in series.values()}),
        start=start,
        device_name=device_name,
        device_address=device_address,
        warnings=[*warnings, *notices],
    )
    return LoadedInput(metadata=metadata, streams={stream: block}, events=events)


UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc_from_ns(t_ns: int, epoch: datetime = UNIX_EPOCH) -> datetime:
    """The UTC time `t_ns` after `epoch` (microsecond resolution)."""
    return epoch + timedelta(microseconds=t_ns // 1000)
