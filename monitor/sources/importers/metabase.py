"""MbientLab MetaBase exports (MetaMotion R/S/C): one CSV per sensor, paired by file name.

Layout (as MetaBase writes it): header `epoch (ms),time (<utc offset>),elapsed (s),x-axis (g),
y-axis (g),z-axis (g)` for the accelerometer and `... (deg/s)` for the gyroscope; each file at its
own rate. The file name is `[<label>_]<device>_<YYYY-MM-DDTHH.MM.SS.mmm>_<MAC>_<Sensor>_<rate>Hz_
<firmware>.csv`; files sharing everything before `<Sensor>` belong to one recording.
The sensor is told from the header's unit, so a renamed file still reads (without a partner).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monitor.core import GRAVITY, SampleBlock
from monitor.errors import InputFileError
from monitor.sources.csv_import import in_units, scaled_to_ns
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

NAME = "metabase"
TITLE = "MbientLab MetaBase CSV"
FILE_NAME = re.compile(
    r"(?P<prefix>(?:.*_)?(?P<device>[^_]+)_(?P<when>\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\d\.\d{3})"
    r"_(?P<mac>[0-9A-Fa-f]{12}))_(?P<sensor>Accelerometer|Gyroscope)"
    r"_(?P<rate>\d+(?:\.\d+)?)Hz_(?P<firmware>[^_]+)\.csv",
    re.IGNORECASE,
)
# unit in the axis columns -> channel, factor to the project's units
UNITS = {"g": ("acc", GRAVITY), "deg/s": ("gyro", math.pi / 180.0)}
SENSOR_OF = {"acc": "Accelerometer", "gyro": "Gyroscope"}
AXIS_HEADER = re.compile(r"([xyz])-axis \((.+)\)", re.IGNORECASE)


def claims(path: Path) -> bool:
    """A MetaBase CSV by its header or its name, or a folder holding one named like MetaBase
    names them (a broken file named like one then gets MetaBase's error, not a generic one)."""
    if path.is_dir():
        return any(FILE_NAME.fullmatch(p.name) for p in path.iterdir())
    return _is_metabase(path) or (path.is_file() and FILE_NAME.fullmatch(path.name) is not None)


def _is_metabase(path: Path) -> bool:
    return first_line(path).lower().startswith("epoch (ms),")


def load(path: Path) -> LoadedInput:
    """Read a MetaBase file with its partner (or the pair in a folder) onto one clock."""
    prefix, files = pair_by_prefix(path, FILE_NAME, "MetaBase")
    if not files:  # not named like MetaBase: the file alone
        files = {"": path}
    series: dict[str, Series] = {}
    warnings: list[str] = []
    for file in files.values():
        one, torn = read_series(file)
        add_series(series, one, SENSOR_OF[one.channel])
        warnings.extend(torn)
    if "acc" not in series:
        raise InputFileError(
            f"{path}: no Accelerometer file found next to it (looked for "
            f"{prefix or '<same prefix>'}_Accelerometer_*.csv)"
        )
    if "gyro" not in series and prefix:
        warnings.append(f"{path}: no Gyroscope partner ({prefix}_Gyroscope_*.csv) found")
    named = FILE_NAME.fullmatch(series["acc"].path.name)
    mac = named["mac"].upper() if named else ""
    first_ns = max(int(s.t_ns[0]) for s in series.values())
    return loaded_input(
        NAME,
        path,
        series,
        stream=NAME,
        start=utc_from_ns(first_ns),
        device_name=named["device"] if named else "",
        device_address=":".join(mac[i : i + 2] for i in range(0, len(mac), 2)),
        warnings=warnings,
    )


def read_series(path: Path) -> tuple[Series, list[str]]:
    """One MetaBase CSV: the channel from the header's unit, time from `epoch (ms)`."""
    text = read_text(path)
    if not text.strip():
        raise InputFileError(f"{path}: empty file, expected a MetaBase CSV header")
    names = header_fields(text.splitlines()[0], ",")
    expect_header(path, names[:1], ["epoch (ms)"])
    expect_header(path, names[2:3], ["elapsed (s)"])
    units = []
    for index, axis in enumerate("xyz", start=3):
        found = AXIS_HEADER.fullmatch(names[index]) if index < len(names) else None
        if found is None or found[1].lower() != axis:
            got = names[index] if index < len(names) else "(missing)"
            raise fail(path, 1, f"column {index + 1} is {clip(got)}, expected '{axis}-axis (unit)'")
        units.append(found[2].lower())
    if len(set(units)) != 1 or units[0] not in UNITS:
        raise fail(path, 1, f"axis unit {clip(units[0])} is not one of {', '.join(UNITS)}")
    channel, factor = UNITS[units[0]]
    table = read_table(
        path,
        text,
        [Column(0, "epoch (ms)", np.int64), *(Column(3 + i, names[3 + i]) for i in range(3))],
    )
    named = FILE_NAME.fullmatch(path.name)
    series = Series(
        channel=channel,
        path=path,
        t_ns=scaled_to_ns(path, table.lines, table.columns[0], 1e6, "epoch (ms)"),
        values=in_units(np.column_stack(table.columns[1:]), factor),
        lines=table.lines,
        nominal_rate_hz=float(named["rate"]) if named else None,
    )
    return series, table.warnings


def write(
    folder: Path,
    blocks: Sequence[SampleBlock],
    *,
    label: str = "",
    device: str = "MetaWear",
    mac: str = "C42732BE255C",
    firmware: str = "1.4.4",
) -> list[Path]:
    """Write each acc/gyro channel of `blocks` as MetaBase does (UTC times, 3 decimals).

    The file names carry the session start (the earliest sample) and each block's own rate;
    times are whole milliseconds like MetaBase's.
    """
    session_ms = min(int(b.t_ns[0]) for b in blocks) // 1_000_000
    when = str(np.datetime64(session_ms, "ms")).replace(":", ".")
    written = []
    for block in blocks:
        epoch_ms = block.t_ns // 1_000_000
        times = np.datetime_as_string(epoch_ms.astype("datetime64[ms]"), unit="ms")
        elapsed = (epoch_ms - epoch_ms[0]) / 1000
        rate = 1e9 / float(np.median(np.diff(block.t_ns)))
        for channel, unit in (("acc", "g"), ("gyro", "deg/s")):
            values = getattr(block, channel)
            if values is None:
                continue
            values = values / (GRAVITY if channel == "acc" else math.pi / 180.0)
            name = f"{device}_{when}_{mac}_{SENSOR_OF[channel]}_{rate:.3f}Hz_{firmware}.csv"
            path = folder / (f"{label}_{name}" if label else name)
            header = ",".join(
                ["epoch (ms)", "time (00:00)", "elapsed (s)"]
                + [f"{axis}-axis ({unit})" for axis in "xyz"]
            )
            rows = (
                f"{e},{t},{s:.3f},{x:.3f},{y:.3f},{z:.3f}"
                for e, t, s, (x, y, z) in zip(
                    epoch_ms.tolist(),
                    times.tolist(),
                    elapsed.tolist(),
                    values.tolist(),
                    strict=True,
                )
            )
            path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
            written.append(path)
    return written
