"""The screen's feed with two sensors: only the counted sensor's link sets the status line."""

from __future__ import annotations

import asyncio

import numpy as np

from monitor.core import Event, EventKind, SampleBlock
from monitor.tui.feed import LinkState
from tests.unit.feed_support import scripted_feed


def _still(stream: str, start_s: float, seconds: float = 1.0) -> SampleBlock:
    t_ns = np.round((start_s + np.arange(0, seconds, 0.01)) * 1e9).astype(np.int64)
    n = len(t_ns)
    acc = np.tile([0.0, 0.0, 9.81], (n, 1))
    return SampleBlock(t_ns=t_ns, acc=acc, gyro=np.zeros((n, 3)), stream=stream)


def _states(items: list) -> list[LinkState]:
    feed = scripted_feed(items, rate_hz=100.0, title="two sensors", source="live")

    async def drain() -> list[LinkState]:
        return [update.status.state async for update in feed.updates() if update.status]

    return asyncio.run(drain())


def test_the_second_sensor_lost_for_good_leaves_the_status_streaming() -> None:
    lost = Event(
        2_000_000_000, EventKind.DISCONNECT, "thigh: link ended", "thigh", {"gave_up": True}
    )
    states = _states([_still("back", 1.0), _still("thigh", 1.0), lost, _still("back", 2.0)])
    assert LinkState.RECONNECTING not in states


def test_the_counted_sensor_lost_shows_reconnecting_until_it_is_back() -> None:
    lost = Event(2_000_000_000, EventKind.DISCONNECT, "back: link lost", "back")
    back = Event(3_000_000_000, EventKind.RECONNECT, "back: reconnected", "back")
    states = _states([_still("back", 1.0), lost, back, _still("back", 3.0)])
    after_loss = states[states.index(LinkState.RECONNECTING) :]
    assert LinkState.STREAMING in after_loss and after_loss[-1] is LinkState.ENDED
