"""What fuzzing the codecs found (benchmarks/fuzz_codecs.py), pinned down one case at a time.

- float32 on the wire (Arduino, Movesense, MetaWear sensor fusion) can hold NaN or infinity:
  such a notification is a bad packet, not a sample;
- PMD and GSP frames have no checksum, so a bit flip in a frame time moved samples by years or
  backwards: a time off the sensor's clock is a bad packet, and a real clock jump is followed
  one frame later;
- after lost PMD frames the SDK's rule stretched the next frame's samples over the gap;
- a PMD frame whose frame-type byte flipped was timed on a clock of its own, back over the
  frames before it;
- a GSP time a few ms late made the next message's samples step back in time, and the
  uint32 ms clock wrapping (after 49.7 days) looked like a clock reset;
- GSP parts running past a whole message decoded as extra samples, and every orphaned
  DATA_PART2 of a broken message counted as one more bad packet;
- a Battery Level notification of the wrong size or above 100 % was reported as a level, and
  a MetaWear battery reply cut short vanished without a count;
- a PMD START response with FACTOR NaN or 0 turned every later sample into NaN or 0.
"""

from __future__ import annotations

import struct

import numpy as np

from monitor.core import EventKind, NotificationBatch, SampleBlock
from monitor.profiles.codecs.base import DecodeResult, NoParams
from monitor.profiles.codecs.device_clock import MAX_CLOCK_JUMP_NS
from monitor.profiles.codecs.movesense import GSP_DATA_UUID, MovesenseCodec, MovesenseSettings
from monitor.profiles.codecs.pmd import PMD_DATA_UUID, PmdCodec, PmdParams, PmdSettings
from monitor.profiles.codecs.pmd_protocol import FrameHeader, build_frame
from monitor.profiles.decoder import ProfileDecoder
from monitor.profiles.loader import get_profile

NAN32 = struct.pack("<f", float("nan"))
INF32 = struct.pack("<f", float("inf"))
ARDUINO_ACC = "555a0002-0011-467a-9538-01f0652c74e8"
METAWEAR_NOTIFY = "326a9006-85cb-9195-d9dd-464cfbbae75a"
H10_PERIOD_NS = 5_000_000  # 200 Hz
H10_FRAME_NS = 36 * H10_PERIOD_NS


def bad_events(result: DecodeResult) -> int:
    return sum(e.kind == EventKind.BAD_PACKET for e in result.events)


def feed(decoder: ProfileDecoder, characteristic: str, payloads: list[bytes]) -> DecodeResult:
    times = np.arange(len(payloads)) * 10_000_000
    return decoder.feed(NotificationBatch.from_payloads(characteristic, payloads, times))


def test_arduino_record_with_nan_or_infinity_is_a_bad_packet() -> None:
    decoder = ProfileDecoder(get_profile("arduino_nano33_ble_sense"))
    good = struct.pack("<fff", 0.0, 0.0, 1.0)
    result = feed(decoder, ARDUINO_ACC, [good, NAN32 + good[4:], good, good[:8] + INF32])
    assert result.bad_packets == bad_events(result) == 2
    (block,) = result.blocks
    assert len(block) == 2 and np.isfinite(block.acc).all()


def test_metawear_sensor_fusion_nan_is_a_bad_packet() -> None:
    decoder = ProfileDecoder(get_profile("metamotion_s"))
    # Corrected acceleration (module 0x19, register 0x04): x, y, z float32 mg + u8 accuracy.
    good = bytes((0x19, 0x04)) + struct.pack("<fff", 0.0, 0.0, 1000.0) + b"\x03"
    spoiled = good[:6] + NAN32 + good[10:]
    result = feed(decoder, METAWEAR_NOTIFY, [good, spoiled, good])
    assert result.bad_packets == bad_events(result) == 1
    (block,) = result.blocks
    assert len(block) == 2 and np.isfinite(block.acc).all()


def gsp_message(ts_ms: int, first_x: bytes = struct.pack("<f", 1.0)) -> bytes:
    """A GSP DATA message of 8 Acc samples: [2, ref 99, u32 ms, 8 x (x, y, z) float32]."""
    samples = first_x + struct.pack("<ff", 0.0, 9.8) + struct.pack("<fff", 1.0, 0.0, 9.8) * 7
    return bytes((2, 99)) + struct.pack("<I", ts_ms) + samples


def gsp_decode(payloads: list[bytes], arrivals_ms: list[int]) -> DecodeResult:
    codec = MovesenseCodec(
        NoParams(), MovesenseSettings(measurement="Acc", sample_rate_hz=104, client_ref=99)
    )
    arrivals = np.array(arrivals_ms, dtype=np.int64) * 1_000_000
    return codec.decode(NotificationBatch.from_payloads(GSP_DATA_UUID, payloads, arrivals))


