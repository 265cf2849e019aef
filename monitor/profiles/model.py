"""Pydantic models of a firmware profile (firmware-profiles/*.toml).

A profile says how to recognise a sensor, its GATT roles, and one or more streams. A stream
names the codec that turns its notifications into samples, the codec's `params` (fixed facts)
and default `settings` (per session: rate, range, FACTOR...), the supported `choices`, the
axis mapping, where timestamps come from, and the start/stop sequences a BLE client runs.

Step values are hex templates: `"03 03 {acc_odr} {acc_range}"` looks `acc_odr` up in the
stream's code tables (`codes`), `"{rate_hz:u16le}"` formats a setting directly. Codec params
and settings are plain tables here and are validated by the codec's own models when the
profile is loaded (see `loader.py`), so the JSON schema does not depend on codec internals.
"""

from __future__ import annotations

import re
import struct
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from monitor.profiles.errors import CommandRefusedError, ProfileError

SIG_BASE_SUFFIX = "-0000-1000-8000-00805f9b34fb"
CHANNELS = ("acc", "gyro", "mag")
Channel = Literal["acc", "gyro", "mag"]


def normalize_uuid(value: str) -> str:
    """Lower-case dashed 128-bit form; 16/32-bit short forms expand with the Bluetooth SIG base.

    Vendors with a non-SIG base (WitMotion's ...-00805f9a34fb) must be written in full.
    """
    text = value.strip().lower()
    if text.startswith("0x"):
        text = text[2:]
    if re.fullmatch(r"[0-9a-f]{4}", text):
        return f"0000{text}{SIG_BASE_SUFFIX}"
    if re.fullmatch(r"[0-9a-f]{8}", text):
        return f"{text}{SIG_BASE_SUFFIX}"
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise ValueError(
            f"expected a UUID (16-bit 'xxxx', or 128-bit 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx'), "
            f"got {value!r}"
        ) from None


Uuid = Annotated[str, AfterValidator(normalize_uuid)]
Scalar = int | float | str | bool


class StrictModel(BaseModel):
    """Profile parts: unknown keys are errors (a typo must not be silently ignored); so is a
    NaN or infinite number (an infinite timeout would wait for ever)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# --------------------------------------------------------------------------- hex templates

_TEMPLATE_TOKEN = re.compile(r"\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<fmt>[a-z0-9]+))?\}")
_FORMATS: dict[str, str] = {
    "u8": "<B",
    "i8": "<b",
    "u16le": "<H",
    "i16le": "<h",
    "u32le": "<I",
    "i32le": "<i",
    "f32le": "<f",
}
TEMPLATE_FORMATS = (*_FORMATS, "ascii")


def _check_template(text: str) -> str:
    for match in _TEMPLATE_TOKEN.finditer(text):
        fmt = match.group("fmt")
        if fmt is not None and fmt not in TEMPLATE_FORMATS:
            raise ValueError(
                f"unknown format {fmt!r} in {match.group(0)!r} (use one of "
                f"{', '.join(TEMPLATE_FORMATS)})"
            )
    for chunk in _TEMPLATE_TOKEN.split(text)[::3]:
        digits = re.sub(r"[\s:]", "", chunk)
        if not re.fullmatch(r"([0-9a-fA-F]{2})*", digits):
            raise ValueError(
                f"expected hex bytes (pairs of 0-9a-f) and {{placeholders}}, got {text!r}"
            )
    return text


HexTemplate = Annotated[str, AfterValidator(_check_template)]


def value_key(value: Scalar) -> str:
    """How a setting value is written as a key of a code table ("12.5", "100", "bmi160")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def template_names(text: str) -> list[tuple[str, str | None]]:
    """The (name, format) placeholders of a template, in order."""
    return [(m.group("name"), m.group("fmt")) for m in _TEMPLATE_TOKEN.finditer(text)]


