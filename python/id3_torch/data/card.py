"""A dataset card: card.json (for programs), card.md (for people) and card/<name>.png histograms.

It says what a synthetic dataset holds (identities, images, images per identity, image size,
formats, files) and how its conditions are distributed (a histogram per attribute), plus any
statistics and histograms its caller adds (the generate stage: identity consistency, separation,
leakage). Every file is written whole or not at all.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..files import write_text_atomic
from .histogram import histogram, write_histogram_png

CARD_FOLDER = "card"


def _summary(values: np.ndarray) -> dict:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"min": None, "max": None, "mean": None, "std": None}
    return {"min": float(finite.min()), "max": float(finite.max()), "mean": float(finite.mean()),
            "std": float(finite.std())}


def _plot_name(kind: str, name: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return f"{CARD_FOLDER}/{kind}-{safe}.png"


def _distributions(root: Path, columns: Mapping[str, np.ndarray], bins: int, kind: str) -> dict:
    described = {}
    for name, values in columns.items():
        values = np.asarray(values, dtype=np.float64).ravel()
        hist = histogram(values, bins)
        plot = _plot_name(kind, name)
        write_histogram_png(root / plot, hist, title=name)
        described[name] = {**_summary(values), "histogram": hist.as_json(), "plot": plot}
    return described


def _json_safe(value: object) -> object:
    """The caller's statistics as plain JSON: numpy scalars and arrays made Python, NaN and ±inf made null."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_safe(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"card statistics must be JSON values (numbers, strings, lists, dicts), got {type(value).__name__}")


def _flat(statistics: Mapping, prefix: str = "") -> list[tuple[str, object]]:
    rows = []
    for key, value in statistics.items():
        if isinstance(value, Mapping):
            rows += _flat(value, f"{prefix}{key}.")
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


def _cell(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def _markdown(card: dict) -> str:
    per = card["imagesPerIdentity"]
    size = card["imageSize"]
    lines = [f"# {card['name']}", "", card["description"], "",
             "| | |", "|---|---|",
             f"| identities | {card['identities']:,} |",
             f"| images | {card['images']:,} |",
             f"| images per identity | min {per['min']} · median {_cell(per['median'])} · max {per['max']} |",
             f"| image size | {size['width']}×{size['height']} ({card['imageFormat']}) |",
             f"| formats | {', '.join(card['formats'])} |",
             f"| conditions | {card['embeddingSize']}-d identity embedding, attributes: "
             f"{', '.join(card['attributes']) or 'none'} |",
             "", "Files: " + ", ".join(f"`{f}`" for f in card["files"]), ""]
    if card["attributes"]:
        lines += ["## Attributes", "", "| attribute | min | mean | std | max |", "|---|---|---|---|---|"]
        lines += [f"| {name} | {_cell(a['min'])} | {_cell(a['mean'])} | {_cell(a['std'])} | {_cell(a['max'])} |"
                  for name, a in card["attributes"].items()]
        lines += [""] + [f"![{name}]({a['plot']})" for name, a in card["attributes"].items()] + [""]
    if card["statistics"]:
        lines += ["## Statistics", "", "| statistic | value |", "|---|---|"]
        lines += [f"| {key} | {_cell(value)} |" for key, value in _flat(card["statistics"])] + [""]
    if card["histograms"]:
        lines += ["## Distributions", ""]
        for name, h in card["histograms"].items():
            lines += [f"**{name}**: min {_cell(h['min'])}, mean {_cell(h['mean'])}, max {_cell(h['max'])}", "",
                      f"![{name}]({h['plot']})", ""]
    return "\n".join(lines)


def write_card(root: str | os.PathLike, *, name: str, description: str, images_per_identity: np.ndarray,
               image_size: tuple[int, int], image_format: str, formats: list[str], files: list[str],
               embedding_size: int, attributes: Mapping[str, np.ndarray], statistics: Mapping | None = None,
               histograms: Mapping[str, np.ndarray] | None = None, bins: int = 30) -> dict:
    """Write card.json, card.md and the histogram PNGs under `root`; returns the card.

    images_per_identity: (K,) counts; image_size: (width, height); attributes: name -> (N,) values of
    every image; statistics: the caller's JSON-serialisable figures (nested dicts allowed);
    histograms: the caller's name -> values, drawn like the attributes.
    """
    root = Path(root)
    (root / CARD_FOLDER).mkdir(exist_ok=True)
    counts = np.asarray(images_per_identity)
    card = {
        "name": name, "description": description,
        "identities": int(counts.size), "images": int(counts.sum()),
        "imagesPerIdentity": {"min": int(counts.min()), "median": float(np.median(counts)), "max": int(counts.max())},
        "imageSize": {"width": int(image_size[0]), "height": int(image_size[1])}, "imageFormat": image_format,
        "formats": list(formats), "files": list(files), "embeddingSize": int(embedding_size),
        "attributes": _distributions(root, attributes, bins, "attribute"),
        "statistics": _json_safe(dict(statistics or {})),
        "histograms": _distributions(root, histograms or {}, bins, "histogram"),
    }
    write_text_atomic(root / "card.json", json.dumps(card, indent=2) + "\n")
    write_text_atomic(root / "card.md", _markdown(card))
    return card
