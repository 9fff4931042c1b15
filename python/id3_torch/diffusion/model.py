"""The ID³ denoiser as one module: condition MLP + U-Net, ε_θ(x_t, t, y, s); and the trained model on disk.

A `train` folder holds `model.json` (the card: architecture, schedule, encoder, attribute order),
`ema.safetensors` (the EMA weights the sampler uses) and, in latent space,
`autoencoder.safetensors`; `load_diffusion_model(folder)` rebuilds
both in one call for the stages that sample.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..encoders import IdentityEncoder
from ..files import read_card, write_text_atomic
from ..recognition.checkpoints import load_safetensors
from .autoencoder import AutoencoderOptions, DecodedIdentity
from .conditioning import ATTRIBUTE_NAMES, ATTRIBUTE_RANGES, ConditionEncoder
from .pose_map import POSE_MAP_CHANNELS, PoseMapSpec, head_pose_map
from .sampler import SamplerOptions, sample_images
from .schedule import DiffusionSchedule
from .unet import UNet, UNetConfig

CARD_NAME, EMA_WEIGHTS, AUTOENCODER_WEIGHTS = "model.json", "ema.safetensors", "autoencoder.safetensors"


class EpsilonPreconditioning(nn.Module):
    """ε_θ(x_t) = c_skip(t)·x_t + c_out(t)·F(c_in(t)·x_t) [ours]: EDM's preconditioning (Karras et al. 2022) for an ε target.

    With data of variance σ_d² and Var(x_t) = ᾱ σ_d² + 1 - ᾱ: c_in = Var(x_t)^-½ (a unit-variance input),
    c_skip = sqrt(1 - ᾱ) / Var(x_t) (the best linear guess of ε from x_t) and c_out = sqrt(ᾱ) σ_d Var(x_t)^-½
    (the spread of what is left), so that F learns a unit-variance residual at every t. Without it, a
    small network must copy x_t to its output to within 1% at large t, where x̂0 = (x_t - sqrt(1 - ᾱ) ε)/sqrt(ᾱ)
    multiplies every error of ε by up to 1/sqrt(ᾱ_T) ≈ 160; that is what a CPU-sized U-Net cannot learn in minutes.
    """

    def __init__(self, alphas_cumprod: torch.Tensor, *, sigma_data: float) -> None:
        super().__init__()
        self.sigma_data = sigma_data
        a = alphas_cumprod.double()
        variance = a * sigma_data**2 + 1 - a  # Var(x_t)
        for name, value in {"c_in": variance.rsqrt(), "c_skip": (1 - a).sqrt() / variance,
                            "c_out": a.sqrt() * sigma_data * variance.rsqrt()}.items():
            self.register_buffer(name, value.float(), persistent=False)

    def forward(self, network, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        at = lambda c: c[t].view(-1, 1, 1, 1).to(x_t.dtype)  # noqa: E731
        return at(self.c_skip) * x_t + at(self.c_out) * network(at(self.c_in) * x_t)


class Denoiser(nn.Module):
    """ε_θ(x_t, t, c) with c = MLP([y ; s]) (or the null token where `drop`): what DDP wraps and EMA averages.

    With a `pose_map` [ours], the U-Net also reads the head-pose map of s beside x_t (0 where `drop` or
    `drop_attributes`: a model told no attributes is shown no pose either).
    """

    def __init__(self, unet: UNetConfig, *, embedding_size: int, condition_hidden: tuple[int, int] = (512, 256),
                 preconditioning: EpsilonPreconditioning | None = None, pose_map: PoseMapSpec | None = None) -> None:
        super().__init__()
        expected = POSE_MAP_CHANNELS if pose_map else 0
        if unet.extra_input_channels != expected:
            raise ValueError(f"the U-Net reads {unet.extra_input_channels} extra input channels; the pose map "
                             f"{'needs' if pose_map else 'is off:'} {expected}")
        self.condition = ConditionEncoder(embedding_size, hidden=condition_hidden, output=unet.condition_size)
        self.unet = UNet(unet)
        self.preconditioning = preconditioning
        self.pose_map = pose_map

    @property
    def resolution(self) -> int:
        return self.unet.config.resolution

    @property
    def image_channels(self) -> int:
        return self.unet.config.image_channels

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor, s: torch.Tensor,
                drop: torch.Tensor | None = None, drop_attributes: torch.Tensor | None = None) -> torch.Tensor:
        c = self.condition(y, s, drop, drop_attributes)
        pose = None
        if self.pose_map is not None:
            pose = head_pose_map(s, self.resolution, self.pose_map)
            hidden = [m for m in (drop, drop_attributes) if m is not None]
            if hidden:
                shown = ~torch.stack(hidden).any(dim=0)
                pose = pose * shown.to(pose.dtype)[:, None, None, None]
        if self.preconditioning is None:
            return self.unet(x_t, t, c, pose)
        return self.preconditioning(lambda x: self.unet(x, t, c, pose), x_t, t)


@dataclass(frozen=True)
class TrainedDiffusion:
    """What sampling needs: the EMA denoiser (eval, frozen), its schedule, the card it was built from, and in latent
    space the autoencoder's decoder D (None in pixel space)."""
    denoiser: Denoiser
    schedule: DiffusionSchedule
    card: dict
    decoder: nn.Module | None = None

    def sample(self, *, y: torch.Tensor, s: torch.Tensor, seeds: list[int], options: SamplerOptions,
               encoder: IdentityEncoder | None = None, target: torch.Tensor | None = None,
               on_step: Callable[[], None] | None = None) -> torch.Tensor:
        """Images (B, 3, R, R) in [-1, 1] (sampler.sample_images); in latent space the guidance reads f(D(ẑ0)) and
        the samples are decoded."""
        if options.cfg_scale != 1.0 and options.cfg_guides == "attributes" and not self.attribute_dropout:
            raise ValueError("sampler.cfgGuides 'attributes' needs ε_θ(x_t, t, y, ∅), which a model learns only with "
                             "diffusion.conditioning.attributeDropout > 0; this model was trained without it "
                             "(use cfgGuides 'condition', or retrain)")
        if self.decoder is not None and encoder is not None:
            encoder = DecodedIdentity(encoder, self.decoder)
        x = sample_images(self.denoiser, self.schedule, y=y, s=s, seeds=seeds, options=options, encoder=encoder,
                          target=target, on_step=on_step)
        if self.decoder is None:
            return x
        with torch.no_grad():
            return self.decoder(x).clamp(-1.0, 1.0)

    @property
    def identity_condition(self) -> str:
        """What y was in training: "image" (f(x0)) or "centre" (its identity's); cards older than the option: image."""
        return self.card["training"].get("identityCondition", "image")

    @property
    def attribute_dropout(self) -> float:
        """p of the attribute dropout it was trained with; cards older than the option: 0."""
        return self.card.get("training", {}).get("attributeDropout", 0.0)

    @property
    def encoder_spec(self) -> dict:
        """The identity encoder f it was trained with (`encoders.load_identity_encoder` takes it)."""
        return self.card["encoder"]


