"""Importers for recordings made by other apps, told apart by their content.

Each format module offers `claims(path)` (does the content look like this format?), `load(path)`
(a LoadedInput, or InputFileError naming the file, line and problem) and `write(...)` (the same
format, for tests and for handing data to those apps' users).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from monitor.errors import InputFileError
from monitor.session.history import file_digest
from monitor.sources.importers import metabase, phyphox, polar_sensor_logger
from monitor.sources.inputs import LoadedInput


@dataclass(frozen=True, slots=True)
class ImportFormat:
    name: str  # the `--format` value
    title: str
    claims: Callable[[Path], bool]
    load: Callable[[Path], LoadedInput]


FORMATS: dict[str, ImportFormat] = {
    module.NAME: ImportFormat(module.NAME, module.TITLE, module.claims, module.load)
    for module in (metabase, polar_sensor_logger, phyphox)
}


def detect(path: Path) -> ImportFormat | None:
    """The format whose content `path` (a file, folder or zip) has, or None."""
    return next((f for f in FORMATS.values() if f.claims(path)), None)


def load(path: Path, name: str) -> LoadedInput:
    """Read `path` as the format `name` (InputFileError when it is not one)."""
    try:
        chosen = FORMATS[name]
    except KeyError:
        raise InputFileError(
            f"unknown input format {name!r}; use one of {', '.join(FORMATS)}"
        ) from None
    return chosen.load(path)


def input_digest(path: Path) -> str:
    """SHA-256 identifying an input: a file's bytes, or a folder's file names and bytes.

    A folder (an app's export) analysed twice then updates one history session, like a file.
    Only what an export holds counts: the files in the folder and one level down (phyphox's
    meta/), never what a symbolic link points at outside it, never a whole tree below.
    """
    if not path.is_dir():
        return file_digest(path)
    root = path.resolve()
    files = sorted(
        p
        for p in [*path.glob("*"), *path.glob("*/*")]
        if p.is_file() and p.resolve().is_relative_to(root)
    )
    digest = hashlib.sha256()
    for file in files:
        digest.update(f"{file.relative_to(path)}\0{file_digest(file)}\0".encode())
    return digest.hexdigest()
