"""The denoiser, the ID loss and the sampler on tiny models: conditioning matters, gradients go where they should,
the sampler's plain path is plain conditional sampling, images depend only on their seed, guidance raises ⟨y, f(x̂0)⟩."""
import pytest
import torch

from diffusion_helpers import encoder_at, random_denoiser
from id3_torch.diffusion.ema import EMA
from id3_torch.diffusion.loss import denoising_weight, guidance_weight, id3_loss, identity_weight, timestep_probabilities
from id3_torch.diffusion.model import EpsilonPreconditioning
from id3_torch.diffusion.pose_map import PoseMapSpec
from id3_torch.diffusion.sampler import SamplerOptions, sample_images, to_uint8
from id3_torch.diffusion.schedule import DiffusionSchedule
from id3_torch.diffusion.unet import UNetConfig

B = 4


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    torch.set_num_threads(1)
    return encoder_at(tmp_path_factory.mktemp("encoder"))


@pytest.fixture(scope="module")
def schedule():
    return DiffusionSchedule()


def _batch(encoder, seed=0):
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(B, 3, 32, 32, generator=g) * 2 - 1
    s = torch.stack([torch.rand(B, generator=g) * 60 + 20, *(torch.rand(3, B, generator=g) * 60 - 30)], dim=1)
    return x0, encoder(x0).detach(), s, g


def test_changing_y_or_s_changes_the_output_and_dropped_rows_ignore_both(encoder):
    denoiser = random_denoiser()
    x0, y, s, g = _batch(encoder)
    t = torch.tensor([10, 100, 300, 500])  # (at large t, c_out ≈ sqrt(ᾱ_t)·σ_d scales every input's effect down)
    with torch.no_grad():
        base = denoiser(x0, t, y, s)
        other_y = denoiser(x0, t, y.roll(1, dims=0), s)
        other_s = denoiser(x0, t, y, s + torch.tensor([10.0, 20.0, 0.0, 0.0]))
        drop = torch.ones(B, dtype=torch.bool)
        null_a = denoiser(x0, t, y, s, drop)
        null_b = denoiser(x0, t, y.roll(1, dims=0), s + 10, drop)
        # Attributes dropped: s is ignored, y is not.
        unknown_s = denoiser(x0, t, y, s, drop_attributes=drop)
        unknown_s_other_s = denoiser(x0, t, y, s + 10, drop_attributes=drop)
        unknown_s_other_y = denoiser(x0, t, y.roll(1, dims=0), s, drop_attributes=drop)
    per_row = lambda a, b: (a - b).abs().flatten(1).amax(dim=1)  # noqa: E731
    assert (per_row(base, other_y) > 1e-4).all() and (per_row(base, other_s) > 1e-4).all()
    assert torch.equal(null_a, null_b)
    assert torch.equal(unknown_s, unknown_s_other_s)
    assert (per_row(unknown_s, unknown_s_other_y) > 1e-4).all() and (per_row(unknown_s, base) > 1e-4).all()


def test_with_the_attributes_dropped_the_pose_map_is_hidden_too(encoder):
    denoiser = random_denoiser(seed=5, pose_map=PoseMapSpec(centre=(0.0, 0.0), half_axes=(0.5, 0.6)))
    x0, y, s, _ = _batch(encoder, seed=5)
    t = torch.tensor([10, 100, 300, 500])
    dropped = torch.tensor([False, True, False, True])
    with torch.no_grad():
        shown = denoiser(x0, t, y, s, drop_attributes=dropped)
        turned = denoiser(x0, t, y, s + torch.tensor([0.0, 30.0, 0.0, 0.0]), drop_attributes=dropped)
    changed = (shown - turned).abs().flatten(1).amax(dim=1)
    assert changed[~dropped].min() > 1e-4 and changed[dropped].max() == 0.0


