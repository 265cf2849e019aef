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


@pytest.mark.parametrize("name", ["s1_e1_u2", "s1_e2_u4", "s1_e4_u3", "s1_e5_u3", "s2_e4_u3"])
def test_counts_every_phase_exactly(name):
    block, record = load(name)
    pipeline = AnalysisPipeline("generic")
    pipeline.process(block)
    summary = pipeline.summary()
    mids = np.array([(r.start_s + r.end_s) / 2 for r in summary.reps])
    for phase in record["phases"]:
        inside = (mids >= phase["start_s"]) & (mids < phase["end_s"])
        assert inside.sum() == phase["reps"], phase["execution"]


def test_the_goal_holds_on_every_recording():
    """Issue 3's goal on the whole development set: every phase within one rep of the
    protocol's ten, at least 90 % of the recordings exact."""
    index = json.loads((DATA / "index.json").read_text())
    exact = 0
    for record in index:
        block, _ = load(f"s{record['subject']}_e{record['exercise']}_{record['moving_unit']}")
        pipeline = AnalysisPipeline("generic")
        pipeline.process(block)
        mids = np.array([(r.start_s + r.end_s) / 2 for r in pipeline.summary().reps])
        errors = [
            int(((mids >= p["start_s"]) & (mids < p["end_s"])).sum()) - p["reps"]
            for p in record["phases"]
        ]
        assert max(map(abs, errors)) <= 1, (record["subject"], record["exercise"], errors)
        exact += sum(errors) == 0 and len(mids) == record["rep_count"]
    assert exact >= 0.9 * len(index)


def test_holds_in_correct_phase_none_in_fast_phase():
    block, record = load("s1_e1_u2")
    pipeline = AnalysisPipeline("generic")
    pipeline.process(block)
    reps = pipeline.summary().reps
    correct = [r.hold_s for r in reps if r.end_s < record["phases"][0]["end_s"]]
    fast = [r.hold_s for r in reps if 100 <= r.start_s < 160]
    assert len(correct) == 10 and min(correct) > 3.0  # protocol: 5 s holds
    assert len(fast) == 10 and max(fast) < 1.5


def test_low_amplitude_reps_off_the_plane_are_counted_where_they_were_made():
    """s1_e5's low-amplitude hip extensions turned the thigh about 3 degrees, mostly about the
    vertical: the plane angle stays at rest, the whole orientation shows each out and back."""
    block, record = load("s1_e5_u3")
    pipeline = AnalysisPipeline("generic")
    pipeline.process(block)
    low = [r for r in pipeline.summary().reps if r.start_s >= record["phases"][2]["start_s"]]
    labelled = [b for b in record["rep_boundaries"] if b["execution_type"] == 3]
    assert len(low) == len(labelled) == 10
    for rep, label in zip(low, labelled, strict=True):
        assert rep.start_s == pytest.approx(label["start_s"], abs=1.0)
        assert rep.end_s == pytest.approx(label["end_s"], abs=1.0)
        assert 1.5 <= rep.peak_angle_deg < 6.0 and "short" in rep.flags
    # their short-of-target warnings are dated at the reps' ends, though announced later
    warned = [w.t_s for w in pipeline.summary().warnings]
    assert warned == sorted(warned)
    assert (
        sum(
            w.kind == "short_of_target" and w.t_s in {r.end_s for r in low}
            for w in pipeline.summary().warnings
        )
        == 10
    )


@settings(max_examples=8, deadline=None)
@given(
    st.sampled_from(["s1_e2_u4", "s1_e5_u3"]),
    st.lists(st.integers(min_value=1, max_value=5900), min_size=1, max_size=40),
)
def test_real_recording_any_chunking(name, cuts):
    block, _ = load(name)
    whole = AnalysisPipeline("generic")
    expected = whole.process(block)
    chunked = AnalysisPipeline("generic")
    events = []
    edges = [0, *sorted({c for c in cuts if c < len(block)}), len(block)]
    for a, b in itertools.pairwise(edges):
        events.extend(chunked.process(block.slice(a, b)))
    assert events == expected
    assert chunked.summary() == whole.summary()
