"""Reading text files the user hands to the monitor (CSV, app exports, TOML), with bounds.

Every file is read the same guarded way: it must be a regular file, not larger than a limit,
without a line longer than a limit (a 50 MB line is refused after its first 64 KiB, not read
whole), and text: UTF-8 (a byte-order mark is allowed) or UTF-16 with its byte-order mark.
Each refusal is one InputFileError line naming the file, the line where it applies and the
problem.
"""

from __future__ import annotations

import codecs
import stat
import tomllib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import numpy as np

from monitor.errors import InputFileError, warn_user

MAX_TEXT_BYTES = 256 * 1024 * 1024  # a CSV of 7 columns at 200 Hz for about 5 hours
MAX_TOML_BYTES = 1024 * 1024  # a profile, exercise or program is a few kilobytes
MAX_LINE_BYTES = 64 * 1024  # data rows and headers are a few hundred bytes
CHUNK_BYTES = 1024 * 1024
BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def clip(value: str, limit: int = 40) -> str:
    """`value` quoted for a one-line message, cut to `limit` characters."""
    return repr(value) if len(value) <= limit else repr(value[:limit]) + "..."


def _size(amount: int) -> str:
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if amount >= scale:
            return f"{amount / scale:.0f} {unit}"
    return f"{amount} bytes"


def read_bytes(
    path: Path,
    *,
    max_bytes: int = MAX_TEXT_BYTES,
    max_line: int = MAX_LINE_BYTES,
    error: type[InputFileError] = InputFileError,
) -> bytes:
    """The file's bytes, refusing a non-regular file, more than `max_bytes` or a longer line."""
    try:
        status = path.stat()  # before opening: opening a pipe would wait for a writer
        if stat.S_ISDIR(status.st_mode):
            raise error(f"{path}: is a directory, expected a file")
        if not stat.S_ISREG(status.st_mode):
            raise error(f"{path}: not a regular file (a device, pipe or socket)")
        if status.st_size > max_bytes:
            raise error(f"{path}: larger than {_size(max_bytes)}, refused")
        with path.open("rb") as handle:
            return read_stream(path, handle, max_bytes=max_bytes, max_line=max_line, error=error)
    except OSError as problem:
        raise error(f"{path}: cannot read: {problem.strerror or problem}") from None


def read_stream(
    path: Path,
    handle: BinaryIO,
    *,
    max_bytes: int = MAX_TEXT_BYTES,
    max_line: int = MAX_LINE_BYTES,
    error: type[InputFileError] = InputFileError,
) -> bytes:
    """Read `handle` (named `path` in messages) in chunks, stopping at the first line longer
    than `max_line` bytes or when more than `max_bytes` arrive (a zip member that inflates
    without end)."""
    chunks: list[bytes] = []
    total = 0
    lines_before = 0  # newlines in the chunks already read
    run = 0  # bytes of the current (unfinished) line so far
    while chunk := handle.read(CHUNK_BYTES):
        total += len(chunk)
        if total > max_bytes:
            raise error(f"{path}: larger than {_size(max_bytes)}, refused")
        view = np.frombuffer(chunk, dtype=np.uint8)
        breaks = np.flatnonzero((view == 0x0A) | (view == 0x0D))
        starts = np.concatenate(([0], breaks + 1))
        ends = np.concatenate((breaks, [len(chunk)]))
        lengths = ends - starts
        lengths[0] += run
        if (lengths > max_line).any():
            index = int(np.argmax(lengths > max_line))
            line = lines_before + chunk.count(b"\n", 0, int(starts[index])) + 1
            raise error(
                f"{path}: line {line}: longer than {_size(max_line)}; not a text file of "
                "this kind (binary data, or all on one line?)"
            )
        run = int(lengths[-1])
        lines_before += chunk.count(b"\n")
        chunks.append(chunk)
    return b"".join(chunks)


def decode(path: Path, raw: bytes, error: type[InputFileError] = InputFileError) -> str:
    """UTF-8 (optional byte-order mark) or UTF-16 with its mark; binary data is refused."""
    encoding = next((name for bom, name in BOMS if raw.startswith(bom)), "utf-8")
    try:
        text = _decode(raw, encoding)
    except UnicodeDecodeError as problem:
        line = raw.count(b"\n", 0, problem.start) + 1
        column = problem.start - (raw.rfind(b"\n", 0, problem.start) + 1) + 1
        byte = raw[problem.start]
        raise error(
            f"{path}: line {line}: not UTF-8 text (byte "
            f"0x{byte:02x} at column {column}); save the file as UTF-8"
        ) from None
    if "\0" in text:
        line = text.count("\n", 0, text.index("\0")) + 1
        raise error(
            f"{path}: line {line}: NUL bytes: binary data, or UTF-16 text without its "
            "byte-order mark; save the file as UTF-8"
        )
    return text


def _decode(raw: bytes, encoding: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        if encoding != "utf-16":
            raise
        return raw.decode("utf-8")  # a UTF-16 mark but not UTF-16: report it as UTF-8


def read_text(path: Path, *, error: type[InputFileError] = InputFileError, **limits: int) -> str:
    """The file as text, read with the bounds of `read_bytes` and checked by `decode`."""
    return decode(path, read_bytes(path, error=error, **limits), error)


def read_toml(path: Path, *, error: type[InputFileError] = InputFileError) -> dict[str, Any]:
    """A TOML file (at most MAX_TOML_BYTES) as data; a duplicate key or a syntax error is one
    line naming the file, line and column."""
    text = read_text(path, error=error, max_bytes=MAX_TOML_BYTES)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as problem:
        raise error(f"{path}: invalid TOML: {problem}") from None


T = TypeVar("T")


def load_user_files(
    files: Iterable[Path], load: Callable[[Path], T], id_of: Callable[[T], str], kind: str
) -> Iterator[tuple[Path, T]]:
    """(file, item) for each of the user's own files that loads. A broken one is skipped with a
    warning, so the bundled ones keep working; two files with one id are named in a warning
    (the later one is used)."""
    seen: dict[str, Path] = {}
    for path in files:
        try:
            item = load(path)
        except InputFileError as error:
            warn_user(f"{error}; skipped (the other {kind}s are in use)")
            continue
        item_id = id_of(item)
        if item_id in seen:
            warn_user(
                f"{path}: {kind} id {item_id!r} is also in {seen[item_id].name}; "
                f"{path.name} is used"
            )
        seen[item_id] = path
        yield path, item
