"""A trained backbone as a frozen face encoder: built from the card `train-fr` writes beside it."""
from __future__ import annotations

import json
import os

import torch
from torch import nn

from .checkpoints import load_safetensors
from .iresnet import build_backbone, normalize_face_images


class FaceEncoder(nn.Module):
    """(B, 3, H, W) images -> (B, E) embeddings (not normalised), resized to the backbone's input.

    uint8 images are scaled to [-1, 1] first; float images are taken as already in [-1, 1] (a
    diffusion model's x̂0), so that the embedding is differentiable with respect to them."""

    def __init__(self, backbone: nn.Module, input_size: int) -> None:
        super().__init__()
        self.backbone, self.input_size = backbone, input_size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = normalize_face_images(images) if images.dtype == torch.uint8 else images
        if x.shape[-1] != self.input_size or x.shape[-2] != self.input_size:
            x = nn.functional.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear",
                                          antialias=True, align_corners=False)
        return self.backbone(x)


def load_trained_encoder(folder: str, *, device: torch.device | str = "cpu") -> FaceEncoder:
    """The encoder in `folder` (encoder.json + its weights), frozen, in eval mode."""
    card_path = os.path.join(folder, "encoder.json")
    with open(card_path, encoding="utf-8") as f:
        card = json.load(f)
    backbone = build_backbone(card["backbone"], input_size=card["inputSize"], embedding_size=card["embeddingSize"],
                              widths=card.get("widths"), layers=card.get("layers"))
    load_safetensors(os.path.join(folder, card["weights"]), backbone)
    encoder = FaceEncoder(backbone, card["inputSize"]).to(device).eval()
    encoder.requires_grad_(False)
    return encoder
