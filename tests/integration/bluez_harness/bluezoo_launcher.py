"""Run BlueZoo (pinned 1.0.2, an external GPL test tool) with the fixes the harness needs.

Usage: python bluezoo_launcher.py ADDRESS [ADDRESS ...]
Adapter 0 is the central bleak uses; every further adapter hosts one fake peripheral. Prints
READY on stdout once the adapters are exported and powered, then serves until terminated.

Stock BlueZoo 1.0.2 has four gaps (see ../../../../shared/research/ble-testing.md); this module
closes them by patching BlueZoo's internals at runtime, which is why the version is pinned:
1. every adapter claims the "central" role, so bleak may pick a peripheral's adapter as default;
2. a disconnect leaves the mirrored GATT objects exported, ServicesResolved true and notify on,
   so a reconnect fails, and a peripheral-side disconnect never reaches the central;
3. a device is announced once per scan, so a scanner that misses the single InterfacesAdded (or
   re-scans for a known device) never sees it: real BlueZ updates RSSI per advertisement;
4. when a peripheral application dies, its links stay "connected"; a connect to a device that no
   longer advertises succeeds at once with no services (BlueZ waits for it to advertise).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

import sdbus
from bluezoo import bluezoo
from bluezoo.adapter import Adapter
from bluezoo.device import Device
from bluezoo.exceptions import DBusBluezFailedError, DBusBluezInProgressError
from bluezoo.gatt import GattCharacteristicClientLink
from bluezoo.gatt.manager import GattManager

SCAN_INTERVAL_S = 0.1
LE_CONNECT_TIMEOUT_S = 10.0
DEVICE_INTERFACE = "org.bluez.Device1"
ADVERTISED_RSSI = -60  # dBm; the mock has no radio


def _peripheral_roles(self: Adapter) -> list[str]:
    """Gap 1: only hci0 is a central."""
    return ["central", "peripheral", "central-peripheral"] if self.id == 0 else ["peripheral"]


def _counterpart(device: Device) -> Device | None:
    """The other end's view of the same link (the device object on the peer adapter)."""
    peer_adapter = device.peer_adapter
    address = device.adapter.address.replace(":", "_")
    return peer_adapter.devices.get(f"{peer_adapter.get_object_path()}/dev_{address}")


async def _drop_link(device: Device) -> None:
    """Unmirror the GATT objects, stop notifications and mark the device disconnected."""
    for link in list(device.services.values()):
        if isinstance(link, GattCharacteristicClientLink):
            link.client_props_changed_subscription.unsubscribe()
            if link.client.Notifying.get(False):
                # The peripheral application may be gone already.
                with contextlib.suppress(sdbus.SdBusBaseError):
                    await link.client.StopNotify()
        device.peer_adapter.mock.remove_object(link)
    device.services.clear()
    if device.services_resolved:
        await device.ServicesResolved.set_async(False)
    if device.connected:
        await device.Connected.set_async(False)


async def _disconnect(self: Device, uuid: str | None = None) -> None:
    """Gap 2: drop both views of the link, whichever side asked."""
    self.connecting_task.cancel()
    logging.getLogger("bluezoo").info("Disconnecting %s", self)
    for view in (self, _counterpart(self)):
        if view is not None:
            await _drop_link(view)


_stock_connect = Device.connect


async def _wait_for_advertising(peer_adapter: Adapter) -> None:
    deadline = asyncio.get_running_loop().time() + LE_CONNECT_TIMEOUT_S
    while not peer_adapter.advertisements:
        if asyncio.get_running_loop().time() > deadline:
            raise DBusBluezFailedError("Software caused connection abort")
        await asyncio.sleep(SCAN_INTERVAL_S)


async def _connect(self: Device, uuid: str | None = None) -> None:
    """Gap 4: like BlueZ, an LE connect waits for the device to advertise, then gives up;
    Disconnect cancels a pending attempt, and a second Connect meanwhile is refused."""
    if not self.connecting_task.done():
        raise DBusBluezInProgressError("In Progress")
    if self.is_le and not self.peer_adapter.advertisements:
        self.connecting_task = asyncio.create_task(_wait_for_advertising(self.peer_adapter))
        await asyncio.wait({self.connecting_task})
        if self.connecting_task.cancelled():
            raise DBusBluezFailedError("Operation cancelled")
        self.connecting_task.result()
    await _stock_connect(self, uuid)


_stock_add_device = Adapter.add_device


async def _add_device(self: Adapter, device: Device) -> None:
    """Gap 3: a known device seen again emits an RSSI change, like each real advertisement."""
    known = self.devices.get(f"{self.get_object_path()}/dev_{device.address.replace(':', '_')}")
    if device.rssi == 0:
        device.rssi = ADVERTISED_RSSI
    await _stock_add_device(self, device)
    if known is not None:
        known.properties_changed.emit((DEVICE_INTERFACE, {"RSSI": ("n", known.rssi)}, []))


_stock_del_gatt_application = GattManager._GattManager__del_gatt_application


async def _del_gatt_application(self: Adapter, app) -> None:
    """Gap 4: a vanished peripheral application takes its links down."""
    await _stock_del_gatt_application(self, app)
    for adapter in list(self.mock.adapters.values()):
        for device in list(adapter.devices.values()):
            if device.peer_adapter is self and device.connected:
                await device.disconnect()


def apply_patches() -> None:
    Adapter.Roles.property_getter = _peripheral_roles
    Device.disconnect = _disconnect
    Device.connect = _connect
    Adapter.add_device = _add_device
    GattManager._GattManager__del_gatt_application = _del_gatt_application


async def _serve(addresses: list[str]) -> None:
    apply_patches()
    await bluezoo.startup(bus="system", adapters=addresses, auto_enable=True)
    bluezoo.startup.service.scan_interval = SCAN_INTERVAL_S
    print("READY", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(_serve([a.upper() for a in sys.argv[1:]]))


if __name__ == "__main__":
    main()
