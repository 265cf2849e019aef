"""Generic CSV import: IMU data exported by other tools.

Layout: lines starting with `#` are comments; the first other line is the header, naming each
column with its unit: `time_s`, `acc_x_mps2` or `acc_x_g` (and y, z), `gyro_x_rads` or
`gyro_x_dps`, optionally `mag_x_ut`. Other columns are ignored. Any rate from 10 to 1000 Hz;
timestamps may be irregular but never run backwards. Intervals much longer than the typical
one are reported as GAP events (the samples are kept as they are, nothing is filled in).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from monitor.core import GRAVITY, Event, EventKind, SampleBlock
from monitor.errors import InputFileError
from monitor.textfiles import clip, read_text

MIN_RATE_HZ = 10.0
MAX_RATE_HZ = 1000.0
STREAM = "csv"
TORN = "cut off mid-line (torn write), dropped"  # a last line without newline that is broken

# channel -> accepted unit suffixes and their factor to the project's units
UNITS: dict[str, dict[str, float]] = {
    "acc": {"mps2": 1.0, "g": GRAVITY},
    "gyro": {"rads": 1.0, "dps": math.pi / 180.0},
    "mag": {"ut": 1.0},
}
REQUIRED = ("acc", "gyro")
AXES = ("x", "y", "z")
# Far beyond any IMU (about 200 g, 11,000 deg/s, 200 times the Earth's field): a value past
# these is a corrupt number or a wrong unit, not a measurement.
LIMITS = {"acc": (2000.0, "m/s^2"), "gyro": (200.0, "rad/s"), "mag": (10_000.0, "uT")}


@dataclass(slots=True)
class CsvImport:
    """A CSV file read into one sample block (stream "csv")."""

    path: Path
    block: SampleBlock
    rate_hz: float
    units: dict[str, str]  # channel -> unit found in the header
    events: list[Event] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. a torn last line dropped


def read_csv(path: Path | str) -> CsvImport:
    """Read a generic CSV; a bad file raises InputFileError naming the line and problem."""
    path = Path(path)
    return _parse(path, read_text(path))


def _fail(path: Path, line: int, problem: str) -> InputFileError:
    return InputFileError(f"{path}: line {line}: {problem}")


def _parse(path: Path, text: str) -> CsvImport:
    lines = text.splitlines()
    comments: list[str] = []
    header_line = 0
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            comments.append(stripped[1:].strip())
        elif stripped:
            header_line = number
            break
    if not header_line:
        raise InputFileError(f"{path}: no header row (expected e.g. time_s,acc_x_mps2,...)")
    names = [n.strip().strip('"').strip().lower() for n in lines[header_line - 1].split(",")]
    columns, units = _columns(path, header_line, names)

    data_numbers = [
        number
        for number in range(header_line + 1, len(lines) + 1)
        if (s := lines[number - 1].strip()) and not s.startswith("#")
    ]
    order = _order(columns, units)
    warnings = []
    torn = data_numbers and not text.endswith(("\n", "\r"))
    if torn and _row_problem(lines[data_numbers[-1] - 1], names, order) is not None:
        warnings.append(
            f"{path}: line {data_numbers.pop()}: cut off mid-line (torn write), dropped"
        )
    if len(data_numbers) < 2:
        raise InputFileError(f"{path}: needs at least two data rows, found {len(data_numbers)}")
    body = "\n".join(lines[n - 1] for n in data_numbers)
    try:
        table = np.loadtxt(
            io.StringIO(body), delimiter=",", usecols=order, ndmin=2, dtype=np.float64
        )
    except ValueError:
        raise _locate_bad_value(path, lines, data_numbers, names, order) from None
    if not np.isfinite(table).all():
        row, col = np.argwhere(~np.isfinite(table))[0]
        raise _fail(path, data_numbers[row], f"{names[order[col]]} is not a finite number")

    time_s = table[:, 0]
    t_ns = seconds_to_ns(path, np.asarray(data_numbers), time_s, "time_s")
    steps = np.diff(time_s)
    if (steps < 0).any():
        row = int(np.flatnonzero(steps < 0)[0]) + 1
        raise _fail(
            path,
            data_numbers[row],
            f"time_s goes backwards ({time_s[row - 1]:g} -> {time_s[row]:g})",
        )
    positive = steps[steps > 0]
    if positive.size == 0:
        raise InputFileError(f"{path}: time_s never advances")
    period = float(np.median(positive))
    rate = 1.0 / period
    if not MIN_RATE_HZ * 0.95 <= rate <= MAX_RATE_HZ * 1.05:
        raise InputFileError(
            f"{path}: sample rate {rate:.3g} Hz (median interval {period * 1e3:.3g} ms) is "
            f"outside {MIN_RATE_HZ:g}..{MAX_RATE_HZ:g} Hz; is time_s in seconds?"
        )

    channels = {}
    for index, (channel, unit) in enumerate(units.items()):
        values = in_units(table[:, 1 + 3 * index : 4 + 3 * index], UNITS[channel][unit])
        if problem := implausible(channel, values):
            row, text = problem
            raise _fail(path, data_numbers[row], text)
        channels[channel] = values
    block = SampleBlock(t_ns=t_ns, stream=STREAM, **channels)
    return CsvImport(
        path=path,
        block=block,
        rate_hz=rate,
        units=units,
        events=_gap_events(t_ns, period),
        comments=comments,
        warnings=warnings,
    )


def in_units(values: np.ndarray, factor: float) -> np.ndarray:
    """`values` times `factor`; what overflows becomes inf, which `implausible` reports."""
    with np.errstate(over="ignore"):
        return values * factor if factor != 1.0 else values


def implausible(channel: str, values: np.ndarray) -> tuple[int, str] | None:
    """The first row whose value (project units) no IMU can give, and the problem, or None."""
    limit, unit = LIMITS[channel]
    beyond = ~(np.abs(values) <= limit)  # NaN and inf too
    if not beyond.any():
        return None
    row, axis = (int(i) for i in np.argwhere(beyond)[0])
    value = values[row, axis]
    return row, f"{channel} {AXES[axis]} is {value:.3g} {unit}, beyond any IMU (over {limit:g})"


def seconds_to_ns(path: Path, lines: np.ndarray, seconds: np.ndarray, name: str) -> np.ndarray:
    """Seconds as int64 nanoseconds; a time beyond int64 nanoseconds (about 292 years) names
    its line instead of wrapping round."""
    return scaled_to_ns(path, lines, seconds, 1e9, name)


def scaled_to_ns(
    path: Path, lines: np.ndarray, values: np.ndarray, ns_per_unit: float, name: str
) -> np.ndarray:
    """`values` in a unit of `ns_per_unit` nanoseconds as int64 ns, refusing what overflows."""
    limit = np.iinfo(np.int64).max / ns_per_unit
    outside = np.abs(values) >= limit
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise _fail(path, int(lines[row]), f"{name} {values[row]:g} is out of range")
    if values.dtype.kind in "iu" and ns_per_unit.is_integer():
        return values.astype(np.int64) * int(ns_per_unit)  # exact: no float rounding
    return np.rint(values * ns_per_unit).astype(np.int64)


def _columns(path: Path, line: int, names: list[str]) -> tuple[dict[str, int], dict[str, str]]:
    """Column index of time and of each channel axis; the unit found per channel."""
    position = {name: i for i, name in reversed(list(enumerate(names)))}
    if "time_s" not in position:
        shown = clip(", ".join(names), 120)
        raise _fail(path, line, f"header has no time_s column (columns: {shown})")
    columns = {"time": position["time_s"]}
    units: dict[str, str] = {}
    for channel, accepted in UNITS.items():
        found = [u for u in accepted if any(f"{channel}_{a}_{u}" in position for a in AXES)]
        if len(found) > 1:
            raise _fail(path, line, f"{channel} is given in two units ({', '.join(found)})")
        if not found:
            if channel in REQUIRED:
                options = " or ".join(f"{channel}_x_{u}" for u in accepted)
                raise _fail(path, line, f"header has no {channel} columns (expected {options})")
            continue
        unit = found[0]
        for axis in AXES:
            name = f"{channel}_{axis}_{unit}"
            if name not in position:
                raise _fail(path, line, f"header has no {name} column")
            columns[f"{channel}_{axis}"] = position[name]
        units[channel] = unit
    return columns, units


def _order(columns: dict[str, int], units: dict[str, str]) -> list[int]:
    """Column indices to read: time, then each channel's x, y, z."""
    return [columns["time"], *(columns[f"{c}_{a}"] for c in units for a in AXES)]


