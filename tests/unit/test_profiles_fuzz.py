"""Arbitrary bytes on any characteristic of any bundled stream never raise."""

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
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_garbage_is_counted_never_raised(profile_id: str, stream: str, data: st.DataObject) -> None:
    profile = load_profiles(include_user=False)[profile_id]
    decoder = ProfileDecoder(profile, stream=stream)
    characteristics = decoder.stream.characteristics
    for _ in range(3):
        characteristic = data.draw(st.sampled_from(characteristics))
        payloads = data.draw(st.lists(st.binary(max_size=60), min_size=1, max_size=6))
        times = np.cumsum(data.draw(st.lists(st.integers(0, 10**8), min_size=6, max_size=6)))
        result = decoder.feed(
            NotificationBatch.from_payloads(characteristic, payloads, times[: len(payloads)])
        )
        bad_events = [e for e in result.events if e.kind == EventKind.BAD_PACKET]
        assert len(bad_events) == result.bad_packets
        for block in result.blocks:
            for channel in block.channels:
                assert getattr(block, channel).shape == (len(block), 3)
            assert (np.diff(block.t_ns) >= 0).all() or not decoder.host_clock
