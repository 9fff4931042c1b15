"""Images with identity labels, decoded once into memory: the CPU-scale training and test sets.

Rows come from a manifest (`folders.index_manifest`: paths checked to stay inside the dataset,
every bad row named); the rows of the asked splits are kept and their identities remapped to
class indices 0..K-1, the manifest's identity names kept beside them, and its numeric columns
(age, pose, ...) as attributes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch

from .errors import DataFormatError
from .folders import index_manifest


@dataclass(frozen=True)
class LabelledImages:
    images: torch.Tensor  # (N, 3, H, W) uint8
    labels: torch.Tensor  # (N,) int64 class index in 0..K-1
    identities: tuple[str, ...]  # class index -> the manifest's identity
    attributes: dict[str, torch.Tensor] = field(default_factory=dict)  # numeric manifest column -> (N,) float32

    @property
    def num_classes(self) -> int:
        return len(self.identities)

    def __len__(self) -> int:
        return self.labels.numel()

    @staticmethod
    def from_manifest(manifest: str, *, splits: tuple[str, ...]) -> "LabelledImages":
        index = index_manifest(os.path.dirname(os.path.abspath(manifest)), manifest=os.path.basename(manifest))
        if "split" not in index.text_columns:
            raise DataFormatError("expected a 'split' column", path=manifest)
        rows = [n for n, split in enumerate(index.text_columns["split"]) if split in splits]
        if not rows:
            raise DataFormatError(f"no rows in split(s) {', '.join(splits)}", path=manifest)
        kept = index.labels[rows].unique()  # sorted: class order follows the manifest's identity order
        labels = torch.searchsorted(kept, index.labels[rows])
        images = torch.stack([index.image(n) for n in rows])
        attributes = {name: column[rows] for name, column in index.attributes.items()}
        return LabelledImages(images, labels, tuple(index.identities[k] for k in kept.tolist()), attributes)


def attribute_columns(data: LabelledImages, names: tuple[str, ...], *, manifest: str) -> torch.Tensor:
    """(N, len(names)) float32: the named numeric columns side by side; DataFormatError when one is missing or empty."""
    missing = [n for n in names if n not in data.attributes]
    if missing:
        raise DataFormatError(f"expected numeric columns {', '.join(names)}; missing {', '.join(missing)}", path=manifest)
    table = torch.stack([data.attributes[n] for n in names], dim=1)
    if table.isnan().any():
        raise DataFormatError(f"empty values in columns {', '.join(names)}", path=manifest)
    return table
