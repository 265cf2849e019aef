"""Channel aligner: interpolation, gaps, stalls, and independence from block boundaries."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.core import EventKind, SampleBlock
from monitor.core.align import ChannelAligner

MS = 1_000_000


def ramp(t_ns: np.ndarray, slope: float, offset: float) -> np.ndarray:
    """A linear signal: interpolating it is exact, so expected values are known."""
    seconds = t_ns / 1e9
    return np.stack([slope * seconds + offset, -slope * seconds, np.full_like(seconds, offset)], 1)


def channel_blocks(name: str, t_ns: np.ndarray, cuts: list[int]) -> list[SampleBlock]:
    values = ramp(t_ns, {"acc": 1.0, "gyro": 2.0, "mag": 30.0}[name], 0.5)
    bounds = [0, *sorted(set(cuts)), t_ns.size]
    return [
        SampleBlock(t_ns=t_ns[a:b], **{name: values[a:b]}, stream="s")
        for a, b in itertools.pairwise(bounds)
        if b > a
    ]


def run(aligner: ChannelAligner, feeds: list[list[SampleBlock]]) -> tuple[SampleBlock, list]:
    out, events = [], []
    for feed in feeds:
        blocks, evs = aligner.feed(feed)
        out += blocks
        events += evs
    blocks, evs = aligner.flush()
    return SampleBlock.concat(out + blocks), events + evs


def test_interpolates_linear_signals_exactly_at_acc_times() -> None:
    acc_t = np.arange(0, 2000 * MS, 10 * MS, dtype=np.int64) + 1_000_000_000_000
    gyro_t = np.arange(-3 * MS, 2010 * MS, 20 * MS, dtype=np.int64) + 1_000_000_000_000
    aligner = ChannelAligner(["acc", "gyro"], stream="s")
    aligned, events = run(
        aligner, [channel_blocks("acc", acc_t, []), channel_blocks("gyro", gyro_t, [])]
    )
    assert aligned.channels == ("acc", "gyro")
    np.testing.assert_array_equal(aligned.t_ns, acc_t)
    np.testing.assert_array_equal(aligned.acc, ramp(acc_t, 1.0, 0.5))
    np.testing.assert_allclose(aligned.gyro, ramp(acc_t, 2.0, 0.5), rtol=0, atol=1e-9)
    assert events == [] and aligner.dropped_samples == 0


def test_blocks_with_every_channel_pass_through() -> None:
    t = np.arange(5, dtype=np.int64) * 10 * MS
    block = SampleBlock(t_ns=t, acc=ramp(t, 1, 0), gyro=ramp(t, 2, 0), stream="s")
    out, events = ChannelAligner(["acc", "gyro"], stream="s").feed([block])
    assert out == [block] and events == []


def test_a_gap_in_gyro_drops_the_acc_samples_inside_it_and_says_so() -> None:
    acc_t = np.arange(0, 1000 * MS, 10 * MS, dtype=np.int64)
    gyro_t = acc_t[(acc_t < 300 * MS) | (acc_t > 700 * MS)]
    aligner = ChannelAligner(["acc", "gyro"], stream="s")
    aligned, events = run(
        aligner, [channel_blocks("acc", acc_t, [50]), channel_blocks("gyro", gyro_t, [20])]
    )
    inside = (acc_t > 290 * MS) & (acc_t < 710 * MS)
    np.testing.assert_array_equal(aligned.t_ns, acc_t[~inside])
    assert [e.kind for e in events] == [EventKind.GAP]
    assert "gyro has a gap of 420 ms" in events[0].message
    assert aligner.dropped_samples == int(inside.sum())


def test_a_stalled_channel_is_reported_once_and_memory_stays_bounded() -> None:
    aligner = ChannelAligner(["acc", "gyro"], stream="s", max_pending_ns=1000 * MS)
    acc_t = np.arange(0, 60_000 * MS, 10 * MS, dtype=np.int64)
    gyro_t = acc_t[acc_t < 2000 * MS]
    out = []
    events = []
    acc_blocks = channel_blocks("acc", acc_t, list(range(10, acc_t.size, 10)))
    gyro_blocks = channel_blocks("gyro", gyro_t, list(range(10, gyro_t.size, 10)))
    for i, acc in enumerate(acc_blocks):
        blocks, evs = aligner.feed([acc, *gyro_blocks[i : i + 1]])
        out += blocks
        events += evs
        assert aligner._t.size <= 110  # pending acc samples: max_pending_ns worth, not more
    aligned = SampleBlock.concat(out)
    assert aligned.t_ns[-1] == 2000 * MS - 10 * MS
    assert [(e.kind, e.data["reason"]) for e in events] == [(EventKind.GAP, "stalled")]


def test_time_going_backwards_starts_a_new_timeline() -> None:
    aligner = ChannelAligner(["acc", "gyro"], stream="s")
    first = np.arange(0, 500 * MS, 10 * MS, dtype=np.int64)
    second = first + 7 * MS  # clock reset: starts again near zero
    feeds = [
        channel_blocks("acc", first, []),
        channel_blocks("gyro", first, []),
        channel_blocks("acc", second, []),
        channel_blocks("gyro", second, []),
    ]
    aligned, _ = run(aligner, feeds)
    np.testing.assert_array_equal(aligned.t_ns, np.concatenate((first, second)))
    np.testing.assert_allclose(aligned.gyro[-second.size :], ramp(second, 2, 0.5), atol=1e-9)


def test_rejects_unknown_channels() -> None:
    with pytest.raises(ValueError, match="channels must be among"):
        ChannelAligner(["acc", "temperature"])


@settings(max_examples=60, deadline=None)
@given(
    acc_period=st.integers(2, 25),
    gyro_period=st.integers(2, 25),
    mag_period=st.integers(10, 60),
    gyro_offset=st.integers(-30, 30),
    gap=st.tuples(st.integers(0, 1500), st.integers(0, 600)),
    window_ms=st.lists(st.integers(5, 400), min_size=1, max_size=20),
)
def test_output_does_not_depend_on_block_boundaries(
    acc_period, gyro_period, mag_period, gyro_offset, gap, window_ms
) -> None:
    duration = 3000 * MS
    acc_t = np.arange(0, duration, acc_period * MS, dtype=np.int64) + 17
    gyro_t = np.arange(gyro_offset * MS, duration, gyro_period * MS, dtype=np.int64)
    gyro_t = gyro_t[(gyro_t < gap[0] * MS) | (gyro_t > (gap[0] + gap[1]) * MS)]
    mag_t = np.arange(0, duration, mag_period * MS, dtype=np.int64) + 5
    channels = {"acc": acc_t, "gyro": gyro_t, "mag": mag_t}

    whole, whole_events = run(
        ChannelAligner(["acc", "gyro", "mag"], stream="s"),
        [[b for name, t in channels.items() for b in channel_blocks(name, t, [])]],
    )

    # windows of host time, each channel's samples of a window arriving in one block
    edges = np.cumsum([w * MS for w in window_ms * (duration // (MS * sum(window_ms)) + 1)])
    per_channel = {
        name: channel_blocks(name, t, np.searchsorted(t, edges).tolist())
        for name, t in channels.items()
    }
    feeds: list[list[SampleBlock]] = []
    for window in range(edges.size + 1):
        start = edges[window - 1] if window else -(10**12)
        stop = edges[window] if window < edges.size else 10**18
        feeds.append(
            [
                b
                for name in ("mag", "gyro", "acc")
                for b in per_channel[name]
                if start <= b.t_ns[0] < stop
            ]
        )
    chunked, chunked_events = run(ChannelAligner(["acc", "gyro", "mag"], stream="s"), feeds)

    for name in ("t_ns", "acc", "gyro", "mag"):
        np.testing.assert_array_equal(getattr(chunked, name), getattr(whole, name))
    assert [e.to_json() for e in chunked_events] == [e.to_json() for e in whole_events]
