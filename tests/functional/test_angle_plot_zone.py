"""The angle plot draws the target zone and the limit where the reps go.

Alternating exercises (lower trunk rotation: knees to one side, then the other) rep on both sides
of neutral, so zone and limit are mirrored below 0°; one-way exercises (pelvic tilt) keep one side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tui_helpers import PELVIC_TILT, TRUNK_ROTATION, make_app, replay_to_end

from monitor.tui.replay_feed import open_replay
from monitor.tui.widgets import AnglePlot
from monitor.tui.widgets.angle_plot import render_angle_plot

ZONE_BACKGROUND = "#12361d"


def _label(line: str) -> float | None:
    label = line[:5].strip().rstrip("°")
    return float(label) if label else None


@pytest.mark.parametrize(
    ("recording", "both_sides"), [(TRUNK_ROTATION, True), (PELVIC_TILT, False)]
)
async def test_zone_and_limit_are_drawn_on_the_sides_the_reps_go(
    recording: Path, both_sides: bool
) -> None:
    feed = open_replay(recording, speed=None)
    app = make_app(feed)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await replay_to_end(pilot)
        plot = screen.query_one(AnglePlot)
        view = feed.exercise()
        assert view.both_sides is both_sides
        assert (plot.target, plot.limit, plot.both_sides) == (
            view.target_deg,
            view.limit_deg,
            both_sides,
        )
        assert view.limit_deg is not None
        lines = [plot.render_line(y).text for y in range(plot.size.height)]

    limit_labels = sorted(_label(line) for line in lines if "┄" in line)
    expected = [-view.limit_deg, view.limit_deg] if both_sides else [view.limit_deg]
    assert limit_labels == pytest.approx(expected, abs=0.5)
    if both_sides:
        # The demo's reps go to the negative side: the mirrored limit is drawn below them.
        _t, deg = plot.ring.window(plot.window_s)
        assert -view.limit_deg < np.nanmin(deg) < -0.5 * view.limit_deg


@pytest.mark.parametrize("both_sides", [True, False])
def test_target_zone_is_mirrored_for_alternating_exercises(both_sides: bool) -> None:
    """A trace going +-40° against a 30-50° zone and a 60° limit: green rows and the red dashed
    limit on the positive side only, or on both sides."""
    plot_text = render_angle_plot(
        np.linspace(0.0, 15.0, 4),
        np.array([0.0, 40.0, -40.0, 0.0]),
        width=40,
        height=24,
        window_s=15.0,
        target=(30.0, 50.0),
        limit=60.0,
        both_sides=both_sides,
    )
    rows = plot_text.split("\n")
    zone_rows = [
        i for i, row in enumerate(rows) if any(ZONE_BACKGROUND in str(s.style) for s in row.spans)
    ]
    runs = np.split(zone_rows, np.flatnonzero(np.diff(zone_rows) > 1) + 1)
    dashed = [i for i, row in enumerate(rows) if "┄" in row.plain]
    assert sorted(_label(rows[i].plain) for i in dashed) == (
        [-60.0, 60.0] if both_sides else [60.0]
    )
    # Top to bottom: limit, zone, (0°, mirrored zone, mirrored limit).
    assert len(runs) == (2 if both_sides else 1)
    assert dashed[0] < runs[0][0]
    if both_sides:
        assert runs[0][-1] < runs[1][0] < runs[1][-1] < dashed[1]
        assert len(runs[0]) == len(runs[1])
