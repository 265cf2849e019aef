"""PMD codec behaviour: control point, batches, bad frames, clock events and exact round trips."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.core import GRAVITY, EventKind, Notification, NotificationBatch, SampleBlock
from monitor.profiles.codecs.base import CODECS
from monitor.profiles.codecs.pmd import (
    MAG_STATUS_KEY,
    MEASUREMENT_TYPES,
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    PmdCodec,
    PmdFrameFormat,
    PmdParams,
    PmdSettings,
    frame_layout,
)
from monitor.profiles.codecs.pmd_protocol import (
    FrameHeader,
    MeasurementType,
    Opcode,
    SettingType,
    Status,
    build_cp_response,
    build_features,
    build_frame,
    build_start_command,
    build_start_response,
    decode_delta_content,
    encode_delta_content,
    parse_cp_response,
    parse_features,
    serialize_settings,
)

VECTORS = {
    v["id"]: v
    for v in json.loads(
        (Path(__file__).resolve().parent.parent / "data" / "vectors_pmd_movesense.json").read_text()
    )["vectors"]
}
H10_FRAME = bytes.fromhex(VECTORS["polar_acc_raw_type1"]["hex"])
VERITY_ACC_FRAME = bytes.fromhex(VECTORS["polar_acc_delta_type0_factor"]["hex"])
MULTIBLOCK = bytes.fromhex(VECTORS["polar_delta_multiblock_16bit"]["hex"])

VERITY = PmdParams(
    measurements=["acc", "gyro", "mag"],
    acc_format=PmdFrameFormat(frame_type=0, compressed=True),
    start_settings=["sample_rate", "resolution", "range", "channels"],
    samples_per_frame=57,
)
VERITY_SETTINGS = dict(
    acc_sample_rate_hz=52,
    acc_factor=8 / 32768,
    gyro_factor=2000 / 32768,
    mag_factor=50 / 32768,
)


def batch(payloads: list[bytes], characteristic: str = PMD_DATA_UUID) -> NotificationBatch:
    return NotificationBatch.from_payloads(characteristic, payloads, range(len(payloads)))


def frame(ts: int, content: bytes, kind: int = 2, frame_type: int = 1, compressed=False) -> bytes:
    return build_frame(FrameHeader(kind, ts, frame_type, compressed), content)


def h10_frames(count: int, first_ts: int = 10**12, period: int = 5_000_000) -> list[bytes]:
    rng = np.random.default_rng(7)
    return [
        frame(
            first_ts + (36 * (k + 1) - 1) * period,
            rng.integers(-2000, 2000, size=(36, 3)).astype("<i2").tobytes(),
        )
        for k in range(count)
    ]


def test_registered_under_pmd() -> None:
    assert CODECS["pmd"] is PmdCodec


def test_h10_vector_reencodes_to_the_same_bytes() -> None:
    codec = PmdCodec(PmdParams(), PmdSettings(acc_sample_rate_hz=52))
    block = codec.decode(batch([H10_FRAME])).blocks[0]
    (notification,) = codec.encode(block)
    assert notification.data == H10_FRAME
    assert notification.characteristic == PMD_DATA_UUID


def test_delta_encoder_picks_the_firmware_block_widths() -> None:
    """Re-encoding the SDK's genuine 9-block frame reproduces it byte for byte."""
    samples = decode_delta_content(MULTIBLOCK, 3, 16)
    assert encode_delta_content(samples, 16, group_size=10) == MULTIBLOCK


def test_batch_decodes_like_single_notifications() -> None:
    frames = h10_frames(12)
    whole = PmdCodec(PmdParams(), PmdSettings()).decode(batch(frames))
    one_by_one = PmdCodec(PmdParams(), PmdSettings())
    parts = [one_by_one.decode(batch([f])).blocks[0] for f in frames]
    joined = SampleBlock.concat(parts)
    assert np.array_equal(whole.blocks[0].t_ns, joined.t_ns)
    assert np.array_equal(whole.blocks[0].acc, joined.acc)
    assert np.all(np.diff(joined.t_ns) == 5_000_000)
    assert whole.events == [] and whole.bad_packets == 0


