"""The ID³ diffusion trainer (job `train`): ε_θ learns to denoise faces conditioned on [y ; s] under the ID loss.

One loop for one process or many (torchrun: DDP, gloo on CPU, nccl on CUDA); bf16 autocast where it is native;
AdamW with a linear warm-up; gradient clipping; EMA weights; a checkpoint (model, EMA, optimiser,
step) every N steps from which a killed run resumes exactly. Every random number of step n (t, ε,
condition dropout, U-Net dropout) comes from a stream keyed by (seed, rank, n) on the training
device, so the step is the whole RNG state. y = f(x0) is computed once for the training set: f is frozen.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..bridge.jobs import Progress
from ..data.image_files import write_grid_png
from ..data.labelled_images import LabelledImages, attribute_columns
from ..encoders import embed_images, load_identity_encoder
from ..recognition.checkpoints import load_safetensors, save_safetensors
from ..recognition.iresnet import normalize_face_images
from ..training.distributed import Distributed
from ..training.divergence import check_step
from ..training.order import rank_batches, steps_per_epoch
from ..training.randomness import step_generator, step_seed
from ..training.precision import use_bf16_autocast
from ..training.schedule import warmup_constant
from ..training.state import load_training_state, save_training_state
from .conditioning import ATTRIBUTE_NAMES, identity_conditions
from .ema import EMA
from .loss import id3_loss, timestep_probabilities
from .autoencoder import Autoencoder, AutoencoderOptions, DecodedIdentity, encode_all, train_autoencoder
from .model import AUTOENCODER_WEIGHTS, EMA_WEIGHTS, Denoiser, TrainedDiffusion, preconditioning_for, write_model_card
from .pose_map import POSE_MAP_CHANNELS, PoseMapSpec
from .sampler import SamplerOptions, to_uint8
from .schedule import DiffusionSchedule
from .unet import UNetConfig

CHECKPOINT = "checkpoint.safetensors"
_DIVERGED_ADVICE = ("lower diffusion.training.lr (now {lr:g}) or diffusion.training.gradClip (now {clip}), then run "
                    "again (a changed setting is a new stage key: train starts over).")


@dataclass(frozen=True)
class ModelOptions:
    """Mirrors `diffusion.model` of the config schema: the U-Net's fields less resolution (the data's) and condition
    size (the conditioning's), and the preconditioning."""
    patch_size: int
    channels: int
    channel_mults: tuple[int, ...]
    res_blocks: int
    attention_resolutions: tuple[int, ...]
    head_channels: int
    dropout: float
    condition_tokens: int
    preconditioning: str  # edm | none
    sigma_data: float  # σ_d of the edm scalings (and of the edm loss weighting)


@dataclass(frozen=True)
class DiffusionTrainingOptions:
    """Mirrors the `diffusion` section of the config schema (src/config/diffusion.ts), less the sampler."""
    model: ModelOptions
    condition_hidden: tuple[int, int]
    condition_size: int
    condition_dropout: float  # p of the learned null token
    attribute_dropout: float  # p, among the rows that keep c, of s unknown (y kept) [ours]
    identity_condition: str  # y of a training image: image (f(x0), the paper's) | centre (its identity's) [ours]
    pose_map: PoseMapSpec | None  # the head-pose map read beside x_t [ours]; None = off
    latent: AutoencoderOptions | None  # the autoencoder whose latents the denoiser works in [ours]; None = pixels
    timesteps: int
    beta_start: float
    beta_end: float
    w: float  # identity-loss weight of λ_t
    weighting: str  # of the denoising term over t: epsilon | edm (loss.denoising_weight, loss.timestep_probabilities)
    log_sigma_mean: float  # P_mean, P_std of the edm weighting's draws of t
    log_sigma_std: float
    steps: int
    batch_size: int  # per process
    lr: float
    weight_decay: float
    warmup_steps: int
    grad_clip: float | None  # max gradient L2 norm; None = no clipping
    autocast: str  # auto | bf16 | off (training.precision.use_bf16_autocast)
    ema_decay: float
    checkpoint_every: int  # steps
    grid_images: int  # training images in grid.png, above the EMA model's samples for their conditions; 0 = none
    seed: int
    device: str  # auto | cpu | cuda

    @property
    def preconditioning(self) -> dict | None:
        """{"kind": "edm", "sigmaData": σ_d} (as the model card holds it), or None for a bare ε network."""
        if self.model.preconditioning == "none":
            return None
        return {"kind": self.model.preconditioning, "sigmaData": self.model.sigma_data}

    def schedule(self) -> DiffusionSchedule:
        return DiffusionSchedule(timesteps=self.timesteps, beta_start=self.beta_start, beta_end=self.beta_end)

    def denoiser(self, resolution: int, *, embedding_size: int, schedule: DiffusionSchedule) -> Denoiser:
        """ε_θ as configured, freshly initialised from the global RNG (what the job and the benchmarks train)."""
        return Denoiser(self.unet(resolution), embedding_size=embedding_size, condition_hidden=self.condition_hidden,
                        pose_map=self.pose_map,
                        preconditioning=preconditioning_for(schedule, self.preconditioning))

    def unet(self, resolution: int) -> UNetConfig:
        m = self.model
        return UNetConfig(resolution=resolution, patch_size=m.patch_size, channels=m.channels,
                          channel_mults=m.channel_mults, res_blocks=m.res_blocks,
                          attention_resolutions=m.attention_resolutions, head_channels=m.head_channels,
                          dropout=m.dropout, condition_size=self.condition_size,
                          condition_tokens=m.condition_tokens,
                          extra_input_channels=POSE_MAP_CHANNELS if self.pose_map else 0,
                          image_channels=self.latent.channels if self.latent else 3)


def train_denoiser(options: DiffusionTrainingOptions, *, manifest: str, out_dir: str, encoder_spec: dict,
                   progress: Progress) -> dict:
    """Train ε_θ on the train split of `manifest` against the frozen f of `encoder_spec` (the JSON
    `load_identity_encoder` takes, recorded in the model card), resuming from out_dir's checkpoint; write the
    EMA weights, model.json and grid.png there. Returns the job's summary."""
    checkpoint = os.path.join(out_dir, CHECKPOINT)
    dist = Distributed.from_environment(options.device)
    device = dist.device

    data = LabelledImages.from_manifest(manifest, splits=("train",))
    s_all = attribute_columns(data, ATTRIBUTE_NAMES, manifest=manifest)  # (N, 4) years, degrees
    resolution = data.images.shape[-1]
    encoder = load_identity_encoder(encoder_spec, device=device)
    y_all = identity_conditions(embed_images(encoder, data.images, device=device), data.labels,
                                options.identity_condition)  # (N, d)
    schedule = options.schedule().to(device)
    # In latent space x0 is z = E(image), computed once (E is frozen), and the ID loss reads f(D(ẑ0)).
    autoencoder = _autoencoder(options, data.images, out_dir, dist, progress) if options.latent else None
    z_all = encode_all(autoencoder, data.images, device=device) if autoencoder else None
    loss_encoder = DecodedIdentity(encoder, autoencoder.decoder) if autoencoder else encoder
    side = resolution // options.latent.downscale if autoencoder else resolution  # of what the denoiser sees
    unet = options.unet(side)
    # The initial weights, identical on every rank; forked so the bridge's shared RNG is untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(options.seed)
        denoiser = options.denoiser(side, embedding_size=encoder.embedding_size, schedule=schedule).to(device)
    ema = EMA(denoiser, decay=options.ema_decay)
    optimizer = torch.optim.AdamW(denoiser.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    modules = {"model": denoiser, "ema": ema.shadow}
    step = load_training_state(checkpoint, modules=modules, optimizer=optimizer)["step"] if os.path.exists(checkpoint) else 0
    trained = DistributedDataParallel(denoiser) if dist.enabled else denoiser

    t_probabilities = timestep_probabilities(schedule.alphas_cumprod, weighting=options.weighting,
                                             log_sigma_mean=options.log_sigma_mean,
                                             log_sigma_std=options.log_sigma_std).float().to(device)
    bf16 = use_bf16_autocast(options.autocast, device)
    per_epoch = steps_per_epoch(len(data), batch_size=options.batch_size, world_size=dist.world_size)
    progress.begin(options.steps, label="train", unit="step", step=step)
    batches: list[torch.Tensor] = []
    max_grad_norm = math.inf if options.grad_clip is None else options.grad_clip
    advice = _DIVERGED_ADVICE.format(lr=options.lr, clip="null" if options.grad_clip is None else f"{options.grad_clip:g}")
    started, first_step = time.perf_counter(), step
    # The global RNG (U-Net dropout) is reseeded every step from (seed, rank, step), inside a fork.
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        while step < options.steps:
            epoch, index = divmod(step, per_epoch)
            if index == 0 or not batches:
                batches = rank_batches(len(data), batch_size=options.batch_size, seed=options.seed, epoch=epoch,
                                       rank=dist.rank, world_size=dist.world_size)
            batch = batches[index]
            # (B, 3, R, R) images in [-1, 1], or their latents (B, C, R/4, R/4) in (-1, 1)
            x0 = (z_all[batch] if z_all is not None else normalize_face_images(data.images[batch])).to(device)
            generator = step_generator("diffusion", seed=options.seed, rank=dist.rank, step=step, device=device)
            t = torch.multinomial(t_probabilities, len(batch), replacement=True, generator=generator)
            noise = torch.randn(x0.shape, generator=generator, device=device)  # ε
            drop = torch.rand(len(batch), generator=generator, device=device) < options.condition_dropout
            # Drawn only when on, so that a model trained without it keeps its random stream.
            drop_attributes = None if options.attribute_dropout == 0 else \
                ~drop & (torch.rand(len(batch), generator=generator, device=device) < options.attribute_dropout)
            torch.manual_seed(step_seed("dropout", seed=options.seed, rank=dist.rank, step=step))
            lr = warmup_constant(step, base_lr=options.lr, warmup_steps=options.warmup_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr

            terms = id3_loss(trained, schedule, loss_encoder, x0=x0, y=y_all[batch].to(device), s=s_all[batch].to(device),
                             t=t, noise=noise, drop=drop, drop_attributes=drop_attributes, w=options.w, weighting=options.weighting,
                             sigma_data=options.model.sigma_data, autocast=bf16)
            optimizer.zero_grad(set_to_none=True)
            terms.loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(denoiser.parameters(), max_grad_norm)  # ‖g‖ before clipping
            # One all-reduce for the logged values, and the step's sync point: a diverged step is refused before
            # the optimiser applies it.
            loss, denoising, identity, grad_norm = dist.mean(
                torch.stack([terms.loss.detach(), terms.denoising, terms.identity, grad_norm])).tolist()
            check_step("train", step + 1, {"loss": loss, "denoising loss": denoising, "identity loss": identity,
                                           "gradient norm": grad_norm}, advice=advice)
            optimizer.step()
            ema.update(denoiser, updates=step)
            step += 1
            progress.advance(1, loss=loss, denoising=denoising, identity=identity, lr=lr)
            if dist.is_main and (step % options.checkpoint_every == 0 or step == options.steps):
                save_training_state(checkpoint, step=step, modules=modules, optimizer=optimizer)
    elapsed = time.perf_counter() - started

    if dist.is_main:
        training = {"steps": options.steps, "w": options.w, "weighting": options.weighting, "bf16": bf16,
                    "conditionDropout": options.condition_dropout, "attributeDropout": options.attribute_dropout,
                    "identityCondition": options.identity_condition,
                    "images": len(data), "seed": options.seed}
        save_safetensors(os.path.join(out_dir, EMA_WEIGHTS), ema.shadow)
        write_model_card(out_dir, unet=unet, schedule=schedule, embedding_size=encoder.embedding_size,
                         condition_hidden=options.condition_hidden, preconditioning=options.preconditioning,
                         pose_map=options.pose_map,
                         encoder=encoder_spec, training=training, latent=options.latent)
        if options.grid_images > 0:
            progress.check_cancelled()
            model = TrainedDiffusion(ema.shadow, schedule, {}, autoencoder.decoder if autoencoder else None)
            _write_grid(os.path.join(out_dir, "grid.png"), options.grid_images, model, data, y_all, s_all, device)
    dist.barrier()
    dist.close()
    trained_steps = step - first_step
    return {"steps": options.steps, "images": len(data), "resolution": resolution, "processes": dist.world_size,
            "bf16": bf16,
            "parameters": sum(p.numel() for p in denoiser.parameters()),
            "finalLoss": progress.metrics.get("loss"), "denoising": progress.metrics.get("denoising"),
            "identity": progress.metrics.get("identity"),
            "imagesPerSecond": trained_steps * options.batch_size * dist.world_size / elapsed if trained_steps else None}


def _autoencoder(options: DiffusionTrainingOptions, images: torch.Tensor, out_dir: str, dist: Distributed,
                 progress: Progress) -> Autoencoder:
    """The autoencoder of out_dir, trained first (on rank 0, then read by every rank from its file) unless an
    earlier, killed run of this stage finished it."""
    path = os.path.join(out_dir, AUTOENCODER_WEIGHTS)
    if dist.is_main and not os.path.exists(path):
        progress.begin(options.latent.steps, label="autoencoder", unit="step")
        trained = train_autoencoder(images, options.latent, seed=options.seed, device=dist.device,
                                    on_step=lambda loss: progress.advance(1, autoencoderLoss=loss))
        save_safetensors(path, trained)
    dist.barrier()
    autoencoder = options.latent.build()
    load_safetensors(path, autoencoder)
    return autoencoder.to(dist.device).eval().requires_grad_(False)


@torch.no_grad()
def _write_grid(path: str, images: int, model: TrainedDiffusion, data: LabelledImages, y_all: torch.Tensor,
                s_all: torch.Tensor, device: torch.device) -> None:
    """The first training images (top row) and the EMA model's samples for their conditions (plain DDIM 50)."""
    n = min(images, len(data))
    samples = model.sample(y=y_all[:n].to(device), s=s_all[:n].to(device), seeds=list(range(n)),
                           options=SamplerOptions())
    write_grid_png(path, torch.cat([data.images[:n], to_uint8(samples).cpu()]), 2, n)
