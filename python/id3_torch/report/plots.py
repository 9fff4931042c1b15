"""PNG plots from JSON specs (src/report/plots.ts `PlotSpec`), drawn with matplotlib's Agg backend.

  {"kind": "lines", "path", "title", "xlabel", "ylabel", "logx"?, "logy"?,
   "series": [{"label", "x": [...], "y": [...]}]}
  {"kind": "histograms", "path", "title", "panels": [{"label", "values": [...], "bins"}]}
  {"kind": "histograms", "path", "title", "manifest", "columns": [...]}   (a panel per manifest column)
  {"kind": "bars", "path", "title", "edges": [...], "counts": [...]}      (a histogram already counted)

Each file is written whole or not at all (a temporary name, then renamed).
"""
from __future__ import annotations

import csv
import math

from ..bridge.jobs import Progress
from ..files import atomic_path


def _pyplot():
    """matplotlib, loaded when a plot is drawn (not when the bridge lists its jobs), without a display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finite(xs: list, ys: list) -> tuple[list, list]:
    kept = [(x, y) for x, y in zip(xs, ys) if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
    return [x for x, _ in kept], [y for _, y in kept]


def _lines(spec: dict, axes) -> None:
    for series in spec["series"]:
        axes.plot(*_finite(series["x"], series["y"]), label=series["label"], linewidth=1.2)
    axes.set_xlabel(spec.get("xlabel", ""))
    axes.set_ylabel(spec.get("ylabel", ""))
    if spec.get("logx"):
        axes.set_xscale("log")
    if spec.get("logy"):
        axes.set_yscale("log")
    axes.grid(True, alpha=0.3)
    if len(spec["series"]) > 1:
        axes.legend(fontsize=8)


def _manifest_panels(manifest: str, columns: list[str]) -> list[dict]:
    with open(manifest, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    missing = [c for c in columns if rows and c not in rows[0]]
    if missing:
        raise ValueError(f"{manifest}: no column(s) {', '.join(missing)} to plot")
    return [{"label": c, "values": [float(r[c]) for r in rows if r[c] not in ("", None)]} for c in columns]


def draw(spec: dict) -> str:
    plt = _pyplot()
    kind = spec.get("kind")
    if kind == "lines":
        figure, axes = plt.subplots(figsize=(6, 4), dpi=100)
        _lines(spec, axes)
        axes.set_title(spec.get("title", ""))
    elif kind == "histograms":
        panels = spec["panels"] if "panels" in spec else _manifest_panels(spec["manifest"], spec["columns"])
        figure, grid = plt.subplots(1, len(panels), figsize=(3 * len(panels), 2.8), dpi=100, squeeze=False)
        for axes, panel in zip(grid[0], panels):
            axes.hist([v for v in panel["values"] if v is not None and math.isfinite(v)], bins=panel.get("bins", 30),
                      color="#4c72b0")
            axes.set_title(panel["label"], fontsize=9)
        figure.suptitle(spec.get("title", ""), fontsize=10)
    elif kind == "bars":
        figure, axes = plt.subplots(figsize=(4.8, 2.6), dpi=100)
        axes.stairs(spec["counts"], spec["edges"], fill=True, color="#4c72b0")
        axes.set_title(spec.get("title", ""), fontsize=9)
    else:
        raise ValueError(f"plot {spec.get('path')}: unknown kind {kind!r}; expected 'lines', 'histograms' or 'bars'")
    figure.tight_layout()
    with atomic_path(spec["path"]) as temporary:
        figure.savefig(temporary, format="png")
    plt.close(figure)
    return spec["path"]


def draw_plots(specs: list[dict], progress: Progress) -> list[str]:
    """Every plot spec, in order; the paths written."""
    progress.begin(len(specs), label="plots", unit="plot")
    written = []
    for spec in specs:
        written.append(draw(spec))
        progress.advance(1)
    return written
