"""Fixtures for BLE tests through a BlueZ D-Bus mock (see bluez_harness)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bluez_harness.bus import BlueZMock

PERIPHERAL_ADAPTERS = 2  # hci1, hci2: up to two fake sensors per test


@pytest.fixture
def bluez(monkeypatch: pytest.MonkeyPatch) -> Iterator[BlueZMock]:
    """A fresh bus + BlueZoo per test; bleak finds it through DBUS_SYSTEM_BUS_ADDRESS."""
    mock = BlueZMock(adapters=1 + PERIPHERAL_ADAPTERS).start()
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", mock.bus_address)
    try:
        yield mock
    finally:
        mock.stop()
