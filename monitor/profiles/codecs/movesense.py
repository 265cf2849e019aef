"""Movesense GATT SensorData Protocol (GSP) codec: /Meas/Acc, /Meas/IMU6, /Meas/IMU9 streams.

Commands go to 34800001 as `[cmd, client_ref, data...]`; everything comes back as
notifications on 34800002: `[1 COMMAND_RESULT, ref, u16 status | "Hello"]`,
`[2 DATA, ref, payload]` and `[3 DATA_PART2, ref, continuation]` when the payload did not fit
one notification. A payload is a uint32 timestamp (ms since sensor boot, first sample) and then
one block of N float32 x, y, z triples per sensor (acc m/s^2, gyro deg/s, magn uT), blocks not
interleaved. Facts: ../shared/sensors/PROTOCOLS.md section 5 (movesense-device-lib
gatt_sensordata_app and its python client).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from monitor.profiles.codecs.base import CodecModel

GSP_SERVICE_UUID = "34802252-7185-4d5d-b431-630e7050e8f0"
GSP_COMMAND_UUID = "34800001-7185-4d5d-b431-630e7050e8f0"
GSP_DATA_UUID = "34800002-7185-4d5d-b431-630e7050e8f0"

MovesenseMeasurement = Literal["Acc", "Gyro", "Magn", "IMU6", "IMU9"]


class MovesenseSettings(CodecModel):
    """Per-stream values of one GSP subscription.

    `measurement` and `sample_rate_hz` form the resource path `/Meas/<measurement>/<rate>`.
    `client_ref` tags commands and notifications (non-zero). `att_mtu` is the negotiated ATT
    MTU: a notification holds at most `att_mtu - 3` bytes, a longer DATA message is split into
    DATA + DATA_PART2. `samples_per_notification` is what the firmware packs into one DATA
    message (0: rate / 13, e.g. 8 at 104 Hz, as the vendor samples show).
    """

    measurement: MovesenseMeasurement = "IMU6"
    sample_rate_hz: int = Field(default=104, ge=1, le=3332)
    client_ref: int = Field(default=99, ge=1, le=255)
    att_mtu: int = Field(default=161, ge=23, le=517)
    samples_per_notification: int = Field(default=0, ge=0, le=255)
