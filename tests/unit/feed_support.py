"""A PipelineFeed over a scripted list of items (sample blocks and link events), as the live and
replay sources hand them to the screen."""

from __future__ import annotations

from monitor.session.summary import SensorInfo
from monitor.tui.pipeline_feed import PipelineFeed
from monitor.tui.track import ProgramTrack


def scripted_feed(items: list, *, rate_hz: float, title: str, source: str) -> PipelineFeed:
    """A feed of `items` for a pelvic-tilt session whose counted sensor is "back"."""

    async def produce():  # type: ignore[no-untyped-def]
        for item in items:
            yield item

    return PipelineFeed(
        produce(),
        lambda: ProgramTrack("pelvic_tilt"),
        title=title,
        sensor=SensorInfo(profile="witmotion_wt901ble", sample_rate_hz=rate_hz),
        source=source,
        primary_stream="back",
    )
