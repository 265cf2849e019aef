"""Every location the monitor reads or writes, resolved lazily (platformdirs).

Health data lives here, so directories are created 0700 and files 0600.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import platformdirs

APP_NAME = "backstretch-monitor"
_PACKAGE_DIR = Path(__file__).resolve().parent


def bundled_dir(name: str) -> Path:
    """A data folder shipped with the monitor (`firmware-profiles`, `recordings`).

    An installed wheel carries it under `monitor/_data/`; a source checkout has it at the top level.
    """
    packaged = _PACKAGE_DIR / "_data" / name
    if packaged.is_dir():
        return packaged
    return _PACKAGE_DIR.parent / name


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def config_dir() -> Path:
    """User configuration; `MONITOR_CONFIG_DIR` overrides it (tests, portable installs)."""
    override = os.environ.get("MONITOR_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME))


def data_dir() -> Path:
    """User data (recordings, history); `MONITOR_DATA_DIR` overrides it. Created 0700."""
    override = os.environ.get("MONITOR_DATA_DIR")
    base = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME))
    return _private_dir(base)


def user_profiles_dir() -> Path:
    """Where users drop their own firmware profiles (`*.toml`)."""
    return config_dir() / "firmware-profiles"


def user_exercises_dir() -> Path:
    """Where users drop their own exercise definitions (`*.toml`)."""
    return config_dir() / "exercises"


def recordings_dir() -> Path:
    return _private_dir(data_dir() / "recordings")


def open_private(path: Path, *, exclusive: bool = True) -> BinaryIO:
    """Open a file for binary writing, readable by the user only (0600) whatever the umask.

    `exclusive` refuses to replace an existing file; otherwise the file is truncated.
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "wb")
