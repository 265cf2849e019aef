"""MetaWear vendor vectors (MetaWear-SDK-Cpp tests, a node-metawear capture) via the profiles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from monitor.core import GRAVITY, EventKind, NotificationBatch
from monitor.profiles.decoder import ProfileDecoder
from monitor.profiles.loader import get_profile

VECTORS = [
    v
    for v in json.loads(
        (Path(__file__).parent.parent / "data" / "vectors_profiles.json").read_text()
    )["vectors"]
    if v["id"].startswith("metawear") and v["kind"] != "cmd"
]
DEG = np.pi / 180.0

# Expected key -> (channel or extra name, factor from our units to the vector's units).
EXPECTED = {
    "acc_g": ("acc", 1 / GRAVITY),
    "gyro_dps": ("gyro", 1 / DEG),
    "mag_uT": ("mag", 1.0),
    "gravity_g": ("gravity_mps2", 1 / GRAVITY),
    "linear_acc_g": ("linear_acc_mps2", 1 / GRAVITY),
}


def decoder_for(vector: dict) -> ProfileDecoder:
    profile = "metamotion_s" if "bmi270" in vector["sensor"] else "metamotion_r"
    context = vector["context"]
    settings = {}
    if "acc_range_g" in context:
        settings["acc_range_g"] = context["acc_range_g"]
    if "gyro_range_dps" in context:
        settings["gyro_range_dps"] = context["gyro_range_dps"]
    return ProfileDecoder(get_profile(profile), settings)


def is_close(actual: np.ndarray, expected: np.ndarray) -> bool:
    """The SDK tests' comparison (cbindings is_close): relative 1e-3, absolute 1e-3."""
    tolerance = np.maximum(1e-3 * np.maximum(np.abs(actual), np.abs(expected)), 1e-3)
    return bool((np.abs(actual - expected) <= tolerance).all())


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_metawear_vector(vector: dict) -> None:
    decoder = decoder_for(vector)
    result = decoder.feed(
        NotificationBatch.single(vector["characteristic"], bytes.fromhex(vector["hex"]), 0)
    )
    assert result.bad_packets == 0
    expected = vector["expected"]
    if vector["kind"] == "battery":
        assert result.events[0].kind == EventKind.BATTERY
        assert result.events[0].data == {
            "percent": expected["charge_percent"],
            "voltage_mv": expected["voltage_mV"],
        }
        return
    (block,) = result.blocks
    if vector["kind"] == "quat":
        actual = block.extra["quaternion_wxyz"][0]
        assert is_close(actual, np.array([expected[k] for k in "wxyz"]))
        return
    if vector["kind"] == "euler":
        actual = block.extra["euler_hpry_deg"][0]
        keys = ("heading_deg", "pitch_deg", "roll_deg", "yaw_deg")
        assert is_close(actual, np.array([expected[k] for k in keys]))
        return
    key = next(k for k in EXPECTED if k in expected)
    target, factor = EXPECTED[key]
    values = getattr(block, target) if target in ("acc", "gyro", "mag") else block.extra[target]
    assert is_close(values * factor, np.atleast_2d(expected[key]))
