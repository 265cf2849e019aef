"""The "candidate rep" path of the rep counter on a real recording.

s1_e7_u3 (standing lateral shoulder raise, upper-arm unit; UCI Physical Therapy Exercises
Dataset, id 730, CC BY 4.0): after the tenth correct rep the arm stays raised until the fast
phase, so the pipeline re-anchors on the raised pose. That last excursion is kept as a candidate
and counted only when the next rep goes back from the new pose: 30 reps, as annotated.
Read from ../shared (tests/conftest.py).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from monitor.analysis.pipeline import AnalysisPipeline
from monitor.analysis.results import RepCounted
from tests.unit.test_analysis_real import DATA, load

pytestmark = pytest.mark.skipif(
    not (DATA / "s1_e7_u3.csv").is_file(), reason="shared pt-exercises data not present"
)


def test_stayed_out_rep_is_counted_when_the_next_rep_returns_from_the_new_pose():
    block, record = load("s1_e7_u3")
    pipeline = AnalysisPipeline("generic")
    events = pipeline.process(block)
    summary = pipeline.summary()
    assert record["rep_count"] == 30
    assert len(summary.reps) == 30
    counted = [e for e in events if isinstance(e, RepCounted)]
    assert [e.rep.index for e in counted] == list(range(1, 31))
    # Held back and counted later: the first rep of the session and of the fast set (generic
    # counts a movement once it repeats: at the end of the next rep) and the stayed-out tenth.
    late = {e.rep.index: (i, e) for i, e in enumerate(counted) if e.t_s > e.rep.end_s + 1.0}
    assert sorted(late) == [1, 10, 11]
    for index in (1, 11):
        i, held = late[index]
        assert held.t_s == counted[i + 1].t_s == counted[i + 1].rep.end_s
    i, candidate = late[10]
    following = counted[i + 1]
    assert candidate.rep.end_s < following.rep.start_s
    assert candidate.t_s == following.rep.end_s  # counted when rep 11 went back
    assert candidate.rep.end_s < record["phases"][0]["end_s"] < following.rep.start_s
    mids = np.array([(r.start_s + r.end_s) / 2 for r in summary.reps])
    for phase in record["phases"]:
        inside = (mids >= phase["start_s"]) & (mids < phase["end_s"])
        assert inside.sum() == phase["reps"], phase["execution"]


@pytest.mark.parametrize("seed", [7, 2026])
def test_candidate_rep_is_independent_of_chunking(seed):
    block, _ = load("s1_e7_u3")
    whole = AnalysisPipeline("generic")
    expected = whole.process(block)
    rng = np.random.default_rng(seed)
    cuts = np.unique(rng.integers(1, len(block), size=int(rng.integers(20, 200))))
    chunked = AnalysisPipeline("generic")
    events = []
    for a, b in itertools.pairwise([0, *cuts.tolist(), len(block)]):
        events.extend(chunked.process(block.slice(a, b)))
    assert events == expected
    assert chunked.summary() == whole.summary()
