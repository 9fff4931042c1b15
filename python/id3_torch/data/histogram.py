"""Histograms: the counts, and a small PNG bar chart of them drawn with Pillow (no plotting library ships here)."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..files import atomic_path

_WIDTH, _HEIGHT = 480, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 16, 30, 40  # plot margins, pixels
_BAR, _AXIS, _TEXT = (70, 110, 170), (60, 60, 60), (20, 20, 20)


@dataclass(frozen=True)
class Histogram:
    edges: list[float]  # bins + 1 increasing bin edges
    counts: list[int]
    finite: int  # values counted (NaN and infinities are left out)

    def as_json(self) -> dict:
        return {"edges": self.edges, "counts": self.counts}


def histogram(values: np.ndarray, bins: int = 30) -> Histogram:
    values = np.asarray(values, dtype=np.float64).ravel()
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return Histogram([0.0, 1.0], [0], 0)
    low, high = float(finite.min()), float(finite.max())
    if low == high:  # one value: a single bin around it
        low, high, bins = low - 0.5, high + 0.5, 1
    counts, edges = np.histogram(finite, bins=bins, range=(low, high))
    return Histogram([float(e) for e in edges], [int(c) for c in counts], int(finite.size))


def _label(value: float) -> str:
    return f"{value:.3g}"


def write_histogram_png(path: str | os.PathLike, hist: Histogram, *, title: str) -> None:
    """A bar chart of `hist`: bars, the x range at the ends and middle, the largest count, a title."""
    image = Image.new("RGB", (_WIDTH, _HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    x0, x1, y0, y1 = _LEFT, _WIDTH - _RIGHT, _TOP, _HEIGHT - _BOTTOM  # plot box; y grows downwards
    peak = max(hist.counts) or 1
    bar_width = (x1 - x0) / len(hist.counts)
    for n, count in enumerate(hist.counts):
        if count:
            top = y1 - (y1 - y0) * count / peak
            draw.rectangle([x0 + n * bar_width, top, x0 + (n + 1) * bar_width - 1, y1], fill=_BAR)
    draw.line([x0, y1, x1, y1], fill=_AXIS)
    draw.line([x0, y0, x0, y1], fill=_AXIS)
    low, high = hist.edges[0], hist.edges[-1]
    for fraction in (0.0, 0.5, 1.0):
        x = x0 + fraction * (x1 - x0)
        text = _label(low + fraction * (high - low))
        draw.line([x, y1, x, y1 + 4], fill=_AXIS)
        draw.text((x - draw.textlength(text, font=font) / 2, y1 + 8), text, fill=_TEXT, font=font)
    draw.text((4, y0 - 4), str(peak), fill=_TEXT, font=font)
    draw.text((4, y1 - 8), "0", fill=_TEXT, font=font)
    draw.text((x0, 8), f"{title}  (n = {hist.finite})", fill=_TEXT, font=font)
    with atomic_path(path) as temporary:
        image.save(temporary, format="PNG")
