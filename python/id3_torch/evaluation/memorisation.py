"""Memorisation: how close each synthetic image comes to a training image, beside how close new real photos come.

Privacy is why synthetic face sets exist, and a synthetic image that reproduces a training image leaks that
person. For every synthetic image: its nearest training image in the judge's features (cosine, larger is
closer) and in pixels (RMS distance of 16 × 16 thumbnails in [0, 1], smaller is closer). The same for the
held-out real images, photos of other people taken the same way: what "not copied" looks like at this data's
resolution. The figures are quantiles of those nearest-neighbour scores and the share of synthetic images
closer to a training image than any held-out image is; the picture shows the closest pairs.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..data.batches import face_loader, loading, sequential_batches
from ..data.datasets import open_face_images

THUMBNAIL = 16  # pixels a side: coarse enough that a shifted copy still counts as close
QUANTILES = {"closest": None, "p01": 0.01, "p05": 0.05, "median": 0.5}


def thumbnails(images: torch.Tensor, size: int = THUMBNAIL) -> torch.Tensor:
    """uint8 (N, 3, H, W) → (N, 3·size²) float32 in [0, 1], area-averaged."""
    return F.adaptive_avg_pool2d(images.float() / 255.0, size).flatten(1)


def dataset_thumbnails(root: str, *, splits: tuple[str, ...] | None = None, batch_size: int = 256) -> torch.Tensor:
    """The thumbnails of a dataset's images (a manifest's `splits`, or all), in its order, streamed."""
    dataset = open_face_images(root, splits=splits)
    rows = torch.zeros(len(dataset), 3 * THUMBNAIL**2)
    with loading(face_loader(dataset, sequential_batches(len(dataset), batch_size), workers=0)) as batches:
        for batch in batches:
            rows[batch.indices] = thumbnails(batch.images)
    return rows


def nearest(queries: torch.Tensor, references: torch.Tensor, *, measure: str, chunk: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """Each query's nearest reference: (score (n,), index (n,)). measure 'cosine' (unit rows: the largest dot
    product) or 'rms' (the smallest ‖a − b‖/√D), in blocks of `chunk` queries."""
    scores, indices = [], []
    for start in range(0, len(queries), chunk):
        q = queries[start:start + chunk].double()
        if measure == "cosine":
            values, best = (q @ references.double().T).max(dim=1)
        elif measure == "rms":
            values, best = torch.cdist(q, references.double()).min(dim=1)
            values = values / queries.shape[1] ** 0.5
        else:
            raise ValueError(f"measure: expected 'cosine' or 'rms', got {measure!r}")
        scores.append(values.float())
        indices.append(best)
    return torch.cat(scores), torch.cat(indices)


def _quantiles(values: torch.Tensor, closer_is_larger: bool) -> dict:
    """The nearest-neighbour scores' closest value and the quantiles counted from the close end."""
    ordered = values.double().sort(descending=closer_is_larger).values
    return {name: float(ordered[0] if q is None else ordered[min(len(ordered) - 1, int(q * len(ordered)))])
            for name, q in QUANTILES.items()}


def memorisation_figures(generated: torch.Tensor, held_out: torch.Tensor, training: torch.Tensor, *,
                         measure: str) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """The card's figures for one measure, and each generated image's nearest (score, training index).

    closerThanHeldOut: the share of generated images nearer a training image than the nearest held-out real
    image comes (0 for a set that copies nothing closer than a new photo does)."""
    larger = measure == "cosine"
    generated_score, generated_index = nearest(generated, training, measure=measure)
    held_out_score, _ = nearest(held_out, training, measure=measure)
    bound = held_out_score.max() if larger else held_out_score.min()
    closer = (generated_score > bound) if larger else (generated_score < bound)
    return ({"generated": _quantiles(generated_score, larger), "heldOut": _quantiles(held_out_score, larger),
             "closerThanHeldOut": float(closer.double().mean()), "generatedImages": len(generated),
             "heldOutImages": len(held_out), "trainingImages": len(training)},
            generated_score, generated_index)


def closest_pairs(score: torch.Tensor, index: torch.Tensor, *, measure: str, count: int = 8) -> list[tuple[int, int]]:
    """(generated row, training row) of the `count` generated images nearest a training image."""
    order = score.argsort(descending=measure == "cosine")[:count]
    return [(int(g), int(index[g])) for g in order]
