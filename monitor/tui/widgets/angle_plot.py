"""The segment angle over the last seconds, drawn in braille against the target zone and limit."""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import NDArray
from rich.segment import Segment
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget

from monitor.tui.messages import AngleRing

# Braille dot bits for (row 0-3, column 0-1) within one character cell (Unicode U+2800 block).
_DOT_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.int64)
_LABEL_WIDTH = 5


def _value_range(
    deg: NDArray[np.float64], zones: list[tuple[float, float]], limits: list[float]
) -> tuple[float, float]:
    finite = deg[np.isfinite(deg)]
    values = [0.0, *limits, *(edge for zone in zones for edge in zone)]
    if finite.size:
        values += [float(finite.min()), float(finite.max())]
    low, high = min(values), max(values)
    span = max(high - low, 10.0)
    return low - 0.08 * span, high + 0.08 * span


def render_angle_plot(
    t_s: NDArray[np.float64],
    deg: NDArray[np.float64],
    *,
    width: int,
    height: int,
    window_s: float,
    target: tuple[float, float] | None = None,
    limit: float | None = None,
    both_sides: bool = False,
) -> Text:
    """A `width` x `height` text plot of the last `window_s` seconds (newest at the right).

    Rows inside the target zone get a green background, the limit row a red dashed line; the
    trace is green in the zone, red beyond the limit. With `both_sides` (alternating exercises,
    whose reps go either way from neutral) zone and limit are mirrored below zero as well.
    Pure: same input, same text.
    """
    plot_w = max(width - _LABEL_WIDTH, 1)
    height = max(height, 1)
    signs = (1.0, -1.0) if both_sides else (1.0,)
    zones = [] if target is None else [(target[0], target[1]), (-target[1], -target[0])]
    zones = zones[: len(signs)]
    limits = [] if limit is None else [sign * limit for sign in signs]
    low, high = _value_range(deg, zones, limits)
    rows_px, cols_px = 4 * height, 2 * plot_w
    grid = np.zeros((rows_px, cols_px), dtype=bool)
    finite = np.isfinite(deg)
    if finite.any():
        finite &= t_s >= t_s[finite][-1] - window_s
        t, d = t_s[finite], deg[finite]
        x = np.clip(((t - (t[-1] - window_s)) / window_s * (cols_px - 1)).round(), 0, cols_px - 1)
        y = np.clip(((high - d) / (high - low) * (rows_px - 1)).round(), 0, rows_px - 1)
        x, y = x.astype(np.int64), y.astype(np.int64)
        top = np.full(cols_px, rows_px, dtype=np.int64)
        bottom = np.full(cols_px, -1, dtype=np.int64)
        np.minimum.at(top, x, y)
        np.maximum.at(bottom, x, y)
        # Join each column to the previous sample's column so fast moves draw a continuous line.
        prev = np.r_[y[0], y[:-1]]
        np.minimum.at(top, x, prev)
        np.maximum.at(bottom, x, prev)
        rows = np.arange(rows_px)[:, None]
        grid = (rows >= top[None, :]) & (rows <= bottom[None, :])
    cells = (grid.reshape(height, 4, plot_w, 2) * _DOT_BITS[None, :, None, :]).sum(axis=(1, 3))

    def row_value(row: int) -> float:
        return high - (row + 0.5) / height * (high - low)

    def row_of(value: float) -> int:
        return int(np.clip((high - value) / (high - low) * height, 0, height - 1))

    labels = {0: high, height - 1: low}
    if target is not None:
        for sign in signs:
            labels[row_of(sign * target[1])] = sign * target[1]
    for edge in limits:
        labels[row_of(edge)] = edge
    limit_rows = {row_of(edge) for edge in limits}
    text = Text(no_wrap=True, overflow="crop")
    for row in range(height):
        value = row_value(row)
        label = f"{labels[row]:>4.0f}°" if row in labels else " " * _LABEL_WIDTH
        text.append(label[:_LABEL_WIDTH], style="dim")
        in_zone = any(zone[0] <= value <= zone[1] for zone in zones)
        beyond = limit is not None and any(sign * value >= limit for sign in signs)
        trace_style = "bold red" if beyond else "bold green" if in_zone else "bold cyan"
        background = " on #12361d" if in_zone else ""
        blank = "┄" if row in limit_rows else " "
        blank_style = ("red" if row in limit_rows else "") + background
        glyphs = "".join(chr(0x2800 + int(c)) if c else blank for c in cells[row])
        # One span per run of trace or blank cells, not one per character.
        drawn = cells[row] != 0
        edges = [0, *(np.flatnonzero(np.diff(drawn)) + 1).tolist(), len(drawn)]
        for start, stop in itertools.pairwise(edges):
            style = trace_style + background if drawn[start] else blank_style.strip()
            text.append(glyphs[start:stop], style=style)
        if row != height - 1:
            text.append("\n")
    return text


class AnglePlot(Widget):
    """Redrawn by the screen's frame timer from the shared `AngleRing`, never per sample."""

    DEFAULT_CSS = """
    AnglePlot { height: 1fr; min-height: 4; }
    """

    def __init__(self, ring: AngleRing, window_s: float = 15.0, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.ring = ring
        self.window_s = window_s
        self.target: tuple[float, float] | None = None
        self.limit: float | None = None
        self.both_sides = False
        self._drawn_version = -1
        self._strips: list[Strip] | None = None
        self.frames = 0  # redraws done, read by the benchmark

    def set_zone(
        self, target: tuple[float, float] | None, limit: float | None, both_sides: bool = False
    ) -> None:
        """The target zone and limit; `both_sides` mirrors them below zero (alternating reps)."""
        self.target, self.limit, self.both_sides = target, limit, both_sides
        self._strips = None
        self.refresh()

    def tick(self) -> None:
        """Called by the frame timer: redraw only when new samples arrived."""
        if self.ring.version != self._drawn_version:
            self._drawn_version = self.ring.version
            self._strips = None
            self.refresh()

    def on_resize(self) -> None:
        self._strips = None

    def render_line(self, y: int) -> Strip:
        """Line API: the plot is built once per frame as strips, straight from Rich segments."""
        if self._strips is None:
            self._strips = self._build()
        return self._strips[y] if y < len(self._strips) else Strip.blank(self.size.width)

    def _build(self) -> list[Strip]:
        self.frames += 1
        width, height = self.size.width, self.size.height
        t, deg = self.ring.window(self.window_s)
        text = render_angle_plot(
            t,
            deg,
            width=width,
            height=height,
            window_s=self.window_s,
            target=self.target,
            limit=self.limit,
            both_sides=self.both_sides,
        )
        console = self.app.console
        base = self.rich_style
        return [
            Strip(Segment.apply_style(line.render(console), base)).adjust_cell_length(width)
            for line in text.split("\n")
        ]
