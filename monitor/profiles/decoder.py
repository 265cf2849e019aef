"""ProfileDecoder: notifications of one sensor stream -> calibrated sample blocks, and back.

The one decode path shared by live BLE, replay and the simulator: it routes each batch to the
stream's codec by characteristic, applies the profile's axis mapping, and for sensors without a
clock turns arrival times into a steady per-sample clock (`timing.HostClock`), reporting gaps.
`encode` is its exact inverse for the simulator and the fake BLE peripheral.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from monitor.core import Event, EventKind, Notification, NotificationBatch, SampleBlock
from monitor.profiles.codecs import CODECS, Codec, DecodeResult
from monitor.profiles.codecs.common import bad_packet_events
from monitor.profiles.loader import codec_params, codec_settings
from monitor.profiles.model import CHANNELS, AxisMapping, Profile, ResolvedStep
from monitor.profiles.timing import HostClock


class ProfileDecoder:
    """Decodes (and encodes) one stream of one profile under given settings."""

    def __init__(
        self,
        profile: Profile,
        settings: Mapping[str, Any] | None = None,
        stream: str | None = None,
    ) -> None:
        self.profile = profile
        self.stream = profile.stream(stream)
        source = f"profile {profile.id!r}"
        where = f"stream {self.stream.name!r}"
        self.codec: Codec = CODECS[self.stream.codec](
            codec_params(self.stream, source, where),
            codec_settings(self.stream, settings, source, where),
            stream=self.stream.name,
        )
        self._axes: AxisMapping = self.stream.axis_mapping
        self._characteristics = frozenset(self.stream.characteristics)
        self._clocks: dict[tuple[str, ...], HostClock] = {}

    # ------------------------------------------------------------------ settings and sequences

    @property
    def settings(self) -> dict[str, Any]:
        """Current codec settings (they change when e.g. a start response brings FACTOR)."""
        return self.codec.settings.model_dump(mode="json")

    @property
    def host_clock(self) -> bool:
        return self.stream.timestamp == "host"

    def rate_hz(self, channel: str | None = None) -> float:
        """Nominal output rate of the stream, or of `channel` where it has its own."""
        name = self.stream.channel_rate_settings.get(channel, self.stream.rate_setting)  # type: ignore[arg-type]
        return float(getattr(self.codec.settings, name))

    def start_steps(self) -> list[ResolvedStep]:
        """The start sequence with the current settings rendered into bytes."""
        return self.profile.resolve_steps(self.stream.start, self.settings, self.stream.codes)

    def stop_steps(self) -> list[ResolvedStep]:
        return self.profile.resolve_steps(self.stream.stop, self.settings, self.stream.codes)

    def session_preamble(self) -> list[Notification]:
        """Responses to the start sequence that decoding depends on (e.g. Polar FACTOR)."""
        return self.codec.session_preamble()

    def reset(self) -> None:
        """Forget per-connection state: after a reconnect the clocks and codec start afresh."""
        self.codec.reset()
        for clock in self._clocks.values():
            clock.reset()

    # ------------------------------------------------------------------ decoding

    def feed(self, batch: NotificationBatch) -> DecodeResult:
        """Decode a batch of notifications of one characteristic (never raises on bad bytes)."""
        characteristic = batch.characteristic.lower()
        if characteristic == self.profile.gatt.battery:
            return self._battery(batch)
        if characteristic not in self._characteristics or len(batch) == 0:
            return DecodeResult()
        decoded = self.codec.decode(batch)
        result = DecodeResult(events=list(decoded.events), bad_packets=decoded.bad_packets)
        for block in decoded.blocks:
            block = self._map_axes(block)
            if self.host_clock and len(block) and block.channels:
                block = self._restamp(block, result)
            result.blocks.append(block)
        return result

    def feed_notification(self, notification: Notification) -> DecodeResult:
        return self.feed(
            NotificationBatch.single(
                notification.characteristic, notification.data, notification.host_t_ns
            )
        )

    def decode_all(self, notifications: Iterable[Notification]) -> DecodeResult:
        """Decode notifications in arrival order, batching runs of the same characteristic."""
        result = DecodeResult()
        run: list[Notification] = []
        for notification in [*notifications, None]:
            if run and (
                notification is None or notification.characteristic != run[0].characteristic
            ):
                result.extend(
                    self.feed(
                        NotificationBatch.from_payloads(
                            run[0].characteristic,
                            [n.data for n in run],
                            [n.host_t_ns for n in run],
                        )
                    )
                )
                run = []
            if notification is not None:
                run.append(notification)
        return result

    def _map_axes(self, block: SampleBlock) -> SampleBlock:
        if self._axes.is_identity:
            return block
        mapped = {c: self._axes.apply(getattr(block, c)) for c in block.channels}
        return SampleBlock(t_ns=block.t_ns, stream=block.stream, extra=block.extra, **mapped)

    def _restamp(self, block: SampleBlock, result: DecodeResult) -> SampleBlock:
        key = block.channels
        clock = self._clocks.get(key)
        if clock is None:
            config = self.stream.clock
            rate = self.rate_hz(key[0] if len(key) == 1 else None)
            clock = self._clocks[key] = HostClock(rate, config.window, config.gap_tolerance_ms)
        t_ns, gaps = clock.stamp(block.t_ns)
        for gap in gaps:
            result.events.append(
                Event(
                    t_ns=gap.t_ns,
                    kind=EventKind.GAP,
                    message=f"about {gap.missing_samples} {'+'.join(key)} samples missing "
                    f"({gap.duration_ns / 1e6:.0f} ms, from arrival times)",
                    stream=self.stream.name,
                    data={
                        "missing_samples": gap.missing_samples,
                        "duration_ns": gap.duration_ns,
                        "channels": list(key),
                        "source": "host_clock",
                    },
                )
            )
        channels = {c: getattr(block, c) for c in CHANNELS}
        return SampleBlock(t_ns=t_ns, stream=block.stream, extra=block.extra, **channels)

    def _battery(self, batch: NotificationBatch) -> DecodeResult:
        """Battery Level: one byte, 0-100 % (Bluetooth SIG Battery Service 1.0, 3.1)."""
        level = np.frombuffer(batch.data + b"\0", np.uint8)[batch.offsets[:-1]]
        valid = (batch.lengths == 1) & (level <= 100)
        bad_rows = np.flatnonzero(~valid)
        reason = "battery level that is not one byte of 0-100 %"
        result = DecodeResult(
            events=bad_packet_events(batch, bad_rows, self.stream.name, reason),
            bad_packets=int(bad_rows.size),
        )
        result.events += [
            Event(
                t_ns=int(batch.host_t_ns[i]),
                kind=EventKind.BATTERY,
                message=f"battery {level[i]} %",
                stream=self.stream.name,
                data={"percent": int(level[i])},
            )
            for i in np.flatnonzero(valid)
        ]
        return result

    # ------------------------------------------------------------------ encoding

    def encode(self, block: SampleBlock) -> list[Notification]:
        """The notifications the firmware would send for `block` (given in output axes)."""
        if not self._axes.is_identity:
            sensor_axes = {c: self._axes.invert(getattr(block, c)) for c in block.channels}
            block = SampleBlock(
                t_ns=block.t_ns, stream=block.stream, extra=block.extra, **sensor_axes
            )
        return self.codec.encode(block)
