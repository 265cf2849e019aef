"""Malformed notifications on every bundled stream: counted once, never raised, resynchronised.

Hypothesis picks where a run of 1-5 notifications is spoiled, how (truncated, oversized,
random, bit-flipped, wrong characteristic) and whether it arrives live (one at a time) or in
replay batches; `fuzz_support.run_case` feeds it through a fresh ProfileDecoder and checks
every invariant (see its docstring). benchmarks/fuzz_codecs.py runs thousands per stream.
"""

from __future__ import annotations

import pytest
from fuzz_support import KINDS, PREFIX_MAX, fixture, run_case, streams
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", streams())
@settings(
    max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    start=st.integers(0, PREFIX_MAX),
    count=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
    batched=st.booleans(),
)
def test_spoiled_run_is_counted_once_and_the_stream_resynchronises(
    name: str, kind: str, start: int, count: int, seed: int, batched: bool
) -> None:
    fix = fixture(name)
    outcome = run_case(fix, fix.case(kind, start, count, seed, batched))
    assert outcome.exception is None
    assert outcome.violations == []
    if kind in ("truncated", "oversized") and not fix.resync:
        # A cut or padded frame never vanishes: it decodes or is counted at once. (Reassembling
        # codecs count it when its message or packet ends, a notification or more later.)
        assert outcome.silent == 0
