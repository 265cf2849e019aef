"""Long sessions keep bounded buffers: the soak (benchmarks/soak.py) in small.

Two virtual sensors at 200 Hz through the live path (record, decode, align, the TUI's live feed,
analysis) for 10 simulated minutes, faster than real time. The long-lived structures are
measured at 5 and at 10 minutes: none may grow with the session's length (only the reps and
warnings the summary lists do). Structure sizes, not RSS or timing: those are the benchmark's.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import numpy as np
import pytest

from monitor.core import Event, EventKind, SampleBlock
from monitor.session.summary import data_gaps
from monitor.tui import pipeline_feed
from tests.unit.feed_support import scripted_feed

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from soak import Soak

MINUTES = 10
HALF_S = MINUTES * 60 / 2


@pytest.fixture(scope="module")
def soaked(tmp_path_factory: pytest.TempPathFactory) -> Soak:
    record = tmp_path_factory.mktemp("soak") / "soak.mrec"
    soak = Soak(MINUTES, record, trace_heap=False, checkpoints_s=(HALF_S,))
    asyncio.run(soak.run())
    return soak


def test_the_feed_keeps_bounded_buffers(soaked: Soak) -> None:
    half, end = soaked.sizes["5 min"], soaked.sizes["end"]
    # Recent events only (gap reasons are resolved as gaps are found); all of them, link-quality
    # reports and packet-loss gaps, were about 270 by now.
    assert half["feed.events"] <= end["feed.events"] == pipeline_feed.EVENTS_KEPT
    assert end["feed.recent_times"] == pipeline_feed.GAP_CONTEXT_SAMPLES
    # The summary's angle trace: one point per 0.1 s would be 6000 by now.
    assert half["feed.trace_points"] <= end["feed.trace_points"] <= pipeline_feed.TRACE_POINTS_KEPT
    assert end["feed.rate_window"] <= half["feed.rate_window"] + 2
    assert end["screen.warnings"] <= 50


def test_the_live_path_keeps_bounded_buffers(soaked: Soak) -> None:
    end = soaked.sizes["end"]
    rate_hz = 200
    for sensor in ("back", "thigh"):  # the aligner holds at most its 5 s of pending samples
        assert end[f"{sensor}.aligner_pending"] <= 5 * rate_hz
    for label in ("5 min", "end"):  # written out at least once per chunk
        assert soaked.sizes[label]["recorder.buffered"] <= 16384


def test_a_long_session_still_summarises_whole(soaked: Soak) -> None:
    shown, simulated = soaked.reps()
    assert simulated > 40
    assert abs(shown - simulated) <= 1
    summary = soaked.feed.summary()
    trace = summary.trace
    assert trace is not None and 1000 <= len(trace.t_s) <= 1500
    assert trace.t_s[0] < 5 and trace.t_s[-1] > MINUTES * 60 - 5  # the whole session
    assert summary.gaps == ()  # the simulated link lost single packets, no data gap


def _block(t_ns: np.ndarray) -> SampleBlock:
    still = np.tile([0.0, 0.0, 9.81], (len(t_ns), 1))
    return SampleBlock(t_ns=t_ns, acc=still, gyro=np.zeros((len(t_ns), 3)), stream="back")


@pytest.mark.parametrize("seed", [1, 2])
def test_gaps_found_as_samples_arrive_are_the_whole_session_gaps(seed: int) -> None:
    """The feed keeps no sample times; its gaps equal those of the whole array, whatever the
    block sizes, with the reasons the data path logged before the data resumed."""
    rng = np.random.default_rng(seed)
    period = 5_000_000
    steps = np.full(6000, period)
    holes = rng.choice(np.arange(1, 6000), 6, replace=False)
    steps[holes] = rng.integers(110, 900, 6) * period  # 0.55 to 4.5 s without samples
    steps[rng.choice(np.arange(1, 6000), 20)] = 40 * period  # 0.2 s: packet loss, not a gap
    t_ns = 1_000_000_000 + np.cumsum(steps)
    reason_at = int(t_ns[holes[0] - 1]) + 1000
    reason = Event(reason_at, EventKind.DISCONNECT, "link lost", "back")
    cuts = np.sort(rng.choice(np.arange(1, 6000), 400, replace=False))
    pieces = np.split(t_ns, cuts)
    resumed = next(i for i, p in enumerate(pieces) if p[-1] >= t_ns[holes[0]])
    items: list = [_block(p) for p in pieces]
    items.insert(resumed, reason)  # as live: the link's event comes before the data after it

    feed = scripted_feed(items, rate_hz=200.0, title="gaps", source="replay")

    async def drain() -> None:
        async for _ in feed.updates():
            pass

    asyncio.run(drain())
    expected = data_gaps(t_ns, [reason])
    assert len(expected) == 6
    assert feed.summary().gaps == tuple(expected)
    assert any(gap.reason == "link lost" for gap in expected)
