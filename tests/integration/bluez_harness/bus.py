"""A private system bus with BlueZoo on it: what bleak's BlueZ backend talks to in the tests."""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

LAUNCHER = Path(__file__).with_name("bluezoo_launcher.py")
PR_SET_PDEATHSIG = 1
STARTUP_TIMEOUT_S = 60.0  # generous: CI machines can be saturated

# Anyone may own any name and talk to anyone: the bus lives in a private directory.
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
"""


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM when the test process dies, however it dies."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def adapter_address(index: int) -> str:
    """hci0 is the central; hci1.. host one fake peripheral each."""
    return f"00:AA:01:00:00:{index:02X}"


def _read_line(proc: subprocess.Popen[str], what: str, log: Path, deadline: float) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=max(0.0, deadline - time.monotonic())):
                line = proc.stdout.readline()
                if not line:
                    break
                return line.strip()
    state = "exited" if proc.poll() is not None else f"silent for {STARTUP_TIMEOUT_S:g} s"
    raise RuntimeError(f"{what} did not start ({state}): {log.read_text()[-2000:]}")


@dataclass
class BlueZMock:
    """dbus-daemon + patched BlueZoo with `adapters` adapters; `stop()` ends both."""

    adapters: int = 2
    bus_address: str = ""
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bz")))
    _processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def start(self) -> BlueZMock:
        """Start both processes; on any failure stop what was started and raise."""
        atexit.register(self.stop)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        dbus_daemon = shutil.which("dbus-daemon")
        if dbus_daemon is None:
            raise RuntimeError("dbus-daemon not found: apt-get install dbus-daemon")
        config = self.directory / "bus.conf"
        config.write_text(BUS_CONFIG.format(socket=self.directory / "system_bus_socket"))
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        daemon = self._spawn(
            [dbus_daemon, f"--config-file={config}", "--nofork", "--print-address"],
            os.environ,
            "dbus-daemon",
        )
        self.bus_address = _read_line(daemon, "dbus-daemon", self._log("dbus-daemon"), deadline)
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus_address)
        launcher = self._spawn(
            [sys.executable, str(LAUNCHER), *(adapter_address(i) for i in range(self.adapters))],
            env,
            "bluezoo",
        )
        if _read_line(launcher, "BlueZoo", self._log("bluezoo"), deadline) != "READY":
            raise RuntimeError("BlueZoo launcher did not report READY")

    def _log(self, name: str) -> Path:
        return self.directory / f"{name}.log"

    def _spawn(self, argv: list[str], env: dict[str, str], name: str) -> subprocess.Popen[str]:
        """Start a process; stderr goes to a log file (a full pipe would block it)."""
        with self._log(name).open("w") as log:
            process = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=env,
                preexec_fn=_die_with_parent,
            )
        self._processes.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self._processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
        self._processes.clear()
        shutil.rmtree(self.directory, ignore_errors=True)
        atexit.unregister(self.stop)
