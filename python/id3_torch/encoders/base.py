"""The identity-encoder contract every encoder of the registry meets."""
from __future__ import annotations

import torch
from torch import nn


class IdentityEncoder(nn.Module):
    """f of docs/method.md: (B, 3, H, W) float images in [-1, 1] → (B, d) unit embeddings.

    Frozen (no parameter takes a gradient, eval mode) but differentiable with respect to the
    input: whatever resizing, reframing and normalisation the network wants happens inside
    `forward`, in the graph. Any square H = W is accepted.

    - `input_size`: the side the network itself runs at (after resizing);
    - `embedding_size`: d;
    - `framing`: how the caller's faces must be cropped ("arcface-112": the insightface 5-point
      template; "dlib-150": dlib's chip framing; "dataset": as the images it was trained on);
    - `normalization`: what the network itself is fed (documentation: the conversion from
      [-1, 1] RGB happens inside `network`).
    """

    def __init__(self, network: nn.Module, *, input_size: int, embedding_size: int, framing: str,
                 normalization: str = "RGB, (x/255 - 0.5)/0.5") -> None:
        super().__init__()
        self.network = network
        self.input_size, self.embedding_size, self.framing = input_size, embedding_size, framing
        self.normalization = normalization
        self.eval()
        self.requires_grad_(False)

    def describe(self) -> dict:
        """The declared metadata, as the registry reports it (JSON-ready)."""
        return {"inputSize": self.input_size, "embeddingSize": self.embedding_size, "framing": self.framing,
                "normalization": self.normalization}

    def train(self, mode: bool = True) -> "IdentityEncoder":
        # Frozen means frozen: a caller's model.train() must not switch BatchNorm to batch statistics.
        return super().train(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype == torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"expected float images (B, 3, H, W) in [-1, 1], got {tuple(images.shape)} {images.dtype}")
        return nn.functional.normalize(self.network(images).float(), dim=-1)


@torch.no_grad()
def embed_images(encoder: IdentityEncoder, images: torch.Tensor, *, batch_size: int = 256,
                 device: torch.device | str | None = None) -> torch.Tensor:
    """uint8 (N, 3, H, W) images → (N, d) float32 unit embeddings on the CPU, in batches."""
    device = device if device is not None else next(encoder.parameters()).device
    rows = []
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].to(device).float() / 127.5 - 1.0  # (B, 3, H, W) in [-1, 1]
        rows.append(encoder(x).cpu())
    return torch.cat(rows) if rows else torch.zeros(0, encoder.embedding_size)


def refuse_equal_encoders(judge: IdentityEncoder, f: IdentityEncoder) -> None:
    """A judge must be another network than f: ValueError when their weights are the same tensors' values
    (a judge that is f scores f's adversarial images as faces)."""
    a, b = judge.state_dict(), f.state_dict()
    if a.keys() == b.keys() and all(a[k].shape == b[k].shape and torch.equal(a[k], b[k]) for k in a):
        raise ValueError("judge: its weights equal the encoder f's; the judge must be an encoder that neither the "
                         "ID loss nor the guidance sees (another architecture, trained on other identities)")

