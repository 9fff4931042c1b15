"""The ID-preserving loss of ID³ and its timestep weights (../shared/id3-method.md).

    L = || ε - ε_θ(x_t, t, c) ||²  +  λ_t · (1 - ⟨y, f(x̂0(x_t))⟩),   λ_t = w · (1 - 1/(1 + exp(-t/T)))

with x̂0 the one-step reconstruction (clipped to [-1, 1]) and f the frozen identity encoder, through
which the gradient flows into ε_θ (f resizes x̂0 to its input inside the graph). ||·||² is the mean
over pixels, as in DDPM's code: w is relative to that scale [ours].
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..encoders import IdentityEncoder
from .schedule import DiffusionSchedule


def identity_weight(t: torch.Tensor, *, timesteps: int, w: float) -> torch.Tensor:
    """λ_t = w · (1 - 1/(1 + exp(-t/T))): largest where x̂0 is informative (small t)."""
    return w * (1.0 - torch.sigmoid(t.double() / timesteps)).float()


def guidance_weight(t: int, *, timesteps: int, gamma: float) -> float:
    """γ_t = γ · λ_t / w [ours]: the sampler's guidance follows the loss's timestep profile."""
    return gamma * float(identity_weight(torch.tensor(t), timesteps=timesteps, w=1.0))


@dataclass(frozen=True)
class LossTerms:
    loss: torch.Tensor  # what is minimised: mean over the batch of the per-sample L
    denoising: torch.Tensor  # mean ||ε - ε_θ||², detached
    identity: torch.Tensor  # mean 1 - ⟨y, f(x̂0)⟩ over the conditioned samples, detached (unweighted)


def id3_loss(denoiser: torch.nn.Module, schedule: DiffusionSchedule, encoder: IdentityEncoder, *, x0: torch.Tensor,
             y: torch.Tensor, s: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, drop: torch.Tensor, w: float,
             autocast: bool = False) -> LossTerms:
    """One batch: x0 (B, 3, R, R) in [-1, 1], y (B, d) = f(x0), s (B, 4), t (B,), noise ε (B, 3, R, R), drop (B,).

    Rows whose condition was dropped (null token) get no identity term [ours]: without y the model
    cannot be asked to preserve it. With w = 0 the identity term is still measured, without a graph.
    """
    x_t = schedule.q_sample(x0, t, noise)
    with torch.autocast(device_type=x0.device.type, dtype=torch.bfloat16, enabled=autocast):
        eps = denoiser(x_t, t, y, s, drop)
    eps = eps.float()
    denoising = (noise - eps).square().mean(dim=(1, 2, 3))  # (B,)
    kept = (~drop).float()
    with torch.set_grad_enabled(w > 0 and torch.is_grad_enabled()):
        x0_hat = schedule.predict_x0(x_t, t, eps, clip=True)  # one-step reconstruction x̂0(x_t)
        with torch.autocast(device_type=x0.device.type, dtype=torch.bfloat16, enabled=autocast):
            agreement = (y * encoder(x0_hat)).sum(dim=-1)  # ⟨y, f(x̂0)⟩, (B,)
        identity = 1.0 - agreement
    per_sample = denoising + identity_weight(t, timesteps=schedule.timesteps, w=w) * kept * identity if w > 0 else denoising
    conditioned = kept.sum().clamp(min=1.0)
    return LossTerms(per_sample.mean(), denoising.detach().mean(), ((identity * kept).sum() / conditioned).detach())
