"""WitMotion byte-stream codec: reassembly across notifications, resync, round trip."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.core import EventKind, NotificationBatch, SampleBlock
from monitor.profiles.codecs.witmotion import WitmotionCodec, WitmotionParams, WitmotionSettings
from monitor.profiles.decoder import ProfileDecoder
from monitor.profiles.loader import get_profile

NOTIFY = "0000ffe4-0000-1000-8000-00805f9a34fb"
CAPTURE = bytes.fromhex(
    "5561fcffefff110800000000000098ff0d00f8315561fdffecff0e0800000000000098ff0d00f831"
    "5561fdffecff0e0800000000000098ff0d00f8315561feffe9ff0f0800000000000098ff0d00f831"
)


def decoder() -> ProfileDecoder:
    return ProfileDecoder(get_profile("witmotion_wt901ble"))


def feed_chunks(chunks: list[bytes], one_batch: bool = True) -> tuple[np.ndarray, int, list]:
    d = decoder()
    times = list(range(1, len(chunks) + 1))
    if one_batch:
        results = [d.feed(NotificationBatch.from_payloads(NOTIFY, chunks, times))]
    else:
        results = [
            d.feed(NotificationBatch.single(NOTIFY, c, t))
            for c, t in zip(chunks, times, strict=True)
        ]
    blocks = [b for r in results for b in r.blocks if b.acc is not None]
    acc = np.concatenate([b.acc for b in blocks]) if blocks else np.empty((0, 3))
    events = [e for r in results for e in r.events]
    return acc, sum(r.bad_packets for r in results), events


def reference() -> np.ndarray:
    return feed_chunks([CAPTURE])[0]


def test_packets_split_across_notifications_are_reassembled() -> None:
    for cuts in ([7], [20, 33, 59], [1, 2, 3, 41, 79]):
        chunks = [CAPTURE[a:b] for a, b in zip([0, *cuts], [*cuts, len(CAPTURE)], strict=True)]
        for one_batch in (True, False):
            acc, bad, _ = feed_chunks(chunks, one_batch)
            assert bad == 0
            np.testing.assert_array_equal(acc, reference())


def test_garbage_is_counted_once_per_run_and_the_stream_resyncs() -> None:
    noisy = b"\x01\x02\x55" + CAPTURE[:40] + b"\xaa\xbb" + CAPTURE[40:]
    acc, bad, events = feed_chunks([noisy[:30], noisy[30:]])
    assert bad == 2
    assert [e.kind for e in events] == [EventKind.BAD_PACKET] * 2
    np.testing.assert_array_equal(acc, reference())


def test_a_dangling_partial_packet_waits_for_the_rest_and_reset_drops_it() -> None:
    d = decoder()
    assert d.feed(NotificationBatch.single(NOTIFY, CAPTURE[:30], 1)).blocks[0].acc.shape == (1, 3)
    d.reset()
    result = d.feed(NotificationBatch.single(NOTIFY, CAPTURE[30:40], 2))
    assert result.blocks == []
    assert result.bad_packets == 1


def test_magnetometer_register_reply_is_decoded_with_the_configured_scale() -> None:
    reply = bytes.fromhex("5571 3a00") + np.array([100, -200, 300, 0, 0, 0, 0, 0], "<i2").tobytes()
    d = ProfileDecoder(get_profile("witmotion_wt901ble"), {"mag_ut_per_lsb": 0.1})
    block = d.feed(NotificationBatch.single(NOTIFY, reply, 5)).blocks[0]
    np.testing.assert_allclose(block.mag, [[10.0, -20.0, 30.0]])
    assert d.encode(SampleBlock(t_ns=[5], mag=block.mag))[0].data == reply


int16 = st.integers(-32768, 32767)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.lists(int16, min_size=9, max_size=9), min_size=1, max_size=30),
    st.sampled_from([20, 40, 80, 33, 7]),
)
def test_encode_decode_round_trip_is_exact(words: list[list[int]], size: int) -> None:
    codec = WitmotionCodec(
        WitmotionParams(notification_bytes=size), WitmotionSettings(), stream="imu"
    )
    packets = b"".join(b"\x55\x61" + np.array(w, "<i2").tobytes() for w in words)
    times = np.arange(len(words)) * 20_000_000
    first = codec.decode(
        NotificationBatch.from_payloads(
            NOTIFY, [packets[i : i + 20] for i in range(0, len(packets), 20)], times
        )
    ).blocks[0]
    notifications = codec.encode(first)
    assert b"".join(n.data for n in notifications) == packets
    assert all(len(n.data) <= size for n in notifications)
    codec.reset()
    again = codec.decode(
        NotificationBatch.from_payloads(
            NOTIFY, [n.data for n in notifications], [n.host_t_ns for n in notifications]
        )
    ).blocks[0]
    np.testing.assert_array_equal(again.acc, first.acc)
    np.testing.assert_array_equal(again.gyro, first.gyro)
    np.testing.assert_array_equal(again.extra["angle_deg"], first.extra["angle_deg"])
    # A packet arrives with the notification carrying its last byte: never before it was made.
    assert (again.t_ns >= first.t_ns).all()
    if size == 20:
        np.testing.assert_array_equal(again.t_ns, first.t_ns)