class CodeTable(StrictModel):
    """Maps a setting's value to the bytes a command uses for it (e.g. ODR register codes)."""

    setting: str = Field(description="The setting whose value selects the code.")
    values: dict[str, str] = Field(description="Setting value (as text) -> hex bytes.")

    @field_validator("values")
    @classmethod
    def _hex_values(cls, values: dict[str, str]) -> dict[str, str]:
        for key, text in values.items():
            if not re.fullmatch(r"([0-9a-fA-F]{2})+", re.sub(r"\s", "", text)):
                raise ValueError(f"code for {key!r} must be hex bytes, got {text!r}")
        return values


def render_template(text: str, settings: dict[str, Any], codes: dict[str, CodeTable]) -> bytes:
    """The bytes of a hex template under `settings`; ValueError names what is missing."""
    out = bytearray()
    position = 0
    for match in _TEMPLATE_TOKEN.finditer(text):
        out += bytes.fromhex(re.sub(r"[\s:]", "", text[position : match.start()]))
        position = match.end()
        name, fmt = match.group("name"), match.group("fmt")
        if fmt is None:
            table = codes.get(name)
            if table is None:
                raise ValueError(f"{{{name}}} names no code table (codes: {sorted(codes)})")
            if table.setting not in settings:
                raise ValueError(f"code table {name!r} uses unknown setting {table.setting!r}")
            key = value_key(settings[table.setting])
            if key not in table.values:
                raise ValueError(
                    f"{table.setting}={key} has no code in table {name!r} "
                    f"(known: {', '.join(table.values)})"
                )
            out += bytes.fromhex(re.sub(r"\s", "", table.values[key]))
            continue
        if name not in settings:
            raise ValueError(f"{{{name}:{fmt}}} names no setting (settings: {sorted(settings)})")
        value = settings[name]
        if fmt == "ascii":
            out += value_key(value).encode("ascii")
            continue
        number = float(value) if fmt == "f32le" else int(value)
        try:
            out += struct.pack(_FORMATS[fmt], number)
        except struct.error:
            raise ValueError(f"{name}={value} does not fit {fmt}") from None
    out += bytes.fromhex(re.sub(r"[\s:]", "", text[position:]))
    return bytes(out)


# --------------------------------------------------------------------------- axis mapping


def parse_axes(value: str | list[list[int]]) -> np.ndarray:
    """A signed permutation matrix M (out = M @ sensor) from "x=-y, y=x, z=z" or a 3x3 list.

    Only signed permutations are accepted: they are exactly invertible, so the simulator's
    encode reproduces the firmware's bytes bit for bit.
    """
    if isinstance(value, str):
        matrix = np.zeros((3, 3), dtype=np.int64)
        parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
        for part in parts:
            match = re.fullmatch(r"([xyz])\s*=\s*([+-]?)\s*([xyz])", part)
            if match is None:
                raise ValueError(f"axis mapping part {part!r}: expected like 'x=-y'")
            row, sign, col = match.groups()
            matrix["xyz".index(row), "xyz".index(col)] = -1 if sign == "-" else 1
        if len(parts) != 3:
            raise ValueError(f"axis mapping {value!r}: expected three parts 'x=.., y=.., z=..'")
    else:
        matrix = np.asarray(value, dtype=np.int64)
        if matrix.shape != (3, 3):
            raise ValueError(f"axis matrix must be 3x3, got shape {matrix.shape}")
    ok = (
        np.isin(matrix, (-1, 0, 1)).all()
        and (np.abs(matrix).sum(axis=0) == 1).all()
        and (np.abs(matrix).sum(axis=1) == 1).all()
    )
    if not ok:
        raise ValueError(
            "axis mapping must be a signed permutation (each output axis is one sensor axis, "
            "optionally negated)"
        )
    return matrix


