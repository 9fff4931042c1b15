"""evaluate, Python half: verification accuracy of a run's face-recognition models on pair sets —
pairs of the prepared set's held-out identities, and verification benchmarks (`.bin`: LFW, CFP-FP,
CPLFW, AgeDB-30, CALFW) — each beside the raw-pixel baseline on the same pairs; and IJB-B/C 1:1
template verification (TAR at FAR, evaluation/ijb.py) for each model."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from ..bridge.jobs import Progress
from ..data.labelled_images import LabelledImages
from ..data.verification_bin import load_verification_bin
from ..encoders import load_identity_encoder
from ..training.distributed import Distributed
from .ijb import evaluate_ijb, read_ijb_folder
from .pairs import make_pairs, write_pairs_csv
from .verification import encoder_embeddings, flip_sum_embeddings, result_json, verify_pairs

PIXELS = "raw pixels (cosine)"


@dataclass(frozen=True)
class PairSet:
    name: str
    images: torch.Tensor  # (N, 3, H, W) uint8
    a: np.ndarray  # (P,) image index of each pair's first image
    b: np.ndarray  # (P,) ... and of its second
    same: np.ndarray  # (P,) bool
    identities: int | None = None  # how many identities the images show, where known


class PixelEmbedding:
    """The baseline encoder: an image's pixels, flattened and centred on the set's mean image."""

    def __init__(self, images: torch.Tensor) -> None:
        self.mean = images.float().flatten(1).mean(dim=0) / 255.0  # (3·H·W,)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return images.float().flatten(1) / 255.0 - self.mean.to(images.device)  # (B, 3·H·W)


@dataclass(frozen=True)
class HeldOutPairs:
    """Balanced pairs drawn from a manifest's splits, as papers draw them."""
    name: str
    manifest: str
    splits: tuple[str, ...]
    pairs: int
    seed: int


@dataclass(frozen=True)
class IjbSpec:
    """An IJB-B/C release folder and the protocol's options (evaluation/ijb.py)."""
    name: str
    folder: str
    detector_score: bool
    norm_score: bool


def held_out_pairs(spec: HeldOutPairs, out_dir: str) -> PairSet:
    """The pairs of `spec`, written to out_dir/pairs.csv."""
    data = LabelledImages.from_manifest(spec.manifest, splits=spec.splits)
    pairs = make_pairs(data.labels.numpy(), total=spec.pairs, seed=spec.seed)
    write_pairs_csv(os.path.join(out_dir, "pairs.csv"), pairs)
    return PairSet(spec.name, data.images, pairs.a, pairs.b, pairs.same, data.num_classes)


def benchmark_pairs(name: str, path: str) -> PairSet:
    """A `.bin` benchmark: images 2i and 2i+1 form pair i."""
    images, issame = load_verification_bin(path)
    n = len(issame)
    return PairSet(name, images, np.arange(0, 2 * n, 2), np.arange(1, 2 * n, 2), issame.numpy())


def evaluate_models(models: list[tuple[str, dict]], *, held_out: HeldOutPairs | None, benchmarks: list[tuple[str, str]],
                    ijb: list[IjbSpec], pixel_baseline: bool, batch_size: int, workers: int, device: str,
                    out_dir: str, progress: Progress) -> dict:
    """Every model (name, encoder spec) on every pair set, the raw-pixel baseline beside them, and IJB's 1:1
    protocol; `workers` decode IJB's photos."""
    torch_device = Distributed.from_environment(device).device
    sets = ([held_out_pairs(held_out, out_dir)] if held_out else []) + [benchmark_pairs(*b) for b in benchmarks]
    ijb_sets = [(spec, read_ijb_folder(spec.folder)) for spec in ijb]
    if not sets and not ijb_sets:
        raise ValueError("evaluate: no pair sets (no held-out split, no benchmarks, no IJB folder)")
    encoders = [(name, load_identity_encoder(spec, device=torch_device)) for name, spec in models]
    ijb_images = sum(len(folder.names) for _, folder in ijb_sets) * len(encoders)
    progress.begin(len(sets) * (len(encoders) + pixel_baseline) + ijb_images, label="evaluate", unit="item")

    rows = []
    for pair_set in sets:
        embedded = [(name, lambda f=encoder: encoder_embeddings(f, pair_set.images, batch_size=batch_size,
                                                                device=torch_device)) for name, encoder in encoders]
        if pixel_baseline:
            embedded.append((PIXELS, lambda: flip_sum_embeddings(PixelEmbedding(pair_set.images), pair_set.images,
                                                                 batch_size=batch_size, device=torch_device)))
        for name, embed in embedded:
            e = embed().numpy()
            result = verify_pairs(e[pair_set.a], e[pair_set.b], pair_set.same)
            rows.append({"model": name, "benchmark": pair_set.name, **result_json(result)})
            progress.advance(1)
    ijb_rows = [
        {"model": name, "benchmark": spec.name,
         **evaluate_ijb(encoder, folder, batch_size=batch_size, workers=workers, device=torch_device,
                        detector_score=spec.detector_score, norm_score=spec.norm_score,
                        on_batch=progress.advance).json()}
        for spec, folder in ijb_sets for name, encoder in encoders
    ]
    return {"rows": rows, "sets": [{"name": s.name, "images": len(s.images), "pairs": len(s.same), "identities": s.identities}
                                   for s in sets], "ijb": ijb_rows}
