"""The ID-preserving loss of ID³ and its timestep weights (docs/method.md).

    L = || ε - ε_θ(x_t, t, c) ||²  +  λ_t · (1 - ⟨y, f(x̂0(x_t))⟩),   λ_t = w · (1 - 1/(1 + exp(-t/T)))

with x̂0 the one-step reconstruction (clipped to [-1, 1]) and f the frozen identity encoder, through
which the gradient flows into ε_θ (f resizes x̂0 to its input inside the graph). ||·||² is the mean
over pixels, as in DDPM's code: w is relative to that scale [ours].

Weighting of the denoising term over t [ours]: `epsilon` is the paper's plain ||ε - ε_θ||² at t drawn
uniformly; `edm` is EDM's loss (Karras et al. 2022) on the same model: the preconditioned network F
(ε_θ = c_skip x_t + c_out F) learns every t with unit weight, ||ε - ε_θ||² / c_out(t)², at t drawn so that
ln σ_t ~ N(P_mean, P_std²), σ_t² = (1 - ᾱ_t)/ᾱ_t. Under the plain weighting F's gradient at large t is
scaled by c_out² ≈ ᾱ_t σ_d² (1e-5 at t = T), so the coarse, condition-driven structure decided there is
hardly learnt, while half of the uniform draws fall where σ_t > 3 and there is little left to learn:
a short training samples coloured noise. The identity term keeps λ_t at the drawn t.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..encoders import IdentityEncoder
from .schedule import DiffusionSchedule


def identity_weight(t: torch.Tensor, *, timesteps: int, w: float) -> torch.Tensor:
    """λ_t = w · (1 - 1/(1 + exp(-t/T))): largest where x̂0 is informative (small t)."""
    return w * (1.0 - torch.sigmoid(t.double() / timesteps)).float()


WEIGHTINGS = ("epsilon", "edm")


def _check(weighting: str) -> None:
    if weighting not in WEIGHTINGS:
        raise ValueError(f"diffusion.loss.weighting: expected one of {', '.join(WEIGHTINGS)}, got {weighting!r}")


def denoising_weight(alphas_cumprod: torch.Tensor, t: torch.Tensor, *, weighting: str, sigma_data: float) -> torch.Tensor:
    """The per-sample weight of ||ε - ε_θ||²: 1 (`epsilon`), or 1/c_out(t)² = 1 + σ_t²/σ_d² (`edm`)."""
    _check(weighting)
    if weighting == "epsilon":
        return torch.ones(t.shape, device=t.device)
    a = alphas_cumprod[t].double()
    return (1.0 + (1.0 - a) / (a * sigma_data**2)).float()


def timestep_probabilities(alphas_cumprod: torch.Tensor, *, weighting: str, log_sigma_mean: float,
                           log_sigma_std: float) -> torch.Tensor:
    """P(t) (T,) of the training draws: uniform (`epsilon`), or (`edm`) the mass of N(P_mean, P_std²) over
    ln σ_t's cell [midpoints to its neighbours], so that ln σ_t is (discretely) log-normal."""
    _check(weighting)
    a = alphas_cumprod.double().cpu()
    if weighting == "epsilon":
        return torch.full(a.shape, 1.0 / len(a), dtype=torch.float64)
    log_sigma = 0.5 * torch.log((1.0 - a) / a)  # increasing in t
    edges = torch.cat([torch.tensor([-torch.inf]), (log_sigma[1:] + log_sigma[:-1]) / 2, torch.tensor([torch.inf])])
    normal = torch.distributions.Normal(torch.tensor(log_sigma_mean, dtype=torch.float64),
                                        torch.tensor(log_sigma_std, dtype=torch.float64))
    mass = normal.cdf(edges[1:]) - normal.cdf(edges[:-1])
    return mass / mass.sum()


def guidance_weight(t: int, *, timesteps: int, gamma: float) -> float:
    """γ_t = γ · λ_t / w [ours]: the sampler's guidance follows the loss's timestep profile."""
    return gamma * float(identity_weight(torch.tensor(t), timesteps=timesteps, w=1.0))


@dataclass(frozen=True)
class LossTerms:
    loss: torch.Tensor  # what is minimised: mean over the batch of the per-sample L
    denoising: torch.Tensor  # mean ||ε - ε_θ||², detached
    identity: torch.Tensor  # mean 1 - ⟨y, f(x̂0)⟩ over the conditioned samples, detached (unweighted)


def id3_loss(denoiser: torch.nn.Module, schedule: DiffusionSchedule, encoder: IdentityEncoder, *, x0: torch.Tensor,
             y: torch.Tensor, s: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, drop: torch.Tensor,
             drop_attributes: torch.Tensor | None = None, w: float,
             weighting: str = "epsilon", sigma_data: float = 0.5, autocast: bool = False) -> LossTerms:
    """One batch: x0 (B, 3, R, R) in [-1, 1], y (B, d) = f(x0), s (B, 4), t (B,), noise ε (B, 3, R, R), drop (B,).

    Rows whose condition was dropped (null token) get no identity term [ours]: without y the model
    cannot be asked to preserve it; rows with only their attributes dropped keep y, and the term. With w = 0 the
    identity term is still measured, without a graph.
    """
    x_t = schedule.q_sample(x0, t, noise)
    with torch.autocast(device_type=x0.device.type, dtype=torch.bfloat16, enabled=autocast):
        eps = denoiser(x_t, t, y, s, drop, drop_attributes)
    eps = eps.float()
    denoising = (noise - eps).square().mean(dim=(1, 2, 3))  # (B,)
    weighted = denoising_weight(schedule.alphas_cumprod, t, weighting=weighting, sigma_data=sigma_data) * denoising
    kept = (~drop).float()
    with torch.set_grad_enabled(w > 0 and torch.is_grad_enabled()):
        x0_hat = schedule.predict_x0(x_t, t, eps, clip=True)  # one-step reconstruction x̂0(x_t)
        with torch.autocast(device_type=x0.device.type, dtype=torch.bfloat16, enabled=autocast):
            agreement = (y * encoder(x0_hat)).sum(dim=-1)  # ⟨y, f(x̂0)⟩, (B,)
        identity = 1.0 - agreement
    per_sample = weighted + identity_weight(t, timesteps=schedule.timesteps, w=w) * kept * identity if w > 0 else weighted
    conditioned = kept.sum().clamp(min=1.0)
    return LossTerms(per_sample.mean(), denoising.detach().mean(), ((identity * kept).sum() / conditioned).detach())
