"""Polar Measurement Data (PMD) codec: Polar H10 and Verity Sense ACC / GYRO / MAG streams.

One codec instance serves one sensor's PMD service: the data characteristic (FB005C82, frames
of every started measurement multiplexed) and the control point (FB005C81, whose indications
carry the START response with FACTOR and the device-initiated stop). Byte-level facts and the
algorithms live in `pmd_protocol`; this module turns frames into `SampleBlock`s in project
units and back. Facts: ../shared/sensors/PROTOCOLS.md section 1 (polar-ble-sdk sources).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from monitor.profiles.codecs.base import CodecModel

PMD_CONTROL_POINT_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

Measurement = Literal["acc", "gyro", "mag"]
StartSetting = Literal["sample_rate", "resolution", "range", "channels"]


class PmdFrameFormat(CodecModel):
    """The frame layout a firmware sends for one measurement (data frame byte 9).

    `frame_type` is the low 7 bits, `compressed` the 0x80 bit. Known layouts (PROTOCOLS.md):
    ACC raw 0/1/2 (int8/int16/int24; int8 is G on Verity, mG elsewhere), ACC compressed 0
    (raw x FACTOR = G) and 1 (mG, x FACTOR if not 1); GYRO raw 1 (float32 dps), compressed 0
    (raw x FACTOR = dps) and 1 (float32 bit patterns x FACTOR); MAG compressed 0 (raw x FACTOR
    = Gauss) and 1 (x, y, z mG x FACTOR plus calibration status).
    """

    frame_type: int = Field(ge=0, le=127)
    compressed: bool


class PmdParams(CodecModel):
    """Fixed facts of one PMD firmware (set in the profile file)."""

    control_point_uuid: str = Field(
        default=PMD_CONTROL_POINT_UUID, description="PMD control point (indications)."
    )
    data_uuid: str = Field(default=PMD_DATA_UUID, description="PMD data characteristic.")
    measurements: list[Measurement] = Field(
        default=["acc"], description="Measurements the session starts, in start order."
    )
    acc_format: PmdFrameFormat = Field(
        default=PmdFrameFormat(frame_type=1, compressed=False),
        description="ACC frames the firmware sends (encode); decode accepts every known one.",
    )
    gyro_format: PmdFrameFormat = PmdFrameFormat(frame_type=0, compressed=True)
    mag_format: PmdFrameFormat = PmdFrameFormat(frame_type=0, compressed=True)
    start_settings: list[StartSetting] = Field(
        default=["sample_rate", "resolution", "range"],
        description="Settings serialised into a START command, in this order.",
    )
    samples_per_frame: int = Field(
        default=36, ge=1, le=4096, description="Samples the firmware packs into one frame."
    )
    delta_group_size: int = Field(
        default=10,
        ge=1,
        le=255,
        description="Compressed frames: samples per bit-width decision (the first group "
        "includes the reference sample); equal-width neighbours share one block.",
    )


class PmdSettings(CodecModel):
    """Per-stream values: what the START command asks for and what decoding needs.

    `*_factor` is FACTOR from the START response (float32; replaced automatically when the
    codec sees the response on the control point). `previous_frame_timestamp_ns` seeds the
    per-sample timestamp algorithm for the first frame of each (type, frame type); 0 means
    unknown, so the sample rate is used instead (polar-ble-sdk PmdTimeStampUtils).
    """

    acc_sample_rate_hz: int = Field(default=200, ge=1, le=65535)
    acc_range_g: int = Field(default=8, ge=1, le=65535)
    acc_resolution_bits: int = Field(default=16, ge=1, le=65535)
    acc_channels: int = Field(default=3, ge=1, le=255)
    acc_factor: float = 1.0
    gyro_sample_rate_hz: int = Field(default=52, ge=1, le=65535)
    gyro_range_dps: int = Field(default=2000, ge=1, le=65535)
    gyro_resolution_bits: int = Field(default=16, ge=1, le=65535)
    gyro_channels: int = Field(default=3, ge=1, le=255)
    gyro_factor: float = 1.0
    mag_sample_rate_hz: int = Field(default=50, ge=1, le=65535)
    mag_range_gauss: int = Field(default=50, ge=1, le=65535)
    mag_resolution_bits: int = Field(default=16, ge=1, le=65535)
    mag_channels: int = Field(default=3, ge=1, le=255)
    mag_factor: float = 1.0
    previous_frame_timestamp_ns: int = Field(default=0, ge=0)

    @field_validator("acc_factor", "gyro_factor", "mag_factor")
    @classmethod
    def _as_float32(cls, value: float) -> float:
        """FACTOR travels as float32; hold exactly the value the sensor could send."""
        return float(np.float32(value))
