"""Identity preservation and attribute error of a diffusion model's samples (the CPU-scale proof of ID³; job
`diffusion.measure`: `measure_model`).

For held-out identities (never seen in training), each real image x gives a condition: its
embedding y = f(x) (or, for a model trained on identity centres, the centre of f over its identity's images in the
split) and its ground-truth attributes s. One sample per condition, then:

Each judge f_j (the model's own f, and any independent encoder) scores:
- identityCosine: mean cos(f_j(sample), f_j(x)) — with the judge f_j = f, that is ⟨f(sample), y⟩;
- impostorCosine: the same against the conditions of the other identities (what "no identity" scores);
- rank1: how often the sample's nearest identity centre (mean judge embedding of an identity's
  conditions) is its own;
- genuineCosine: cos(f_j(x'), f_j(x)) for another real image x' of the same identity: what a real
  photo of that person scores, the ceiling to read the others against;
- personRank1: how often the sample's nearest identity centre, now over each identity's *other* images (those
  that are no condition), is its own: the identity the sample carries beyond what it copies from its condition
  photo (its background, its pose). realPersonRank1 is the same for the condition photos themselves: what a
  real photo of the person scores, the reference row (chance: 1 / identities);
- attribute error: mean |regressor(sample) - s| per attribute, beside the regressor's own error
  on the real images x (the floor of what can be measured).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

import torch

from ..bridge.jobs import Progress
from ..data.image_files import write_grid_png
from ..data.labelled_images import LabelledImages, attribute_columns
from ..encoders import IdentityEncoder, embed_images, load_identity_encoder
from ..encoders.attribute_regressor import AttributeRegressor, load_attribute_regressor, mean_absolute_errors
from ..evaluation.synthetic import identity_centres
from ..files import write_text_atomic
from ..training.distributed import Distributed
from .conditioning import ATTRIBUTE_NAMES, identity_conditions
from .model import load_diffusion_model
from .sampler import SamplerOptions, to_uint8


@dataclass(frozen=True)
class HeldOutConditions:
    rows: torch.Tensor  # (N,) row of each condition in the split
    partner: torch.Tensor  # (N,) another row of the same identity (for genuineCosine)
    labels: torch.Tensor  # (N,) identity class in the split
    others: torch.Tensor  # (M,) the split's rows that are no condition: each identity's other photos (personRank1)


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
    others = torch.ones(len(data.labels), dtype=torch.bool)
    others[rows_t] = False
    return HeldOutConditions(rows_t, torch.tensor(partners), data.labels[rows_t], others.nonzero().flatten())


def _rank1(e: torch.Tensor, labels: torch.Tensor, e_gallery: torch.Tensor, gallery_labels: torch.Tensor) -> float:
    """How often the nearest identity centre (unit mean of an identity's gallery embeddings) is the row's own, over the
    rows whose identity the gallery holds; nan when it holds none."""
    classes = gallery_labels.unique()
    kept = torch.isin(labels, classes)
    if not kept.any():
        return float("nan")
    centres = identity_centres(e_gallery, gallery_labels, int(classes.max()) + 1)[classes]
    return float((classes[(e[kept] @ centres.T).argmax(dim=1)] == labels[kept]).float().mean())


def identity_scores(judge: IdentityEncoder, samples: torch.Tensor, real: torch.Tensor, partners: torch.Tensor,
                    labels: torch.Tensor, *, alone: torch.Tensor | None = None, others: torch.Tensor | None = None,
                    other_labels: torch.Tensor | None = None) -> dict[str, float]:
    """samples, real, partners: uint8 (N, 3, H, W), row i the sample, condition image and partner image of condition i.
    alone: (N,) bool, conditions whose identity has no other image (left out of genuineCosine). others, other_labels:
    the identities' photos that are no condition, and their labels (personRank1; none given: nan)."""
    e_sample, e_real, e_partner = (embed_images(judge, images) for images in (samples, real, partners))
    own = torch.zeros(len(real), dtype=torch.bool) if alone is None else alone
    cos = e_sample @ e_real.T  # (N, N): sample i against condition j
    same = labels[:, None] == labels[None, :]
    if others is not None and len(others):
        e_others = embed_images(judge, others)
        person = {"personRank1": _rank1(e_sample, labels, e_others, other_labels),
                  "realPersonRank1": _rank1(e_real, labels, e_others, other_labels)}
    else:
        person = {"personRank1": float("nan"), "realPersonRank1": float("nan")}
    return {"identityCosine": float(cos.diagonal().mean()),
            "impostorCosine": float(cos[~same].mean()) if (~same).any() else float("nan"),
            "rank1": _rank1(e_sample, labels, e_real, labels),
            "genuineCosine": float((e_partner * e_real).sum(-1)[~own].mean()) if (~own).any() else float("nan"),
            **person}


def attribute_scores(regressor: AttributeRegressor, samples: torch.Tensor, real: torch.Tensor,
                     s: torch.Tensor) -> dict[str, dict[str, float]]:
    """Mean absolute error per attribute of the samples against the requested s, and of the real images."""
    return {"samples": mean_absolute_errors(regressor.predict(samples), s),
            "real": mean_absolute_errors(regressor.predict(real), s)}


def measure_model(train_dir: str, *, manifest: str, split: str, per_identity: int, sampler: SamplerOptions,
                  sampler_settings: dict, seed: int, batch_size: int, attribute_regressor: str | None,
                  judges: dict[str, dict], out_dir: str | None, device: str, progress: Progress) -> dict:
    """Identity preservation and attribute error of the samples of the model in `train_dir` for the held-out
    identities of `split`: the job `diffusion.measure`'s result, also written with samples.png to `out_dir`.

    sampler_settings: `sampler` as the caller's JSON, recorded as it is in the result. attribute_regressor: the folder
    of an attributes.train job, None for no attribute errors. judges: encoder specs (what `load_identity_encoder`
    takes) by name, beside the model's own f, judge "f". Sample i has seed seed + i. The samples are drawn once
    and scored by every judge: an independent encoder tells identity carried by the image from identity that only
    fools the f the model was trained against.
    """
    torch_device = Distributed.from_environment(device).device
    model = load_diffusion_model(train_dir, device=torch_device)
    encoder = load_identity_encoder(model.encoder_spec, device=torch_device)
    scorers = {"f": encoder,
               **{name: load_identity_encoder(spec, device=torch_device) for name, spec in judges.items()}}
    data = LabelledImages.from_manifest(manifest, splits=(split,))
    s_all = attribute_columns(data, ATTRIBUTE_NAMES, manifest=manifest)
    conditions = held_out_conditions(data, per_identity=per_identity)
    real = data.images[conditions.rows]
    # The condition y as the model was trained with it: f of the held-out image, or its identity's centre in the split.
    y = identity_conditions(embed_images(encoder, data.images, device=torch_device), data.labels,
                            model.identity_condition)[conditions.rows]
    s = s_all[conditions.rows]
    n = len(conditions.rows)
    steps_per_image = sampler.steps if sampler.method == "ddim" else model.schedule.timesteps
    progress.begin(-(-n // batch_size) * steps_per_image, label="measure", unit="step")
    samples = []
    started = time.perf_counter()
    for start in range(0, n, batch_size):
        rows = slice(start, start + batch_size)
        samples.append(to_uint8(model.sample(
            y=y[rows].to(torch_device), s=s[rows].to(torch_device),
            seeds=[seed + i for i in range(start, min(start + batch_size, n))], options=sampler,
            encoder=encoder, on_step=progress.advance)).cpu())
    seconds = time.perf_counter() - started
    samples_t = torch.cat(samples)
    result = {"split": split, "identities": int(conditions.labels.unique().numel()), "samples": n,
              "identityCondition": model.identity_condition,
              "identity": {name: identity_scores(judge, samples_t, real, data.images[conditions.partner],
                                                 conditions.labels, alone=conditions.partner == conditions.rows,
                                                 others=data.images[conditions.others],
                                                 other_labels=data.labels[conditions.others])
                           for name, judge in scorers.items()},
              "attributeError": attribute_scores(load_attribute_regressor(attribute_regressor, device=torch_device),
                                                 samples_t, real, s) if attribute_regressor else None,
              "sampler": sampler_settings, "samplingSeconds": seconds}
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        shown = min(8, n)
        write_grid_png(os.path.join(out_dir, "samples.png"), torch.cat([real[:shown], samples_t[:shown]]), 2, shown)
        write_text_atomic(os.path.join(out_dir, "measure.json"), json.dumps(result, indent=2))
    return result
