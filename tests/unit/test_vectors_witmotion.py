"""WitMotion vendor vectors: real BLE captures of 55 61 packets, one notification each."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from monitor.core import GRAVITY, NotificationBatch
from monitor.profiles.decoder import ProfileDecoder
from monitor.profiles.loader import get_profile

VECTORS = {
    v["id"]: v
    for v in json.loads(
        (Path(__file__).parent.parent / "data" / "vectors_profiles.json").read_text()
    )["vectors"]
}
NOTIFY = "0000ffe4-0000-1000-8000-00805f9a34fb"


@pytest.mark.parametrize(
    "vector_id", ["witmotion_ble_capture_4pkts", "witmotion_ble_capture_2pkts_50hz"]
)
def test_capture_decodes_to_the_vendor_formula_values(vector_id: str) -> None:
    vector = VECTORS[vector_id]
    decoder = ProfileDecoder(get_profile("witmotion_wt901ble"))
    result = decoder.feed(
        NotificationBatch.single(vector["characteristic"], bytes.fromhex(vector["hex"]), 0)
    )
    assert result.bad_packets == 0
    block = result.blocks[0]
    expected = vector["expected"]
    assert len(block) == expected["asserted"]["packet_count"]
    packets = expected["packets_derived"]
    np.testing.assert_allclose(block.acc / GRAVITY, [p["acc_g"] for p in packets], atol=1e-4)
    np.testing.assert_allclose(np.rad2deg(block.gyro), [p["gyro_dps"] for p in packets], atol=1e-4)
    np.testing.assert_allclose(
        block.extra["angle_deg"], [p["angle_deg"] for p in packets], atol=1e-4
    )
    if "packet0_acc_z_g" in expected["asserted"]:
        value, tolerance = expected["asserted"]["packet0_acc_z_g"]
        assert abs(block.acc[0, 2] / GRAVITY - value) <= tolerance
        value, tolerance = expected["asserted"]["packet0_yaw_deg"]
        assert abs(block.extra["angle_deg"][0, 2] - value) <= tolerance
