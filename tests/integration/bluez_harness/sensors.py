"""Fake sensors built from a bundled profile and a simulated session (monitor.sources.simulate).

The GATT layout comes from the profile (its services and data/control characteristics), the
behaviour from the firmware family of the profile's codec, and the stream is the simulator's
byte-exact notifications at their simulated arrival times (optionally sped up).
"""

from __future__ import annotations

from typing import Any

from bluez_harness.bus import BlueZMock
from bluez_harness.firmware import (
    MetaWearFirmware,
    MovesenseFirmware,
    NotifyStartsFirmware,
    PolarPmdFirmware,
    StreamingFirmware,
    WitMotionFirmware,
)
from bluez_harness.peripheral import (
    BATTERY_LEVEL,
    BATTERY_SERVICE,
    DIS_SERVICE,
    CharacteristicSpec,
    FakePeripheral,
    ServiceSpec,
    start_sensor,
)
from monitor.profiles.model import Profile
from monitor.sources.simulate import SimulatedSession

FIRMWARE_BY_CODEC: dict[str, type[StreamingFirmware]] = {
    "pmd": PolarPmdFirmware,
    "witmotion": WitMotionFirmware,
    "metawear": MetaWearFirmware,
    "movesense": MovesenseFirmware,
    "struct": NotifyStartsFirmware,
}
STANDARD = {DIS_SERVICE, BATTERY_SERVICE}


def layout(profile: Profile) -> tuple[ServiceSpec, ...]:
    """The profile's services; its data and control characteristics in the first one."""
    services = [s for s in profile.gatt.services if s not in STANDARD] or ["0000fff0"]
    chars = [CharacteristicSpec(u, ("read", "notify")) for u in profile.gatt.data]
    chars += [
        CharacteristicSpec(u, ("read", "write", "write-without-response", "notify", "indicate"))
        for u in profile.gatt.control
        if u not in profile.gatt.data
    ]
    chars = [c for c in chars if c.uuid != BATTERY_LEVEL]
    return (ServiceSpec(services[0], tuple(chars)), *(ServiceSpec(s, ()) for s in services[1:]))


def firmware_for(
    profile: Profile, session: SimulatedSession, speed: float = 1.0, **faults: Any
) -> StreamingFirmware:
    """The sensor's firmware streaming `session`'s data notifications, `speed` times faster."""
    codec = profile.stream(session.stream).codec
    preamble = session.decoder().session_preamble()
    control = {n.characteristic for n in preamble}
    data = [n for n in session.notifications if n.characteristic not in control]
    t0 = data[0].host_t_ns
    items = [((n.host_t_ns - t0) / 1e9 / speed, n.characteristic, n.data) for n in data]
    cls = FIRMWARE_BY_CODEC[codec]
    if cls is PolarPmdFirmware:
        return PolarPmdFirmware(
            items=items, start_responses={n.data[2]: n.data for n in preamble}, **faults
        )
    if cls is MetaWearFirmware:  # module discovery answers with the chip the profile is for
        chip = str(session.settings.get("chip", "bmi160"))
        return MetaWearFirmware(items=items, acc_implementation=4 if chip == "bmi270" else 1)
    if cls is NotifyStartsFirmware:
        return NotifyStartsFirmware(
            items=items, data_uuids=frozenset(n.characteristic for n in data), **faults
        )
    return cls(items=items, **faults)


def advertised_name(profile: Profile) -> str:
    """A name the profile's own patterns recognise (the pattern's literal prefix)."""
    pattern = profile.recognition.name_patterns[0] if profile.recognition.name_patterns else ""
    literal = pattern.lstrip("^").split("\\")[0].split("(")[0].split("[")[0].rstrip("$.*+?")
    return f"{literal or profile.name} 1A2B"


async def sensor_from_session(
    bluez: BlueZMock,
    adapter: int,
    profile: Profile,
    session: SimulatedSession,
    speed: float = 1.0,
    name: str | None = None,
    **faults: Any,
) -> tuple[FakePeripheral, StreamingFirmware]:
    firmware = firmware_for(profile, session, speed, **faults)
    sensor = await start_sensor(
        bluez.bus_address,
        adapter,
        name or advertised_name(profile),
        layout(profile),
        firmware,
        profile.recognition.service_uuids,
    )
    return sensor, firmware