def _canonical_axes(value: str | list[list[int]]) -> str:
    matrix = parse_axes(value)
    parts = []
    for row in range(3):
        col = int(np.flatnonzero(matrix[row])[0])
        sign = "-" if matrix[row, col] < 0 else ""
        parts.append(f"{'xyz'[row]}={sign}{'xyz'[col]}")
    return ", ".join(parts)


AxisMap = Annotated[str | list[list[int]], AfterValidator(_canonical_axes)]


@dataclass(frozen=True, slots=True)
class AxisMapping:
    """Applies a signed permutation to (n, 3) arrays, exactly, and its inverse."""

    columns: tuple[int, int, int]
    signs: tuple[float, float, float]

    @classmethod
    def from_text(cls, text: str) -> AxisMapping:
        matrix = parse_axes(text)
        columns = tuple(int(np.flatnonzero(matrix[r])[0]) for r in range(3))
        signs = tuple(float(matrix[r, columns[r]]) for r in range(3))
        return cls(columns=columns, signs=signs)  # type: ignore[arg-type]

    @property
    def is_identity(self) -> bool:
        return self.columns == (0, 1, 2) and self.signs == (1.0, 1.0, 1.0)

    def apply(self, values: np.ndarray) -> np.ndarray:
        return values[:, list(self.columns)] * np.asarray(self.signs)

    def invert(self, values: np.ndarray) -> np.ndarray:
        out = np.empty_like(values)
        out[:, list(self.columns)] = values * np.asarray(self.signs)
        return out


# --------------------------------------------------------------------------- steps

StepAction = Literal[
    "enable_notify",
    "enable_indicate",
    "disable_notify",
    "write",
    "write_no_response",
    "read",
    "wait",
]
_NEEDS_VALUE = {"write", "write_no_response"}


class Expect(StrictModel):
    """A response the step waits for: matched by prefix, its status field must be an ok value."""

    characteristic: Uuid = Field(description="Where the response arrives (notify/indicate).")
    prefix: HexTemplate = Field(description="Hex bytes the response starts with.")
    status_offset: int = Field(ge=0, description="Byte offset of the status field.")
    status_format: Literal["u8", "u16le"] = "u8"
    ok: list[int] = Field(default=[0], min_length=1, description="Status values meaning success.")
    status_names: dict[int, str] | str = Field(
        default_factory=dict,
        description="Status value -> name, or the name of a table in `status_tables`.",
    )
    timeout_ms: float = Field(default=3000, gt=0)


class Step(StrictModel):
    """One step of a start or stop sequence."""

    action: StepAction
    characteristic: Uuid | None = None
    value: HexTemplate | None = Field(default=None, description="Hex template for writes.")
    ms: float | None = Field(default=None, ge=0, description="Duration of a `wait` step.")
    expect: Expect | None = None
    description: str = ""

    @model_validator(mode="after")
    def _fields_for_action(self) -> Step:
        if self.action == "wait":
            if self.ms is None:
                raise ValueError("a 'wait' step needs 'ms'")
            if self.characteristic or self.value:
                raise ValueError("a 'wait' step takes only 'ms'")
            return self
        if self.characteristic is None:
            raise ValueError(f"a {self.action!r} step needs 'characteristic'")
        if (self.action in _NEEDS_VALUE) != (self.value is not None):
            need = "needs" if self.action in _NEEDS_VALUE else "takes no"
            raise ValueError(f"a {self.action!r} step {need} 'value'")
        return self