def test_movesense_message_with_nan_is_a_bad_packet() -> None:
    result = gsp_decode([gsp_message(1000), gsp_message(1077, NAN32), gsp_message(1154)], [0] * 3)
    assert result.bad_packets == bad_events(result) == 1
    (block,) = result.blocks
    assert block.t_ns[[0, 8]].tolist() == [1_000_000_000, 1_154_000_000]
    assert np.isfinite(block.acc).all()


def test_movesense_time_a_little_late_never_steps_back() -> None:
    # Messages of 8 samples at 104 Hz span 77 ms. The second claims 1107 ms instead of 1077:
    # its last samples would fall after the third message's first ones.
    result = gsp_decode([gsp_message(1000), gsp_message(1107), gsp_message(1154)], [0, 77, 154])
    (block,) = result.blocks
    assert len(block) == 24
    assert np.all(np.diff(block.t_ns) >= 0)
    assert block.t_ns[16] == 1_174_307_692  # held at the second message's last sample


def h10_frames(times_ns: list[int]) -> list[bytes]:
    rng = np.random.default_rng(3)
    content = [rng.integers(-2000, 2000, (36, 3)).astype("<i2").tobytes() for _ in times_ns]
    return [
        build_frame(FrameHeader(2, t, 1, False), c) for t, c in zip(times_ns, content, strict=True)
    ]


def h10_decode(frames: list[bytes], arrivals_ns: list[int] | None = None) -> DecodeResult:
    codec = PmdCodec(PmdParams(), PmdSettings())
    arrivals = frames_times(len(frames)) if arrivals_ns is None else arrivals_ns
    return codec.decode(NotificationBatch.from_payloads(PMD_DATA_UUID, frames, arrivals))


def frames_times(count: int, first: int = 10**13) -> list[int]:
    """Frame times (the last sample's) of `count` consecutive 36-sample H10 frames."""
    return [first + (k + 1) * H10_FRAME_NS - H10_PERIOD_NS for k in range(count)]


def test_pmd_frame_with_a_flipped_time_bit_is_a_bad_packet_and_the_rest_decodes() -> None:
    times = frames_times(5)
    clean = h10_decode(h10_frames(times)).blocks[0]
    flipped = list(times)
    flipped[2] ^= 1 << 45  # ~9.8 hours later
    frames = h10_frames(flipped)
    result = h10_decode(frames, times)
    assert result.bad_packets == bad_events(result) == 1
    (block,) = result.blocks
    kept = np.r_[0:72, 108:180]  # frames 0, 1, 3, 4
    np.testing.assert_array_equal(block.acc, clean.acc[kept])
    # Frame 3 follows the gap left by frame 2: timed from the sample rate like the clean one.
    np.testing.assert_array_equal(block.t_ns, clean.t_ns[kept])


def test_pmd_real_clock_jump_is_followed_after_one_frame() -> None:
    jump = -3600 * 10**9  # the sensor clock set back an hour
    times = frames_times(3) + [t + jump for t in frames_times(3, 10**13 + 3 * H10_FRAME_NS)]
    result = h10_decode(h10_frames(times))
    assert result.bad_packets == bad_events(result) == 1  # the first frame on the new clock
    assert [e.kind for e in result.events if e.kind != EventKind.BAD_PACKET] == [
        EventKind.CLOCK_RESET
    ]
    assert sum(len(b) for b in result.blocks) == 5 * 36


def test_pmd_bursts_and_stalls_of_arrival_are_not_clock_errors() -> None:
    times = frames_times(40)
    burst = [times[0]] * 40  # everything buffered, then delivered at once
    stalled = times[:20] + [t + 2 * MAX_CLOCK_JUMP_NS for t in times[20:]]  # host late
    for arrivals in (burst, stalled):
        result = h10_decode(h10_frames(times), arrivals)
        assert result.bad_packets == 0
        assert sum(len(b) for b in result.blocks) == 40 * 36


def test_pmd_samples_after_lost_frames_are_not_stretched_over_the_gap() -> None:
    times = frames_times(4)
    result = h10_decode(h10_frames([times[0], times[1], times[3]]))
    assert [e.kind for e in result.events] == [EventKind.GAP]
    (block,) = result.blocks
    assert np.all(np.diff(block.t_ns[72:]) == H10_PERIOD_NS)
    assert block.t_ns[-1] == times[3]


