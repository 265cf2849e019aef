"""ProfileDecoder: routing, axis mapping, host clock with gaps, battery, encode inverse."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from monitor.core import EventKind, Notification, NotificationBatch, SampleBlock
from monitor.profiles.decoder import ProfileDecoder
from monitor.profiles.loader import bundled_profiles_dir, get_profile, parse_profile

THINGY_RAW = "ef680406-9b35-4933-9b10-52ffa9740042"


def thingy_with_axes(axes: str) -> ProfileDecoder:
    data = tomllib.loads((bundled_profiles_dir() / "nordic_thingy52.toml").read_text())
    data["streams"][0]["axes"] = axes
    return ProfileDecoder(parse_profile(data, "test"))


def steady_block(n: int, rate_hz: float, seed: int = 0) -> SampleBlock:
    rng = np.random.default_rng(seed)
    t = 2_000_000_000 + np.rint(np.arange(n) * 1e9 / rate_hz).astype(np.int64)
    return SampleBlock(
        t_ns=t,
        acc=rng.uniform(-20, 20, (n, 3)),
        gyro=rng.uniform(-5, 5, (n, 3)),
        mag=rng.uniform(-60, 60, (n, 3)),
    )


def test_axis_mapping_is_applied_on_decode_and_inverted_on_encode() -> None:
    plain = ProfileDecoder(get_profile("nordic_thingy52"))
    mapped = thingy_with_axes("x=-y, y=x, z=-z")
    block = steady_block(10, 50)
    notifications = plain.encode(block)
    ours = plain.decode_all(notifications).blocks[0]
    theirs = mapped.decode_all(notifications).blocks[0]
    for channel in ("acc", "gyro", "mag"):
        a, b = getattr(ours, channel), getattr(theirs, channel)
        np.testing.assert_array_equal(b, np.column_stack([-a[:, 1], a[:, 0], -a[:, 2]]))
    assert [n.data for n in mapped.encode(theirs)] == [n.data for n in notifications]


def test_host_clock_spreads_samples_and_reports_lost_notifications() -> None:
    decoder = ProfileDecoder(get_profile("nordic_thingy52"), {"rate_hz": 50})
    block = steady_block(300, 50)
    notifications = decoder.encode(block)
    del notifications[100:110]  # ten lost in the air
    result = decoder.decode_all(notifications)
    gaps = [e for e in result.events if e.kind == EventKind.GAP]
    assert len(gaps) == 1
    assert gaps[0].data["missing_samples"] == 10
    assert gaps[0].data["channels"] == ["acc", "gyro", "mag"]
    t = np.concatenate([b.t_ns for b in result.blocks])
    assert (np.diff(t) > 0).all()
    np.testing.assert_array_equal(t[-50:], block.t_ns[-50:])


def test_battery_notifications_become_events_and_unknown_ones_are_ignored() -> None:
    decoder = ProfileDecoder(get_profile("nordic_thingy52"))
    battery = decoder.feed(
        NotificationBatch.single("00002a19-0000-1000-8000-00805f9b34fb", b"\x57", 5)
    )
    assert battery.events[0].kind == EventKind.BATTERY
    assert battery.events[0].data == {"percent": 87}
    other = decoder.feed(
        NotificationBatch.single("00002a37-0000-1000-8000-00805f9b34fb", b"\x00", 5)
    )
    assert other.blocks == [] and other.events == [] and other.bad_packets == 0


def test_reset_starts_a_new_timeline_after_reconnect() -> None:
    decoder = ProfileDecoder(get_profile("nordic_thingy52"), {"rate_hz": 50})
    block = steady_block(40, 50)
    decoder.decode_all(decoder.encode(block))
    decoder.reset()
    later = SampleBlock(
        t_ns=block.t_ns + 600_000_000_000, acc=block.acc, gyro=block.gyro, mag=block.mag
    )
    result = decoder.decode_all(decoder.encode(later))
    np.testing.assert_array_equal(result.blocks[0].t_ns, later.t_ns)
    assert not [e for e in result.events if e.kind == EventKind.GAP]


def test_settings_and_sequences_follow_overrides() -> None:
    decoder = ProfileDecoder(get_profile("nordic_thingy52"), {"rate_hz": "100"})
    assert decoder.settings["rate_hz"] == 100.0
    assert decoder.rate_hz() == 100.0
    assert decoder.start_steps()[0].data == bytes.fromhex("e803f401f401640001")
    assert decoder.stop_steps()[0].action == "disable_notify"


@pytest.mark.parametrize("profile_id", ["metamotion_r", "witmotion_wt901ble", "nordic_thingy52"])
def test_any_batching_gives_the_same_samples_and_events(profile_id: str) -> None:
    rng = np.random.default_rng(3)
    encoder = ProfileDecoder(get_profile(profile_id))
    notifications = encoder.encode(steady_block(600, encoder.rate_hz()))
    jitter = np.maximum.accumulate(rng.integers(0, 30_000_000, len(notifications)))
    notifications = [
        Notification(n.characteristic, n.data, n.host_t_ns + int(j) + i)
        for i, (n, j) in enumerate(zip(notifications, jitter, strict=True))
    ]
    del notifications[200:230]  # a lost stretch

    def run(cuts: list[int]) -> tuple[dict[str, np.ndarray], list]:
        decoder = ProfileDecoder(get_profile(profile_id))
        results = [
            decoder.feed(
                NotificationBatch.from_payloads(
                    notifications[0].characteristic,
                    [n.data for n in notifications[a:b]],
                    [n.host_t_ns for n in notifications[a:b]],
                )
            )
            for a, b in zip([0, *cuts], [*cuts, len(notifications)], strict=True)
        ]
        blocks = [b for r in results for b in r.blocks]
        merged = {
            c: np.concatenate(
                [
                    np.column_stack([b.t_ns, getattr(b, c)])
                    for b in blocks
                    if getattr(b, c) is not None
                ]
            )
            for c in ("acc", "gyro")
        }
        return merged, [e.to_json() for r in results for e in r.events]

    whole, whole_events = run([])
    assert [e["kind"] for e in whole_events] == ["gap"] * len(whole_events) and whole_events
    for seed in range(3):
        cuts = sorted(
            np.random.default_rng(seed).choice(np.arange(1, len(notifications)), 15, replace=False)
        )
        parts, events = run([int(c) for c in cuts])
        for channel in whole:
            np.testing.assert_array_equal(parts[channel], whole[channel])
        assert events == whole_events
