"""Images with identity labels, decoded once into memory: the CPU-scale training and test sets.

Rows come from a manifest through the streaming dataset (`datasets.open_face_images`: paths checked
to stay inside the dataset, every bad row named); the rows of the asked splits are kept and their
identities remapped to class indices 0..K-1, the manifest's identity names kept beside them.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .batches import decode_all
from .datasets import open_face_images


@dataclass(frozen=True)
class LabelledImages:
    images: torch.Tensor  # (N, 3, H, W) uint8
    labels: torch.Tensor  # (N,) int64 class index in 0..K-1
    identities: tuple[str, ...]  # class index -> the manifest's identity

    @property
    def num_classes(self) -> int:
        return len(self.identities)

    def __len__(self) -> int:
        return self.labels.numel()

    @staticmethod
    def from_manifest(manifest: str, *, splits: tuple[str, ...], workers: int = 0) -> "LabelledImages":
        dataset = open_face_images(manifest, splits=splits)
        return LabelledImages(decode_all(dataset, workers=workers).images, dataset.labels, dataset.identities)
