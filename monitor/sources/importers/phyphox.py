"""phyphox exports (phone sensor app): a folder or zip of one CSV per sensor.

`Accelerometer.csv` has `"Time (s)","Acceleration x (m/s^2)",...` (gravity included),
`Gyroscope.csv` `"Gyroscope x (rad/s)"`, `Magnetometer.csv` `"Magnetic field x (µT)"`; all sensors
share the experiment clock (seconds from its start). phyphox offers comma, tab or semicolon
separators, the latter two optionally with a decimal comma. `meta/time.csv` gives the system
time at START, used as the start of the session. The sensor is told from each file's header.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path, PurePosixPath

import numpy as np

from monitor import textfiles
from monitor.core import SampleBlock
from monitor.errors import InputFileError
from monitor.sources.csv_import import in_units, seconds_to_ns
from monitor.sources.importers.common import (
    UNIX_EPOCH,
    Column,
    Series,
    add_series,
    fail,
    first_line,
    header_fields,
    inside,
    loaded_input,
    read_table,
    read_text,
)
from monitor.sources.inputs import LoadedInput

NAME = "phyphox"
TITLE = "phyphox export (folder or zip)"
SEPARATORS = (",", "\t", ";")
TIME = "Time (s)"
# header of the x column (lower case) -> channel, factor to the project's units
AXIS_X = {
    "acceleration x (m/s^2)": ("acc", 1.0),
    "gyroscope x (rad/s)": ("gyro", 1.0),
    "magnetic field x (µt)": ("mag", 1.0),
    "magnetic field x (ut)": ("mag", 1.0),
}
FILE_OF = {"acc": "Accelerometer.csv", "gyro": "Gyroscope.csv", "mag": "Magnetometer.csv"}
LABEL_OF = {"acc": "Acceleration", "gyro": "Gyroscope", "mag": "Magnetic field"}
UNIT_OF = {"acc": "m/s^2", "gyro": "rad/s", "mag": "µT"}
START = re.compile(r'"?START"?[,;\t]')


def _separator(header: str) -> str | None:
    """The separator after the time column, when `header` is a phyphox sensor header."""
    names = header.strip()
    if not names.startswith(f'"{TIME}"'):
        return None
    rest = names[len(TIME) + 2 :]
    return rest[0] if rest and rest[0] in SEPARATORS else None


def claims(path: Path) -> bool:
    """A phyphox sensor CSV, or a folder or zip holding one."""
    if path.is_dir():
        return any(_separator(first_line(p)) for p in path.glob("*.csv"))
    if path.is_file() and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                return any(_separator(_head(archive, info)) for info in _members(archive) if info)
        except (OSError, zipfile.BadZipFile, RuntimeError, NotImplementedError):
            return False
    return _separator(first_line(path)) is not None


def _head(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    """The start of a member, without inflating the rest of it."""
    with archive.open(info) as member:
        return member.read(4096).decode("utf-8", "replace")


def _members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The CSV members an export can have: plain relative names (a member called
    `../../etc/x.csv` or `/etc/x.csv` is no part of a phyphox export and is never read)."""
    return [
        info
        for info in archive.infolist()
        if info.filename.lower().endswith(".csv")
        and not info.is_dir()
        and not PurePosixPath(info.filename).is_absolute()
        and ".." not in PurePosixPath(info.filename).parts
        and "\\" not in info.filename
    ]


def load(path: Path) -> LoadedInput:
    """Read the sensors of one phyphox export (folder, zip, or one of its CSV files)."""
    texts = _sensor_texts(path)
    series: dict[str, Series] = {}
    warnings: list[str] = []
    start = None
    for file, text in texts.items():
        if file.parent.name == "meta":
            if file.name == "time.csv":
                start = _start(file, text, warnings)
            continue
        header = text.splitlines()[0] if text.strip() else ""
        if _separator(header) is None:
            if file.name in FILE_OF.values():
                raise fail(
                    file,
                    1,
                    f"{textfiles.clip(header) if header else 'empty file'}: not a phyphox "
                    f'sensor header (expected "{TIME}",...)',
                )
            continue
        one, torn = read_series(file, text)
        if one is None:
            continue
        add_series(series, one, LABEL_OF[one.channel])
        warnings.extend(torn)
    if "acc" not in series:
        found = ", ".join(str(s.path.name) for s in series.values()) or "none"
        raise InputFileError(
            f"{path}: no Accelerometer.csv with acceleration including gravity "
            f"(sensor files found: {found})"
        )
    return loaded_input(NAME, path, series, stream=NAME, start=start, warnings=warnings)


