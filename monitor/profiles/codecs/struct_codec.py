"""Fixed-layout notifications: each characteristic carries whole records of x, y, z triples.

Fully declarative: the profile lists, per characteristic, the fields of one record (channel,
wire type, size of one count and its unit). A notification holds one or more whole records.
Used for the Nordic Thingy:52 raw motion characteristic (int16 fixed point) and the Arduino
Science Journal firmware (one float32 characteristic per sensor). No timestamps on the wire:
samples carry their notification's arrival time and the profile decoder builds the clock.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from monitor.core import Notification, NotificationBatch, SampleBlock
from monitor.profiles.codecs.base import Codec, CodecModel, DecodeResult, register_codec
from monitor.profiles.codecs.common import (
    NUMPY_DTYPE,
    UNIT_TO_SI,
    Unit,
    WireDtype,
    bad_packet_events,
    non_finite,
    packets_with,
    quantize,
)
from monitor.profiles.model import normalize_uuid


class StructField(CodecModel):
    """Three consecutive numbers (x, y, z) of one channel."""

    channel: Literal["acc", "gyro", "mag"]
    dtype: WireDtype = Field(description="Wire type of each number (little-endian).")
    lsb: float = Field(default=1.0, gt=0, description="Value of one count, in `unit`.")
    unit: Unit

    @model_validator(mode="after")
    def _unit_fits_channel(self) -> StructField:
        allowed = {
            "acc": {"g", "mg", "mps2"},
            "gyro": {"dps", "rads"},
            "mag": {"ut", "gauss", "mgauss"},
        }[self.channel]
        if self.unit not in allowed:
            raise ValueError(f"unit {self.unit!r} does not fit channel {self.channel!r}")
        return self

    @property
    def si_per_count(self) -> float:
        return self.lsb * UNIT_TO_SI[self.unit]


class StructLayout(CodecModel):
    characteristic: str
    fields: list[StructField] = Field(min_length=1)

    @field_validator("characteristic")
    @classmethod
    def _uuid(cls, value: str) -> str:
        return normalize_uuid(value)

    @model_validator(mode="after")
    def _one_field_per_channel(self) -> StructLayout:
        channels = [f.channel for f in self.fields]
        if len(set(channels)) != len(channels):
            raise ValueError(f"a channel appears twice in one record: {channels}")
        return self

    @property
    def record_dtype(self) -> np.dtype:
        return np.dtype([(f.channel, NUMPY_DTYPE[f.dtype], (3,)) for f in self.fields])


class StructParams(CodecModel):
    layouts: list[StructLayout] = Field(min_length=1)
    records_per_notification: int = Field(
        default=1, ge=1, le=64, description="Records the firmware packs into one notification."
    )


class StructSettings(CodecModel):
    rate_hz: float = Field(default=100.0, gt=0, description="Nominal output rate.")
    mag_rate_hz: float = Field(
        default=100.0, gt=0, description="Magnetometer rate where it has its own."
    )


@register_codec
class StructCodec(Codec):
    name = "struct"
    Params = StructParams
    Settings = StructSettings

    def __init__(self, params: CodecModel, settings: CodecModel, stream: str = "") -> None:
        super().__init__(params, settings, stream)
        assert isinstance(params, StructParams)
        self._layouts = {layout.characteristic: layout for layout in params.layouts}

    def decode(self, batch: NotificationBatch) -> DecodeResult:
        layout = self._layouts.get(batch.characteristic)
        if layout is None or len(batch) == 0:
            return DecodeResult()
        dtype = layout.record_dtype
        lengths = batch.lengths
        whole = (lengths > 0) & (lengths % dtype.itemsize == 0)
        counts = np.where(whole, lengths // dtype.itemsize, 0)
        raw = np.frombuffer(batch.data, dtype=np.uint8)
        records = (raw if whole.all() else raw[np.repeat(whole, lengths)]).view(dtype)
        record_of = np.repeat(np.arange(len(batch)), counts)
        with np.errstate(invalid="ignore"):  # NaN bit patterns from a corrupt float record
            channels = {
                f.channel: records[f.channel].astype(np.float64) * f.si_per_count
                for f in layout.fields
            }
        wild_records = np.zeros(record_of.shape[0], dtype=bool)
        for values in channels.values():
            wild_records |= non_finite(values)
        wild = packets_with(wild_records, record_of, len(batch))
        result = DecodeResult()
        for rows, reason in (
            (np.flatnonzero(~whole), f"expected a multiple of {dtype.itemsize} bytes"),
            (np.flatnonzero(wild), "a value that is not a finite number"),
        ):
            result.bad_packets += int(rows.size)
            result.events += bad_packet_events(batch, rows, self.stream, reason)
        keep = ~wild[record_of]
        if not keep.any():
            return result
        result.blocks.append(
            SampleBlock(
                t_ns=batch.host_t_ns[record_of[keep]],
                stream=self.stream,
                **{channel: values[keep] for channel, values in channels.items()},
            )
        )
        return result

    def encode(self, block: SampleBlock) -> list[Notification]:
        """Per record group: one notification per layout whose channels the block has."""
        assert isinstance(self.params, StructParams)
        per = self.params.records_per_notification
        starts = np.arange(0, len(block), per)
        payloads: list[list[Notification]] = []
        for layout in self._layouts.values():
            if any(getattr(block, f.channel) is None for f in layout.fields):
                continue
            records = np.empty(len(block), dtype=layout.record_dtype)
            for f in layout.fields:
                records[f.channel] = quantize(getattr(block, f.channel), f.dtype, f.si_per_count)
            data = records.tobytes()
            size = layout.record_dtype.itemsize
            payloads.append(
                [
                    Notification(
                        characteristic=layout.characteristic,
                        data=data[start * size : (start + per) * size],
                        host_t_ns=int(block.t_ns[min(start + per, len(block)) - 1]),
                    )
                    for start in starts
                ]
            )
        # Interleave layouts record group by record group, as the firmware sends them.
        return [n for group in zip(*payloads, strict=True) for n in group]