def test_the_edm_scalings_are_the_best_linear_epsilon_and_its_residual_spread(schedule):
    # For x0 ~ N(0, σ_d²): c_skip is the least-squares coefficient of ε on x_t, c_out the residual's std.
    pre = EpsilonPreconditioning(schedule.alphas_cumprod, sigma_data=0.5)
    g = torch.Generator().manual_seed(0)
    for t in (100, 500, 999):  # (at t = 0 the coefficient, 0.04, drowns in sampling noise)
        x0, eps = torch.randn(200_000, generator=g) * 0.5, torch.randn(200_000, generator=g)
        x_t = schedule.q_sample(x0, torch.full((1,), t), eps)
        fitted = float((eps * x_t).sum() / (x_t * x_t).sum())
        assert fitted == pytest.approx(float(pre.c_skip[t]), rel=0.02), t
        assert float((eps - fitted * x_t).std()) == pytest.approx(float(pre.c_out[t]), rel=0.02), t
        assert float((pre.c_in[t] * x_t).std()) == pytest.approx(1.0, rel=0.02)


def test_identity_weights_follow_the_method():
    t = torch.tensor([0, 500, 999])
    expected = 0.5 * (1 - 1 / (1 + torch.exp(-t.double() / 1000)))
    assert torch.allclose(identity_weight(t, timesteps=1000, w=0.5).double(), expected, atol=1e-7)
    assert guidance_weight(500, timesteps=1000, gamma=2.0) == pytest.approx(2.0 * float(expected[1]) / 0.5, rel=1e-6)


def test_the_edm_weighting_is_unit_weight_on_the_preconditioned_network(schedule):
    # ||ε − ε_θ||² / c_out² = ||F* − F||² with ε_θ = c_skip x_t + c_out F: EDM's unit-weight loss on F.
    pre = EpsilonPreconditioning(schedule.alphas_cumprod, sigma_data=0.5)
    t = torch.tensor([0, 10, 300, 999])
    weight = denoising_weight(schedule.alphas_cumprod, t, weighting="edm", sigma_data=0.5)
    assert torch.allclose(weight, 1 / pre.c_out[t] ** 2, rtol=1e-5)
    assert torch.equal(denoising_weight(schedule.alphas_cumprod, t, weighting="epsilon", sigma_data=0.5), torch.ones(4))
    with pytest.raises(ValueError, match="diffusion.loss.weighting"):
        denoising_weight(schedule.alphas_cumprod, t, weighting="snr", sigma_data=0.5)


@pytest.mark.parametrize("mean, std", [(-1.2, 1.2), (0.0, 0.8)])
def test_the_edm_draws_of_t_make_ln_sigma_normal(schedule, mean, std):
    p = timestep_probabilities(schedule.alphas_cumprod, weighting="edm", log_sigma_mean=mean, log_sigma_std=std)
    a = schedule.alphas_cumprod.double()
    log_sigma = 0.5 * torch.log((1 - a) / a)
    drawn_mean = float((p * log_sigma).sum())
    drawn_std = float((p * (log_sigma - drawn_mean) ** 2).sum().sqrt())
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-12)
    # ln σ_t covers [−4.6, 5.1]: the tails beyond are folded into t = 0 and T − 1, hence the tolerance.
    assert drawn_mean == pytest.approx(mean, abs=0.03) and drawn_std == pytest.approx(std, abs=0.03)
    uniform = timestep_probabilities(schedule.alphas_cumprod, weighting="epsilon", log_sigma_mean=mean, log_sigma_std=std)
    assert torch.allclose(uniform, torch.full((1000,), 1e-3, dtype=torch.float64))


def test_the_identity_term_reaches_the_unet_and_the_encoder_never_changes(encoder, schedule):
    denoiser = random_denoiser().train()
    x0, y, s, g = _batch(encoder, seed=1)
    t = torch.tensor([5, 50, 200, 400])
    noise = torch.randn(x0.shape, generator=g)
    kept = torch.zeros(B, dtype=torch.bool)

    def gradients(w, drop):
        denoiser.zero_grad()
        id3_loss(denoiser, schedule, encoder, x0=x0, y=y, s=s, t=t, noise=noise, drop=drop, w=w).loss.backward()
        return {n: p.grad.clone() for n, p in denoiser.named_parameters() if p.grad is not None}

    plain, with_identity = gradients(0.0, kept), gradients(0.5, kept)
    for name in ("unet.conv_in.weight", "unet.down.0.blocks.0.conv1.weight", "unet.conv_out.weight",
                 "condition.mlp.0.weight"):
        assert (with_identity[name] - plain[name]).abs().max() > 1e-7, name
    # A dropped condition (null token) gets no identity term.
    everything_dropped = torch.ones(B, dtype=torch.bool)
    assert all(torch.equal(a, b) for a, b in zip(gradients(0.0, everything_dropped).values(),
                                                 gradients(0.5, everything_dropped).values()))

    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    optimizer = torch.optim.AdamW(denoiser.parameters(), lr=1e-2)
    encoder.train()  # a caller's train() must not unfreeze BatchNorm statistics
    for _ in range(3):
        terms = id3_loss(denoiser, schedule, encoder, x0=x0, y=y, s=s, t=t, noise=noise, drop=kept, w=0.5)
        optimizer.zero_grad()
        terms.loss.backward()
        optimizer.step()
    assert all(p.grad is None for p in encoder.parameters())
    assert all(torch.equal(before[k], v) for k, v in encoder.state_dict().items())
    assert terms.denoising > 0 and 0 <= terms.identity <= 2