def preconditioning_for(schedule: DiffusionSchedule, spec: dict | None) -> EpsilonPreconditioning | None:
    """The card's / config's preconditioning ({"kind": "edm", "sigmaData": σ_d} or None) on this schedule."""
    if spec is None:
        return None
    if spec.get("kind") != "edm":
        raise ValueError(f"diffusion.model.preconditioning: expected 'edm' or none, got {spec.get('kind')!r}")
    return EpsilonPreconditioning(schedule.alphas_cumprod, sigma_data=spec["sigmaData"])


def write_model_card(folder: str, *, unet: UNetConfig, schedule: DiffusionSchedule, embedding_size: int,
                     condition_hidden: tuple[int, int], preconditioning: dict | None, pose_map: PoseMapSpec | None,
                     encoder: dict, training: dict, latent: AutoencoderOptions | None = None) -> None:
    """`latent`: the autoencoder the denoiser works in (its weights in AUTOENCODER_WEIGHTS); None in pixel space."""
    resolution = unet.resolution * latent.downscale if latent else unet.resolution  # the images'
    card = {"kind": "id3-diffusion", "resolution": resolution, "unet": unet.to_json(),
            "latent": {**latent.to_json(), "weights": AUTOENCODER_WEIGHTS} if latent else None,
            "schedule": schedule.config(), "preconditioning": preconditioning, "embeddingSize": embedding_size,
            "conditionHidden": list(condition_hidden),
            "poseMap": pose_map.to_json() if pose_map else None, "encoder": encoder,
            "attributes": list(ATTRIBUTE_NAMES), "attributeRanges": {n: list(ATTRIBUTE_RANGES[n]) for n in ATTRIBUTE_NAMES},
            "weights": EMA_WEIGHTS, "training": training}
    write_text_atomic(os.path.join(folder, CARD_NAME), json.dumps(card, indent=2))


def load_diffusion_model(folder: str, *, device: torch.device | str = "cpu") -> TrainedDiffusion:
    """The trained model in a `train` stage folder: model.json + its EMA weights."""
    card_path, card = read_card(folder, CARD_NAME, "the folder of a finished train stage")
    if card.get("kind") != "id3-diffusion":
        raise ValueError(f"{card_path}: expected kind 'id3-diffusion', got {card.get('kind')!r}")
    schedule = DiffusionSchedule(timesteps=card["schedule"]["timesteps"], beta_start=card["schedule"]["betaStart"],
                                 beta_end=card["schedule"]["betaEnd"])
    denoiser = Denoiser(UNetConfig.from_json(card["unet"]), embedding_size=card["embeddingSize"],
                        condition_hidden=tuple(card["conditionHidden"]),
                        preconditioning=preconditioning_for(schedule, card["preconditioning"]),
                        pose_map=PoseMapSpec.from_json(card.get("poseMap")))
    load_safetensors(os.path.join(folder, card["weights"]), denoiser)
    denoiser.to(device).eval().requires_grad_(False)
    schedule.to(device)
    decoder = None
    if card.get("latent"):
        autoencoder = AutoencoderOptions.from_json(card["latent"]).build()
        load_safetensors(os.path.join(folder, card["latent"]["weights"]), autoencoder)
        decoder = autoencoder.decoder.to(device).eval().requires_grad_(False)
    return TrainedDiffusion(denoiser, schedule, card, decoder)
