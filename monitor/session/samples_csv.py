"""`--format samples-csv`: the decoded, calibrated samples and the segment angle as generic CSV.

Columns are named with their units (`time_s`, `acc_x_mps2`, ..., `gyro_x_rads`, ..., optional
`mag_x_ut`, then `angle_deg`), so the file opens in a spreadsheet and reads back through the
generic CSV importer. `time_s` counts from the first sample; `# start_utc` gives the wall clock.
A session with two sensors gives one file per sensor: OUT for the first, OUT-<stream> beside it
for the other (each with its own timeline and angle, as each reads back as one sensor).

The angle is the analysis's own: the pipeline runs over the samples, and each sample's angle is
its gravity direction (the same orientation filter) measured against the calibration in force at
that time. Samples before the first calibration use it in hindsight; the cell is empty when the
analysis never calibrated (no still pose followed by a clear movement).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from monitor import __version__
from monitor.analysis.calibration import segment_angle_deg as angle_from
from monitor.analysis.exercises import Prescription
from monitor.analysis.orientation import OrientationFilter
from monitor.analysis.pipeline import AnalysisPipeline
from monitor.analysis.results import Calibrated
from monitor.core import SampleBlock
from monitor.errors import InputFileError, MonitorError
from monitor.session.export import write_private
from monitor.sources.inputs import LoadedInput

FORMAT = "samples-csv"
UNIT_SUFFIX = {"acc": "mps2", "gyro": "rads", "mag": "ut"}


def segment_angle_deg(block: SampleBlock, prescription: Prescription) -> np.ndarray:
    """The analysis's segment angle for every sample of `block` (NaN if never calibrated)."""
    pipeline = AnalysisPipeline(prescription)
    calibrations = [e for e in pipeline.process(block) if isinstance(e, Calibrated)]
    angle = np.full(len(block), np.nan)
    if not calibrations:
        return angle
    orientation = OrientationFilter(pipeline.rate_hz, pipeline.backend)
    filtered = orientation.process(block.gyro, block.acc)
    t_s = (block.t_ns - pipeline.t0_ns) / 1e9
    in_force = np.searchsorted([c.t_s for c in calibrations[1:]], t_s, side="right")
    for index, event in enumerate(calibrations):
        chosen = in_force == index
        angle[chosen] = angle_from(
            filtered.gravity[chosen], filtered.quat[chosen], event.calibration
        )
    return angle


def analysable(loaded: LoadedInput, stream: str | None = None) -> SampleBlock:
    """A stream's samples (the primary's by default) that carry finite acc and gyro (what the
    analysis uses)."""
    stream = loaded.primary if stream is None else stream
    block = loaded.streams[stream]
    if len(block) < 2 or block.acc is None or block.gyro is None:
        raise InputFileError(
            f"{loaded.metadata.path}: stream {stream!r} has no samples with accelerometer and "
            "gyroscope to export"
        )
    finite = np.isfinite(block.acc).all(axis=1) & np.isfinite(block.gyro).all(axis=1)
    if finite.all():
        return block
    return SampleBlock(
        t_ns=block.t_ns[finite],
        acc=block.acc[finite],
        gyro=block.gyro[finite],
        mag=None if block.mag is None else block.mag[finite],
        stream=block.stream,
    )


def to_samples_csv(
    loaded: LoadedInput, prescription: Prescription, stream: str | None = None
) -> str:
    """The CSV text of one stream (the primary's by default): comment lines, the header with
    units, one row per sample."""
    stream = loaded.primary if stream is None else stream
    block = analysable(loaded, stream)
    angle = segment_angle_deg(block, prescription)
    meta = loaded.metadata
    columns = [((block.t_ns - block.t_ns[0]) / 1e9)[:, None]]
    header = ["time_s"]
    for channel in block.channels:
        columns.append(getattr(block, channel))
        header += [f"{channel}_{axis}_{UNIT_SUFFIX[channel]}" for axis in "xyz"]
    columns.append(angle[:, None])
    header.append("angle_deg")
    out = io.StringIO()
    out.write(f"# samples exported by monitor {__version__} from {meta.path.name} ({meta.kind})\n")
    if meta.start is not None:
        out.write(f"# start_utc: {meta.start.isoformat()}\n")
    out.write(
        f"# stream: {stream}; exercise: {prescription.exercise.id}; angle_deg: segment "
        "angle from the neutral pose in the exercise plane (empty: never calibrated)\n"
    )
    fmt = ["%.6f"] + ["%.7g"] * (len(header) - 2) + ["%.3f"]
    np.savetxt(
        out, np.hstack(columns), fmt=fmt, delimiter=",", header=",".join(header), comments=""
    )
    return out.getvalue().replace(",nan\n", ",\n")


def output_paths(loaded: LoadedInput, out: Path) -> dict[str, Path]:
    """Where each stream goes: the primary to `out`, any other to `out`-<stream> beside it."""
    paths = {loaded.primary: out}
    for stream in loaded.metadata.streams[1:]:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", stream).strip(".") or "stream"
        paths[stream] = out.with_name(f"{out.stem}-{safe}{out.suffix}")
    return paths


def write_samples_csv(
    loaded: LoadedInput, prescription: Prescription, out: Path, *, force: bool = False
) -> list[Path]:
    """Write every stream's samples CSV as a private (0600) file (see `output_paths`); an
    existing file is replaced only with `force`, and without it none is written if any exists.
    Returns the files written."""
    paths = output_paths(loaded, out)
    if not force:
        for path in paths.values():
            if path.exists() or path.is_symlink():
                raise MonitorError(f"{path} already exists; use --force to replace it")
    texts = {stream: to_samples_csv(loaded, prescription, stream) for stream in paths}
    for stream, path in paths.items():
        write_private(texts[stream], path, force=force)
    return list(paths.values())
