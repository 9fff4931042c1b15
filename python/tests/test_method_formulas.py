"""The method's formulas pinned by value, on cases small enough to compute by hand.

Each reference below is written from the equations of docs/method.md in plain floats (no code of
the package), and each test also shows that the altered formulas a refactor could slip in (a sign,
a profile, a factor) give values the implementation does not: the assertions can fail.

    L = ||ε - ε_θ||² + λ_t (1 - ⟨y, f(x̂0)⟩),   λ_t = w (1 - 1/(1 + exp(-t/T))),   x̂0 = (x_t - √(1-ᾱ_t) ε_θ)/√ᾱ_t
    ε̃ = ε_θ - √(1-ᾱ_t) γ_t ∇_{x_t} ⟨ŷ, f(x̂0(x_t))⟩,   γ_t = γ λ_t / w
"""
import math

import pytest
import torch
from torch import nn

from id3_torch.diffusion.loss import id3_loss
from id3_torch.diffusion.sampler import SamplerOptions, _adjusted_epsilon
from id3_torch.diffusion.schedule import DiffusionSchedule

# A two-step schedule: ᾱ_0 = 1 - 0.1 = 0.9, ᾱ_1 = 0.9 · (1 - 0.5) = 0.45.
ALPHA_BAR = (0.9, 0.45)
T = 2


class FixedEpsilon(nn.Module):
    """ε_θ(x_t, …) = k·x_t + b: a denoiser whose output, and its derivative in x_t (k), are known."""

    def __init__(self, b: torch.Tensor, k: float = 0.0) -> None:
        super().__init__()
        self.b, self.k = b, k

    def forward(self, x_t, t, y, s, drop=None, drop_attributes=None):
        return self.k * x_t + self.b


class Normalised(nn.Module):
    """f(x) = x / ||x|| over its 3 values (images of 3 × 1 × 1 pixels)."""

    def forward(self, x):
        flat = x.flatten(1)
        return flat / flat.norm(dim=1, keepdim=True)


class Linear(nn.Module):
    """f(x) = A·x (not normalised), so ∇_x ⟨ŷ, f(x)⟩ = Aᵀŷ."""

    def __init__(self, a: torch.Tensor) -> None:
        super().__init__()
        self.a = a

    def forward(self, x):
        return x.flatten(1) @ self.a.T


# The hand-made batch: 3 images of 3 × 1 × 1 pixels.
X0 = [[0.5, -0.2, 0.1], [-0.3, 0.4, 0.6], [0.2, 0.2, -0.5]]
NOISE = [[0.3, -0.1, 0.2], [0.1, 0.5, -0.4], [-0.2, 0.3, 0.1]]
EPS_THETA = [[0.2, 0.1, 0.0], [0.0, 0.4, -0.3], [-0.1, 0.2, 0.3]]
Y = [[0.6, 0.8, 0.0], [0.0, 0.6, 0.8], [0.8, 0.0, 0.6]]
STEPS = [0, 1, 1]


def _reference_loss(*, w, dropped, sign=1.0, profile=lambda t: 1 - 1 / (1 + math.exp(-t / T)),
                    average_over="all", skip_dropped=True):
    """L from the equation, in floats. The keyword arguments produce the altered variants."""
    per_sample, kept_count = [], 0
    for x0, e, e_hat, y, t, drop in zip(X0, NOISE, EPS_THETA, Y, STEPS, dropped):
        a = ALPHA_BAR[t]
        x_t = [math.sqrt(a) * u + math.sqrt(1 - a) * v for u, v in zip(x0, e)]
        x0_hat = [min(1.0, max(-1.0, (u - math.sqrt(1 - a) * v) / math.sqrt(a))) for u, v in zip(x_t, e_hat)]
        norm = math.sqrt(sum(u * u for u in x0_hat))
        agreement = sum(u * v / norm for u, v in zip(x0_hat, y))
        denoising = sum((u - v) ** 2 for u, v in zip(e, e_hat)) / 3
        identity = 0.0 if (drop and skip_dropped) else w * profile(t) * (1 - sign * agreement)
        kept_count += not drop
        per_sample.append(denoising + identity)
    return sum(per_sample) / (len(per_sample) if average_over == "all" else kept_count)


def _implemented_loss(*, w, dropped, attributes_dropped=None):
    schedule = DiffusionSchedule(timesteps=T, beta_start=0.1, beta_end=0.5)
    shape = lambda rows: torch.tensor(rows).view(-1, 3, 1, 1)  # noqa: E731
    terms = id3_loss(FixedEpsilon(shape(EPS_THETA)), schedule, Normalised(), x0=shape(X0), y=torch.tensor(Y),
                     s=torch.zeros(3, 4), t=torch.tensor(STEPS), noise=shape(NOISE), drop=torch.tensor(dropped),
                     drop_attributes=None if attributes_dropped is None else torch.tensor(attributes_dropped), w=w)
    return float(terms.loss)


def test_the_two_step_schedule_is_the_one_the_references_assume():
    schedule = DiffusionSchedule(timesteps=T, beta_start=0.1, beta_end=0.5)
    assert schedule.alphas_cumprod.tolist() == pytest.approx(ALPHA_BAR, abs=1e-7)


@pytest.mark.parametrize("dropped", [[False, False, False], [False, True, False]])
def test_the_loss_equals_the_equation_on_a_hand_made_batch(dropped):
    assert _implemented_loss(w=0.5, dropped=dropped) == pytest.approx(_reference_loss(w=0.5, dropped=dropped), abs=1e-6)
    # With w = 0 it is DDPM's loss alone, the mean of the per-pixel squared errors.
    assert _implemented_loss(w=0.0, dropped=dropped) == pytest.approx(_reference_loss(w=0.0, dropped=dropped), abs=1e-6)


