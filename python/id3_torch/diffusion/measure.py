"""Identity preservation and attribute error of a diffusion model's samples (the CPU-scale proof of ID³).

For held-out identities (never seen in training), each real image x gives a condition: its
embedding y = f(x) and its ground-truth attributes s. One sample per condition, then:

Each judge f_j (the model's own f, and any independent encoder) scores:
- identityCosine: mean cos(f_j(sample), f_j(x)) — with the judge f_j = f, that is ⟨f(sample), y⟩;
- impostorCosine: the same against the conditions of the other identities (what "no identity" scores);
- rank1: how often the sample's nearest identity centre (mean judge embedding of an identity's
  conditions) is its own;
- genuineCosine: cos(f_j(x'), f_j(x)) for another real image x' of the same identity: what a real
  photo of that person scores, the ceiling to read the others against;
- attribute error: mean |regressor(sample) - s| per attribute, beside the regressor's own error
  on the real images x (the floor of what can be measured).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data.labelled_images import LabelledImages
from ..encoders import IdentityEncoder, embed_images
from ..encoders.attribute_regressor import AttributeRegressor, mean_absolute_errors


@dataclass(frozen=True)
class HeldOutConditions:
    rows: torch.Tensor  # (N,) row of each condition in the split
    partner: torch.Tensor  # (N,) another row of the same identity (for genuineCosine)
    labels: torch.Tensor  # (N,) identity class in the split


def held_out_conditions(data: LabelledImages, *, per_identity: int) -> HeldOutConditions:
    """The first `per_identity` images of every identity of the split as conditions, each with a partner: another
    image of its identity (for genuineCosine), or itself where the identity has one image only (FFHQ, where every
    image is its own identity: then only per_identity = 1 works, and genuineCosine leaves such rows out)."""
    rows, partners = [], []
    for label in range(data.num_classes):
        members = (data.labels == label).nonzero().flatten().tolist()
        if len(members) < per_identity + (per_identity > 1):
            raise ValueError(f"identity {data.identities[label]} has {len(members)} images; "
                             f"expected at least perIdentity + 1 = {per_identity + 1}")
        rows += members[:per_identity]
        partners += [members[(k + 1) % len(members)] for k in range(per_identity)]
    rows_t = torch.tensor(rows)
    return HeldOutConditions(rows_t, torch.tensor(partners), data.labels[rows_t])


def identity_scores(judge: IdentityEncoder, samples: torch.Tensor, real: torch.Tensor, partners: torch.Tensor,
                    labels: torch.Tensor, *, alone: torch.Tensor | None = None) -> dict[str, float]:
    """samples, real, partners: uint8 (N, 3, H, W), row i the sample, condition image and partner image of condition i.
    alone: (N,) bool, conditions whose identity has no other image (left out of genuineCosine)."""
    e_sample, e_real, e_partner = (embed_images(judge, images) for images in (samples, real, partners))
    own = torch.zeros(len(real), dtype=torch.bool) if alone is None else alone
    cos = e_sample @ e_real.T  # (N, N): sample i against condition j
    same = labels[:, None] == labels[None, :]
    classes = labels.unique()
    centres = torch.nn.functional.normalize(torch.stack([e_real[labels == k].mean(0) for k in classes]), dim=-1)
    nearest = classes[(e_sample @ centres.T).argmax(dim=1)]
    return {"identityCosine": float(cos.diagonal().mean()),
            "impostorCosine": float(cos[~same].mean()) if (~same).any() else float("nan"),
            "rank1": float((nearest == labels).float().mean()),
            "genuineCosine": float((e_partner * e_real).sum(-1)[~own].mean()) if (~own).any() else float("nan")}


def attribute_scores(regressor: AttributeRegressor, samples: torch.Tensor, real: torch.Tensor,
                     s: torch.Tensor) -> dict[str, dict[str, float]]:
    """Mean absolute error per attribute of the samples against the requested s, and of the real images."""
    return {"samples": mean_absolute_errors(regressor.predict(samples), s),
            "real": mean_absolute_errors(regressor.predict(real), s)}
