"""Images with identity labels, decoded once into memory: the CPU-scale training and test sets.

Rows come from a manifest through the streaming dataset (`datasets.open_face_images`: paths checked
to stay inside the dataset, every bad row named); the rows of the asked splits are kept and their
identities remapped to class indices 0..K-1, the manifest's identity names kept beside them, and its
numeric columns (age, pose, ...) as attributes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .batches import decode_all
from .datasets import open_face_images
from .errors import DataFormatError


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
    def from_manifest(manifest: str, *, splits: tuple[str, ...], workers: int = 0) -> "LabelledImages":
        dataset = open_face_images(manifest, splits=splits)
        attributes = {name: column[dataset.rows] for name, column in dataset.index.attributes.items()}
        return LabelledImages(decode_all(dataset, workers=workers).images, dataset.labels, dataset.identities, attributes)


def attribute_columns(data: LabelledImages, names: tuple[str, ...], *, manifest: str) -> torch.Tensor:
    """(N, len(names)) float32: the named numeric columns side by side; DataFormatError when one is missing or empty."""
    missing = [n for n in names if n not in data.attributes]
    if missing:
        raise DataFormatError(f"expected numeric columns {', '.join(names)}; missing {', '.join(missing)}", path=manifest)
    table = torch.stack([data.attributes[n] for n in names], dim=1)
    if table.isnan().any():
        raise DataFormatError(f"empty values in columns {', '.join(names)}", path=manifest)
    return table
