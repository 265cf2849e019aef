"""Helpers shared by the codecs: unit factors, quantisation, byte gathering, bad-packet events."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray

from monitor.core import GRAVITY, Event, EventKind, NotificationBatch

Unit = Literal["g", "mg", "mps2", "dps", "rads", "ut", "gauss", "mgauss"]

# Factor from each wire unit to the project's unit for its channel (m/s^2, rad/s, uT).
UNIT_TO_SI: dict[str, float] = {
    "g": GRAVITY,
    "mg": GRAVITY / 1000.0,
    "mps2": 1.0,
    "dps": np.pi / 180.0,
    "rads": 1.0,
    "ut": 1.0,
    "gauss": 100.0,
    "mgauss": 0.1,
}

WireDtype = Literal["i8", "u8", "i16le", "u16le", "i32le", "f32le"]
NUMPY_DTYPE: dict[str, str] = {
    "i8": "i1",
    "u8": "u1",
    "i16le": "<i2",
    "u16le": "<u2",
    "i32le": "<i4",
    "f32le": "<f4",
}


def quantize(values: NDArray[np.float64], dtype: str, lsb: float) -> NDArray:
    """Values in project units -> wire numbers of `dtype` where one count is `lsb` units.

    Integers are rounded and saturate at the type's limits, as a sensor's ADC does.
    """
    wire = np.dtype(NUMPY_DTYPE.get(dtype, dtype))
    scaled = np.asarray(values, dtype=np.float64) / lsb
    if wire.kind == "f":
        return scaled.astype(wire)
    info = np.iinfo(wire)
    return np.clip(np.rint(scaled), info.min, info.max).astype(wire)


def gather(batch: NotificationBatch, rows: NDArray[np.int64], start: int, size: int) -> NDArray:
    """Bytes `start:start+size` of notifications `rows`, as a (len(rows), size) uint8 array."""
    raw = np.frombuffer(batch.data, dtype=np.uint8)
    index = batch.offsets[rows][:, None] + start + np.arange(size)
    return raw[index]


def bad_packet_events(
    batch: NotificationBatch, rows: NDArray[np.int64], stream: str, reason: str
) -> list[Event]:
    """One BAD_PACKET event per rejected notification, with its bytes for the log."""
    return [
        Event(
            t_ns=int(batch.host_t_ns[i]),
            kind=EventKind.BAD_PACKET,
            message=f"{reason}: {batch.payload(i)[:32].hex(' ')}",
            stream=stream,
            data={"characteristic": batch.characteristic, "length": int(batch.lengths[i])},
        )
        for i in rows
    ]


def non_finite(values: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Per sample (row): a value is NaN or infinite (a corrupt float on the wire)."""
    return ~np.isfinite(values).all(axis=1)


def packets_with(
    bad_samples: NDArray[np.bool_], packet_of_sample: NDArray[np.int64], n: int
) -> NDArray[np.bool_]:
    """Per packet: does any of its samples (`packet_of_sample[i]` holds sample i) fail."""
    return np.bincount(packet_of_sample[bad_samples], minlength=n) > 0
