"""The ID-preserving sampler of ID³: DDIM or DDPM ancestral steps on the adjusted score.

    ε̃ = ε_θ(x_t, t, c) - sqrt(1 - ᾱ_t) · γ_t · ∇_{x_t} ⟨ŷ, f(x̂0(x_t))⟩,   γ_t = γ · λ_t / w

ŷ is the guidance target (y_ij, or the anchor w_i: given apart from the condition). Gradient mode
`full` back-propagates through ε_θ and f; `detached` holds ε_θ constant, so x̂0 moves by
1/sqrt(ᾱ_t) per unit of x_t. Optional classifier-free guidance [ours]: ε = ε_∅ + κ (ε_c - ε_∅), where ε_∅ is
ε_θ(x_t, t, ∅) (cfg_guides `condition`: κ amplifies identity and attributes alike) or ε_θ(x_t, t, y, ∅)
(`attributes`: κ amplifies the attributes and holds the identity; the model must have been trained with
attribute dropout).

Every image has its own generator, seeded by its seed, that draws its x_T and its per-step noise,
so an image depends only on its seed and condition, never on the batch it is sampled in.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import torch

from ..encoders import IdentityEncoder
from .loss import guidance_weight
from .schedule import DiffusionSchedule

if TYPE_CHECKING:  # model.py samples through this module
    from .model import Denoiser

METHODS, GRADIENT_MODES, CFG_GUIDES = ("ddim", "ddpm"), ("full", "detached"), ("condition", "attributes")


@dataclass(frozen=True)
class SamplerOptions:
    """Mirrors `diffusion.sampler` of the config schema (src/config/diffusion.ts)."""
    method: str = "ddim"  # ddim | ddpm (ancestral, all T steps)
    steps: int = 50  # DDIM steps
    eta: float = 0.0  # DDIM η: 0 deterministic, 1 DDPM-like noise
    guidance_scale: float = 0.0  # γ; 0 = no identity guidance
    gradient_mode: str = "detached"  # full | detached (the config's default too)
    cfg_scale: float = 1.0  # classifier-free guidance κ; 1 = off
    cfg_guides: str = "condition"  # what κ amplifies: condition (against ε(∅)) | attributes (against ε(y, ∅))
    clip: bool = True  # x̂0 clipped to [-1, 1] in every step and in the guidance

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"sampler.method: expected one of {', '.join(METHODS)}, got {self.method!r}")
        if self.gradient_mode not in GRADIENT_MODES:
            raise ValueError(f"sampler.gradientMode: expected one of {', '.join(GRADIENT_MODES)}, got {self.gradient_mode!r}")
        if self.cfg_guides not in CFG_GUIDES:
            raise ValueError(f"sampler.cfgGuides: expected one of {', '.join(CFG_GUIDES)}, got {self.cfg_guides!r}")


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float → uint8 (round to nearest)."""
    return ((images.float() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)


def _image_noise(generators: list[torch.Generator], shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """(B, *shape) standard normal, row i from generator i (on the CPU: same numbers on any device)."""
    return torch.stack([torch.randn(shape, generator=g) for g in generators]).to(device)


def _epsilon(denoiser: torch.nn.Module, x: torch.Tensor, t: int, y: torch.Tensor, s: torch.Tensor,
             options: SamplerOptions) -> torch.Tensor:
    """ε_θ(x_t, t, c), or with classifier-free guidance ε_∅ + κ (ε_c - ε_∅) (one batched call)."""
    steps = torch.full((len(x),), t, device=x.device, dtype=torch.long)
    if options.cfg_scale == 1.0:
        return denoiser(x, steps, y, s)
    # The second half of the batch is ε_∅: the null token, or y with the attributes unknown.
    second_half = torch.cat([torch.zeros(len(x), dtype=torch.bool), torch.ones(len(x), dtype=torch.bool)]).to(x.device)
    on_condition = options.cfg_guides == "condition"
    conditional, unconditional = denoiser(torch.cat([x, x]), torch.cat([steps, steps]), torch.cat([y, y]),
                                          torch.cat([s, s]), drop=second_half if on_condition else None,
                                          drop_attributes=None if on_condition else second_half).chunk(2)
    return unconditional + options.cfg_scale * (conditional - unconditional)


def _adjusted_epsilon(denoiser: torch.nn.Module, schedule: DiffusionSchedule, encoder: IdentityEncoder | None,
                      x: torch.Tensor, t: int, y: torch.Tensor, s: torch.Tensor, target: torch.Tensor,
                      options: SamplerOptions) -> torch.Tensor:
    """ε̃ of the adjusted gradient vector field; with γ = 0 exactly ε_θ (no graph is built)."""
    if options.guidance_scale == 0.0:
        with torch.no_grad():
            return _epsilon(denoiser, x, t, y, s, options)
    if encoder is None:
        raise ValueError("sampler.guidanceScale > 0 needs the identity encoder f")
    with torch.enable_grad():
        x_t = x.detach().requires_grad_(True)
        if options.gradient_mode == "full":
            eps = _epsilon(denoiser, x_t, t, y, s, options)
        else:  # detached: ε_θ held constant
            with torch.no_grad():
                eps = _epsilon(denoiser, x_t, t, y, s, options)
        x0_hat = schedule.predict_x0(x_t, t, eps, clip=options.clip)
        agreement = (target * encoder(x0_hat)).sum()  # Σ_i ⟨ŷ_i, f(x̂0_i)⟩: each image's gradient is its own
        (score,) = torch.autograd.grad(agreement, x_t)  # ∇_{x_t} ⟨ŷ, f(x̂0(x_t))⟩
    gamma_t = guidance_weight(t, timesteps=schedule.timesteps, gamma=options.guidance_scale)
    return eps.detach() - schedule.sqrt_one_minus_alphas_cumprod[t] * gamma_t * score


def sample_images(denoiser: Denoiser, schedule: DiffusionSchedule, *, y: torch.Tensor, s: torch.Tensor,
                  seeds: list[int], options: SamplerOptions, encoder: IdentityEncoder | None = None,
                  target: torch.Tensor | None = None, on_step: Callable[[], None] | None = None) -> torch.Tensor:
    """Images (B, 3, R, R) in [-1, 1] for conditions y (B, d), s (B, 4: years, degrees), one seed each.

    `target`: the guidance target ŷ (B, d), by default y. `on_step` is called after every step
    (progress, cancellation).
    """
    if not (len(y) == len(s) == len(seeds)) or (target is not None and target.shape != y.shape):
        raise ValueError(f"expected as many seeds as conditions: y {tuple(y.shape)}, s {tuple(s.shape)}, "
                         f"{len(seeds)} seeds{'' if target is None else f', target {tuple(target.shape)}'}")
    device = y.device
    resolution = denoiser.resolution
    generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
    shape = (denoiser.image_channels, resolution, resolution)
    x = _image_noise(generators, shape, device)  # x_T ~ N(0, I)
    target = y if target is None else target
    if options.method == "ddim":
        timesteps = schedule.ddim_timesteps(options.steps)
        stride = schedule.timesteps // options.steps
        for t in timesteps:
            eps = _adjusted_epsilon(denoiser, schedule, encoder, x, t, y, s, target, options)
            noise = _image_noise(generators, shape, device) if options.eta > 0 else None
            x = schedule.ddim_step(x, t, t - stride, eps, noise, eta=options.eta, clip=options.clip)
            if on_step:
                on_step()
    else:
        for t in reversed(range(schedule.timesteps)):
            eps = _adjusted_epsilon(denoiser, schedule, encoder, x, t, y, s, target, options)
            x = schedule.ddpm_step(x, t, eps, _image_noise(generators, shape, device), clip=options.clip)
            if on_step:
                on_step()
    return x.detach()