def _row_problem(line: str, names: list[str], order: list[int]) -> str | None:
    """What is wrong with one data row, or None when every needed column is a number."""
    fields = line.split(",")
    needed = max(order) + 1
    if len(fields) < needed:
        return f"expected at least {needed} columns, found {len(fields)}"
    for column in order:
        try:
            float(fields[column])
        except ValueError:
            return f"{names[column][:40]}: {clip(fields[column].strip())} is not a number"
    return None


def _locate_bad_value(
    path: Path, lines: list[str], numbers: list[int], names: list[str], order: list[int]
) -> InputFileError:
    """Find the first row numpy refused, for a message naming its line."""
    for number in numbers:
        if problem := _row_problem(lines[number - 1], names, order):
            return _fail(path, number, problem)
    return InputFileError(f"{path}: not a numeric CSV")


def _gap_events(t_ns: np.ndarray, period_s: float) -> list[Event]:
    """GAP events where an interval is over 3 typical intervals (and over 50 ms)."""
    period_ns = period_s * 1e9
    threshold = max(3 * period_ns, period_ns + 50e6)
    steps = np.diff(t_ns)
    events = []
    for i in np.flatnonzero(steps > threshold).tolist():
        missing = max(1, round(steps[i] / period_ns) - 1)
        events.append(
            Event(
                t_ns=int(t_ns[i + 1]),
                kind=EventKind.GAP,
                message=f"about {missing} samples missing ({steps[i] / 1e6:.0f} ms without data)",
                stream=STREAM,
                data={"missing_samples": missing, "duration_ns": int(steps[i])},
            )
        )
    return events