@dataclass(frozen=True, slots=True)
class ResolvedExpect:
    """An `Expect` with its prefix rendered and its status names looked up."""

    characteristic: str
    prefix: bytes
    status_offset: int
    status_format: Literal["u8", "u16le"]
    ok: tuple[int, ...]
    status_names: dict[int, str]
    timeout_ms: float

    def matches(self, data: bytes) -> bool:
        return bytes(data).startswith(self.prefix)

    def status(self, data: bytes) -> int | None:
        size = 1 if self.status_format == "u8" else 2
        field = bytes(data)[self.status_offset : self.status_offset + size]
        return int.from_bytes(field, "little") if len(field) == size else None

    def check(self, data: bytes, device: str, command: bytes = b"") -> None:
        """Raise CommandRefusedError naming the sensor's status unless `data` reports success."""
        status = self.status(data)
        if status in self.ok:
            return
        what = f"command {command.hex(' ')}" if command else "command"
        if status is None:
            raise CommandRefusedError(
                f"{device}: response {bytes(data).hex(' ')} to {what} is too short for its "
                f"status field (offset {self.status_offset})",
                -1,
                "SHORT_RESPONSE",
            )
        name = self.status_names.get(status, "unknown status")
        raise CommandRefusedError(
            f"{device} refused {what}: status {status} ({name})", status, name
        )


@dataclass(frozen=True, slots=True)
class ResolvedStep:
    """A step with concrete bytes, ready for a BLE client."""

    action: StepAction
    characteristic: str | None
    data: bytes | None
    wait_ms: float
    expect: ResolvedExpect | None
    description: str


# --------------------------------------------------------------------------- streams


class HostClockConfig(StrictModel):
    """Tuning of the host-arrival clock for streams without a sensor clock."""

    window: int = Field(
        default=32,
        ge=1,
        le=1024,
        description="Notifications over which the lowest arrival latency is tracked.",
    )
    gap_tolerance_ms: float = Field(
        default=25.0,
        gt=0,
        description="A sustained arrival delay above this (and above 1.5 sample periods) "
        "is reported as a gap of missing samples.",
    )


class Stream(StrictModel):
    """One way of streaming from the sensor: a codec, its configuration and its sequences."""

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    description: str = ""
    codec: str = Field(description="Registered codec name (monitor.profiles.codecs).")
    characteristics: list[Uuid] = Field(
        min_length=1, description="Characteristics whose notifications this stream decodes."
    )
    timestamp: Literal["sensor", "host"] = Field(
        description="'sensor': the codec reads the sensor's clock; 'host': arrival times are "
        "turned into a steady per-sample clock."
    )
    axes: AxisMap = Field(
        default="x=x, y=y, z=z",
        description="Output axes from sensor axes, e.g. 'x=-y, y=x, z=z' or a 3x3 matrix.",
    )
    rate_setting: str = Field(description="The setting holding the nominal output rate (Hz).")
    channel_rate_settings: dict[Channel, str] = Field(
        default_factory=dict,
        description="Per-channel rate settings where a channel runs at its own rate.",
    )
    params: dict[str, Any] = Field(default_factory=dict, description="The codec's Params.")
    settings: dict[str, Any] = Field(
        default_factory=dict, description="Default values of the codec's Settings."
    )
    choices: dict[str, list[Scalar]] = Field(
        default_factory=dict, description="Supported values per setting (rates, ranges)."
    )
    codes: dict[str, CodeTable] = Field(default_factory=dict)
    start: list[Step] = Field(default_factory=list)
    stop: list[Step] = Field(default_factory=list)
    clock: HostClockConfig = Field(default_factory=HostClockConfig)

    @model_validator(mode="after")
    def _consistent(self) -> Stream:
        for name, table in self.codes.items():
            if table.setting in self.choices:
                missing = [
                    value_key(v)
                    for v in self.choices[table.setting]
                    if value_key(v) not in table.values
                ]
                if missing:
                    raise ValueError(
                        f"code table {name!r} has no code for {table.setting} = "
                        f"{', '.join(missing)}"
                    )
        return self

    @property
    def axis_mapping(self) -> AxisMapping:
        return AxisMapping.from_text(self.axes)


# --------------------------------------------------------------------------- profile


