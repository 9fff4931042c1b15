"""What a synthetic dataset shows (the figures of its card), measured by one identity encoder at a time.

Every identity figure is computed once with the judge, an encoder that neither the ID loss nor the
guidance ever saw, and once with f, which the sampler optimised (an image that fools f scores as well
as a face there):
- identity consistency: each image against the mean of its identity's other images (leave-one-out),
  beside the same figure for unrelated images grouped the same way (the chance level); with f also
  against its condition y_ij and its anchor w_i;
- separation: the cosines between identity centres, max and mean over pairs i ≠ k;
- privacy leakage: for every synthetic centre, the nearest training identity centre; the closest
  approach over all of them;
- realism (the judge only): evaluation/realism.py's Fréchet distance and k-NN precision/recall against
  held-out real images, beside two reference rows measured the same way.
Attribute control (asked vs predicted by a regressor the sampler never used) is measured once.
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
                  splits: tuple[str, ...] | None = None) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """(embeddings (n, d) unit f(x), class labels (n,), predicted attributes {name: (n,)}) of a dataset's
    images (a manifest's `splits`, or all) in its manifest order, streamed batch by batch."""
    dataset = open_face_images(root, splits=splits)
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
    sums = torch.zeros(identities, embeddings.shape[1], dtype=embeddings.dtype).index_add_(0, labels, embeddings)
    return F.normalize(sums, dim=1)


def leave_one_out_cosines(embeddings: torch.Tensor, labels: torch.Tensor, identities: int) -> torch.Tensor:
    """(n,) cos(e_ij, normalise(Σ_{k≠j} e_ik)): each image against its identity's other images; NaN for an
    identity's only image. Including the image in its own centre would score unrelated images √(1/m)."""
    sums = torch.zeros(identities, embeddings.shape[1]).index_add_(0, labels, embeddings)
    others = sums[labels] - embeddings  # (n, d)
    alone = torch.bincount(labels, minlength=identities)[labels] < 2
    return (embeddings * F.normalize(others, dim=1)).sum(1).masked_fill(alone, math.nan)


def identity_consistency(embeddings: torch.Tensor, labels: torch.Tensor, identities: int, *, seed: int = 0,
                         ) -> tuple[dict, torch.Tensor]:
    """Mean leave-one-out cosine, and the chance level: the same mean with the labels shuffled (unrelated
    images, in groups of the same sizes)."""
    loo = leave_one_out_cosines(embeddings, labels, identities)
    shuffled = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))]
    chance = leave_one_out_cosines(embeddings, shuffled, identities)
    return {"leaveOneOutCosine": float(loo.nanmean()), "chanceCosine": float(chance.nanmean())}, loo


def condition_agreement(embeddings: torch.Tensor, labels: torch.Tensor, conditions: torch.Tensor,
                        anchors: torch.Tensor) -> dict:
    """f only (y_ij and w_i live in f's space): mean cos(f(x_ij), y_ij) and mean cos(f(x_ij), w_i)."""
    return {
        "meanCosineToCondition": float((embeddings * F.normalize(conditions, dim=1)).sum(1).mean()),
        "meanCosineToAnchor": float((embeddings * F.normalize(anchors, dim=1)[labels]).sum(1).mean()),
    }


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


def attribute_control(predicted: dict[str, torch.Tensor], requested: torch.Tensor, names: tuple[str, ...],
                      labels: torch.Tensor, identities: int) -> dict:
    """Per attribute the regressor predicts: the correlation between asked and predicted over all images;
    the mean within-identity standard deviation asked and obtained; the mean absolute error beside the
    error of always predicting the mean asked value (what a sampler that ignores s scores at best)."""
    def spread(values: torch.Tensor) -> float:
        counts = torch.bincount(labels, minlength=identities).clamp(min=1).double()
        mean = torch.zeros(identities, dtype=torch.float64).index_add_(0, labels, values.double()) / counts
        variance = torch.zeros(identities, dtype=torch.float64).index_add_(0, labels, (values.double() - mean[labels]) ** 2) / counts
        return float(variance.sqrt().mean())

    control = {}
    for k, name in enumerate(names):
        if name not in predicted:
            continue
        asked, obtained = requested[:, k].double(), predicted[name].double()
        correlation = torch.corrcoef(torch.stack([asked, obtained]))[0, 1]
        control[name] = {"correlation": None if correlation.isnan() else float(correlation),
                         "spreadAsked": spread(asked), "spreadObtained": spread(obtained),
                         "error": float((obtained - asked).abs().mean()),
                         "meanPredictorError": float((asked - asked.mean()).abs().mean())}
    return control


def encoder_statistics(embeddings: torch.Tensor, labels: torch.Tensor, identities: int, *,
                       training_centres: torch.Tensor | None) -> tuple[dict, dict[str, np.ndarray]]:
    """One encoder's identity figures of a synthetic set (unit embeddings (n, d), labels (n,)), and its
    histograms; training_centres: unit centres of the real training identities in the same space."""
    centres = identity_centres(embeddings, labels, identities)
    consistency, loo = identity_consistency(embeddings, labels, identities)
    statistics = {"identityConsistency": consistency, "separation": separation(centres)}
    histograms = {"leave-one-out cosine": loo[~loo.isnan()].numpy()}
    if training_centres is not None:
        statistics["leakage"], nearest = leakage(centres, F.normalize(training_centres.float(), dim=1))
        histograms["nearest training identity cosine"] = nearest.numpy()
    return statistics, histograms
