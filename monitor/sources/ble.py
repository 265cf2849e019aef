"""Bluetooth LE transport: scan, connect, configure, stream and survive disconnects.

The only module that imports bleak. A `SensorLink` owns one sensor: it connects with
bleak-retry-connector, reads device information and battery, runs the profile stream's start
sequence (checking control-point responses), and hands every notification, stamped with the
host clock (`host_now_ns`), to a queue together with link events (connect, disconnect,
reconnect, gap, battery).
Decoding and everything after it happen in the consumer (monitor.sources.live), never in the
bleak callback. On exit, Ctrl-C included, the stop sequence runs before disconnecting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError
from bleak_retry_connector import establish_connection

from monitor.core import Event, EventKind, Notification
from monitor.errors import MonitorError
from monitor.profiles.model import Profile, ResolvedExpect, ResolvedStep, Stream

log = logging.getLogger(__name__)

ADDRESS = re.compile(r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$")
BATTERY_LEVEL = "00002a19-0000-1000-8000-00805f9b34fb"
STOP_STEP_TIMEOUT_S = 2.0
LinkItem = Notification | Event
# The wall clock read once, advanced by the monotonic clock: stamps that are Unix times yet
# never jump when the system clock is set (NTP step, time zone fix, user change) mid-session.
_WALL_MINUS_MONOTONIC_NS = time.time_ns() - time.monotonic_ns()


def host_now_ns() -> int:
    """Unix time in ns for stamping arrivals and link events; steady through clock changes."""
    return _WALL_MINUS_MONOTONIC_NS + time.monotonic_ns()


# --------------------------------------------------------------------------- scanning


@dataclass(frozen=True, slots=True)
class Found:
    """One advertising device and the profiles that match it, best first."""

    name: str
    address: str
    rssi: int
    service_uuids: tuple[str, ...]
    profiles: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "address": self.address,
            "rssi": self.rssi,
            "service_uuids": list(self.service_uuids),
            "profiles": list(self.profiles),
        }


def matching_profiles(
    profiles: Sequence[Profile], name: str | None, service_uuids: Sequence[str]
) -> list[Profile]:
    """Profiles recognising an advertisement, best score first (name beats service UUID)."""
    scored = [(p.match_score(name, list(service_uuids)), p) for p in profiles]
    return [p for score, p in sorted(scored, key=lambda s: -s[0]) if score > 0]


def _found(device: BLEDevice, adv: AdvertisementData, profiles: Sequence[Profile]) -> Found:
    name = adv.local_name or device.name or ""
    return Found(
        name=name,
        address=device.address,
        rssi=adv.rssi,
        service_uuids=tuple(adv.service_uuids),
        profiles=tuple(p.id for p in matching_profiles(profiles, name, adv.service_uuids)),
    )


async def scan(
    profiles: Sequence[Profile],
    timeout_s: float,
    on_found: Callable[[Found], None] | None = None,
) -> list[Found]:
    """Devices advertising within `timeout_s`, strongest signal first."""
    seen: dict[str, Found] = {}

    def detected(device: BLEDevice, adv: AdvertisementData) -> None:
        found = _found(device, adv, profiles)
        if on_found is not None and device.address not in seen:
            on_found(found)
        seen[device.address] = found

    try:
        async with BleakScanner(detection_callback=detected):
            await asyncio.sleep(timeout_s)
    except (BleakError, OSError) as error:
        raise MonitorError(f"cannot scan for Bluetooth devices: {error}") from None
    return sorted(seen.values(), key=lambda f: -f.rssi)


async def find_device(target: str, timeout_s: float) -> BLEDevice:
    """The device with address `target`, or whose advertised name is `target`."""
    try:
        if ADDRESS.match(target):
            device = await BleakScanner.find_device_by_address(target, timeout=timeout_s)
        else:
            device = await BleakScanner.find_device_by_filter(
                lambda d, adv: target.casefold() in {(adv.local_name or d.name or "").casefold()},
                timeout=timeout_s,
            )
    except (BleakError, OSError) as error:
        raise MonitorError(f"cannot scan for Bluetooth devices: {error}") from None
    if device is None:
        raise MonitorError(
            f"no sensor {target!r} found within {timeout_s:g} s: is it switched on, in range "
            "and not connected to another app? (`monitor scan` lists what is advertising)"
        )
    return device


# --------------------------------------------------------------------------- one sensor


@dataclass(frozen=True)
class LinkPolicy:
    """How hard to try: connection attempts, reconnect backoff and when to give up."""

    find_timeout_s: float = 10.0
    connect_attempts: int = 3
    reconnect_backoff_s: float = 0.25  # first retry delay; doubles up to `max_backoff_s`
    max_backoff_s: float = 5.0
    give_up_after_s: float = 60.0  # after a disconnect, stop trying after this long


@dataclass
class DeviceInfo:
    name: str = ""
    address: str = ""
    battery_percent: int | None = None
    information: dict[str, str] = field(default_factory=dict)  # role -> text (model, firmware)


class SensorLink:
    """One sensor's connection; `run()` streams until `stop` is set or the link is lost for good.

    Items put on `queue`: `Notification`s (raw bytes + host arrival time in ns, host_now_ns())
    and `Event`s for the stream `stream_name`. A RECONNECT event comes before any notification
    of the new connection, so the consumer resets its decoder before new data arrives.
    """

    def __init__(
        self,
        target: str,
        profile: Profile,
        stream: Stream,
        settings: dict[str, Any],
        queue: asyncio.Queue[LinkItem],
        stream_name: str = "",
        policy: LinkPolicy | None = None,
    ) -> None:
        self.target = target
        self.profile = profile
        self.stream = stream
        self.queue = queue
        self.stream_name = stream_name or stream.name
        self.policy = policy or LinkPolicy()
        self.start_steps = profile.resolve_steps(stream.start, settings, stream.codes)
        self.stop_steps = profile.resolve_steps(stream.stop, settings, stream.codes)
        self.info = DeviceInfo()
        self.connected = asyncio.Event()
        self._client: BleakClient | None = None
        self._lost = asyncio.Event()
        self._responses: asyncio.Queue[Notification] | None = None

    # -- the bleak callback: timestamp and enqueue, nothing else

    def _on_notification(self, characteristic: str) -> Callable[[Any, bytearray], None]:
        def received(_sender: Any, data: bytearray) -> None:
            notification = Notification(characteristic, bytes(data), host_now_ns())
            self.queue.put_nowait(notification)
            if self._responses is not None:
                self._responses.put_nowait(notification)

        return received

    def _event(self, kind: EventKind, message: str, **data: Any) -> None:
        self.queue.put_nowait(Event(host_now_ns(), kind, message, self.stream_name, data))

    @property
    def label(self) -> str:
        return self.info.name or self.target

    # -- the session

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, start, stream; reconnect on loss; stop sequence and disconnect on the way out.

        Raises MonitorError when the sensor cannot be found or connected, refuses or ignores
        a start command, or stays unreachable for `give_up_after_s` after a disconnect.
        """
        device = await find_device(self.target, self.policy.find_timeout_s)
        self.info.name = device.name or self.target
        self.info.address = device.address
        started = await self._connect_and_start(device, reconnect=False)
        if not started:
            self._lost.set()
        try:
            while True:
                await _first(stop.wait(), self._lost.wait())
                if stop.is_set():
                    return
                await self._reconnect(device, stop)
                if stop.is_set():
                    return
        finally:
            await self._shutdown()

    async def _connect_and_start(self, device: BLEDevice, reconnect: bool) -> bool:
        """Connect and run the start sequence; False if a reconnect attempt did not get through.

        Raises MonitorError on a refused or unanswered start command, and when the first
        connection fails (a later one is retried by the caller).
        """
        self._lost.clear()
        try:
            client = await establish_connection(
                BleakClient,
                device,
                self.label,
                disconnected_callback=self._on_disconnected,
                max_attempts=self.policy.connect_attempts,
            )
        except (BleakError, TimeoutError, OSError) as error:
            if reconnect:
                log.info("%s: reconnect attempt failed: %s", self.label, error)
                return False
            raise MonitorError(f"{self.label}: cannot connect: {error}") from None
        self._client = client
        kind, verb = (
            (EventKind.RECONNECT, "reconnected") if reconnect else (EventKind.CONNECT, "connected")
        )
        self._event(kind, f"{self.label}: {verb}", address=device.address)
        try:
            await self._read_information(client)
            await self._run_steps(client, self.start_steps)
        except (BleakError, TimeoutError, OSError) as error:
            if not client.is_connected:
                return False  # dropped during the start sequence: the reconnect loop retries
            raise MonitorError(f"{self.label}: start sequence failed: {error}") from None
        self.connected.set()
        return True

    def _on_disconnected(self, client: BleakClient) -> None:
        if client is self._client:  # not a late callback of an earlier connection
            self.connected.clear()
            self._lost.set()

    async def _reconnect(self, device: BLEDevice, stop: asyncio.Event) -> None:
        lost_at = host_now_ns()
        self._event(EventKind.DISCONNECT, f"{self.label}: connection lost, reconnecting")
        deadline = time.monotonic() + self.policy.give_up_after_s
        delay = self.policy.reconnect_backoff_s
        while not stop.is_set():
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    started = await self._connect_and_start(device, reconnect=True)
            except TimeoutError:
                started = False
            if started:
                gap_s = (host_now_ns() - lost_at) / 1e9
                self._event(
                    EventKind.GAP,
                    f"{self.label}: no data for {gap_s:.1f} s while disconnected",
                    start_ns=lost_at,
                    duration_s=gap_s,
                    cause="disconnect",
                )
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise MonitorError(
                    f"{self.label}: connection lost and not back within "
                    f"{self.policy.give_up_after_s:g} s; gave up"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(delay, remaining))
            delay = min(delay * 2, self.policy.max_backoff_s)

    async def _shutdown(self) -> None:
        """Stop sequence (best effort, short timeouts) and disconnect; safe to call twice."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if client.is_connected:
                async with asyncio.timeout(STOP_STEP_TIMEOUT_S * max(1, len(self.stop_steps))):
                    await self._run_steps(client, self.stop_steps, check=False)
        except (BleakError, TimeoutError, OSError, MonitorError) as error:
            log.warning(
                "%s: stop sequence incomplete: %s", self.label, str(error) or type(error).__name__
            )
        finally:
            with contextlib.suppress(BleakError, TimeoutError, OSError):
                await client.disconnect()
            self.connected.clear()

    async def _read_information(self, client: BleakClient) -> None:
        for role, uuid in self.profile.gatt.device_information.items():
            with contextlib.suppress(BleakError, TimeoutError):
                raw = await client.read_gatt_char(uuid)
                self.info.information[role] = bytes(raw).decode("utf-8", "replace").strip("\0")
        battery = self.profile.gatt.battery or BATTERY_LEVEL
        with contextlib.suppress(BleakError, TimeoutError):
            level = await client.read_gatt_char(battery)
            if level:
                self.info.battery_percent = int(level[0])
                self._event(
                    EventKind.BATTERY,
                    f"{self.label}: battery {level[0]} %",
                    percent=int(level[0]),
                )
        if self.info.information:
            details = ", ".join(f"{k} {v}" for k, v in self.info.information.items())
            self._event(EventKind.INFO, f"{self.label}: {details}", **self.info.information)

    # -- steps

    async def _run_steps(
        self, client: BleakClient, steps: Sequence[ResolvedStep], check: bool = True
    ) -> None:
        for step in steps:
            if step.action == "wait":
                await asyncio.sleep(step.wait_ms / 1000)
            elif step.action in ("enable_notify", "enable_indicate"):
                assert step.characteristic is not None
                await client.start_notify(
                    step.characteristic, self._on_notification(step.characteristic)
                )
            elif step.action == "disable_notify":
                assert step.characteristic is not None
                await client.stop_notify(step.characteristic)
            elif step.action == "read":
                assert step.characteristic is not None
                value = bytes(await client.read_gatt_char(step.characteristic))
                if step.expect is not None and check:
                    step.expect.check(value, self.label)
            else:
                await self._write(client, step, check)

    async def _write(self, client: BleakClient, step: ResolvedStep, check: bool) -> None:
        assert step.characteristic is not None and step.data is not None
        response = step.action == "write"
        if step.expect is None:
            await client.write_gatt_char(step.characteristic, step.data, response=response)
            return
        self._responses = asyncio.Queue()
        try:
            await client.write_gatt_char(step.characteristic, step.data, response=response)
            answer = await self._await_response(step.expect, step.data)
        finally:
            self._responses = None
        if check:
            step.expect.check(answer.data, self.label, step.data)

    async def _await_response(self, expect: ResolvedExpect, command: bytes) -> Notification:
        assert self._responses is not None
        timeout_s = expect.timeout_ms / 1000
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    item = await self._responses.get()
                    if item.characteristic == expect.characteristic and expect.matches(item.data):
                        return item
        except TimeoutError:
            raise MonitorError(
                f"{self.label}: no answer to command {command.hex(' ')} within {timeout_s:g} s: "
                "the sensor does not respond (wrong profile or firmware, or it is busy)"
            ) from None


async def _first(*awaitables: Any) -> None:
    """Wait until the first of `awaitables` completes; cancel the rest."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
