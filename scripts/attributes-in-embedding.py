"""How much of an image's pose and age does its identity embedding f(x) carry? (issue 15, docs/diffusion.md,
"The identity condition")

    .venv/bin/python scripts/attributes-in-embedding.py runs/demo-id3

A ridge regression from f(x) to the attributes, fitted on the first 700 training identities and read on the other
150 (held out by identity), gives the correlation between the truth and what a linear read-out of the embedding
predicts; beside it, the same from each image's identity centre normalise(Σ_k f(x_ik)), the condition y of
`diffusion.conditioning.identity: 'centre'`. What f(x) predicts, a model conditioned on y = f(x0) can learn from y
instead of from s, and at generation, where y is an anchor, that part of the pose is not there to follow.
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))

from id3_torch.data.attributes import ATTRIBUTE_NAMES  # noqa: E402
from id3_torch.data.labelled_images import LabelledImages, attribute_columns  # noqa: E402
from id3_torch.diffusion.conditioning import identity_conditions  # noqa: E402
from id3_torch.encoders import embed_images, load_identity_encoder  # noqa: E402

FITTED_IDENTITIES = 700


def ridge_correlations(x: torch.Tensor, truth: torch.Tensor, fitted: torch.Tensor, *, lam: float = 1e-2) -> dict[str, float]:
    """Correlation per attribute between truth and the ridge read-out x·W + b fitted on the rows `fitted`, read on the others."""
    x1 = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
    a = x1[fitted]
    w = torch.linalg.solve(a.T @ a + lam * torch.eye(a.shape[1], dtype=x.dtype), a.T @ truth[fitted])
    predicted, held = x1[~fitted] @ w, truth[~fitted]
    return {name: round(float(torch.corrcoef(torch.stack([predicted[:, k], held[:, k]]))[0, 1]), 3)
            for k, name in enumerate(ATTRIBUTE_NAMES)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a run folder with the stages prepare and encoder")
    run = parser.parse_args().run
    manifest = os.path.join(run, "prepare", "manifest.csv")
    data = LabelledImages.from_manifest(manifest, splits=("train",))
    truth = attribute_columns(data, ATTRIBUTE_NAMES, manifest=manifest).double()
    encoder = load_identity_encoder({"kind": "folder", "path": os.path.join(run, "encoder")})
    embeddings = embed_images(encoder, data.images).double()
    fitted = data.labels < FITTED_IDENTITIES
    print(f"linear read-out, {int((~fitted).sum())} images of {data.num_classes - FITTED_IDENTITIES} held-out identities "
          f"(correlation with the truth):")
    for mode in ("image", "centre"):
        print(f"  y = {mode:6s} {ridge_correlations(identity_conditions(embeddings, data.labels, mode), truth, fitted)}")


if __name__ == "__main__":
    main()