def test_the_bf16_autocast_path_gives_the_float32_loss_and_gradients_to_bf16_precision(encoder, schedule):
    # The trainer autocasts on CUDA only; CPU autocast runs the same casts, so the mixed-precision path
    # (bf16 ε_θ and f, float32 loss terms) is checked here rather than first on a user's GPU.
    denoiser = random_denoiser().train()
    x0, y, s, g = _batch(encoder, seed=2)
    t, noise, none_dropped = torch.tensor([5, 50, 200, 400]), torch.randn(x0.shape, generator=g), torch.zeros(B, dtype=torch.bool)

    def loss_and_gradient(autocast):
        denoiser.zero_grad()
        terms = id3_loss(denoiser, schedule, encoder, x0=x0, y=y, s=s, t=t, noise=noise, drop=none_dropped, w=0.5,
                         autocast=autocast)
        terms.loss.backward()
        return terms, torch.cat([p.grad.flatten() for p in denoiser.parameters() if p.grad is not None])

    (exact, exact_grad), (mixed, mixed_grad) = loss_and_gradient(False), loss_and_gradient(True)
    assert all(v.dtype == torch.float32 for v in (mixed.loss, mixed.denoising, mixed.identity))
    assert mixed.loss.item() == pytest.approx(exact.loss.item(), rel=2e-2)
    assert float(mixed.identity) == pytest.approx(float(exact.identity), abs=2e-2)
    assert torch.nn.functional.cosine_similarity(mixed_grad, exact_grad, dim=0) > 0.98
    assert not torch.equal(mixed_grad, exact_grad)  # bf16 did run


def _plain_ddim(denoiser, schedule, y, s, seeds, *, steps, drop=None, drop_attributes=None):
    """Plain conditional DDIM written out: x_T from each seed, ε_θ, DDIM step (η = 0, clipped x̂0; the step
    itself is checked against diffusers in test_diffusion_schedule.py)."""
    x = torch.stack([torch.randn(3, 32, 32, generator=torch.Generator().manual_seed(seed)) for seed in seeds])
    stride = 1000 // steps
    with torch.no_grad():
        for t in [k * stride for k in reversed(range(steps))]:
            eps = denoiser(x, torch.full((len(x),), t), y, s, drop, drop_attributes)
            x = schedule.ddim_step(x, t, t - stride, eps, None, eta=0.0, clip=True)
    return x


def test_without_guidance_the_sampler_is_plain_conditional_sampling(encoder, schedule):
    denoiser = random_denoiser(seed=2)
    _, y, s, _ = _batch(encoder, seed=2)
    seeds = [11, 12, 13, 14]
    plain = _plain_ddim(denoiser, schedule, y, s, seeds, steps=10)
    for mode in ("full", "detached"):
        ours = sample_images(denoiser, schedule, y=y, s=s, seeds=seeds, encoder=encoder,
                             options=SamplerOptions(steps=10, guidance_scale=0.0, gradient_mode=mode))
        assert torch.equal(ours, plain)
    # κ = 0 is the unconditional model: ε_∅ + 0 · (ε_c - ε_∅).
    unconditional = _plain_ddim(denoiser, schedule, y, s, seeds, steps=10, drop=torch.ones(B, dtype=torch.bool))
    ours = sample_images(denoiser, schedule, y=y, s=s, seeds=seeds, options=SamplerOptions(steps=10, cfg_scale=0.0))
    assert torch.allclose(ours, unconditional, atol=1e-5)
    # Guiding the attributes alone, κ = 0 is the model told y and no attributes: ε(y, ∅) + 0 · (ε(y, s) - ε(y, ∅)).
    identity_only = _plain_ddim(denoiser, schedule, y, s, seeds, steps=10, drop_attributes=torch.ones(B, dtype=torch.bool))
    ours = sample_images(denoiser, schedule, y=y, s=s, seeds=seeds,
                         options=SamplerOptions(steps=10, cfg_scale=0.0, cfg_guides="attributes"))
    assert torch.allclose(ours, identity_only, atol=1e-5) and not torch.allclose(ours, unconditional, atol=1e-3)