def test_start_response_sets_factor_and_is_reported() -> None:
    codec = PmdCodec(VERITY, PmdSettings(acc_sample_rate_hz=52))
    response = build_start_response(MeasurementType.ACC, factor=0.000244)
    result = codec.decode(batch([response], PMD_CONTROL_POINT_UUID))
    assert codec.settings.acc_factor == pytest.approx(0.000244, rel=1e-7)
    (event,) = result.events
    assert event.kind == EventKind.CONTROL
    assert event.data["status_name"] == "SUCCESS"
    assert event.data["settings"]["FACTOR"] == [pytest.approx(0.000244, rel=1e-7)]
    block = codec.decode(batch([VERITY_ACC_FRAME])).blocks[0]
    assert block.acc[0, 0] / GRAVITY * 1000 == pytest.approx(1905 * 0.000244 * 1000, rel=1e-6)


def test_response_split_with_more_flag_is_joined() -> None:
    params = serialize_settings({SettingType.RANGE: [2, 4, 8], SettingType.FACTOR: 0.5})
    first = build_cp_response(Opcode.REQUEST_MEASUREMENT_START, 5, params=params[:5], more=True)
    second = build_cp_response(Opcode.REQUEST_MEASUREMENT_START, 5, params=params[5:])
    codec = PmdCodec(VERITY, PmdSettings())
    assert codec.decode(batch([first], PMD_CONTROL_POINT_UUID)).events == []
    (event,) = codec.decode(batch([second], PMD_CONTROL_POINT_UUID)).events
    assert event.data["settings"] == {"RANGE": [2, 4, 8], "FACTOR": [0.5]}
    assert codec.settings.gyro_factor == 0.5


def test_error_response_names_the_status() -> None:
    response = build_cp_response(
        Opcode.REQUEST_MEASUREMENT_START, MeasurementType.ACC, Status.INVALID_SAMPLE_RATE
    )
    assert parse_cp_response(response).status_name == "INVALID_SAMPLE_RATE"
    codec = PmdCodec(PmdParams(), PmdSettings())
    (event,) = codec.decode(batch([response], PMD_CONTROL_POINT_UUID)).events
    assert event.kind == EventKind.CONTROL
    assert "INVALID_SAMPLE_RATE" in event.message
    assert codec.settings.acc_factor == 1.0


def test_device_stop_is_an_event_and_forgets_the_previous_timestamp() -> None:
    codec = PmdCodec(PmdParams(), PmdSettings())
    frames = h10_frames(3)
    codec.decode(batch(frames[:1]))
    (event,) = codec.decode(
        batch([bytes((0x01, MeasurementType.ACC))], PMD_CONTROL_POINT_UUID)
    ).events
    assert event.kind == EventKind.CONTROL and event.data["stopped"] == ["ACC"]
    # After the stop the next frame is timed from the sample rate, not from the old frame.
    result = codec.decode(batch(frames[2:3]))
    assert result.events == []
    assert np.all(np.diff(result.blocks[0].t_ns) == 5_000_000)


def test_feature_read_round_trip() -> None:
    assert parse_features(build_features(["ACC", "GYRO", "MAG", "SDK_MODE"])) == [
        "ACC",
        "GYRO",
        "MAG",
        "SDK_MODE",
    ]