def test_battery_level_that_is_not_one_byte_of_0_to_100_is_a_bad_packet() -> None:
    decoder = ProfileDecoder(get_profile("polar_h10"))
    battery = "00002a19-0000-1000-8000-00805f9b34fb"
    result = feed(decoder, battery, [b"\x57", b"", b"\xff", b"\x10\x00", b"\x00"])
    assert result.bad_packets == bad_events(result) == 3
    levels = [e.data["percent"] for e in result.events if e.kind == EventKind.BATTERY]
    assert levels == [87, 0]


def test_pmd_start_response_with_a_factor_that_is_not_positive_is_a_bad_packet() -> None:
    decoder = ProfileDecoder(get_profile("polar_verity_sense"), stream="acc")
    factor = decoder.settings["acc_factor"]
    # START response ACC (f0 02 02 status 0, more 0) carrying FACTOR (setting type 5, 1 value).
    responses = [bytes.fromhex("f002020000 0501") + value for value in (NAN32, b"\0\0\0\0")]
    result = feed(decoder, "fb005c81-02e7-f387-1cad-8acd2d8df0c8", responses)
    assert result.bad_packets == bad_events(result) == 2
    assert decoder.settings["acc_factor"] == factor
    good = bytes.fromhex("f002020000 0501") + struct.pack("<f", 0.5)
    feed(decoder, "fb005c81-02e7-f387-1cad-8acd2d8df0c8", [good])
    assert decoder.settings["acc_factor"] == 0.5


def test_pmd_frame_whose_type_byte_flipped_keeps_time_running() -> None:
    times = frames_times(5)
    frames = h10_frames(times)
    frames[2] = frames[2][:9] + b"\x00" + frames[2][10:]  # type 1 (int16) read as 0 (int8)
    for batches in ([frames], [[frame] for frame in frames]):
        codec = PmdCodec(PmdParams(), PmdSettings())
        blocks = [
            block
            for payloads in batches
            for block in codec.decode(
                NotificationBatch.from_payloads(PMD_DATA_UUID, payloads, times[: len(payloads)])
            ).blocks
        ]
        t_ns = np.concatenate([block.t_ns for block in blocks])
        assert len(t_ns) == 4 * 36 + 72  # the spoiled frame's 216 bytes as 72 int8 samples
        assert np.all(np.diff(t_ns) >= 0)


def test_movesense_clock_wrapping_after_49_days_counts_on() -> None:
    wrap_ms = 1 << 32
    stamps = [wrap_ms - 154, wrap_ms - 77, 0, 77]
    result = gsp_decode([gsp_message(ts % wrap_ms) for ts in stamps], [0, 77, 154, 231])
    assert result.bad_packets == 0 and result.events == []
    (block,) = result.blocks
    assert block.t_ns[::8].tolist() == [(wrap_ms + ts) * 1_000_000 for ts in (-154, -77, 0, 77)]
    assert np.all(np.diff(block.t_ns) > 0)


def test_movesense_broken_message_is_one_bad_packet_and_the_next_decodes() -> None:
    # ATT MTU 23: an IMU6 message of 8 samples (198 bytes) takes 11 notifications.
    codec = MovesenseCodec(NoParams(), MovesenseSettings(att_mtu=23))
    n = 24
    t_ns = 10**12 + np.arange(n) * 9_615_385
    rng = np.random.default_rng(5)
    block = SampleBlock(t_ns=t_ns, acc=rng.normal(0, 9, (n, 3)), gyro=rng.normal(0, 1, (n, 3)))
    notes = codec.encode(block)
    assert len(notes) == 33
    for spoiled in (notes[14].data + bytes(300), notes[14].data[:5]):  # parts run past / cut
        codec.reset()
        payloads = [note.data for note in notes]
        payloads[14] = spoiled
        arrivals = [note.host_t_ns for note in notes]
        result = codec.decode(NotificationBatch.from_payloads(GSP_DATA_UUID, payloads, arrivals))
        assert result.bad_packets == bad_events(result) <= 2
        assert sum(len(b) for b in result.blocks) == 16  # messages 1 and 3


def test_metawear_battery_reply_cut_short_is_a_bad_packet() -> None:
    decoder = ProfileDecoder(get_profile("metamotion_r"))
    reply = bytes.fromhex("118c 63 a60f")  # 99 %, 4006 mV (settings module, battery state)
    result = feed(decoder, METAWEAR_NOTIFY, [reply, reply[:4], reply[:2]])
    assert result.bad_packets == bad_events(result) == 2
    assert [e.data for e in result.events if e.kind == EventKind.BATTERY] == [
        {"percent": 99, "voltage_mv": 4006}
    ]
