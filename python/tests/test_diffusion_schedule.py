"""The DDPM algebra against diffusers' schedulers (linear β 1e-4 to 0.02, T = 1000): ᾱ, q_sample, DDIM and DDPM steps.

diffusers computes β, ᾱ and every coefficient in float32; we compute in float64 and store float32.
Where a coefficient divides by 1 - ᾱ_t at small t (2e-4 at t = 1), float32 cancellation leaves
diffusers a relative error near 3e-4, so the step tolerances below are wider there than the 1e-6
that ᾱ itself meets.
"""
import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler

from id3_torch.diffusion.schedule import DiffusionSchedule

REFERENCE = dict(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02, beta_schedule="linear")


@pytest.fixture(scope="module")
def schedule():
    return DiffusionSchedule(timesteps=1000, beta_start=1e-4, beta_end=0.02)


def test_alphas_cumprod_equal_diffusers_ddpm(schedule):
    reference = DDPMScheduler(**REFERENCE).alphas_cumprod
    assert reference.shape == schedule.alphas_cumprod.shape == (1000,)
    assert (schedule.alphas_cumprod - reference).abs().max() < 1e-6
    assert (schedule.betas - DDPMScheduler(**REFERENCE).betas).abs().max() < 1e-8


def test_q_sample_is_diffusers_add_noise_and_x0_inverts_it(schedule):
    generator = torch.Generator().manual_seed(0)
    x0 = torch.rand(6, 3, 8, 8, generator=generator) * 2 - 1
    noise = torch.randn(x0.shape, generator=generator)
    t = torch.tensor([0, 1, 250, 500, 900, 999])
    x_t = schedule.q_sample(x0, t, noise)
    assert torch.allclose(x_t, DDPMScheduler(**REFERENCE).add_noise(x0, noise, t), atol=1e-5)
    recovered = schedule.predict_x0(x_t, t, noise, clip=False)
    # Exact up to float32 rounding, which 1/sqrt(ᾱ_t) amplifies (≈ 160× at t = 999).
    tolerance = 4e-7 / schedule.sqrt_alphas_cumprod[t].view(-1, 1, 1, 1)
    assert ((recovered - x0).abs() <= tolerance).all()
    assert torch.equal(schedule.predict_x0(x_t, t, noise * 3, clip=True).clamp(-1, 1),
                       schedule.predict_x0(x_t, t, noise * 3, clip=True))


def test_ddim_timesteps_and_steps_equal_diffusers(schedule):
    reference = DDIMScheduler(**REFERENCE, clip_sample=True, set_alpha_to_one=True)
    reference.set_timesteps(50)
    assert schedule.ddim_timesteps(50) == reference.timesteps.tolist()
    generator = torch.Generator().manual_seed(1)
    x_t = torch.randn(4, 3, 8, 8, generator=generator)
    eps = torch.randn(x_t.shape, generator=generator) * 2  # large enough that x̂0 is clipped somewhere
    z = torch.randn(x_t.shape, generator=generator)
    for t in (980, 500, 20, 0):
        for eta in (0.0, 1.0):
            ours = schedule.ddim_step(x_t, t, t - 20, eps, z, eta=eta, clip=True)
            theirs = reference.step(eps, t, x_t, eta=eta, use_clipped_model_output=True, variance_noise=z).prev_sample
            assert torch.allclose(ours, theirs, atol=1e-5), (t, eta, (ours - theirs).abs().max())


def test_ddpm_step_equals_diffusers(schedule):
    reference = DDPMScheduler(**REFERENCE, clip_sample=True)
    reference.set_timesteps(1000)
    generator = torch.Generator().manual_seed(2)
    x_t = torch.randn(4, 3, 8, 8, generator=generator)
    eps = torch.randn(x_t.shape, generator=generator)
    for t in (999, 600, 1, 0):
        theirs = reference.step(eps, t, x_t, generator=torch.Generator().manual_seed(t)).prev_sample
        z = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(t))  # the noise diffusers drew
        ours = schedule.ddpm_step(x_t, t, eps, z, clip=True)
        assert torch.allclose(ours, theirs, atol=1e-4 if t <= 1 else 1e-5), (t, (ours - theirs).abs().max())


def test_bad_schedules_and_step_counts_are_refused(schedule):
    with pytest.raises(ValueError, match="beta_start"):
        DiffusionSchedule(timesteps=1000, beta_start=0.03, beta_end=0.02)
    with pytest.raises(ValueError, match="sampler.steps"):
        schedule.ddim_timesteps(0)
