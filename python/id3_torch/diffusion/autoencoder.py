"""The latent space [ours, as LDM and IDiff-Face]: a small autoencoder z = E(x), x ≈ D(z) that the denoiser works in.

x (B, 3, R, R) in [-1, 1] ↔ z (B, C, R/k, R/k) in (-1, 1), k = `downscale` (4 or 2): log2 k stride-2 convolutions
down and as many transposed ones up, a tanh bound on z (so that x̂0's clip to [-1, 1] in the loss and the sampler
keeps its meaning), trained by L1 before the denoiser. Measured (docs/diffusion.md, "Pixel or latent space"): at
equal CPU time the latent model's samples are heads where the pixel model's are noise; at k = 2 the decoder keeps
the pose that k = 4 loses ("The latent's side"). The identity term and the guidance read f(D(ẑ0)): the decoder sits
inside the graph (`DecodedIdentity`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..encoders import IdentityEncoder
from ..recognition.iresnet import normalize_face_images
from ..training.randomness import step_generator

DOWNSCALES = (2, 4)


@dataclass(frozen=True)
class AutoencoderOptions:
    width: int  # channels of the full-resolution layers (twice this at R/2 and R/4)
    channels: int  # C, the latent's: the U-Net's image channels
    downscale: int  # k: the latent's side is the image's / k
    steps: int
    batch_size: int
    lr: float

    def to_json(self) -> dict:
        return {"width": self.width, "channels": self.channels, "downscale": self.downscale, "steps": self.steps,
                "batchSize": self.batch_size, "lr": self.lr}

    @staticmethod
    def from_json(d: dict) -> "AutoencoderOptions":
        """The config's `diffusion.model.latent` (camelCase), as the job's arguments and the model card hold it."""
        # Cards written before `downscale` existed hold k = 4.
        return AutoencoderOptions(width=d["width"], channels=d["channels"], downscale=d.get("downscale", 4),
                                  steps=d["steps"], batch_size=d["batchSize"], lr=d["lr"])

    def build(self) -> "Autoencoder":
        """The untrained autoencoder of these options, from the global RNG."""
        return Autoencoder(self.width, self.channels, self.downscale)


class Autoencoder(nn.Module):
    """At k = 2 the outermost halving (and its transposed twin) is a stride-1 3×3 convolution: the same layers, one
    resolution fewer."""

    def __init__(self, width: int, channels: int, downscale: int) -> None:
        super().__init__()
        if downscale not in DOWNSCALES:
            raise ValueError(f"diffusion.model.latent.downscale: expected one of {DOWNSCALES}, got {downscale}")
        self.width, self.channels, self.downscale = width, channels, downscale
        act = nn.SiLU
        outer_down = (nn.Conv2d(3, width, 4, stride=2, padding=1) if downscale == 4
                      else nn.Conv2d(3, width, 3, padding=1))
        outer_up = (nn.ConvTranspose2d(width, width, 4, stride=2, padding=1) if downscale == 4
                    else nn.Conv2d(width, width, 3, padding=1))
        self.encoder = nn.Sequential(
            outer_down, act(), nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),
            act(), nn.Conv2d(2 * width, 2 * width, 3, padding=1), act(), nn.Conv2d(2 * width, channels, 1),
            nn.Tanh())
        self.decoder = nn.Sequential(
            nn.Conv2d(channels, 2 * width, 3, padding=1), act(), nn.Conv2d(2 * width, 2 * width, 3, padding=1),
            act(), nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1), act(),
            outer_up, act(), nn.Conv2d(width, 3, 3, padding=1))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)


def train_autoencoder(images: torch.Tensor, options: AutoencoderOptions, *, seed: int, device: torch.device,
                      on_step: Callable[[float], None] | None = None) -> Autoencoder:
    """min E‖D(E(x)) − x‖₁ over batches of `images` (uint8 (N, 3, R, R), as x in [-1, 1]); weights and batches from
    `seed` alone, so a rerun gives the same bytes. `on_step(loss)` after every step."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        autoencoder = options.build().to(device)
    optimizer = torch.optim.AdamW(autoencoder.parameters(), lr=options.lr, weight_decay=0.0)
    for step in range(options.steps):
        generator = step_generator("autoencoder", seed=seed, rank=0, step=step, device=torch.device("cpu"))
        rows = torch.randint(len(images), (options.batch_size,), generator=generator)
        x = normalize_face_images(images[rows]).to(device)
        loss = (autoencoder.decode(autoencoder.encode(x)) - x).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if on_step:
            on_step(loss.item())
    return autoencoder.eval().requires_grad_(False)


@torch.no_grad()
def encode_all(autoencoder: Autoencoder, images: torch.Tensor, *, device: torch.device, batch: int = 256) -> torch.Tensor:
    """z = E(x) of every uint8 image, on the CPU."""
    return torch.cat([autoencoder.encode(normalize_face_images(images[i:i + batch]).to(device)).cpu()
                      for i in range(0, len(images), batch)])


class DecodedIdentity(nn.Module):
    """f ∘ D: the identity encoder read through the decoder, so that ⟨y, f(x̂0)⟩ of a latent x̂0 is the image's."""

    def __init__(self, encoder: IdentityEncoder, decoder: nn.Module) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.decoder(z))