@pytest.mark.parametrize("altered", [
    {"sign": -1.0},  # 1 + ⟨y, f(x̂0)⟩: rewards moving away from the identity
    {"profile": lambda t: 1 / (1 + math.exp(-t / T))},  # λ_t growing with t instead of shrinking
    {"profile": lambda t: 1.0},  # no timestep profile
    {"average_over": "kept"},  # the batch mean over conditioned rows only
    {"skip_dropped": False},  # an identity term for a row whose condition was dropped
])
def test_an_altered_loss_formula_is_told_apart(altered):
    dropped = [False, True, False]
    implemented = _implemented_loss(w=0.5, dropped=dropped)
    assert abs(_reference_loss(w=0.5, dropped=dropped, **altered) - implemented) > 1e-3


def test_a_row_whose_attributes_were_dropped_keeps_its_identity_term():
    # It keeps y, so it is still asked to preserve it: the loss of a batch with no drop at all, not of one with
    # that row's whole condition dropped.
    implemented = _implemented_loss(w=0.5, dropped=[False, False, False], attributes_dropped=[False, True, False])
    assert implemented == pytest.approx(_reference_loss(w=0.5, dropped=[False, False, False]), abs=1e-6)
    assert abs(_reference_loss(w=0.5, dropped=[False, True, False]) - implemented) > 1e-3


# Guidance on the real schedule (T = 1000, linear β from 1e-4 to 0.02), images of 3 × 1 × 1 pixels.
A = [[1.0, 0.5, -0.5], [0.0, 2.0, 1.0]]  # f: R³ → R², linear
Y_HAT = [[0.6, -0.8]]
X_T = [[0.01, -0.02, 0.03]]  # with B_EPS, x̂0 stays inside [-1, 1] up to t = 600: the clip is idle
B_EPS, K = [[0.05, -0.1, 0.02]], 0.3


def _alpha_bar(t):
    product = 1.0
    for s in range(t + 1):
        product *= 1 - (1e-4 + (0.02 - 1e-4) * s / 999)
    return product


def _reference_guided_epsilon(t, *, gamma, mode, factor=lambda a: math.sqrt(1 - a),
                              profile=lambda t: 1 - 1 / (1 + math.exp(-t / 1000)), detached_slope=lambda a: 1 / math.sqrt(a)):
    a = _alpha_bar(t)
    eps = [K * x + b for x, b in zip(X_T[0], B_EPS[0])]
    # ∂x̂0/∂x_t: 1/√ᾱ with ε_θ held constant, (1 - √(1-ᾱ) k)/√ᾱ through ε_θ = k x + b.
    slope = detached_slope(a) if mode == "detached" else (1 - math.sqrt(1 - a) * K) / math.sqrt(a)
    a_t_y = [sum(A[r][c] * Y_HAT[0][r] for r in range(2)) for c in range(3)]  # Aᵀŷ
    return [e - factor(a) * gamma * profile(t) * slope * g for e, g in zip(eps, a_t_y)]


def _implemented_guided_epsilon(t, *, gamma, mode):
    schedule = DiffusionSchedule()
    options = SamplerOptions(guidance_scale=gamma, gradient_mode=mode, clip=True)
    eps = _adjusted_epsilon(FixedEpsilon(torch.tensor(B_EPS).view(1, 3, 1, 1), k=K), schedule, Linear(torch.tensor(A)),
                            torch.tensor(X_T).view(1, 3, 1, 1), t, torch.zeros(1, 2), torch.zeros(1, 4),
                            torch.tensor(Y_HAT), options)
    return eps.flatten().tolist()


@pytest.mark.parametrize("mode", ["detached", "full"])
@pytest.mark.parametrize("t", [0, 300, 600])
def test_the_guided_epsilon_equals_the_equation(t, mode):
    assert _implemented_guided_epsilon(t, gamma=2.0, mode=mode) == pytest.approx(
        _reference_guided_epsilon(t, gamma=2.0, mode=mode), rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("altered", [
    {"factor": lambda a: 1.0},  # no √(1 - ᾱ_t) in front of the score
    {"factor": lambda a: math.sqrt(a)},
    {"profile": lambda t: 1.0},  # γ_t = γ at every t
    {"profile": lambda t: 1 / (1 + math.exp(-t / 1000))},  # γ_t growing with t
    {"detached_slope": lambda a: math.sqrt(a)},  # x̂0 moving by √ᾱ_t per unit of x_t
])
def test_an_altered_guidance_formula_is_told_apart(altered):
    for t in (300, 600):  # at t = 0, √(1 - ᾱ) is 0.01 and the guidance all but vanishes
        implemented = _implemented_guided_epsilon(t, gamma=2.0, mode="detached")
        reference = _reference_guided_epsilon(t, gamma=2.0, mode="detached", **altered)
        assert max(abs(u - v) for u, v in zip(implemented, reference)) > 1e-3 * max(map(abs, implemented))


def test_without_guidance_the_epsilon_is_the_model_s():
    assert _implemented_guided_epsilon(300, gamma=0.0, mode="detached") == pytest.approx(
        [K * x + b for x, b in zip(X_T[0], B_EPS[0])], abs=1e-7)


def test_the_library_and_the_config_default_to_the_same_gradient_mode():
    # src/config/diffusion.ts: gradientMode … .default('detached')
    assert SamplerOptions().gradient_mode == "detached"
