"""Every polar_* and movesense_* vendor vector (tests/data/vectors_pmd_movesense.json) passes.

The vectors were written by Polar (polar-ble-sdk unit tests, the PMD specification), by users of
real devices (issues #360/#443, bleakheart) and by Movesense (gatt_sensordata_app client); each
entry cites its source. Partial vectors are checked as far as they go.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from monitor.core import GRAVITY, NotificationBatch
from monitor.profiles.codecs.movesense import MovesenseCodec, MovesenseSettings
from monitor.profiles.codecs.pmd import (
    MAG_STATUS_KEY,
    PMD_DATA_UUID,
    PmdCodec,
    PmdParams,
    PmdSettings,
    start_command_for,
)
from monitor.profiles.codecs.pmd_protocol import (
    MeasurementType,
    SettingType,
    build_get_settings_command,
    build_start_command,
    build_stop_command,
    decode_delta_content,
    parse_cp_response,
    parse_features,
    parse_frame_header,
    parse_settings,
    sample_timestamps,
    scan_delta_blocks,
)

VECTORS_FILE = Path(__file__).resolve().parent.parent / "data" / "vectors_pmd_movesense.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text())["vectors"]
MEASUREMENT_OF_KIND = {"acc": "acc", "gyro": "gyro", "magn": "mag"}
STATUS_NAMES = {0: "UNKNOWN", 1: "POOR", 2: "OK", 3: "GOOD"}


def by_kind(*kinds: str) -> list[Any]:
    return [pytest.param(v, id=v["id"]) for v in VECTORS if v["kind"] in kinds]


def payload(vector: dict[str, Any]) -> bytes:
    return bytes.fromhex(vector["hex"])


def decode_frame(vector: dict[str, Any]):
    """Run the vector's frame through the codec under the vector's stream settings."""
    context = vector["context"]
    measurement = MEASUREMENT_OF_KIND[vector["kind"]]
    values: dict[str, Any] = {
        f"{measurement}_factor": context.get("factor", 1.0),
        "previous_frame_timestamp_ns": context.get("previous_frame_timestamp_ns", 0),
    }
    if "sample_rate_hz" in context:
        values[f"{measurement}_sample_rate_hz"] = context["sample_rate_hz"]
    codec = PmdCodec(PmdParams(), PmdSettings(**values))
    result = codec.decode(NotificationBatch.single(PMD_DATA_UUID, payload(vector), 0))
    assert result.bad_packets == 0
    assert len(result.blocks) == 1
    return result.blocks[0]


def test_every_vector_is_covered() -> None:
    covered = {
        "acc",
        "gyro",
        "magn",
        "header",
        "acc_delta_payload",
        "gyro_delta_payload",
        "delta_payload",
        "delta_reference",
        "settings",
        "timestamp_algo",
        "ppg",
        "cmd",
        "feature_read",
    }
    assert {v["kind"] for v in VECTORS} <= covered
    assert len(VECTORS) == 29


@pytest.mark.parametrize("vector", by_kind("acc"))
def test_acc_frames(vector: dict[str, Any]) -> None:
    expected = vector["expected"]
    header = parse_frame_header(payload(vector))
    assert header.measurement_type == expected["measurement_type"] == MeasurementType.ACC
    assert header.frame_type == expected["frame_type"]
    assert header.compressed == expected["compressed"]
    assert header.timestamp_ns == expected["timestamp_ns"]
    block = decode_frame(vector)
    assert len(block) == expected["sample_count"]
    milli_g = block.acc / GRAVITY * 1000
    wanted = np.array(expected["samples_mG"], dtype=np.float64)
    if vector["context"].get("factor", 1.0) == 1.0:
        np.testing.assert_allclose(milli_g[: len(wanted)], wanted, atol=1e-9)
    else:
        # The SDK truncates raw x FACTOR x 1000 to whole mG; we keep the fraction.
        assert np.all(np.abs(milli_g[: len(wanted)] - wanted) < 1.0)
        assert np.array_equal(np.trunc(milli_g[: len(wanted)]), wanted)
    if "raw_counts" in expected:
        raw = decode_delta_content(payload(vector)[10:], 3, 16)
        assert raw[: len(expected["raw_counts"])].tolist() == expected["raw_counts"]
        layout = scan_delta_blocks(payload(vector), 10, len(payload(vector)), 3, 16)
        first_block = {"bit_width": layout.widths[0], "sample_count": layout.counts[0]}
        assert first_block == expected["delta_block0"]
    if "first_sample_timestamp_ns" in expected:
        assert block.t_ns[0] == expected["first_sample_timestamp_ns"]
    if "last_sample_timestamp_ns" in expected:
        assert block.t_ns[-1] == expected["last_sample_timestamp_ns"]
    if "sample_timestamps_ns" in expected:
        assert block.t_ns.tolist() == expected["sample_timestamps_ns"]


@pytest.mark.parametrize("vector", by_kind("gyro"))
def test_gyro_frames(vector: dict[str, Any]) -> None:
    expected = vector["expected"]
    block = decode_frame(vector)
    assert len(block) == expected["sample_count"]
    dps = np.degrees(block.gyro)
    np.testing.assert_allclose(dps, expected["samples_dps"], rtol=1e-7)
    if "raw_bits_hex" in expected:
        raw = decode_delta_content(payload(vector)[10:], 3, 32, float_bits=True)
        bits = [[hex(int(v) & 0xFFFFFFFF) for v in row] for row in raw]
        assert bits == expected["raw_bits_hex"]


@pytest.mark.parametrize("vector", by_kind("magn"))
def test_mag_frames(vector: dict[str, Any]) -> None:
    expected = vector["expected"]
    block = decode_frame(vector)
    gauss = block.mag / 100.0  # 1 G = 100 uT
    if "samples" in expected:  # type 0 with factor 1: raw counts
        np.testing.assert_allclose(gauss, expected["samples"], atol=1e-9)
    else:
        np.testing.assert_allclose(gauss, expected["samples_gauss"], atol=expected["tolerance"])
    statuses = expected["calibration_status"]
    if MAG_STATUS_KEY in block.extra:
        names = [f"{STATUS_NAMES[int(s)]}({int(s)})" for s in block.extra[MAG_STATUS_KEY]]
        assert names == statuses
    else:
        assert statuses == ["NOT_AVAILABLE"] * len(block)
    if "last_sample_timestamp_ns" in expected:
        assert block.t_ns[-1] == expected["last_sample_timestamp_ns"]


def test_header_parse() -> None:
    (vector,) = [v for v in VECTORS if v["kind"] == "header"]
    expected = vector["expected"]
    header = parse_frame_header(payload(vector))
    assert header.measurement_type == expected["measurement_type"]
    assert header.timestamp_ns == expected["timestamp_ns"]
    assert header.frame_type == expected["frame_type"]
    assert header.compressed == expected["compressed"]
    assert payload(vector)[10:].hex() == expected["content_hex"]


@pytest.mark.parametrize(
    "vector", by_kind("acc_delta_payload", "gyro_delta_payload", "delta_payload")
)
def test_delta_payloads(vector: dict[str, Any]) -> None:
    context, expected = vector["context"], vector["expected"]
    float_bits = context["encoding"].startswith("FLOAT")
    partial = bool(vector.get("partial"))
    samples = decode_delta_content(
        payload(vector), context["channels"], context["resolution_bits"], float_bits, partial
    )
    if partial:  # the document prints the reference and two of the 29 announced deltas
        assert samples[0].tolist() == expected["reference_sample"]
        assert samples[1:3].tolist() == expected["first_two_delta_samples"]
        layout = scan_delta_blocks(payload(vector), 0, len(payload(vector)), 3, 16, partial=True)
        assert layout.widths[0] == expected["delta_block"]["bit_width"]
        with pytest.raises(ValueError, match="needs"):
            decode_delta_content(payload(vector), 3, 16)
        return
    assert len(samples) == expected["sample_count"]
    if "samples" in expected:
        assert samples[:2].tolist() == expected["samples"]
    if "raw_bits_hex" in expected:
        bits = [[hex(int(v) & 0xFFFFFFFF) for v in row] for row in samples[:2]]
        assert bits == expected["raw_bits_hex"]
    if "delta_blocks" in expected:
        layout = scan_delta_blocks(payload(vector), 0, len(payload(vector)), 3, 16)
        assert [list(b) for b in zip(layout.widths, layout.counts, strict=True)] == expected[
            "delta_blocks"
        ]


def test_reference_sample() -> None:
    (vector,) = [v for v in VECTORS if v["kind"] == "delta_reference"]
    samples = decode_delta_content(payload(vector), 4, 16)
    assert samples.tolist() == [vector["expected"]["reference_sample"]]


def test_ppg_frame_of_a_real_verity() -> None:
    (vector,) = [v for v in VECTORS if v["kind"] == "ppg"]
    expected = vector["expected"]
    header = parse_frame_header(payload(vector))
    assert (header.measurement_type, header.frame_type, header.compressed) == (
        expected["measurement_type"],
        expected["frame_type"],
        expected["compressed"],
    )
    assert header.timestamp_ns == expected["timestamp_ns"]
    samples = decode_delta_content(payload(vector)[10:], 4, 22)
    assert len(samples) == expected["sample_count"]
    assert samples[0].tolist() == expected["reference_sample"]
    assert samples[1].tolist() == expected["second_sample"]
    assert samples[-1].tolist() == expected["last_sample"]


@pytest.mark.parametrize("vector", by_kind("settings"))
def test_settings_parse(vector: dict[str, Any]) -> None:
    parsed = parse_settings(payload(vector))
    assert {kind.name: values for kind, values in parsed.items()} == vector["expected"]


@pytest.mark.parametrize("vector", by_kind("timestamp_algo"))
def test_timestamp_algorithm(vector: dict[str, Any]) -> None:
    context = vector["context"]
    times = sample_timestamps(
        np.array([context["frame_timestamp_ns"]]),
        np.array([context["previous_frame_timestamp_ns"]]),
        np.array([context["samples_in_frame"]]),
        context["sample_rate_hz"],
    )
    assert times.tolist() == vector["expected"]["sample_timestamps_ns"]


def test_feature_read() -> None:
    (vector,) = [v for v in VECTORS if v["kind"] == "feature_read"]
    assert parse_features(payload(vector)) == vector["expected"]["features"]


# How each command vector is produced from our API (its description says what it means).
COMMANDS = {
    "polar_cmd_get_acc_settings": lambda: build_get_settings_command(MeasurementType.ACC),
    "polar_cmd_start_acc_h10_issue360": lambda: start_command_for(
        "acc",
        PmdSettings(acc_range_g=8, acc_sample_rate_hz=200, acc_resolution_bits=16),
        ["range", "sample_rate", "resolution"],
    ),
    "polar_cmd_start_acc_verity_issue443": lambda: start_command_for(
        "acc",
        PmdSettings(acc_sample_rate_hz=52, acc_resolution_bits=16, acc_range_g=8, acc_channels=3),
        ["sample_rate", "resolution", "range", "channels"],
    ),
    "polar_cmd_start_acc_h10_bleakheart_default": lambda: build_start_command(
        MeasurementType.ACC,
        {SettingType.SAMPLE_RATE: 200, SettingType.RESOLUTION: 16, SettingType.RANGE: 2},
    ),
    "polar_cmd_stop_acc": lambda: build_stop_command(MeasurementType.ACC),
    "polar_cmd_sdk_mode_on": lambda: build_start_command(MeasurementType.SDK_MODE, {}),
    "movesense_cmd_subscribe_imu9_104": lambda: MovesenseCodec(
        MovesenseCodec.Params(),
        MovesenseSettings(measurement="IMU9", sample_rate_hz=104, client_ref=99),
    ).subscribe_command(),
    "movesense_cmd_subscribe_acc_13": lambda: MovesenseCodec(
        MovesenseCodec.Params(),
        MovesenseSettings(measurement="Acc", sample_rate_hz=13, client_ref=99),
    ).subscribe_command(),
}


@pytest.mark.parametrize("vector", by_kind("cmd"))
def test_commands(vector: dict[str, Any]) -> None:
    assert COMMANDS[vector["id"]]().hex() == vector["hex"]


def test_verity_start_response_from_issue_443() -> None:
    """The device answered the issue-443 start command with F0 02 02 00 00."""
    response = parse_cp_response(bytes.fromhex("f002020000"))
    assert (response.opcode, response.measurement_type, response.ok, response.more) == (
        2,
        MeasurementType.ACC,
        True,
        False,
    )
    assert response.factor is None
