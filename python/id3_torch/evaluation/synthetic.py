"""What a synthetic dataset shows, measured with the identity encoder f (the figures of its card).

- identity consistency: how close each image's f(x_ij) is to its identity's centre c_i (the
  normalised mean of the identity's embeddings), to its condition y_ij and to its anchor w_i;
- separation: the cosines between identity centres, max and mean over pairs i ≠ k;
- diversity: the spread (standard deviation) of predicted attributes within each identity, beside
  the spread that was asked for, and the error between asked and predicted attributes;
- privacy leakage: for every synthetic centre, the nearest training identity centre; the closest
  approach over all of them.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..data.batches import face_loader, loading, sequential_batches
from ..data.datasets import open_face_images

AttributePredictor = Callable[[torch.Tensor], dict[str, torch.Tensor]]


def _degrees(cosine: float) -> float:
    return math.degrees(math.acos(max(-1.0, min(1.0, cosine))))


@torch.no_grad()
def embed_dataset(root: str, encoder: torch.nn.Module, *, device: torch.device, batch_size: int = 256,
                  predictor: AttributePredictor | None = None, on_batch: Callable[[int], None] | None = None,
                  ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """(embeddings (n, d) unit f(x), class labels (n,), predicted attributes {name: (n,)}) of a dataset's
    images in its manifest order, streamed batch by batch."""
    dataset = open_face_images(root)
    n = len(dataset)
    embeddings: torch.Tensor | None = None
    predicted: dict[str, torch.Tensor] = {}
    with loading(face_loader(dataset, sequential_batches(n, batch_size), workers=0)) as batches:
        for batch in batches:
            e = encoder(batch.images.to(device).float() / 127.5 - 1.0).cpu()  # (B, d), unit
            if embeddings is None:
                embeddings = torch.zeros(n, e.shape[1])
            embeddings[batch.indices] = e
            for name, values in (predictor(batch.images) if predictor else {}).items():
                predicted.setdefault(name, torch.zeros(n))[batch.indices] = values.float().cpu()
            if on_batch:
                on_batch(len(batch.indices))
    return embeddings, dataset.labels, predicted


def identity_centres(embeddings: torch.Tensor, labels: torch.Tensor, identities: int) -> torch.Tensor:
    """c_i = normalise(Σ_j f(x_ij)): (identities, d)."""
    sums = torch.zeros(identities, embeddings.shape[1]).index_add_(0, labels, embeddings)
    return F.normalize(sums, dim=1)


def identity_consistency(embeddings: torch.Tensor, labels: torch.Tensor, centres: torch.Tensor,
                         conditions: torch.Tensor, anchors: torch.Tensor) -> tuple[dict, torch.Tensor]:
    to_centre = (embeddings * centres[labels]).sum(1)  # (n,) cos(f(x_ij), c_i)
    return {
        "meanCosineToCentre": float(to_centre.mean()),
        "meanCosineToCondition": float((embeddings * F.normalize(conditions, dim=1)).sum(1).mean()),  # cos(f(x_ij), y_ij)
        "meanCosineToAnchor": float((embeddings * F.normalize(anchors, dim=1)[labels]).sum(1).mean()),  # cos(f(x_ij), w_i)
    }, to_centre


def separation(centres: torch.Tensor, *, block: int = 4096) -> dict:
    """Max and mean of cos(c_i, c_k) over i ≠ k, in row blocks (N = 100,000 fits)."""
    n = len(centres)
    if n < 2:
        return {"maxCentreCosine": None, "meanCentreCosine": None, "minCentreAngle": None}
    total, largest = 0.0, -math.inf
    for start in range(0, n, block):
        cos = centres[start:start + block] @ centres.T  # (b, N)
        rows = torch.arange(start, min(start + block, n))
        cos[rows - start, rows] = -math.inf  # leave out i = k
        largest = max(largest, float(cos.max()))
        cos[rows - start, rows] = 0.0
        total += float(cos.sum())
    return {"maxCentreCosine": largest, "meanCentreCosine": total / (n * (n - 1)), "minCentreAngle": _degrees(largest)}


def leakage(centres: torch.Tensor, training_centres: torch.Tensor, *, block: int = 4096) -> tuple[dict, torch.Tensor]:
    """For every synthetic centre, the cosine of the nearest training identity centre; the closest of all."""
    nearest = torch.cat([(centres[s:s + block] @ training_centres.T).max(dim=1).values for s in range(0, len(centres), block)])
    closest = int(nearest.argmax())
    return {
        "closestCosine": float(nearest[closest]),
        "closestAngle": _degrees(float(nearest[closest])),
        "closestIdentity": closest,
        "meanNearestCosine": float(nearest.mean()),
        "trainingIdentities": len(training_centres),
    }, nearest


def attribute_spread(predicted: dict[str, torch.Tensor], requested: torch.Tensor, names: tuple[str, ...],
                     labels: torch.Tensor, identities: int) -> dict:
    """Mean within-identity standard deviation of each predicted attribute (and of the requested
    one), and the mean absolute error between requested and predicted."""
    def spread(values: torch.Tensor) -> float:
        counts = torch.bincount(labels, minlength=identities).clamp(min=1).double()
        mean = torch.zeros(identities, dtype=torch.float64).index_add_(0, labels, values.double()) / counts
        variance = torch.zeros(identities, dtype=torch.float64).index_add_(0, labels, (values.double() - mean[labels]) ** 2) / counts
        return float(variance.sqrt().mean())

    out: dict[str, dict] = {"predictedSpread": {}, "requestedSpread": {}, "error": {}}
    for k, name in enumerate(names):
        out["requestedSpread"][name] = spread(requested[:, k])
        if name in predicted:
            out["predictedSpread"][name] = spread(predicted[name])
            out["error"][name] = float((predicted[name] - requested[:, k]).abs().mean())
    return out


def synthetic_statistics(embeddings: torch.Tensor, labels: torch.Tensor, *, conditions: np.ndarray, anchors: np.ndarray,
                         attributes: np.ndarray, attribute_names: tuple[str, ...], predicted: dict[str, torch.Tensor],
                         training_centres: np.ndarray | None) -> tuple[dict, dict[str, np.ndarray]]:
    """The card's statistics and histograms (name → values) of a synthetic dataset's embeddings."""
    identities = len(anchors)
    centres = identity_centres(embeddings, labels, identities)
    consistency, to_centre = identity_consistency(embeddings, labels, centres, torch.from_numpy(np.asarray(conditions, np.float32)),
                                                  torch.from_numpy(np.asarray(anchors, np.float32)))
    statistics = {"identityConsistency": consistency, "separation": separation(centres),
                  "attributes": attribute_spread(predicted, torch.from_numpy(np.asarray(attributes, np.float32)),
                                                 attribute_names, labels, identities)}
    histograms = {"cos(f(x_ij), c_i)": to_centre.numpy()}
    if training_centres is not None:
        statistics["leakage"], nearest = leakage(centres, F.normalize(torch.from_numpy(np.asarray(training_centres, np.float32)), dim=1))
        histograms["nearest training identity cosine"] = nearest.numpy()
    return statistics, histograms
