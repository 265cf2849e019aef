"""Every bundled profile: encode -> decode is exact on the codec's quantisation grid.

For each stream, random motion is encoded into the notifications the firmware would send
(session preamble first, as a recording holds it), decoded through the ProfileDecoder, and the
decoded values encoded again: the bytes must be identical and decode to identical samples.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.core import GRAVITY, SampleBlock
from monitor.profiles.decoder import ProfileDecoder
from monitor.profiles.loader import load_profiles

STREAMS = [
    (profile.id, stream.name)
    for profile in load_profiles(include_user=False).values()
    for stream in profile.streams
]
CHANNELS = ("acc", "gyro", "mag")


def motion(n: int, rate_hz: float, seed: int) -> SampleBlock:
    rng = np.random.default_rng(seed)
    t = 1_000_000_000_000 + np.rint(np.arange(n) * 1e9 / rate_hz).astype(np.int64)
    return SampleBlock(
        t_ns=t,
        acc=rng.uniform(-7.5, 7.5, (n, 3)) * GRAVITY,
        gyro=np.deg2rad(rng.uniform(-1000, 1000, (n, 3))),
        mag=rng.uniform(-60, 60, (n, 3)),
    )


def decode(
    decoder: ProfileDecoder, notifications: list
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    decoder.reset()
    result = decoder.decode_all([*decoder.session_preamble(), *notifications])
    assert result.bad_packets == 0
    out = {}
    for channel in CHANNELS:
        blocks = [b for b in result.blocks if getattr(b, channel) is not None]
        if blocks:
            out[channel] = (
                np.concatenate([b.t_ns for b in blocks]),
                np.concatenate([getattr(b, channel) for b in blocks]),
            )
    return out


@pytest.mark.parametrize(("profile_id", "stream"), STREAMS)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 80), seed=st.integers(0, 2**32 - 1))
def test_round_trip_is_exact(profile_id: str, stream: str, n: int, seed: int) -> None:
    profile = load_profiles(include_user=False)[profile_id]
    decoder = ProfileDecoder(profile, stream=stream)
    block = motion(n, decoder.rate_hz(), seed)
    notifications = decoder.encode(block)
    first = decode(decoder, notifications)
    assert first, "nothing decoded"
    # Host clocks rebuild steady times to the ns; sensor clocks tick in ns (PMD) or ms (GSP).
    time_tolerance = 1 if decoder.host_clock else 1_000_000
    for channel, (t_ns, values) in first.items():
        assert values.shape == (n, 3)
        # Quantisation only: int16 over the largest range is ~5e-3 of a unit or better.
        np.testing.assert_allclose(values, getattr(block, channel), rtol=0, atol=0.06)
        np.testing.assert_allclose(t_ns, block.t_ns, rtol=0, atol=time_tolerance)
    rebuilt = SampleBlock(t_ns=block.t_ns, **{c: v for c, (_, v) in first.items()})
    again = decoder.encode(rebuilt)
    assert [x.data for x in again] == [x.data for x in notifications]
    second = decode(decoder, again)
    for channel, (t_ns, values) in first.items():
        np.testing.assert_array_equal(second[channel][1], values)
        np.testing.assert_array_equal(second[channel][0], t_ns)
