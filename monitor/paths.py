"""Every location the monitor reads or writes, resolved lazily (platformdirs).

Health data lives here, so directories are created 0700 and files 0600.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO

import platformdirs

from monitor.errors import MonitorError

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


def private_dirs(path: Path) -> Path:
    """Create `path` and any missing parents, each 0700 whatever the umask (`mkdir -p` would
    give the parents the umask's mode). Folders that already exist keep their mode."""
    missing = []
    folder = path
    while not folder.is_dir() and folder.parent != folder:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue  # made meanwhile by another process: left as it is
        os.chmod(folder, 0o700)
    return path


def _own_dir(path: Path) -> Path:
    """One of the monitor's own folders: created 0700, and tightened to 0700 if found looser,
    unless it is not ours to change (another user's, or a shared sticky folder such as /tmp)."""
    try:
        private_dirs(path)
        info = path.stat()
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077 and info.st_uid == os.geteuid() and not mode & stat.S_ISVTX:
            os.chmod(path, 0o700)
    except OSError as error:
        raise MonitorError(f"cannot set up the folder {path}: {error.strerror or error}") from None
    return path


def config_dir() -> Path:
    """User configuration; `MONITOR_CONFIG_DIR` overrides it (tests, portable installs)."""
    override = os.environ.get("MONITOR_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME))


def data_dir() -> Path:
    """User data (recordings, history); `MONITOR_DATA_DIR` overrides it. Created 0700."""
    override = os.environ.get("MONITOR_DATA_DIR")
    base = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME))
    return _own_dir(base)


def user_profiles_dir() -> Path:
    """Where users drop their own firmware profiles (`*.toml`)."""
    return config_dir() / "firmware-profiles"


def user_exercises_dir() -> Path:
    """Where users drop their own exercise definitions (`*.toml`)."""
    return config_dir() / "exercises"


def recordings_dir() -> Path:
    return _own_dir(data_dir() / "recordings")


def exports_dir() -> Path:
    return _own_dir(data_dir() / "exports")


def open_private(path: Path, initial: bytes = b"", *, exclusive: bool = True) -> BinaryIO:
    """Create `path` readable by the user only (0600, whatever the umask) holding `initial`, and
    return it open for appending more.

    The file is written beside `path` under a temporary name, synced, and only then put in
    place, so `path` never holds part of `initial` (a crash leaves at worst a hidden `.*.tmp`
    file). An existing `path` is never written through: `exclusive` refuses it
    (FileExistsError, a symlink included); otherwise it is replaced, a symlink by a file
    rather than its target clobbered. Missing parent folders are created 0700.
    """
    path = Path(path)
    private_dirs(path.parent)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    handle = os.fdopen(fd, "r+b")
    try:
        _fill(handle, initial)
        if not exclusive:
            os.replace(temporary, path)
        elif not _link_new(temporary, path):  # no hard links here (FAT): create it in place
            handle.close()
            os.unlink(temporary)
            handle = _create_exclusive(path, initial)
        else:
            os.unlink(temporary)
    except BaseException:
        handle.close()
        Path(temporary).unlink(missing_ok=True)
        raise
    sync_dir(path.parent)
    return handle


def _link_new(source: str, path: Path) -> bool:
    """Give `source` the name `path` unless it exists (FileExistsError); False if the
    filesystem has no hard links."""
    try:
        os.link(source, path, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError as error:
        if error.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            return False
        raise
    return True


def _create_exclusive(path: Path, initial: bytes) -> BinaryIO:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    handle = os.fdopen(fd, "r+b")
    try:
        _fill(handle, initial)
    except BaseException:
        handle.close()
        raise
    return handle


def _fill(handle: BinaryIO, initial: bytes) -> None:
    """Make the new file 0600 (whatever the umask) and put `initial` on the disk."""
    os.fchmod(handle.fileno(), 0o600)
    handle.write(initial)
    handle.flush()
    os.fsync(handle.fileno())


def sync_dir(path: Path) -> None:
    """fsync a folder so a file just created or renamed in it survives a power cut."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
