"""Movesense GSP codec: commands, DATA / DATA_PART2 reassembly, timestamps, events, round trips.

Payload layout per the vendor's python client (movesense_sensor_data.py in movesense-device-lib
samples/gatt_sensordata_app): [2, ref, uint32 ms, acc[N] xyz, gyro[N] xyz, (magn[N] xyz)].
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.core import EventKind, NotificationBatch, SampleBlock
from monitor.profiles.codecs.base import CODECS, NoParams
from monitor.profiles.codecs.movesense import (
    GSP_DATA_UUID,
    MovesenseCodec,
    MovesenseSettings,
    build_command_result,
    build_hello_reply,
    split_data_message,
)


def codec(**values) -> MovesenseCodec:
    return MovesenseCodec(NoParams(), MovesenseSettings(**values))


def batch(payloads: list[bytes]) -> NotificationBatch:
    return NotificationBatch.from_payloads(GSP_DATA_UUID, payloads, range(len(payloads)))


def vendor_message(ref: int, ts_ms: int, *blocks: np.ndarray) -> bytes:
    """A DATA message built field by field as the vendor client reads it."""
    out = bytes((2, ref)) + struct.pack("<I", ts_ms)
    for block in blocks:
        for x, y, z in block:
            out += struct.pack("<fff", x, y, z)
    return out


def test_registered_under_movesense() -> None:
    assert CODECS["movesense"] is MovesenseCodec


def test_commands() -> None:
    imu6 = codec(measurement="IMU6", sample_rate_hz=52, client_ref=7)
    assert imu6.subscribe_command() == b"\x01\x07/Meas/IMU6/52"
    assert imu6.unsubscribe_command() == b"\x02\x07"
    assert imu6.hello_command() == b"\x00\x07"


def test_imu9_at_104_hz_is_split_like_the_firmware_and_reassembled() -> None:
    rng = np.random.default_rng(0)
    acc, gyro, magn = (rng.normal(size=(8, 3)).astype(np.float32) for _ in range(3))
    message = vendor_message(99, 123_456, acc, gyro, magn)
    assert len(message) == 2 + 4 + 288  # the vendor client's example: does not fit one MTU
    parts = split_data_message(99, message[2:], att_mtu=161)
    assert [p[:2] for p in parts] == [b"\x02\x63", b"\x03\x63"]
    assert parts[0] + parts[1][2:] == message
    assert len(parts[0]) == 158
    decoder = codec(measurement="IMU9", sample_rate_hz=104)
    assert decoder.decode(batch(parts[:1])).blocks == []  # waits for DATA_PART2
    (block,) = decoder.decode(batch(parts[1:])).blocks
    np.testing.assert_array_equal(block.acc, acc.astype(np.float64))
    np.testing.assert_allclose(block.gyro, np.deg2rad(gyro.astype(np.float64)), rtol=1e-15)
    np.testing.assert_array_equal(block.mag, magn.astype(np.float64))
    # ts + i * 1000 / rate ms, in ns
    expected = 123_456 * 1_000_000 + np.rint(np.arange(8) * 1e9 / 104).astype(np.int64)
    np.testing.assert_array_equal(block.t_ns, expected)


def test_acc_message_fields_as_the_vendor_client_reads_them() -> None:
    acc = np.array([[0.5, -9.81, 1.25], [0.0, 0.25, -0.5]], dtype=np.float32)
    message = vendor_message(5, 1000, acc)
    assert struct.unpack_from("<I", message, 2)[0] == 1000
    assert struct.unpack_from("<fff", message, 6) == tuple(acc[0])
    (block,) = (
        codec(measurement="Acc", sample_rate_hz=13, client_ref=5).decode(batch([message])).blocks
    )
    assert block.channels == ("acc",)
    np.testing.assert_array_equal(block.acc, acc)
    assert block.t_ns.tolist() == [1_000_000_000, 1_000_000_000 + 76_923_077]


def test_command_results_are_control_events() -> None:
    decoder = codec()
    result = decoder.decode(batch([build_command_result(99, 507), build_hello_reply(3)]))
    assert [e.kind for e in result.events] == [EventKind.CONTROL, EventKind.CONTROL]
    assert result.events[0].data["status"] == 507
    assert result.events[1].data["text"] == "Hello"
    assert bytes.fromhex("016301fb") == build_command_result(99, 507)  # PROTOCOLS.md example


def test_clock_reset_and_missing_messages_are_events() -> None:
    zeros = np.zeros((8, 3), dtype=np.float32)
    messages = [vendor_message(99, ts, zeros, zeros) for ts in (1000, 1077, 1231, 20)]
    result = codec(measurement="IMU6", sample_rate_hz=104).decode(batch(messages))
    assert [e.kind for e in result.events] == [EventKind.GAP, EventKind.CLOCK_RESET]
    assert result.events[0].data["missing"] == 8
    assert len(result.blocks[0]) == 32


def test_bad_notifications_are_counted_and_others_ignored() -> None:
    zeros = np.zeros((8, 3), dtype=np.float32)
    acc = np.arange(24, dtype=np.float32).reshape(8, 3)
    good = vendor_message(99, 1000, acc, zeros)
    parts = split_data_message(99, good[2:], att_mtu=161)
    notifications = [
        b"\x02",  # too short
        b"\x03\x63" + b"\x00" * 10,  # DATA_PART2 with no first part
        parts[0],  # first part whose continuation never comes ...
        good[:40],  # ... and a DATA message that is not whole samples
        b"\x09\x63\x00",  # unknown response type
        vendor_message(12, 1000, zeros, zeros),  # another subscription: not ours
        good,
    ]
    result = codec(measurement="IMU6").decode(batch(notifications))
    assert result.bad_packets == 5
    assert [e.kind for e in result.events].count(EventKind.BAD_PACKET) == 5
    np.testing.assert_array_equal(result.blocks[0].acc, acc)


def test_reset_drops_a_half_received_message() -> None:
    rng = np.random.default_rng(1)
    block = SampleBlock(
        t_ns=np.arange(8) * 9_615_385 + 10**9,
        acc=rng.normal(size=(8, 3)),
        gyro=rng.normal(size=(8, 3)),
        mag=rng.normal(size=(8, 3)),
    )
    sender = codec(measurement="IMU9")
    first, second = sender.encode(block)
    decoder = codec(measurement="IMU9")
    decoder.decode(batch([first.data]))
    decoder.reset()
    assert decoder.decode(batch([second.data])).bad_packets == 1


@settings(max_examples=60, deadline=None)
@given(
    measurement=st.sampled_from(["Acc", "Gyro", "Magn", "IMU6", "IMU9"]),
    rate=st.sampled_from([13, 26, 52, 104, 208, 416]),
    mtu=st.sampled_from([23, 64, 161, 185, 247, 517]),
    n=st.integers(1, 200),
    start_ms=st.integers(0, 2**31),
    seed=st.integers(0, 2**32 - 1),
)
def test_round_trip_is_exact(measurement, rate, mtu, n, start_ms, seed) -> None:
    rng = np.random.default_rng(seed)
    channels = {"Acc": ("acc",), "Gyro": ("gyro",), "Magn": ("mag",)}.get(
        measurement, ("acc", "gyro", "mag")[: 2 if measurement == "IMU6" else 3]
    )
    values = {c: rng.normal(scale=20, size=(n, 3)) for c in channels}
    per_message = max(1, rate // 13)
    # Timestamps the sensor can express: whole ms at each message start, then i * 1000 / rate.
    index = np.arange(n)
    message_start = start_ms + (index // per_message) * round(per_message * 1000 / rate)
    t_ns = message_start * 1_000_000 + np.rint((index % per_message) * 1e9 / rate).astype(np.int64)
    block = SampleBlock(t_ns=t_ns, **values)
    sender = codec(measurement=measurement, sample_rate_hz=rate, att_mtu=mtu)
    notifications = sender.encode(block)
    assert all(len(x.data) <= mtu - 3 for x in notifications)
    payloads = [x.data for x in notifications]
    decoded = codec(measurement=measurement, sample_rate_hz=rate, att_mtu=mtu).decode(
        batch(payloads)
    )
    assert decoded.bad_packets == 0
    (got,) = decoded.blocks
    np.testing.assert_array_equal(got.t_ns, t_ns)
    for channel in channels:
        np.testing.assert_allclose(getattr(got, channel), values[channel], rtol=1.2e-7)
    assert [x.data for x in sender.encode(got)] == payloads
    # Any split of the stream into batches decodes the same.
    one_by_one = codec(measurement=measurement, sample_rate_hz=rate, att_mtu=mtu)
    pieces = [b for p in payloads for b in one_by_one.decode(batch([p])).blocks]
    joined = SampleBlock.concat(pieces)
    np.testing.assert_array_equal(joined.t_ns, got.t_ns)
    for channel in channels:
        np.testing.assert_array_equal(getattr(joined, channel), getattr(got, channel))


def test_encode_needs_the_channels_of_the_measurement() -> None:
    with pytest.raises(ValueError, match="gyro"):
        codec(measurement="IMU6").encode(SampleBlock(t_ns=[0], acc=np.zeros((1, 3))))


@settings(max_examples=40, deadline=None)
@given(
    measurement=st.sampled_from(["Acc", "IMU6", "IMU9"]),
    mtu=st.sampled_from([23, 64, 161, 247]),
    n=st.integers(1, 120),
    insert_at=st.integers(0, 10_000),
    seed=st.integers(0, 2**32 - 1),
)
def test_batch_framing_matches_one_by_one_rules(measurement, mtu, n, insert_at, seed) -> None:
    """The vectorised framing of plain batches and the one-by-one rules give the same samples."""
    rng = np.random.default_rng(seed)
    names = {"Acc": ("acc",), "IMU6": ("acc", "gyro"), "IMU9": ("acc", "gyro", "mag")}
    block = SampleBlock(
        t_ns=np.arange(n, dtype=np.int64) * 9_615_385,
        **{c: rng.normal(size=(n, 3)) for c in names[measurement]},
    )
    payloads = [x.data for x in codec(measurement=measurement, att_mtu=mtu).encode(block)]
    plain = codec(measurement=measurement, att_mtu=mtu)
    assert plain._frame_regular(batch(payloads)) is not None
    fast = plain.decode(batch(payloads))
    mixed_payloads = list(payloads)
    mixed_payloads.insert(insert_at % (len(payloads) + 1), build_command_result(99, 200))
    mixed = codec(measurement=measurement, att_mtu=mtu)
    assert mixed._frame_regular(batch(mixed_payloads)) is None
    slow = mixed.decode(batch(mixed_payloads))
    assert [e.kind for e in slow.events] == [EventKind.CONTROL]
    assert fast.bad_packets == slow.bad_packets == 0
    (a,), (b,) = fast.blocks, slow.blocks
    np.testing.assert_array_equal(a.t_ns, b.t_ns)
    for channel in names[measurement]:
        np.testing.assert_array_equal(getattr(a, channel), getattr(b, channel))