def _sensor_texts(path: Path) -> dict[Path, str]:
    """The CSV files of the export (including meta/), by path, as text."""
    if path.is_dir():
        found = sorted([*path.glob("*.csv"), *path.glob("meta/*.csv")])
        return {p: read_text(inside(path, p)) for p in found}
    if path.is_file() and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                return {
                    path / info.filename: _member_text(path, archive, info)
                    for info in sorted(_members(archive), key=lambda i: i.filename)
                }
        except (OSError, zipfile.BadZipFile, RuntimeError, NotImplementedError) as error:
            raise InputFileError(f"{path}: broken zip archive: {error}") from None
    if path.suffix.lower() != ".csv" or path.parent.name == "meta":
        return {path: read_text(path)}
    return _sensor_texts(path.parent)  # one CSV of an export folder: read the whole folder


def _member_text(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    """A member's text, read with the same bounds as a file (a zip bomb stops at the limit)."""
    label = path / info.filename
    if info.file_size > textfiles.MAX_TEXT_BYTES:
        raise InputFileError(
            f"{label}: {info.file_size / 1024 / 1024:.0f} MiB once unpacked, more than the "
            f"{textfiles.MAX_TEXT_BYTES / 1024 / 1024:.0f} MiB read from one file; refused"
        )
    with archive.open(info) as member:
        return textfiles.decode(label, textfiles.read_stream(label, member))


def read_series(path: Path, text: str) -> tuple[Series | None, list[str]]:
    """One sensor CSV (None for a phyphox table that is not a motion sensor's)."""
    delimiter = _separator(text.splitlines()[0])
    names = header_fields(text.splitlines()[0], delimiter)
    known = AXIS_X.get(names[1].lower()) if len(names) > 1 else None
    if known is None:
        return None, []
    channel, factor = known
    label = names[1][: names[1].lower().index(" x (")]
    for index, axis in enumerate("yz", start=2):
        got = names[index] if index < len(names) else "(missing)"
        if not got.lower().startswith(f"{label} {axis} (".lower()):
            raise fail(
                path,
                1,
                f"column {index + 1} is {textfiles.clip(got)}, expected '{label} {axis} (..)'",
            )
    if delimiter != ",":  # tab or semicolon exports may use a decimal comma
        text = text.replace(",", ".")
    table = read_table(path, text, [Column(i, names[i]) for i in range(4)], delimiter=delimiter)
    series = Series(
        channel=channel,
        path=path,
        t_ns=seconds_to_ns(path, table.lines, table.columns[0], TIME),
        values=in_units(np.column_stack(table.columns[1:]), factor),
        lines=table.lines,
    )
    return series, table.warnings


def _start(path: Path, text: str, warnings: list[str]) -> datetime | None:
    """System time of the START event in meta/time.csv (None when absent; a warning naming the
    line when it is not a time: the session start then falls back to the file's date)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if START.match(line):
            delimiter = line[len('"START"') if line.startswith('"') else len("START")]
            fields = header_fields(line, delimiter)
            try:
                seconds = float(fields[2].replace(",", ".") if delimiter != "," else fields[2])
                return datetime.fromtimestamp(seconds, UNIX_EPOCH.tzinfo)
            except (IndexError, ValueError, OverflowError, OSError):
                value = textfiles.clip(fields[2]) if len(fields) > 2 else "(missing)"
                warnings.append(f"{path}: line {number}: START system time {value} is not a time")
                return None
    return None


def write(
    target: Path,
    blocks: Sequence[SampleBlock],
    *,
    separator: str = ",",
    decimal_comma: bool = False,
    start: datetime | None = None,
) -> Path:
    """Write an export as phyphox does: a folder, or a zip when `target` ends in `.zip`.

    Times are seconds from the first sample of the first block (the experiment clock).
    """
    if decimal_comma and separator == ",":
        raise ValueError("a decimal comma needs a tab or semicolon separator")
    t0 = int(blocks[0].t_ns[0])
    files: dict[str, str] = {}

    def number(value: float) -> str:
        text = f"{value:.9E}"
        return text.replace(".", ",") if decimal_comma else text

    for block in blocks:
        t_s = (block.t_ns - t0) / 1e9
        for channel in block.channels:
            values = getattr(block, channel)
            header = [TIME, *(f"{LABEL_OF[channel]} {a} ({UNIT_OF[channel]})" for a in "xyz")]
            lines = [separator.join(f'"{h}"' for h in header)]
            lines += [
                separator.join(number(v) for v in (t, *xyz))
                for t, xyz in zip(t_s.tolist(), values.tolist(), strict=True)
            ]
            files[FILE_OF[channel]] = "\n".join(lines) + "\n"
    if start is not None:
        header = separator.join(
            f'"{h}"' for h in ("event", "experiment time", "system time", "system time text")
        )
        row = separator.join(
            ['"START"', number(0.0), number(start.timestamp()), f'"{start.isoformat()}"']
        )
        files["meta/time.csv"] = f"{header}\n{row}\n"
    if target.suffix.lower() == ".zip":
        with zipfile.ZipFile(target, "w") as archive:
            for name, text in files.items():
                archive.writestr(str(PurePosixPath(name)), text)
    else:
        for name, text in files.items():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_text(text, encoding="utf-8")
    return target
