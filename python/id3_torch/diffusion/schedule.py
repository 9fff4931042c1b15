"""The DDPM forward process and its reverse steps (DDPM ancestral, DDIM), with the buffers named after the algebra.

    q(x_t | x0) = N(sqrt(ᾱ_t) x0, (1 - ᾱ_t) I),   ᾱ_t = ∏_{s ≤ t} (1 - β_s),   β linear from β_1 to β_T

Timesteps are indices 0..T-1 as in diffusers (index t holds ᾱ of the paper's step t + 1), so that
diffusers' schedulers are an exact reference. The algebra runs in float64 and is stored in float32.
"""
from __future__ import annotations

import torch
from torch import nn


def _at(buffer: torch.Tensor, t: torch.Tensor | int, like: torch.Tensor) -> torch.Tensor:
    """buffer[t] shaped to broadcast over a (B, C, H, W) batch; t a (B,) tensor or one int for the batch."""
    if isinstance(t, int):
        return buffer[t].to(like.dtype)
    return buffer[t].to(like.dtype).view(-1, *([1] * (like.dim() - 1)))


class DiffusionSchedule(nn.Module):
    """Linear β schedule, ε-prediction. A module only so that `.to(device)` moves its buffers."""

    def __init__(self, *, timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> None:
        super().__init__()
        if timesteps < 2 or not 0 < beta_start <= beta_end < 1:
            raise ValueError(f"expected timesteps ≥ 2 and 0 < beta_start ≤ beta_end < 1, got {timesteps}, {beta_start}, {beta_end}")
        self.timesteps, self.beta_start, self.beta_end = timesteps, beta_start, beta_end
        betas = torch.linspace(beta_start, beta_end, timesteps, dtype=torch.float64)  # β_t
        alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)  # ᾱ_t
        alphas_cumprod_prev = torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]])  # ᾱ_{t-1}
        # DDPM posterior q(x_{t-1} | x_t, x0) = N(coef1 x0 + coef2 x_t, β̃_t), β̃_t = β_t (1 - ᾱ_{t-1}) / (1 - ᾱ_t)
        posterior_variance = betas * (1.0 - alphas_cumprod_prev) / (1.0 - alphas_cumprod)
        buffers = {
            "betas": betas,
            "alphas_cumprod": alphas_cumprod,
            "alphas_cumprod_prev": alphas_cumprod_prev,
            "sqrt_alphas_cumprod": alphas_cumprod.sqrt(),
            "sqrt_one_minus_alphas_cumprod": (1.0 - alphas_cumprod).sqrt(),
            "posterior_variance": posterior_variance,
            "posterior_mean_coef1": betas * alphas_cumprod_prev.sqrt() / (1.0 - alphas_cumprod),
            "posterior_mean_coef2": (1.0 - alphas_cumprod_prev) * (1.0 - betas).sqrt() / (1.0 - alphas_cumprod),
        }
        for name, value in buffers.items():
            self.register_buffer(name, value.float(), persistent=False)

    def config(self) -> dict:
        return {"timesteps": self.timesteps, "betaStart": self.beta_start, "betaEnd": self.beta_end}

    # Forward process ------------------------------------------------------------------------

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(ᾱ_t) x0 + sqrt(1 - ᾱ_t) ε."""
        return _at(self.sqrt_alphas_cumprod, t, x0) * x0 + _at(self.sqrt_one_minus_alphas_cumprod, t, x0) * noise

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor | int, eps: torch.Tensor, *, clip: bool) -> torch.Tensor:
        """The one-step reconstruction x̂0 = (x_t - sqrt(1 - ᾱ_t) ε) / sqrt(ᾱ_t), clipped to [-1, 1] if asked."""
        x0 = (x_t - _at(self.sqrt_one_minus_alphas_cumprod, t, x_t) * eps) / _at(self.sqrt_alphas_cumprod, t, x_t)
        return x0.clamp(-1.0, 1.0) if clip else x0

    # Reverse steps (one t for the whole batch) -----------------------------------------------

    def ddpm_step(self, x_t: torch.Tensor, t: int, eps: torch.Tensor, noise: torch.Tensor, *, clip: bool) -> torch.Tensor:
        """Ancestral sampling (DDPM Algorithm 2 via the posterior): x_{t-1} = μ̃_t(x̂0, x_t) + sqrt(β̃_t) z, no z at t = 0."""
        x0 = self.predict_x0(x_t, t, eps, clip=clip)
        mean = _at(self.posterior_mean_coef1, t, x_t) * x0 + _at(self.posterior_mean_coef2, t, x_t) * x_t
        if t == 0:
            return mean
        return mean + _at(self.posterior_variance, t, x_t).sqrt() * noise

    def ddim_step(self, x_t: torch.Tensor, t: int, t_prev: int, eps: torch.Tensor, noise: torch.Tensor | None, *,
                  eta: float, clip: bool) -> torch.Tensor:
        """DDIM (Song et al. 2021, eq. 12) from t to t_prev (< 0: ᾱ_prev = 1, the clean image).

            x_prev = sqrt(ᾱ_prev) x̂0 + sqrt(1 - ᾱ_prev - σ²) ε + σ z,
            σ = η sqrt((1 - ᾱ_prev) / (1 - ᾱ_t)) sqrt(1 - ᾱ_t / ᾱ_prev)

        With `clip`, ε is re-derived from the clipped x̂0 (diffusers' use_clipped_model_output), so
        that both terms describe the same x0: a guided ε̃ can move x̂0 far outside [-1, 1], and the
        unclipped ε̃ would then push x_prev against the guidance while the clip undoes its x̂0 part.
        """
        alpha_t = self.alphas_cumprod[t]
        alpha_prev = self.alphas_cumprod[t_prev] if t_prev >= 0 else torch.ones((), device=alpha_t.device)
        x0 = self.predict_x0(x_t, t, eps, clip=clip)
        if clip:
            eps = (x_t - alpha_t.sqrt() * x0) / (1 - alpha_t).sqrt()
        sigma = eta * ((1 - alpha_prev) / (1 - alpha_t)).sqrt() * (1 - alpha_t / alpha_prev).sqrt()
        x_prev = alpha_prev.sqrt() * x0 + (1 - alpha_prev - sigma**2).sqrt() * eps
        if eta > 0:
            x_prev = x_prev + sigma * noise
        return x_prev

    def ddim_timesteps(self, steps: int) -> list[int]:
        """`steps` evenly spaced timesteps from high to low, "leading" spacing (diffusers' default): t_k = k·(T // steps)."""
        if not 1 <= steps <= self.timesteps:
            raise ValueError(f"sampler.steps: expected 1 to {self.timesteps}, got {steps}")
        stride = self.timesteps // steps
        return [k * stride for k in reversed(range(steps))]
