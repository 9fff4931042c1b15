"""Histograms: the counts, and a PNG bar chart of them."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..report.plots import draw


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


def write_histogram_png(path: str | os.PathLike, hist: Histogram, *, title: str) -> None:
    """A bar chart of `hist`, drawn like every other plot of the project (report/plots.py)."""
    draw({"kind": "bars", "path": os.fspath(path), "title": f"{title}  (n = {hist.finite})",
          "edges": hist.edges, "counts": hist.counts})
