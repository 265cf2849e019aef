"""The analysis on real physiotherapy recordings (Xsens MTx, 25 Hz).

Data: UCI Physical Therapy Exercises Dataset (id 730, doi:10.24432/C5JK60, CC BY 4.0);
Yurtman & Barshan 2014, doi:10.1016/j.cmpb.2014.07.003. Read from ../shared (tests/conftest.py).
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.analysis.pipeline import AnalysisPipeline
from monitor.core.samples import SampleBlock
from tests.conftest import SHARED

DATA = SHARED / "data" / "pt-exercises"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared pt-exercises data not present")


def load(name: str) -> tuple[SampleBlock, dict]:
    table = np.loadtxt(DATA / f"{name}.csv", delimiter=",", skiprows=1)
    block = SampleBlock(
        t_ns=np.round(table[:, 0] * 1e9).astype(np.int64), acc=table[:, 1:4], gyro=table[:, 4:7]
    )
    index = json.loads((DATA / "index.json").read_text())
    subject, exercise, unit = name.split("_")
    record = next(
        r for r in index if f"s{r['subject']}" == subject and f"e{r['exercise']}" == exercise
    )
    assert record["moving_unit"] == unit
    return block, record


@pytest.mark.parametrize("name", ["s1_e1_u2", "s1_e4_u3", "s2_e4_u3"])
def test_counts_every_phase_exactly(name):
    block, record = load(name)
    pipeline = AnalysisPipeline("generic")
    pipeline.process(block)
    summary = pipeline.summary()
    mids = np.array([(r.start_s + r.end_s) / 2 for r in summary.reps])
    for phase in record["phases"]:
        inside = (mids >= phase["start_s"]) & (mids < phase["end_s"])
        assert inside.sum() == phase["reps"], phase["execution"]


def test_holds_in_correct_phase_none_in_fast_phase():
    block, record = load("s1_e1_u2")
    pipeline = AnalysisPipeline("generic")
    pipeline.process(block)
    reps = pipeline.summary().reps
    correct = [r.hold_s for r in reps if r.end_s < record["phases"][0]["end_s"]]
    fast = [r.hold_s for r in reps if 100 <= r.start_s < 160]
    assert len(correct) == 10 and min(correct) > 3.0  # protocol: 5 s holds
    assert len(fast) == 10 and max(fast) < 1.5


@settings(max_examples=5, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=5900), min_size=1, max_size=40))
def test_real_recording_any_chunking(cuts):
    block, _ = load("s1_e2_u4")
    whole = AnalysisPipeline("generic")
    expected = whole.process(block)
    chunked = AnalysisPipeline("generic")
    events = []
    edges = [0, *sorted({c for c in cuts if c < len(block)}), len(block)]
    for a, b in itertools.pairwise(edges):
        events.extend(chunked.process(block.slice(a, b)))
    assert events == expected
    assert chunked.summary() == whole.summary()
