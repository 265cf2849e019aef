"""The codec contract: payload bytes of one sensor family <-> sample blocks.

A profile file names its codec and gives the codec's `Params` (fixed facts of the firmware:
UUIDs, struct layouts, scales). `Settings` are per-stream values that can change between
sessions (configured range, Polar FACTOR from the start response, chip variant, previous frame
timestamp); they have defaults in the profile, can be overridden on the command line
(`monitor profiles decode ID HEX --set KEY=VALUE`) and are updated by control-point responses
the codec sees.

Codecs are vectorised: `decode` takes a batch of notifications of one characteristic and
returns sample blocks built with `np.frombuffer` and explicit little-endian dtypes. `encode` is
the exact inverse (the simulator and the fake BLE peripheral use it), so that
`decode(encode(block))` reproduces the block bit for bit at the codec's resolution.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from monitor.core import Event, Notification, NotificationBatch, SampleBlock


class CodecModel(BaseModel):
    """Base for codec Params and Settings: unknown keys are errors, values are checked."""

    model_config = ConfigDict(extra="forbid", frozen=False)


class NoParams(CodecModel):
    pass


@dataclass(slots=True)
class DecodeResult:
    """What a batch of notifications turned into.

    `blocks` may hold several blocks (e.g. an ACC and a GYRO frame, or one block per channel).
    `bad_packets` counts notifications that could not be decoded; each also gets one
    BAD_PACKET event so it is reported once.
    """

    blocks: list[SampleBlock] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    bad_packets: int = 0

    def extend(self, other: DecodeResult) -> None:
        self.blocks.extend(other.blocks)
        self.events.extend(other.events)
        self.bad_packets += other.bad_packets


class Codec(ABC):
    """One named frame format, parameterised by a profile."""

    name: ClassVar[str]
    Params: ClassVar[type[CodecModel]] = NoParams
    Settings: ClassVar[type[CodecModel]] = NoParams

    def __init__(self, params: CodecModel, settings: CodecModel, stream: str = "") -> None:
        self.params = params
        self.settings = settings
        self.stream = stream

    @abstractmethod
    def decode(self, batch: NotificationBatch) -> DecodeResult:
        """Decode notifications of one characteristic in arrival order; never raise on bad bytes."""

    @abstractmethod
    def encode(self, block: SampleBlock) -> list[Notification]:
        """The notifications the real firmware would send for `block` (inverse of decode)."""

    def session_preamble(self) -> list[Notification]:
        """What the sensor answers to the start sequence that decoding depends on.

        E.g. Polar's start response carrying FACTOR. The simulator records it and the fake BLE
        peripheral sends it, so replayed and simulated streams decode like live ones.
        """
        return []

    def reset(self) -> None:  # noqa: B027 - stateless codecs need nothing
        """Forget per-stream state (previous timestamps, reassembly buffers): after a reconnect."""


CODECS: dict[str, type[Codec]] = {}


def register_codec(cls: type[Codec]) -> type[Codec]:
    """Class decorator: make a codec available to profiles under `cls.name`."""
    if cls.name in CODECS:
        raise ValueError(f"codec {cls.name!r} registered twice")
    CODECS[cls.name] = cls
    return cls
