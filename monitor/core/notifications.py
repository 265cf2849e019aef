"""Raw GATT notifications as they arrive, singly (live) or in batches (replay).

A batch holds notifications of one characteristic in arrival order, payloads concatenated, so
codecs can decode a whole recording chunk with a few numpy calls instead of one call per packet.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class Notification:
    """One GATT value received (notification/indication) or to send (simulator, fake sensor)."""

    characteristic: str  # lower-case 128-bit UUID
    data: bytes
    host_t_ns: int = 0


@dataclass(frozen=True, slots=True)
class NotificationBatch:
    """Payloads of one characteristic; payload i is `data[offsets[i]:offsets[i + 1]]`."""

    characteristic: str
    host_t_ns: NDArray[np.int64]
    data: bytes
    offsets: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.host_t_ns.shape[0])

    def payload(self, i: int) -> bytes:
        return self.data[self.offsets[i] : self.offsets[i + 1]]

    def payloads(self) -> Iterator[bytes]:
        for i in range(len(self)):
            yield self.payload(i)

    @property
    def lengths(self) -> NDArray[np.int64]:
        return np.diff(self.offsets)

    @classmethod
    def single(cls, characteristic: str, data: bytes, host_t_ns: int) -> NotificationBatch:
        return cls(
            characteristic=characteristic.lower(),
            host_t_ns=np.array([host_t_ns], dtype=np.int64),
            data=bytes(data),
            offsets=np.array([0, len(data)], dtype=np.int64),
        )

    @classmethod
    def from_payloads(
        cls, characteristic: str, payloads: Iterable[bytes], host_t_ns: Iterable[int]
    ) -> NotificationBatch:
        chunks = [bytes(p) for p in payloads]
        offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
        np.cumsum([len(c) for c in chunks], out=offsets[1:])
        return cls(
            characteristic=characteristic.lower(),
            host_t_ns=np.fromiter(host_t_ns, dtype=np.int64, count=len(chunks)),
            data=b"".join(chunks),
            offsets=offsets,
        )