class Recognition(StrictModel):
    name_patterns: list[str] = Field(
        default_factory=list, description="Regular expressions matched against the local name."
    )
    service_uuids: list[Uuid] = Field(
        default_factory=list, description="Advertised service UUIDs that identify the sensor."
    )

    @field_validator("name_patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"bad regular expression {pattern!r}: {error}") from None
        return patterns


DeviceInfoRole = Literal[
    "model", "serial", "firmware", "hardware", "software", "manufacturer", "system_id"
]


class Gatt(StrictModel):
    services: list[Uuid] = Field(default_factory=list, description="Services the client uses.")
    data: list[Uuid] = Field(min_length=1, description="Characteristics that carry samples.")
    control: list[Uuid] = Field(
        default_factory=list, description="Command / control-point characteristics."
    )
    battery: Uuid | None = Field(default=None, description="Battery level (u8 %), if any.")
    device_information: dict[DeviceInfoRole, Uuid] = Field(default_factory=dict)


class Profile(StrictModel):
    """A sensor model's firmware profile."""

    schema_version: Literal[1] = 1
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    name: str
    vendor: str
    description: str = ""
    sources: list[str] = Field(default_factory=list, description="Where the facts come from.")
    recognition: Recognition
    gatt: Gatt
    status_tables: dict[str, dict[int, str]] = Field(default_factory=dict)
    streams: list[Stream] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> Profile:
        names = [s.name for s in self.streams]
        if len(set(names)) != len(names):
            raise ValueError(f"stream names must be unique, got {names}")
        known = {*self.gatt.data, *self.gatt.control}
        for stream in self.streams:
            for characteristic in stream.characteristics:
                if characteristic not in known:
                    raise ValueError(
                        f"stream {stream.name!r}: characteristic {characteristic} is not "
                        "listed in gatt.data or gatt.control"
                    )
            for step in (*stream.start, *stream.stop):
                names_ref = step.expect.status_names if step.expect else None
                if isinstance(names_ref, str) and names_ref not in self.status_tables:
                    raise ValueError(
                        f"stream {stream.name!r}: status table {names_ref!r} is not defined "
                        f"in status_tables ({', '.join(self.status_tables) or 'none'})"
                    )
        return self

    def stream(self, name: str | None = None) -> Stream:
        """The named stream, or the first (default) one."""
        if name is None:
            return self.streams[0]
        for stream in self.streams:
            if stream.name == name:
                return stream
        raise ProfileError(
            f"profile {self.id!r} has no stream {name!r} "
            f"(streams: {', '.join(s.name for s in self.streams)})"
        )

    def match_score(self, local_name: str | None, service_uuids: list[str] = ()) -> int:
        """2 if the advertised name matches, +1 if an advertised service matches; 0: not ours."""
        score = 0
        if local_name and any(re.search(p, local_name) for p in self.recognition.name_patterns):
            score += 2
        advertised = {normalize_uuid(u) for u in service_uuids}
        if advertised & set(self.recognition.service_uuids):
            score += 1
        return score

    def resolve_steps(
        self, steps: list[Step], settings: dict[str, Any], codes: dict[str, CodeTable]
    ) -> list[ResolvedStep]:
        """Render step templates with `settings` into bytes (ValueError on a missing value)."""
        resolved = []
        for step in steps:
            expect = None
            if step.expect is not None:
                names = step.expect.status_names
                if isinstance(names, str):
                    names = self.status_tables[names]
                expect = ResolvedExpect(
                    characteristic=step.expect.characteristic,
                    prefix=render_template(step.expect.prefix, settings, codes),
                    status_offset=step.expect.status_offset,
                    status_format=step.expect.status_format,
                    ok=tuple(step.expect.ok),
                    status_names=dict(names),
                    timeout_ms=step.expect.timeout_ms,
                )
            resolved.append(
                ResolvedStep(
                    action=step.action,
                    characteristic=step.characteristic,
                    data=None
                    if step.value is None
                    else render_template(step.value, settings, codes),
                    wait_ms=step.ms or 0.0,
                    expect=expect,
                    description=step.description,
                )
            )
        return resolved
