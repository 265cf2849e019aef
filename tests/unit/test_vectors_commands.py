"""Vendor command vectors: the bytes our profiles' start sequences write must match them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.profiles.decoder import ProfileDecoder
from monitor.profiles.loader import get_profile
from monitor.profiles.model import normalize_uuid

VECTORS = {
    v["id"]: v
    for v in json.loads(
        (Path(__file__).parent.parent / "data" / "vectors_profiles.json").read_text()
    )["vectors"]
    if v["kind"] == "cmd"
}

# vector id -> (profile, settings, sequence) under which the profile must write those bytes.
PRODUCED = {
    "witmotion_cmd_unlock": ("witmotion_wt901ble", {}, "start"),
    "witmotion_cmd_save": ("witmotion_wt901ble", {}, "start"),
    "witmotion_cmd_rate_100hz": ("witmotion_wt901ble", {"rate_hz": 100}, "start"),
    "thingy52_cmd_motion_config_default": ("nordic_thingy52", {"rate_hz": 10}, "start"),
    "metawear_cmd_acc_bmi160_odr100_16g": (
        "metamotion_r",
        {"rate_hz": 100, "acc_range_g": 16},
        "start",
    ),
    "metawear_cmd_acc_bmi160_odr200_8g": (
        "metamotion_r",
        {"rate_hz": 200, "acc_range_g": 8},
        "start",
    ),
    "metawear_cmd_acc_bmi270_odr200_8g": (
        "metamotion_s",
        {"rate_hz": 200, "acc_range_g": 8},
        "start",
    ),
    "metawear_cmd_acc_enable_sampling": ("metamotion_r", {}, "start"),
    "metawear_cmd_acc_subscribe": ("metamotion_r", {"packed": False}, "start"),
    "polar_cmd_start_acc_h10_issue360": ("polar_h10", {}, "start"),
    "polar_cmd_start_acc_verity_issue443": ("polar_verity_sense", {}, "start"),
    "polar_cmd_stop_acc": ("polar_h10", {}, "stop"),
    "movesense_cmd_subscribe_imu9_104": ("movesense", {"measurement": "IMU9"}, "start"),
    "movesense_cmd_subscribe_acc_13": (
        "movesense",
        {"measurement": "Acc", "sample_rate_hz": 13},
        "start",
    ),
    "metawear_cmd_gyro_bmi160_odr200": (
        "metamotion_r",
        {"rate_hz": 200, "gyro_range_dps": 2000},
        "start",
    ),
}

# Commands no bundled sequence sends, and why.
NOT_SENT = {
    "witmotion_cmd_read_mag": "register poll, not part of starting the stream",
    "witmotion_cmd_read_quat": "register poll, not part of starting the stream",
    "metawear_cmd_sf_config_ndof_16g_2000dps": "on-board sensor fusion is not used",
    "metawear_cmd_sf_enable_quaternion": "on-board sensor fusion is not used",
    "metawear_cmd_conn_params": "SDK test values; profiles send mbientlab's streaming advice",
    "polar_cmd_get_acc_settings": "settings are chosen by the profile, not queried",
    "polar_cmd_sdk_mode_on": "SDK mode is not used",
    "polar_cmd_start_acc_h10_bleakheart_default": "derived; same settings in another order",
}


def test_every_command_vector_for_our_sensors_is_accounted_for() -> None:
    assert set(VECTORS) == set(PRODUCED) | set(NOT_SENT)


@pytest.mark.parametrize("vector_id", sorted(PRODUCED))
def test_start_sequence_writes_the_vendor_bytes(vector_id: str) -> None:
    vector = VECTORS[vector_id]
    profile, settings, sequence = PRODUCED[vector_id]
    decoder = ProfileDecoder(get_profile(profile), settings)
    steps = decoder.start_steps() if sequence == "start" else decoder.stop_steps()
    written = [
        s.data
        for s in steps
        if s.action in ("write", "write_no_response")
        and s.characteristic == normalize_uuid(vector["characteristic"])
    ]
    assert bytes.fromhex(vector["hex"]) in written


def test_metawear_streaming_connection_parameters_follow_the_vendor_advice() -> None:
    # "11 09 06 00 06 00 00 00 58 02": 7.5 ms, 7.5 ms, latency 0, 6 s (datasignal.rst#L93).
    advice = VECTORS["metawear_cmd_conn_params"]["notes"].split("(= ")[1].split(")")[0]
    for profile in ("metamotion_r", "metamotion_s"):
        steps = ProfileDecoder(get_profile(profile)).start_steps()
        assert bytes.fromhex(advice) in [s.data for s in steps]


def _pmd_settings(command: bytes) -> set[bytes]:
    """A PMD START command's [type, count 1, u16] settings, in any order."""
    return {command[i : i + 4] for i in range(2, len(command), 4)}


def test_h10_start_sends_the_bleakheart_settings_in_the_genuine_order() -> None:
    vector = bytes.fromhex(VECTORS["polar_cmd_start_acc_h10_bleakheart_default"]["hex"])
    decoder = ProfileDecoder(get_profile("polar_h10"), {"acc_range_g": 2})
    (start,) = [s.data for s in decoder.start_steps() if s.action == "write"]
    assert start[:2] == vector[:2]
    assert _pmd_settings(start) == _pmd_settings(vector)


@pytest.mark.parametrize("profile", ["polar_h10", "polar_verity_sense"])
def test_pmd_profile_commands_agree_with_the_codec(profile: str) -> None:
    for stream in get_profile(profile).streams:
        decoder = ProfileDecoder(get_profile(profile), stream=stream.name)
        writes = [s.data for s in decoder.start_steps() if s.action == "write"]
        assert writes == decoder.codec.start_commands()  # type: ignore[attr-defined]
        stops = [s.data for s in decoder.stop_steps() if s.action == "write"]
        assert stops == decoder.codec.stop_commands()  # type: ignore[attr-defined]
