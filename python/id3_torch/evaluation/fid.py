"""FID (Heusel et al. 2017): the Fréchet distance between Gaussians fitted to the Inception pool3
features (evaluation/fid_inception.py) of two image sets,

    FID = ‖μ_r − μ_g‖² + Tr(Σ_r + Σ_g − 2 (Σ_r Σ_g)^{1/2}),

the quantity of pytorch-fid's calculate_frechet_distance, computed by realism.frechet_distance
(same means, same N − 1 covariances, same trace; see there why an eigendecomposition replaces
scipy's sqrtm and its singular-matrix offset).

On the card it is measured like the judge's realism rows: against half A of the held-out real
images, the generated set (as many images as half B), real vs real (B: what a perfect generator
scores at this size, FID's bias with few images included) and the floor (B made flat).
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from .fid_inception import FIDInceptionV3, inception_features
from .realism import frechet_distance, realism_rows

LABEL = "FID (Inception pool3, pytorch-fid weights)"


def fid_row(real: torch.Tensor, other: torch.Tensor) -> dict:
    """{"fid", "real": N, "generated": M} of two (N, 2048) and (M, 2048) feature sets."""
    return {"fid": frechet_distance(real, other), "real": len(real), "generated": len(other)}


def fid_table(model: FIDInceptionV3, held_out: torch.Tensor, flat: torch.Tensor, generated_count: int,
              generated_images: Callable[[torch.Tensor], torch.Tensor], *, seed: int, batch_size: int = 50) -> dict:
    """The card's FID rows. held_out, flat: uint8 (N, 3, H, W) real images and the same made flat;
    generated_images(indices) → uint8 images of those rows of the generated set, only the rows the
    table compares being read and embedded (realism_rows, the judge's rows for the same seed)."""
    a, b, pick = realism_rows(len(held_out), generated_count, seed=seed)

    def features(images: torch.Tensor) -> torch.Tensor:
        return inception_features(model, images, batch_size=batch_size)

    real_a = features(held_out[a])
    return {"features": LABEL,
            "generated": fid_row(real_a, features(generated_images(pick))),
            "realVsReal": fid_row(real_a, features(held_out[b])),
            "floor": fid_row(real_a, features(flat[b]))}
