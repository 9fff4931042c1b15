"""anchors, Python half: what the anchor design and the per-image plan need from the training data.

- `identity_centres` (job `anchors.identity-centres`): the training identity centres, i.e. per
  identity the mean of its images' unit embeddings f(x), renormalised; the exclusion zone keeps
  anchors away from them and the anchor report gives the closest approach. Written as a (K, d)
  float32 `.npy`, whole or not at all; a rerun finds it and does not embed again, and the other
  anchor stages of a sweep (other seeds and variants, one bridge process) reuse the embedding
  (stages/memo.py).
- Op `anchors.training_attributes`: a manifest split's attribute columns as a tensor handle
  (rows with an empty value left out), which the plan resamples for empirical attributes.
"""
from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F

from ..bridge import tensors
from ..bridge.jobs import Progress
from ..data.errors import DataFormatError
from ..data.folders import ImageIndex, index_manifest
from ..encoders import embed_images, load_identity_encoder
from ..files import atomic_path
from ..training.distributed import Distributed
from .memo import memo, real_key, spec_key


def _index(manifest: str) -> ImageIndex:
    return index_manifest(os.path.dirname(os.path.abspath(manifest)), manifest=os.path.basename(manifest))


def _rows_of(index: ImageIndex, split: str, manifest: str) -> torch.Tensor:
    if "split" not in index.text_columns:
        raise DataFormatError("expected a 'split' column", path=manifest)
    rows = torch.tensor([n for n, s in enumerate(index.text_columns["split"]) if s == split], dtype=torch.int64)
    if rows.numel() == 0:
        raise DataFormatError(f"no rows in split {split}", path=manifest)
    return rows


def identity_centres(encoder: dict, manifest: str, split: str, out: str, *, batch_size: int, device: str,
                     progress: Progress) -> dict:
    """The centres in f's space (`encoder`, an encoder spec) of the manifest split's identities, written to `out`
    (.npy) unless there already -> {identities, embeddingSize, images (None when reused), reused}."""
    if os.path.exists(out):  # written whole by an earlier run of the same stage
        shape = np.load(out, mmap_mode="r").shape
        return {"identities": shape[0], "embeddingSize": shape[1], "images": None, "reused": True}
    torch_device = Distributed.from_environment(device).device
    key = [spec_key(encoder), real_key({"manifest": manifest, "split": split}),
           batch_size, str(torch_device)]  # the batches decide the sums' rounding
    centres, images = memo("identityCentres", key,
                           lambda: _centres(encoder, manifest, split, batch_size, torch_device, progress))
    with atomic_path(out) as temporary:
        with open(temporary, "wb") as f:
            np.save(f, centres.numpy().astype(np.float32), allow_pickle=False)
    return {"identities": len(centres), "embeddingSize": centres.shape[1], "images": images, "reused": False}


def _centres(spec: dict, manifest: str, split: str, batch_size: int, device: torch.device,
             progress: Progress) -> tuple[torch.Tensor, int]:
    """(K, d) unit centres of the split's identities, and the images they average."""
    encoder = load_identity_encoder(spec, device=device)
    index = _index(manifest)
    rows = _rows_of(index, split, manifest)
    identities, labels = index.labels[rows].unique(return_inverse=True)  # (K,), (R,) in 0..K-1
    sums = torch.zeros(len(identities), encoder.embedding_size)
    progress.begin(len(rows), label="identity centres", unit="img")
    for start in range(0, len(rows), batch_size):
        batch = rows[start:start + batch_size]
        images = torch.stack([index.image(n) for n in batch.tolist()])  # (B, 3, H, W) uint8
        sums.index_add_(0, labels[start:start + batch_size], embed_images(encoder, images, device=device))
        progress.advance(len(batch))
    return F.normalize(sums, dim=1), len(rows)  # c_k = mean of unit f(x), renormalised (the mean's length drops out)


def training_attributes(manifest: str, split: str, columns: list[str], device: str | None = None) -> dict:
    """(R, len(columns)) float32 of the split's rows whose every asked column has a value."""
    index = _index(manifest)
    rows = _rows_of(index, split, manifest)
    missing = [c for c in columns if c not in index.attributes]
    if missing:
        raise DataFormatError(f"expected numeric column(s) {', '.join(missing)} for empirical attributes", path=manifest)
    values = torch.stack([index.attributes[c][rows] for c in columns], dim=1)  # (R, C)
    complete = values.isfinite().all(dim=1)
    if not bool(complete.any()):
        raise DataFormatError(f"no row of split {split} has all of {', '.join(columns)}", path=manifest)
    return tensors.register(values[complete].to(torch.float32).to(tensors.parse_device(device)))


OPS = {"anchors.training_attributes": training_attributes}