def test_bad_frames_are_counted_once_and_the_rest_decodes() -> None:
    good = h10_frames(2)
    truncated_delta = VERITY_ACC_FRAME[:-5]
    bad = [
        b"\x02\x00\x01",  # shorter than the header
        frame(1, b"\x00" * 30, kind=MeasurementType.ECG, frame_type=0),  # not an IMU stream
        frame(2, b"\x00" * 7),  # not whole int16 x 3 samples
        frame(3, b""),  # no samples
        truncated_delta,  # last delta block cut short
        frame(4, b"\x00" * 6 + b"\x00\x05", compressed=True, frame_type=0),  # bit width 0
        frame(2**64 - 1, b"\x00" * 6),  # not a clock value
    ]
    codec = PmdCodec(PmdParams(), PmdSettings())
    result = codec.decode(batch([good[0], *bad, good[1]]))
    assert result.bad_packets == len(bad)
    kinds = [e.kind for e in result.events]
    assert kinds.count(EventKind.BAD_PACKET) == len(bad)
    assert sum(len(b) for b in result.blocks) == 72


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80), st.sampled_from([PMD_DATA_UUID, PMD_CONTROL_POINT_UUID]))
def test_random_bytes_never_raise(data: bytes, characteristic: str) -> None:
    codec = PmdCodec(VERITY, PmdSettings(**VERITY_SETTINGS))
    result = codec.decode(batch([data], characteristic))
    assert result.bad_packets in (0, 1)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from([2, 5, 6, 0x42, 1]),
    frame_byte=st.sampled_from([0x00, 0x01, 0x02, 0x80, 0x81, 0x7F]),
    timestamp=st.integers(0, 2**64 - 1),
    content=st.binary(max_size=120),
)
def test_frames_with_garbage_content_never_raise(kind, frame_byte, timestamp, content) -> None:
    data = bytes((kind,)) + timestamp.to_bytes(8, "little") + bytes((frame_byte,)) + content
    codec = PmdCodec(VERITY, PmdSettings(**VERITY_SETTINGS))
    result = codec.decode(batch([data, data]))
    assert result.bad_packets in (0, 2)
    assert result.bad_packets == 2 or sum(len(b) for b in result.blocks) > 0


def test_clock_going_back_and_missing_frames_are_events() -> None:
    frames = h10_frames(6)
    codec = PmdCodec(PmdParams(), PmdSettings())
    result = codec.decode(batch([frames[0], frames[1], frames[3], frames[0]]))
    kinds = [e.kind for e in result.events]
    assert kinds == [EventKind.GAP, EventKind.CLOCK_RESET]
    gap = result.events[0]
    assert gap.data["missing"] == 36
    block = result.blocks[0]
    assert len(block) == 4 * 36


def test_reset_forgets_previous_timestamps() -> None:
    frames = h10_frames(2, period=4_000_000)  # 250 Hz actual, settings say 200 Hz
    codec = PmdCodec(PmdParams(), PmdSettings())
    codec.decode(batch(frames[:1]))
    spaced_by_frames = codec.decode(batch(frames[1:])).blocks[0]
    assert np.all(np.diff(spaced_by_frames.t_ns) == 4_000_000)
    codec.reset()
    spaced_by_rate = codec.decode(batch(frames[1:])).blocks[0]
    assert np.all(np.diff(spaced_by_rate.t_ns) == 5_000_000)


def test_session_preamble_carries_factor_for_replay() -> None:
    live = PmdCodec(VERITY, PmdSettings(**VERITY_SETTINGS))
    preamble = live.session_preamble()
    assert [n.characteristic for n in preamble] == [PMD_CONTROL_POINT_UUID] * 3
    replay = PmdCodec(VERITY, PmdSettings())
    for notification in preamble:
        replay.decode(batch([notification.data], notification.characteristic))
    for name in ("acc_factor", "gyro_factor", "mag_factor"):
        assert getattr(replay.settings, name) == getattr(live.settings, name)
    h10 = PmdCodec(PmdParams(), PmdSettings())
    assert [n.data for n in h10.session_preamble()] == [bytes.fromhex("f002020000")]


def test_start_and_stop_commands_follow_settings() -> None:
    codec = PmdCodec(VERITY, PmdSettings(**VERITY_SETTINGS))
    starts = codec.start_commands()
    assert starts[0] == bytes.fromhex("0202000134000101100002010800040103")
    assert starts[1][:2] == bytes((2, MeasurementType.GYRO))
    assert codec.stop_commands() == [bytes((3, 2)), bytes((3, 5)), bytes((3, 6))]
    with pytest.raises(ValueError, match="FACTOR"):
        build_start_command(2, {SettingType.FACTOR: 1.0})


# --- round trips ----------------------------------------------------------------------------