@pytest.mark.parametrize("options", [SamplerOptions(steps=5, eta=1.0), SamplerOptions(method="ddpm"),
                                     SamplerOptions(steps=5, guidance_scale=5.0, gradient_mode="full")])
def test_an_image_depends_on_its_seed_and_condition_not_on_its_batch(encoder, schedule, options):
    denoiser = random_denoiser(seed=3, resolution=32)
    if options.method == "ddpm":
        schedule = DiffusionSchedule(timesteps=20)
    _, y, s, _ = _batch(encoder, seed=3)
    together = sample_images(denoiser, schedule, y=y, s=s, seeds=[5, 6, 7, 8], options=options, encoder=encoder)
    alone = torch.cat([sample_images(denoiser, schedule, y=y[i:i + 1], s=s[i:i + 1], seeds=[seed], options=options,
                                     encoder=encoder) for i, seed in zip((2, 0), (7, 5))])
    # Equal up to float rounding (a convolution's kernel may depend on the batch size), which the chain of
    # steps amplifies (x̂0 divides by sqrt(ᾱ_t)): at most 2e-3 here, a quarter of one uint8 level.
    assert torch.allclose(alone, together[[2, 0]], atol=2e-3)
    assert (to_uint8(alone).int() - to_uint8(together[[2, 0]]).int()).abs().max() <= 1
    other_seed = sample_images(denoiser, schedule, y=y[:1], s=s[:1], seeds=[99], options=options, encoder=encoder)
    assert (other_seed - together[:1]).abs().max() > 0.1


@pytest.mark.parametrize("mode", ["full", "detached"])
def test_identity_guidance_raises_the_agreement_with_its_target(encoder, schedule, mode):
    denoiser = random_denoiser(seed=4)
    _, y, s, _ = _batch(encoder, seed=4)
    target = torch.nn.functional.normalize(torch.randn(B, y.shape[1], generator=torch.Generator().manual_seed(9)), dim=-1)

    def agreement(gamma):
        images = sample_images(denoiser, schedule, y=y, s=s, seeds=[1, 2, 3, 4], encoder=encoder, target=target,
                               options=SamplerOptions(steps=10, guidance_scale=gamma, gradient_mode=mode))
        return (encoder(images) * target).sum(-1)

    plain, guided = agreement(0.0), agreement(200.0)
    assert (guided > plain).all() and float((guided - plain).mean()) > 0.1, (plain, guided)


def test_ema_averages_with_warm_up_and_copies_buffers():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    ema = EMA(model, decay=0.99)
    start = model[0].weight.detach().clone()
    with torch.no_grad():
        model[0].weight.add_(1.0)
        model[1].running_mean.fill_(3.0)
    ema.update(model, updates=0)  # d = min(0.99, 1/10)
    assert torch.allclose(ema.shadow[0].weight, 0.1 * start + 0.9 * model[0].weight)
    assert torch.equal(ema.shadow[1].running_mean, model[1].running_mean)
    assert ema.rate(10_000) == 0.99
    with pytest.raises(ValueError, match="emaDecay"):
        EMA(model, decay=1.0)


def test_bad_unet_configs_name_the_problem():
    with pytest.raises(ValueError, match="not divisible by patch_size 4"):
        UNetConfig(resolution=36, patch_size=4, channels=64, channel_mults=(1, 2))
    with pytest.raises(ValueError, match="head_channels"):
        UNetConfig(resolution=32, channels=48, head_channels=32)
    with pytest.raises(ValueError, match="must carry every pixel"):
        UNetConfig(resolution=32, patch_size=4, channels=32, channel_mults=(1, 2))
