"""Polar Sensor Logger (Android app for Polar H10 / Verity Sense): one `.txt` file per stream.

Semicolon-separated, header `Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]` (ACC),
`... X [dps] ...` (GYRO) or `... X [G] ...` (MAGN). The sensor timestamp is the sensor's clock in
ns since 2000-01-01 (the PMD epoch), kept as is so imported and live Polar data share a clock.
Files are named `Polar_<model>_<device id>_<YYYYMMDD_HHMMSS>_<STREAM>.txt`; the streams of one
recording share everything before `<STREAM>`. Other streams (HR, ECG, PPG, ...) are ignored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from monitor.core import GRAVITY, SampleBlock
from monitor.errors import InputFileError
from monitor.sources.csv_import import in_units
from monitor.sources.importers.common import (
    Column,
    Series,
    add_series,
    expect_header,
    fail,
    first_line,
    header_fields,
    loaded_input,
    pair_by_prefix,
    read_table,
    read_text,
    utc_from_ns,
)
from monitor.sources.inputs import LoadedInput
from monitor.textfiles import clip

NAME = "polar-sensor-logger"
TITLE = "Polar Sensor Logger .txt"
POLAR_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
HEAD = ("Phone timestamp", "sensor timestamp [ns]")
FILE_NAME = re.compile(
    r"(?P<prefix>Polar_(?P<model>.+?)_(?P<device>[0-9A-Fa-f]{8})_(?P<when>\d{8}_\d{6}))"
    r"_(?P<sensor>[A-Z]+)\.txt"
)
# header unit -> channel, factor to the project's units (1 G = 100 uT)
UNITS = {"mg": ("acc", GRAVITY / 1000.0), "dps": ("gyro", math.pi / 180.0), "G": ("mag", 100.0)}
STREAM_OF = {"acc": "ACC", "gyro": "GYRO", "mag": "MAGN"}
AXIS_HEADER = re.compile(r"([XYZ]) \[(.+)\]")


def claims(path: Path) -> bool:
    """A Polar Sensor Logger file by its header or its name, or a folder holding one."""
    if path.is_dir():
        return any(FILE_NAME.fullmatch(p.name) for p in path.iterdir())
    return _is_psl(path) or (path.is_file() and FILE_NAME.fullmatch(path.name) is not None)


def _is_psl(path: Path) -> bool:
    return header_fields(first_line(path), ";")[:2] == list(HEAD)


def load(path: Path) -> LoadedInput:
    """Read the motion streams of one Polar Sensor Logger recording onto one clock."""
    prefix, files = pair_by_prefix(path, FILE_NAME, "Polar Sensor Logger")
    motion = {s: f for s, f in files.items() if s in STREAM_OF.values()}
    if not files:  # not named like the app names them: the file alone
        motion = {"": path}
    elif not motion:
        raise InputFileError(f"{path}: no ACC, GYRO or MAGN stream in {prefix}_*.txt")
    series: dict[str, Series] = {}
    warnings: list[str] = []
    for file in motion.values():
        one, torn = read_series(file)
        add_series(series, one, STREAM_OF[one.channel])
        warnings.extend(torn)
    if "acc" not in series:
        raise InputFileError(
            f"{path}: no ACC file found next to it (looked for {prefix or '<same prefix>'}_ACC.txt)"
        )
    if "gyro" not in series and prefix:
        warnings.append(f"{path}: no GYRO stream ({prefix}_GYRO.txt) found")
    named = FILE_NAME.fullmatch(series["acc"].path.name)
    first_ns = max(int(s.t_ns[0]) for s in series.values())
    return loaded_input(
        NAME,
        path,
        series,
        stream=NAME,
        start=utc_from_ns(first_ns, POLAR_EPOCH),
        device_name=f"Polar {named['model']} {named['device']}" if named else "",
        warnings=warnings,
    )


def read_series(path: Path) -> tuple[Series, list[str]]:
    """One stream file: channel from the header's unit, time from the sensor timestamp."""
    text = read_text(path)
    if not text.strip():
        raise InputFileError(f"{path}: empty file, expected a Polar Sensor Logger header")
    names = header_fields(text.splitlines()[0], ";")
    expect_header(path, names, HEAD)
    units = []
    for index, axis in enumerate("XYZ", start=2):
        found = AXIS_HEADER.fullmatch(names[index]) if index < len(names) else None
        if found is None or found[1] != axis:
            got = names[index] if index < len(names) else "(missing)"
            raise fail(path, 1, f"column {index + 1} is {clip(got)}, expected '{axis} [unit]'")
        units.append(found[2])
    if len(set(units)) != 1 or units[0] not in UNITS:
        raise fail(path, 1, f"axis unit {clip(units[0])} is not one of {', '.join(UNITS)}")
    channel, factor = UNITS[units[0]]
    table = read_table(
        path,
        text,
        [Column(1, HEAD[1], np.int64), *(Column(2 + i, names[2 + i]) for i in range(3))],
        delimiter=";",
    )
    series = Series(
        channel=channel,
        path=path,
        t_ns=table.columns[0],
        values=in_units(np.column_stack(table.columns[1:]), factor),
        lines=table.lines,
    )
    return series, table.warnings


def write(
    folder: Path,
    blocks: Sequence[SampleBlock],
    *,
    model: str = "H10",
    device_id: str = "ABCD1234",
    when: datetime | None = None,
) -> list[Path]:
    """Write each channel of `blocks` as Polar Sensor Logger does (ACC in whole mg).

    `t_ns` is the sensor clock (ns since 2000-01-01); the phone time column shows it in UTC.
    """
    first = utc_from_ns(int(blocks[0].t_ns[0]), POLAR_EPOCH)
    prefix = f"Polar_{model}_{device_id}_{(when or first):%Y%m%d_%H%M%S}"
    written = []
    for block in blocks:
        epoch_offset = np.datetime64(POLAR_EPOCH.replace(tzinfo=None), "ns")
        phone = np.datetime_as_string(epoch_offset + block.t_ns.astype("timedelta64[ns]"), "ms")
        for channel, (unit, fmt) in {
            "acc": ("mg", "{:.0f}"),
            "gyro": ("dps", "{:.6g}"),
            "mag": ("G", "{:.6g}"),
        }.items():
            values = getattr(block, channel)
            if values is None:
                continue
            values = values / UNITS[unit][1]
            header = ";".join([*HEAD, *(f"{axis} [{unit}]" for axis in "XYZ")])
            rows = (
                ";".join([p, str(t), *(fmt.format(v) for v in xyz)])
                for p, t, xyz in zip(
                    phone.tolist(), block.t_ns.tolist(), values.tolist(), strict=True
                )
            )
            path = folder / f"{prefix}_{STREAM_OF[channel]}.txt"
            path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
            written.append(path)
    return written
