"""The real MetaBase exports in ../shared/data/metabase-examples (not copied: no licence)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.analysis.pipeline import AnalysisPipeline
from monitor.sources.inputs import open_input
from tests.conftest import SHARED

EXAMPLES = SHARED / "data" / "metabase-examples"
FILES = sorted(EXAMPLES.glob("*.csv")) if EXAMPLES.is_dir() else []

pytestmark = pytest.mark.skipif(not FILES, reason="../shared/data/metabase-examples not present")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name.split("_")[0] + p.name[-30:-18])
def test_every_example_file_loads_with_its_partner_and_analyses(path: Path) -> None:
    loaded = open_input(path)
    meta = loaded.metadata
    assert len(meta.files) == 2 and path in meta.files
    assert meta.channel_rates_hz == {"acc": 12.5, "gyro": 25.0}
    assert meta.device_address == "C4:27:32:BE:25:5C"
    assert meta.start is not None and meta.start.year == 2019
    (block,) = loaded.blocks
    assert block.channels == ("acc", "gyro")
    assert meta.rates_hz["metabase"] == pytest.approx(25.0, rel=0.01)
    # a wrist at rest or lifting: about 1 g, never the 9.8x of a unit mix-up
    gravity = abs(block.acc).max()
    assert 5 < gravity < 40
    pipeline = AnalysisPipeline("generic")
    pipeline.process(block)
    summary = pipeline.summary()
    assert summary.duration_s == pytest.approx((block.t_ns[-1] - block.t_ns[0]) / 1e9, abs=0.1)


def test_the_rest_recording_has_no_reps_through_the_cli(capsys) -> None:
    """Sitting between sets the wrist shifts to three poses and back, each time in another
    direction: none repeats, so `generic` counts nothing (the issue's "done when")."""
    import json

    from monitor.cli import main

    (rest,) = [p for p in FILES if p.name.startswith("A-rest-sitting") and "Accel" in p.name]
    assert main(["analyze", str(rest), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rep_count"] == 0 and summary["reps"] == [] and summary["sets"] == []
    assert summary["duration_s"] > 30