FORMATS = {
    "h10_acc_raw16": ("acc", PmdFrameFormat(frame_type=1, compressed=False), 1.0),
    "acc_raw8": ("acc", PmdFrameFormat(frame_type=0, compressed=False), 1.0),
    "acc_raw24": ("acc", PmdFrameFormat(frame_type=2, compressed=False), 1.0),
    "verity_acc_delta0": ("acc", PmdFrameFormat(frame_type=0, compressed=True), 8 / 32768),
    "acc_delta1": ("acc", PmdFrameFormat(frame_type=1, compressed=True), 1.0),
    "gyro_raw_float": ("gyro", PmdFrameFormat(frame_type=1, compressed=False), 1.0),
    "verity_gyro_delta0": ("gyro", PmdFrameFormat(frame_type=0, compressed=True), 0.061),
    "gyro_delta1_float": ("gyro", PmdFrameFormat(frame_type=1, compressed=True), 0.5),
    "verity_mag_delta0": ("mag", PmdFrameFormat(frame_type=0, compressed=True), 50 / 32768),
    "mag_delta1_status": ("mag", PmdFrameFormat(frame_type=1, compressed=True), 1.1),
}
UNIT_SPAN = {"acc": 8 * GRAVITY, "gyro": 30.0, "mag": 150.0}


