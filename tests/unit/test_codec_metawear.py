"""MetaWear codec: register tags per chip, packed data, ranges, bad packets, round trip."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.core import GRAVITY, EventKind, NotificationBatch, SampleBlock
from monitor.profiles.decoder import ProfileDecoder
from monitor.profiles.loader import get_profile

NOTIFY = "326a9006-85cb-9195-d9dd-464cfbbae75a"
DEG = np.pi / 180.0


def payload(module: int, register: int, *values: int) -> bytes:
    return bytes([module, register]) + np.array(values, "<i2").tobytes()


def decode(profile: str, payloads: list[bytes], **overrides: object):
    decoder = ProfileDecoder(get_profile(profile), overrides)
    times = np.arange(1, len(payloads) + 1) * 30_000_000
    return decoder.feed(NotificationBatch.from_payloads(NOTIFY, payloads, times))


def test_gyro_registers_and_scales_follow_the_chip() -> None:
    # BMI160: 0x05 is single gyro data; BMI270: 0x05 is *packed* gyro and 0x04 single.
    single160 = decode("metamotion_r", [payload(0x13, 0x05, 164, -328, 0)], gyro_range_dps=2000)
    np.testing.assert_allclose(single160.blocks[0].gyro, [[10 * DEG, -20 * DEG, 0.0]])
    packed270 = decode("metamotion_s", [payload(0x13, 0x05, *range(9))], gyro_range_dps=125)
    np.testing.assert_allclose(packed270.blocks[0].gyro, np.arange(9).reshape(3, 3) / 262.4 * DEG)
    single270 = decode("metamotion_s", [payload(0x13, 0x04, 1, 2, 3)], gyro_range_dps=125)
    assert single270.blocks[0].gyro.shape == (1, 3)


def test_packed_and_single_samples_keep_arrival_order_per_channel() -> None:
    result = decode(
        "metamotion_r",
        [
            payload(0x03, 0x1C, 1, 1, 1, 2, 2, 2, 3, 3, 3),
            payload(0x13, 0x07, *([5] * 9)),
            payload(0x03, 0x04, 4, 4, 4),
        ],
        acc_range_g=2,
    )
    acc = next(b for b in result.blocks if b.acc is not None)
    np.testing.assert_allclose(acc.acc[:, 0] * 16384 / GRAVITY, [1, 2, 3, 4])
    gyro = next(b for b in result.blocks if b.gyro is not None)
    assert len(gyro) == 3
    # Host clock: the packed burst is spread back from its arrival at the 100 Hz rate.
    assert np.diff(acc.t_ns[:3]).tolist() == [10_000_000, 10_000_000]


def test_wrong_lengths_are_bad_packets_and_other_registers_are_ignored() -> None:
    result = decode(
        "metamotion_r",
        [
            payload(0x03, 0x04, 1, 2, 3)[:-1],  # truncated
            b"\x03",  # no register byte
            bytes.fromhex("0380010103"),  # module discovery reply
            payload(0x03, 0x04, 1, 2, 3),
        ],
    )
    assert result.bad_packets == 2
    assert [e.kind for e in result.events] == [EventKind.BAD_PACKET] * 2
    assert len(result.blocks[0]) == 1


int16 = st.integers(-32768, 32767)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["metamotion_r", "metamotion_s"]),
    st.lists(st.lists(int16, min_size=6, max_size=6), min_size=1, max_size=20),
    st.sampled_from([2, 4, 8, 16]),
    st.sampled_from([125, 250, 500, 1000, 2000]),
)
def test_round_trip_is_exact_on_the_quantisation_grid(
    profile: str, counts: list[list[int]], acc_range: int, gyro_range: int
) -> None:
    decoder = ProfileDecoder(
        get_profile(profile), {"acc_range_g": acc_range, "gyro_range_dps": gyro_range}
    )
    raw = np.array(counts, dtype=np.float64)
    n = len(counts)
    block = SampleBlock(
        t_ns=10_000_000_000 + np.arange(n) * 10_000_000,
        acc=raw[:, :3] * GRAVITY / {2: 16384, 4: 8192, 8: 4096, 16: 2048}[acc_range],
        gyro=raw[:, 3:]
        * DEG
        / {2000: 16.4, 1000: 32.8, 500: 65.6, 250: 131.2, 125: 262.4}[gyro_range],
    )
    notifications = decoder.encode(block)
    result = decoder.decode_all(notifications)
    acc = np.concatenate([b.acc for b in result.blocks if b.acc is not None])
    gyro = np.concatenate([b.gyro for b in result.blocks if b.gyro is not None])
    np.testing.assert_allclose(acc, block.acc, rtol=1e-12, atol=0)
    np.testing.assert_allclose(gyro, block.gyro, rtol=1e-12, atol=0)
    acc_t = np.concatenate([b.t_ns for b in result.blocks if b.acc is not None])
    assert np.abs(acc_t - block.t_ns).max() <= 1
    # Decoded values are a fixed point: they encode to the same bytes and decode to themselves.
    decoded = SampleBlock(t_ns=block.t_ns, acc=acc, gyro=gyro)
    again = decoder.encode(decoded)
    assert [n.data for n in again] == [n.data for n in notifications]
    decoder.reset()
    twice = decoder.decode_all(again)
    np.testing.assert_array_equal(
        np.concatenate([b.acc for b in twice.blocks if b.acc is not None]), acc
    )
