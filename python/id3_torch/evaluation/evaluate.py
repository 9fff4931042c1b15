"""evaluate, Python half: verification accuracy of a trained encoder on held-out identities,
beside the raw-pixel baseline on the same pairs (the CPU-scale proof on the parametric set)."""
from __future__ import annotations

import os

import numpy as np
import torch

from ..bridge.jobs import Progress
from ..data.labelled_images import LabelledImages
from ..recognition.encoder import load_trained_encoder
from ..training.distributed import Distributed
from .pairs import make_pairs, write_pairs_csv
from .verification import VerificationResult, flip_sum_embeddings, result_json, verify_pairs


class PixelEmbedding:
    """The baseline encoder: an image's pixels, flattened and centred on the set's mean image."""

    def __init__(self, images: torch.Tensor) -> None:
        self.mean = images.float().flatten(1).mean(dim=0) / 255.0  # (3·H·W,)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return images.float().flatten(1) / 255.0 - self.mean  # (B, 3·H·W)


def evaluate_parametric(args: dict, progress: Progress) -> dict:
    data = LabelledImages.from_manifest(args["manifest"], splits=tuple(args["splits"]))
    pairs = make_pairs(data.labels.numpy(), total=args["pairs"], seed=args["seed"])
    write_pairs_csv(os.path.join(args["outDir"], "pairs.csv"), pairs)
    progress.begin(2 if args["pixelBaseline"] else 1, label="evaluate", unit="model")

    def score(embeddings: np.ndarray) -> VerificationResult:
        return verify_pairs(embeddings[pairs.a], embeddings[pairs.b], pairs.same)

    device = Distributed.from_environment(args.get("device", "auto")).device
    encoder = load_trained_encoder(args["encoderDir"], device=device)
    trained = flip_sum_embeddings(encoder, data.images, batch_size=args["batchSize"], device=device).numpy()
    rows = [{"model": args["encoderName"], **result_json(score(trained))}]
    progress.advance(1)
    if args["pixelBaseline"]:
        pixels = flip_sum_embeddings(PixelEmbedding(data.images), data.images, batch_size=args["batchSize"]).numpy()
        rows.append({"model": "raw pixels (cosine)", **result_json(score(pixels))})
        progress.advance(1)
    return {"rows": rows, "identities": data.num_classes, "images": len(data), "pairs": int(len(pairs.same))}
