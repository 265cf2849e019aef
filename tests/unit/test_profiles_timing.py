"""The host-arrival clock: steady sample times from jittery, bursty BLE arrivals."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.profiles.timing import HostClock

PERIOD = 10_000_000  # 100 Hz


def arrivals(n_notifications: int, per: int, latency: np.ndarray | None = None) -> np.ndarray:
    """Per-sample arrival times of notifications carrying `per` samples each, sent at 100 Hz."""
    last_sample = 5_000_000_000 + (np.arange(n_notifications) * per + per - 1) * PERIOD
    if latency is not None:
        # BLE keeps notification order; distinct notifications get distinct arrival times.
        last_sample = last_sample + latency
        last_sample = np.maximum.accumulate(last_sample - np.arange(n_notifications))
        last_sample += np.arange(n_notifications)
    return np.repeat(last_sample, per)


def true_times(n_samples: int) -> np.ndarray:
    return 5_000_000_000 + np.arange(n_samples) * PERIOD


def test_steady_arrivals_are_kept_exactly() -> None:
    t, gaps = HostClock(100.0).stamp(arrivals(50, 1))
    np.testing.assert_array_equal(t, arrivals(50, 1))
    assert gaps == []


def test_bursts_are_spread_back_from_their_arrival_at_the_rate() -> None:
    t, gaps = HostClock(100.0).stamp(arrivals(20, 3))
    np.testing.assert_array_equal(np.diff(t), np.full(59, PERIOD))
    assert t[2] == arrivals(20, 3)[2]
    assert gaps == []


def test_jitter_does_not_move_the_clock_or_make_gaps() -> None:
    rng = np.random.default_rng(7)
    latency = rng.uniform(0, 9e6, size=600).astype(np.int64)
    latency[::8] = 0  # some notifications get through at once
    t, gaps = HostClock(100.0).stamp(arrivals(600, 1, latency))
    assert gaps == []
    np.testing.assert_array_equal(t, true_times(600))


@pytest.mark.parametrize("seed", [8, 9, 10])
def test_large_jitter_keeps_a_steady_spacing(seed: int) -> None:
    rng = np.random.default_rng(seed)
    latency = rng.uniform(0, 60e6, size=2000).astype(np.int64)
    t, gaps = HostClock(100.0).stamp(arrivals(2000, 1, latency))
    assert gaps == []
    assert (np.diff(t) > 0).all()
    assert np.abs(t - true_times(2000)).max() < 60e6
    # Spacing is the sample period, not the arrival jitter.
    assert np.mean(np.diff(t) == PERIOD) > 0.8


def test_dropped_notifications_are_reported_not_bridged() -> None:
    a = arrivals(200, 3)
    kept = np.ones(200 * 3, dtype=bool)
    kept[300:330] = False  # ten notifications of three samples lost
    t, gaps = HostClock(100.0).stamp(a[kept])
    assert len(gaps) == 1
    assert gaps[0].missing_samples == 30
    # After the gap has been detected, times are back on the true timeline.
    np.testing.assert_array_equal(t[-100:], true_times(600)[kept][-100:])
    assert (np.diff(t) > 0).all()


def test_early_arrivals_pull_the_clock_back_and_it_never_runs_backwards() -> None:
    # The first notification was delayed by 80 ms: later ones show the clock was late.
    latency = np.zeros(100, dtype=np.int64)
    latency[0] = 80_000_000
    a = arrivals(100, 1, latency)
    t, gaps = HostClock(100.0).stamp(a)
    assert gaps == []
    assert (np.diff(t) >= 0).all()
    np.testing.assert_array_equal(t[9:], true_times(100)[9:])  # 1..8 queued behind 0


def test_time_never_runs_backwards_even_if_arrivals_do() -> None:
    a = arrivals(100, 2)
    a[100:110] -= 50_000_000  # a host clock glitch
    t, _ = HostClock(100.0).stamp(a)
    assert (np.diff(t) >= 0).all()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_result_does_not_depend_on_batching(seed: int) -> None:
    rng = np.random.default_rng(seed)
    latency = rng.uniform(0, 30e6, size=400).astype(np.int64)
    a = arrivals(400, 2, latency)
    keep = np.ones(a.size, dtype=bool)
    keep[200:260] = False
    a = a[keep]
    whole, whole_gaps = HostClock(100.0).stamp(a)
    clock = HostClock(100.0)
    cuts = np.sort(rng.choice(np.arange(2, a.size, 2), size=12, replace=False))
    parts, gaps = [], []
    for start, stop in zip([0, *cuts], [*cuts, a.size], strict=True):
        t, g = clock.stamp(a[start:stop])
        parts.append(t)
        gaps += [(gap.index + start, gap.missing_samples) for gap in g]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    assert gaps == [(g.index, g.missing_samples) for g in whole_gaps]


def test_reset_starts_a_new_timeline() -> None:
    clock = HostClock(100.0)
    clock.stamp(arrivals(10, 1))
    later = arrivals(10, 1) + 60_000_000_000
    t, gaps = (clock.reset(), clock.stamp(later))[1]
    np.testing.assert_array_equal(t, later)
    assert gaps == []


def test_connection_event_batching_is_undone() -> None:
    # 100 Hz samples queued and delivered at 45 ms connection events, plus scheduler jitter.
    rng = np.random.default_rng(4)
    made = true_times(3000)
    event = 45_000_000
    arrival = (made // event + 1) * event + rng.integers(0, 3_000_000, 3000)
    arrival = np.maximum.accumulate(arrival)
    t, gaps = HostClock(100.0).stamp(arrival)
    assert gaps == []
    assert np.mean(np.diff(t) == PERIOD) > 0.95
    assert np.abs(t - made).max() < event


@pytest.mark.parametrize(
    ("actual_period", "max_error"),
    # Within a few % of the nominal rate the clock stays within a few samples of the truth;
    # far off it, times trail by up to `window` notifications' worth of the rate error.
    [(9_800_000, 30_000_000), (10_200_000, 30_000_000), (11_500_000, 150_000_000)],
)
def test_a_sensor_off_its_nominal_rate_is_followed_without_false_gaps(
    actual_period: int, max_error: int
) -> None:
    made = 5_000_000_000 + np.arange(3000) * actual_period
    t, gaps = HostClock(100.0).stamp(np.repeat(made[2::3], 3))  # packed: 3 per notification
    assert gaps == []
    assert (np.diff(t) > 0).all()
    assert np.abs(t - made).max() < max_error
