"""A block of IMU samples in the project's units.

Units everywhere downstream of decoding: time int64 ns, acceleration m/s^2 (gravity included),
angular rate rad/s, magnetic field uT. Axes are the sensor's own after the profile's axis mapping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

GRAVITY = 9.80665  # standard gravity, m/s^2

Int64Array = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def _as_xyz(values: object, n: int, name: str) -> FloatArray | None:
    if values is None:
        return None
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (n, 3):
        raise ValueError(f"{name} must have shape ({n}, 3), got {array.shape}")
    return array


@dataclass(frozen=True, slots=True)
class SampleBlock:
    """`n` samples sharing one timeline; channels a sensor did not send are None.

    A decoder returns blocks holding whatever one notification carried (acc only, gyro only, or
    both); the aligner merges per-channel blocks of one stream onto a common timeline.
    """

    t_ns: Int64Array
    acc: FloatArray | None = None
    gyro: FloatArray | None = None
    mag: FloatArray | None = None
    stream: str = ""
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t_ns = np.asarray(self.t_ns, dtype=np.int64).reshape(-1)
        n = t_ns.shape[0]
        object.__setattr__(self, "t_ns", t_ns)
        object.__setattr__(self, "acc", _as_xyz(self.acc, n, "acc"))
        object.__setattr__(self, "gyro", _as_xyz(self.gyro, n, "gyro"))
        object.__setattr__(self, "mag", _as_xyz(self.mag, n, "mag"))

    def __len__(self) -> int:
        return int(self.t_ns.shape[0])

    @property
    def channels(self) -> tuple[str, ...]:
        """Names of the channels present, in a fixed order."""
        return tuple(c for c in ("acc", "gyro", "mag") if getattr(self, c) is not None)

    def slice(self, start: int, stop: int) -> SampleBlock:
        return SampleBlock(
            t_ns=self.t_ns[start:stop],
            acc=None if self.acc is None else self.acc[start:stop],
            gyro=None if self.gyro is None else self.gyro[start:stop],
            mag=None if self.mag is None else self.mag[start:stop],
            stream=self.stream,
            extra={k: v[start:stop] for k, v in self.extra.items()},
        )

    @staticmethod
    def concat(blocks: Sequence[SampleBlock]) -> SampleBlock:
        """Join blocks that carry the same channels (in time order) into one."""
        if not blocks:
            return SampleBlock(t_ns=np.empty(0, dtype=np.int64))
        channels = blocks[0].channels
        for block in blocks:
            if block.channels != channels:
                raise ValueError(f"cannot concat channels {channels} with {block.channels}")

        def join(name: str) -> FloatArray | None:
            if name not in channels:
                return None
            return np.concatenate([getattr(b, name) for b in blocks])

        extra_keys = blocks[0].extra.keys()
        return SampleBlock(
            t_ns=np.concatenate([b.t_ns for b in blocks]),
            acc=join("acc"),
            gyro=join("gyro"),
            mag=join("mag"),
            stream=blocks[0].stream,
            extra={k: np.concatenate([b.extra[k] for b in blocks]) for k in extra_keys},
        )

    def to_json(self) -> dict[str, object]:
        """The samples as JSON-ready lists, keys named with their units."""
        out: dict[str, object] = {"t_ns": self.t_ns.tolist()}
        for name, key in (("acc", "acc_mps2"), ("gyro", "gyro_rads"), ("mag", "mag_ut")):
            values = getattr(self, name)
            if values is not None:
                out[key] = values.tolist()
        for name, values in self.extra.items():
            out[name] = values.tolist()
        return out