def codec_for(name: str, rate: int, per_frame: int) -> PmdCodec:
    measurement, fmt, factor = FORMATS[name]
    params = PmdParams(
        measurements=[measurement], **{f"{measurement}_format": fmt}, samples_per_frame=per_frame
    )
    values = {f"{measurement}_factor": factor, f"{measurement}_sample_rate_hz": rate}
    return PmdCodec(params, PmdSettings(**values))


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(sorted(FORMATS)),
    rate=st.sampled_from([25, 50, 100, 200]),
    per_frame=st.integers(1, 80),
    n=st.integers(1, 300),
    start=st.integers(1, 2**40),
    seed=st.integers(0, 2**32 - 1),
    smooth=st.booleans(),
)
def test_round_trip_is_exact(name, rate, per_frame, n, start, seed, smooth) -> None:
    measurement = FORMATS[name][0]
    rng = np.random.default_rng(seed)
    span = UNIT_SPAN[measurement] * (0.01 if name == "acc_raw8" else 0.99)
    if smooth:
        values = np.cumsum(rng.normal(scale=span / 200, size=(n, 3)), axis=0)
    else:
        values = rng.uniform(-span, span, size=(n, 3))
    period = 1_000_000_000 // rate
    t_ns = start + np.arange(n, dtype=np.int64) * period
    extra = {MAG_STATUS_KEY: rng.integers(0, 4, n).astype(np.int8)} if "status" in name else {}
    block = SampleBlock(t_ns=t_ns, extra=extra, **{measurement: values})

    sender = codec_for(name, rate, per_frame)
    notifications = sender.encode(block)
    assert len(notifications) == -(-n // per_frame)
    decoded = SampleBlock.concat(
        codec_for(name, rate, per_frame).decode(batch([x.data for x in notifications])).blocks
    )
    # Times: exactly the originals (integer periods, below 2**53 so float64 is exact).
    assert np.array_equal(decoded.t_ns, t_ns)
    # Values: the sensor's resolution, then a second trip changes nothing, bytes included.
    got = getattr(decoded, measurement)
    _, fmt, factor = FORMATS[name]
    layout = frame_layout(MEASUREMENT_TYPES[measurement], fmt.frame_type, fmt.compressed)
    if layout.float32:
        np.testing.assert_allclose(got, values, rtol=1.2e-7, atol=0)
    else:
        lsb = layout.unit_scale * (np.float32(factor) if layout.uses_factor else 1.0)
        assert np.max(np.abs(got - values)) <= lsb / 2 * (1 + 1e-9)
    again = sender.encode(decoded)
    assert [x.data for x in again] == [x.data for x in notifications]
    redecoded = codec_for(name, rate, per_frame).decode(batch([x.data for x in again]))
    assert np.array_equal(getattr(SampleBlock.concat(redecoded.blocks), measurement), got)
    if extra:
        assert np.array_equal(decoded.extra[MAG_STATUS_KEY], extra[MAG_STATUS_KEY])


def test_verity_stream_interleaves_measurements_in_time() -> None:
    same_rate = PmdSettings(**VERITY_SETTINGS, mag_sample_rate_hz=52)  # one 52 Hz timeline
    codec = PmdCodec(VERITY, same_rate)
    n = 200
    t_ns = 10**15 + np.arange(n, dtype=np.int64) * 19_230_769
    rng = np.random.default_rng(3)
    block = SampleBlock(
        t_ns=t_ns,
        acc=rng.normal(scale=5, size=(n, 3)),
        gyro=rng.normal(scale=1, size=(n, 3)),
        mag=rng.normal(scale=40, size=(n, 3)),
    )
    notifications = codec.encode(block)
    assert [n.host_t_ns for n in notifications] == sorted(n.host_t_ns for n in notifications)
    result = PmdCodec(VERITY, same_rate.model_copy()).decode(batch([x.data for x in notifications]))
    assert sorted(b.channels for b in result.blocks) == [("acc",), ("gyro",), ("mag",)]
    for decoded in result.blocks:
        (channel,) = decoded.channels
        # Later frames: interpolated between frame times (SDK), within rounding of the grid.
        # The first frame is timed from the nominal 1e9/52 ns, 0.23 ns per sample off the grid.
        assert np.max(np.abs(decoded.t_ns - t_ns)[57:]) <= 1
        assert np.max(np.abs(decoded.t_ns - t_ns)[:57]) <= 57 * 0.25
        lsb = {"acc": 8 / 32768 * GRAVITY, "gyro": 2000 / 32768 * np.pi / 180, "mag": 50 / 327.68}
        assert np.max(np.abs(getattr(decoded, channel) - getattr(block, channel))) <= lsb[
            channel
        ] / 2 * (1 + 1e-9)


def test_encode_sets_characteristic_and_frame_times() -> None:
    codec = PmdCodec(PmdParams(samples_per_frame=10), PmdSettings())
    t_ns = np.arange(25, dtype=np.int64) * 5_000_000 + 10**9
    notifications = codec.encode(SampleBlock(t_ns=t_ns, acc=np.zeros((25, 3))))
    assert all(isinstance(n, Notification) for n in notifications)
    assert [n.host_t_ns for n in notifications] == [int(t_ns[9]), int(t_ns[19]), int(t_ns[24])]
    assert [len(n.data) for n in notifications] == [70, 70, 40]


@settings(max_examples=30, deadline=None)
@given(cuts=st.lists(st.integers(0, 60), max_size=8), seed=st.integers(0, 2**32 - 1))
def test_any_batching_of_a_recording_decodes_the_same(cuts, seed) -> None:
    """Replay determinism: the same notifications split into batches differently."""
    rng = np.random.default_rng(seed)
    n = 400
    block = SampleBlock(
        t_ns=6 * 10**17 + np.arange(n, dtype=np.int64) * 19_230_769,
        acc=rng.normal(scale=5, size=(n, 3)),
        gyro=rng.normal(scale=1, size=(n, 3)),
        mag=rng.normal(scale=40, size=(n, 3)),
    )
    sender = PmdCodec(VERITY, PmdSettings(**VERITY_SETTINGS))
    stream = [*sender.session_preamble(), *sender.encode(block)]
    bounds = sorted({0, len(stream), *(c % (len(stream) + 1) for c in cuts)})

    def decode_in(pieces: list[list[Notification]]) -> dict[str, SampleBlock]:
        codec = PmdCodec(VERITY, PmdSettings())
        blocks: dict[str, list[SampleBlock]] = {}
        for piece in pieces:
            # runs of one characteristic, as the profile decoder batches them
            for characteristic, run in itertools.groupby(piece, key=lambda x: x.characteristic):
                payloads = [x.data for x in run]
                for decoded in codec.decode(batch(payloads, characteristic)).blocks:
                    blocks.setdefault(decoded.channels[0], []).append(decoded)
        return {name: SampleBlock.concat(parts) for name, parts in blocks.items()}

    whole = decode_in([stream[:3], stream[3:]])
    split = decode_in([stream[a:b] for a, b in itertools.pairwise(bounds) if b > a])
    assert whole.keys() == split.keys() == {"acc", "gyro", "mag"}
    for name in whole:
        np.testing.assert_array_equal(whole[name].t_ns, split[name].t_ns)
        np.testing.assert_array_equal(getattr(whole[name], name), getattr(split[name], name))


def test_encode_refuses_times_before_the_sensor_epoch() -> None:
    with pytest.raises(ValueError, match="2000-01-01"):
        PmdCodec(PmdParams(), PmdSettings()).encode(SampleBlock(t_ns=[-5, 0], acc=np.zeros((2, 3))))
