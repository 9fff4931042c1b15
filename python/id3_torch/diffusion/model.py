"""The ID³ denoiser as one module: condition MLP + U-Net, ε_θ(x_t, t, y, s); and the trained model on disk.

A `train` folder holds `model.json` (the card: architecture, schedule, encoder, attribute order)
and `ema.safetensors` (the EMA weights the sampler uses); `load_diffusion_model(folder)` rebuilds
both in one call for the stages that sample.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

import torch
from torch import nn

from ..files import write_text_atomic
from ..recognition.checkpoints import load_safetensors
from .conditioning import ATTRIBUTE_NAMES, ATTRIBUTE_RANGES, ConditionEncoder
from .schedule import DiffusionSchedule
from .unet import UNet, UNetConfig

CARD_NAME, EMA_WEIGHTS = "model.json", "ema.safetensors"


class Denoiser(nn.Module):
    """ε_θ(x_t, t, c) with c = MLP([y ; s]) (or the null token where `drop`): what DDP wraps and EMA averages."""

    def __init__(self, unet: UNetConfig, *, embedding_size: int, condition_hidden: tuple[int, int] = (512, 256)) -> None:
        super().__init__()
        self.condition = ConditionEncoder(embedding_size, hidden=condition_hidden, output=unet.condition_size)
        self.unet = UNet(unet)

    @property
    def resolution(self) -> int:
        return self.unet.config.resolution

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor, s: torch.Tensor,
                drop: torch.Tensor | None = None) -> torch.Tensor:
        return self.unet(x_t, t, self.condition(y, s, drop))


@dataclass(frozen=True)
class TrainedDiffusion:
    """What sampling needs: the EMA denoiser (eval, frozen), its schedule, and the card it was built from."""
    denoiser: Denoiser
    schedule: DiffusionSchedule
    card: dict

    @property
    def encoder_spec(self) -> dict:
        """The identity encoder f it was trained with (`encoders.load_identity_encoder` takes it)."""
        return self.card["encoder"]


def write_model_card(folder: str, *, unet: UNetConfig, schedule: DiffusionSchedule, embedding_size: int,
                     condition_hidden: tuple[int, int], encoder: dict, training: dict) -> None:
    card = {"kind": "id3-diffusion", "resolution": unet.resolution, "unet": unet.to_json(),
            "schedule": schedule.config(), "embeddingSize": embedding_size, "conditionHidden": list(condition_hidden),
            "encoder": encoder,
            "attributes": list(ATTRIBUTE_NAMES), "attributeRanges": {n: list(ATTRIBUTE_RANGES[n]) for n in ATTRIBUTE_NAMES},
            "weights": EMA_WEIGHTS, "training": training}
    write_text_atomic(os.path.join(folder, CARD_NAME), json.dumps(card, indent=2))


def load_diffusion_model(folder: str, *, device: torch.device | str = "cpu") -> TrainedDiffusion:
    """The trained model in a `train` stage folder: model.json + its EMA weights."""
    card_path = os.path.join(folder, CARD_NAME)
    if not os.path.isfile(card_path):
        raise FileNotFoundError(f"{folder}: no {CARD_NAME} (expected the folder of a finished train stage)")
    with open(card_path, encoding="utf-8") as f:
        card = json.load(f)
    if card.get("kind") != "id3-diffusion":
        raise ValueError(f"{card_path}: expected kind 'id3-diffusion', got {card.get('kind')!r}")
    denoiser = Denoiser(UNetConfig.from_json(card["unet"]), embedding_size=card["embeddingSize"],
                        condition_hidden=tuple(card["conditionHidden"]))
    load_safetensors(os.path.join(folder, card["weights"]), denoiser)
    denoiser.to(device).eval().requires_grad_(False)
    schedule = DiffusionSchedule(timesteps=card["schedule"]["timesteps"], beta_start=card["schedule"]["betaStart"],
                                 beta_end=card["schedule"]["betaEnd"]).to(device)
    return TrainedDiffusion(denoiser, schedule, card)
