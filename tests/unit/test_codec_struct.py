"""Fixed-layout codec: Thingy:52 raw motion (int16 fixed point), Arduino float32 characteristics."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.core import GRAVITY, EventKind, NotificationBatch
from monitor.profiles.decoder import ProfileDecoder
from monitor.profiles.loader import get_profile

THINGY_RAW = "ef680406-9b35-4933-9b10-52ffa9740042"
ARDUINO_ACC = "555a0002-0011-467a-9538-01f0652c74e8"
ARDUINO_GYRO = "555a0002-0012-467a-9538-01f0652c74e8"


def thingy() -> ProfileDecoder:
    return ProfileDecoder(get_profile("nordic_thingy52"))


def test_thingy_raw_fixed_point_scales() -> None:
    # acc Q6.10 g, gyro Q11.5 deg/s, compass Q12.4 uT (m_motion.c shifts 6/11/12 bits).
    values = np.array([1024, -512, 0, 32, -64, 3200, 16, -32, 800], dtype="<i2")
    result = thingy().feed(NotificationBatch.single(THINGY_RAW, values.tobytes(), 7))
    block = result.blocks[0]
    np.testing.assert_allclose(block.acc[0], [GRAVITY, -GRAVITY / 2, 0.0])
    np.testing.assert_allclose(block.gyro[0], np.deg2rad([1.0, -2.0, 100.0]))
    np.testing.assert_allclose(block.mag[0], [1.0, -2.0, 50.0])
    assert block.t_ns.tolist() == [7]


def test_bad_lengths_are_counted_and_the_rest_decodes() -> None:
    good = bytes(range(18))
    batch = NotificationBatch.from_payloads(
        THINGY_RAW, [good, good[:5], b"", good, good + b"\x00"], [1, 2, 3, 4, 5]
    )
    result = thingy().feed(batch)
    assert result.bad_packets == 3
    assert [e.kind for e in result.events] == [EventKind.BAD_PACKET] * 3
    assert [e.t_ns for e in result.events] == [2, 3, 5]
    assert len(result.blocks[0]) == 2


def test_arduino_float_characteristics_decode_separately() -> None:
    decoder = ProfileDecoder(get_profile("arduino_nano33_ble_sense"))
    acc = decoder.feed(
        NotificationBatch.single(ARDUINO_ACC, np.array([0, 0, 1.0], "<f4").tobytes(), 10)
    )
    gyro = decoder.feed(
        NotificationBatch.single(ARDUINO_GYRO, np.array([180, 0, -90], "<f4").tobytes(), 11)
    )
    assert acc.blocks[0].channels == ("acc",)
    np.testing.assert_array_equal(acc.blocks[0].acc, [[0.0, 0.0, GRAVITY]])
    assert gyro.blocks[0].channels == ("gyro",)
    np.testing.assert_allclose(gyro.blocks[0].gyro, [[np.pi, 0.0, -np.pi / 2]])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(min_size=18, max_size=18), min_size=1, max_size=20))
def test_thingy_bytes_round_trip_exactly(payloads: list[bytes]) -> None:
    times = 1_000_000_000 + np.arange(len(payloads)) * 20_000_000
    decoded = thingy().feed(NotificationBatch.from_payloads(THINGY_RAW, payloads, times))
    block = decoded.blocks[0]
    notifications = thingy().encode(block)
    assert [n.data for n in notifications] == payloads
    assert [n.host_t_ns for n in notifications] == times.tolist()


finite_f32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(finite_f32, finite_f32, finite_f32), min_size=1, max_size=20))
def test_arduino_float_values_round_trip_exactly(triples: list[tuple[float, float, float]]) -> None:
    decoder = ProfileDecoder(get_profile("arduino_nano33_ble_sense"))
    payloads = [np.array(t, "<f4").tobytes() for t in triples]
    times = np.arange(len(payloads)) * 9_615_385
    block = decoder.feed(NotificationBatch.from_payloads(ARDUINO_ACC, payloads, times)).blocks[0]
    again = [n.data for n in decoder.encode(block)]
    assert again == payloads
