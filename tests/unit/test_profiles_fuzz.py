"""Arbitrary bytes on any characteristic of any bundled stream never raise, never give NaN.

Hypothesis-made byte strings (edge lengths, repeated and boundary bytes) complement the
spoiled-stream cases of test_fuzz_codecs.py: every bad packet has its event, samples are
finite with shape (n, 3), and host-clock times never go backwards across calls.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.core import EventKind, NotificationBatch
from monitor.profiles.decoder import ProfileDecoder
from monitor.profiles.loader import load_profiles

STREAMS = [
    (profile.id, stream.name)
    for profile in load_profiles(include_user=False).values()
    for stream in profile.streams
]


@pytest.mark.parametrize(("profile_id", "stream"), STREAMS)
@settings(
    max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(data=st.data())
def test_garbage_is_counted_never_raised(profile_id: str, stream: str, data: st.DataObject) -> None:
    profile = load_profiles(include_user=False)[profile_id]
    decoder = ProfileDecoder(profile, stream=stream)
    characteristics = [*decoder.stream.characteristics, *filter(None, [profile.gatt.battery])]
    last_t: dict[str, int] = {}
    arrival = 0
    for _ in range(3):
        characteristic = data.draw(st.sampled_from(characteristics))
        payloads = data.draw(st.lists(st.binary(max_size=60), min_size=1, max_size=6))
        steps = data.draw(st.lists(st.integers(0, 10**8), min_size=6, max_size=6))
        times = arrival + np.cumsum(steps)[: len(payloads)]
        arrival = int(times[-1])
        result = decoder.feed(NotificationBatch.from_payloads(characteristic, payloads, times))
        bad_events = [e for e in result.events if e.kind == EventKind.BAD_PACKET]
        assert len(bad_events) == result.bad_packets
        for block in result.blocks:
            for channel in block.channels:
                values = getattr(block, channel)
                assert values.shape == (len(block), 3)
                assert np.isfinite(values).all()
                if decoder.host_clock and len(block):
                    assert np.all(np.diff(block.t_ns) >= 0)
                    assert block.t_ns[0] >= last_t.get(channel, block.t_ns[0])
                    last_t[channel] = int(block.t_ns[-1])
