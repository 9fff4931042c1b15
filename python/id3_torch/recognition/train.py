"""Face-recognition training: an iResNet and a margin head on labelled face images.

The recipe of docs/method.md (ArcFace, SGD momentum 0.9, weight decay 5e-4, lr 0.1
divided by 10 at set epochs, horizontal flips) with every number in the options. One loop for
one process or many (torchrun: DDP, gloo on CPU, nccl on CUDA); bf16 autocast on CUDA; a
checkpoint every N steps from which a killed run resumes exactly (same batches, same flips).

The data is any dataset `data.datasets.open_face_images` opens (a manifest's splits, identity
folders, a `.rec`), decoded into memory once when it fits (CPU scale) or streamed by DataLoader
workers (500k images at 112 px). Both feeds give the same batches: the order is a function of
(seed, epoch, rank) and augmentation of (seed, rank, step), applied to the batch on the device.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..bridge.jobs import Progress
from ..data.augment import AugmentOptions, augment_batch
from ..data.datasets import FaceImages, open_face_images
from ..data.feeds import LoaderOptions, open_feed
from ..files import write_text_atomic
from ..training.distributed import Distributed
from ..training.divergence import Diverged, check_step, parameter_norm
from ..training.randomness import step_generator
from ..training.schedule import step_decay
from ..training.state import load_training_state, save_training_state
from .checkpoints import save_safetensors
from .heads import AdaFaceHead, ArcFaceHead, CosFaceHead, MarginHead
from .iresnet import build_backbone

HEADS: dict[str, type[MarginHead]] = {"arcface": ArcFaceHead, "cosface": CosFaceHead, "adaface": AdaFaceHead}


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    input_size: int
    embedding_size: int
    widths: tuple[int, ...] | None = None
    layers: tuple[int, ...] | None = None

    def build(self) -> nn.Module:
        return build_backbone(self.name, input_size=self.input_size, embedding_size=self.embedding_size,
                              widths=self.widths, layers=self.layers)


@dataclass(frozen=True)
class FrTrainingOptions:
    """Mirrors the `trainFr` section of the config schema (src/config/schema.ts)."""
    backbone: BackboneSpec
    head: str
    s: float
    m: float
    epochs: int
    batch_size: int  # per process
    lr: float
    momentum: float
    weight_decay: float
    decay_epochs: tuple[int, ...]
    warmup_epochs: float
    augment: AugmentOptions
    loader: LoaderOptions
    grad_clip: float | None  # max gradient L2 norm; None = no clipping
    max_weight_growth: float | None  # diverged when ‖θ‖ > this × ‖θ₀‖; None = never [ours]
    checkpoint_every: int  # steps
    seed: int
    device: str  # auto | cpu | cuda


class FaceRecognitionModel(nn.Module):
    """Backbone and head in one module, so that DDP syncs the class centres too; forward returns the loss."""

    def __init__(self, backbone: nn.Module, head: MarginHead) -> None:
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=images.device.type, dtype=torch.bfloat16, enabled=images.is_cuda):
            embeddings = self.backbone(images)  # (B, E)
        return self.head(embeddings.float(), labels).loss


def fit_to(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize (B, 3, H, W) to the backbone's input side when the data has another resolution."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    return nn.functional.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def train(options: FrTrainingOptions, *, data: str, out_dir: str, progress: Progress,
          splits: tuple[str, ...] | None = None, identities: int | None = None) -> dict:
    """Train on the dataset at `data` (anything `open_face_images` opens; `splits` and `identities` select a
    manifest's rows) into `out_dir`: its checkpoint, resumed when there, then `backbone.safetensors` and
    `encoder.json`. Returns the run's summary, job train-fr's result."""
    checkpoint = os.path.join(out_dir, "checkpoint.safetensors")
    dist = Distributed.from_environment(options.device)
    device = dist.device

    dataset = open_face_images(data, splits=splits, identities=identities, on_corrupt=options.loader.on_corrupt)
    feed = open_feed(dataset, options.loader, batch_size=options.batch_size, seed=options.seed, rank=dist.rank,
                     world_size=dist.world_size, pin_memory=device.type == "cuda")
    # The initial weights, identical on every rank; forked so the bridge's shared RNG is untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(options.seed)
        model = FaceRecognitionModel(options.backbone.build(),
                                     HEADS[options.head](dataset.num_classes, options.backbone.embedding_size,
                                                         s=options.s, m=options.m)).to(device)
    initial_norm = float(parameter_norm(model))  # ‖θ₀‖: the same on a resumed run
    optimizer = torch.optim.SGD(model.parameters(), lr=options.lr, momentum=options.momentum,
                                weight_decay=options.weight_decay)
    step = 0
    if os.path.exists(checkpoint):
        step = load_training_state(checkpoint, modules={"model": model}, optimizer=optimizer)["step"]
    trained = DistributedDataParallel(model) if dist.enabled else model

    per_epoch = feed.steps_per_epoch
    total = options.epochs * per_epoch
    progress.begin(total, label="train-fr", unit="step", step=step)
    lr_at = lambda s: step_decay(s, base_lr=options.lr, steps_per_epoch=per_epoch,  # noqa: E731
                                 decay_epochs=list(options.decay_epochs), warmup_epochs=options.warmup_epochs)
    max_grad_norm = math.inf if options.grad_clip is None else options.grad_clip
    max_norm = math.inf if options.max_weight_growth is None else options.max_weight_growth * initial_norm
    clip = "null" if options.grad_clip is None else f"{options.grad_clip:g}"
    advice = (f"lower trainFr.lr (now {options.lr:g}) or trainFr.gradClip (now {clip}), then run again "
              "(a changed setting is a new stage key: the stage starts over).")
    started, first_step = time.perf_counter(), step
    while step < total:
        epoch, index = divmod(step, per_epoch)
        for batch in feed.epoch(epoch, start=index):
            pixels = batch.images.to(device, non_blocking=True).float() / 255.0  # (B, 3, H, W) in [0, 1]
            pixels = augment_batch(pixels, options.augment, step_generator("flip", seed=options.seed, rank=dist.rank, step=step))
            images = fit_to((pixels - 0.5) / 0.5, options.backbone.input_size)  # (B, 3, R, R): arcface_torch's scaling
            labels = batch.labels.to(device, non_blocking=True)  # (B,)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step)

            loss = trained(images, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)  # ‖g‖ before clipping
            # The step's sync point: a diverged step is refused before the optimiser applies it. ‖θ‖ is that of
            # the weights this step starts from, so a run stops on the step after its weights exploded.
            loss_value, grad_norm, weight_norm = dist.mean(
                torch.stack([loss.detach(), grad_norm, parameter_norm(model)])).tolist()
            check_step("train-fr", step + 1, {"loss": loss_value, "gradient norm": grad_norm}, advice=advice)
            if weight_norm > max_norm:
                raise Diverged(f"train-fr diverged at step {step + 1}: the weights' norm {weight_norm:.4g} is over "
                               f"trainFr.maxWeightGrowth ({options.max_weight_growth:g}) × its initial {initial_norm:.4g}. "
                               f"Nothing of this step was applied and the last checkpoint is kept; {advice}")
            optimizer.step()
            step += 1

            progress.advance(1, loss=loss_value, lr=lr_at(step - 1), weightGrowth=weight_norm / initial_norm)
            if dist.is_main and (step % options.checkpoint_every == 0 or step == total):
                save_training_state(checkpoint, step=step, modules={"model": model}, optimizer=optimizer)
    elapsed = time.perf_counter() - started

    encoder_path = os.path.join(out_dir, "backbone.safetensors")
    if dist.is_main:
        save_safetensors(encoder_path, model.backbone)
        _write_encoder_card(os.path.join(out_dir, "encoder.json"), options, dataset)
    dist.barrier()
    dist.close()
    trained_steps = step - first_step
    skipped = feed.skipped()
    return {"steps": total, "epochs": options.epochs, "classes": dataset.num_classes, "images": len(dataset),
            "processes": dist.world_size, "finalLoss": progress.metrics.get("loss"),
            "weightGrowth": progress.metrics.get("weightGrowth"),  # ‖θ‖ ÷ ‖θ₀‖ at the last step
            "imagesPerSecond": trained_steps * options.batch_size * dist.world_size / elapsed if trained_steps else None,
            "feed": feed.kind, "skippedImages": len(skipped), "skipped": [s.as_json() for s in skipped[:100]],
            "backbone": encoder_path}


def _write_encoder_card(path: str, options: FrTrainingOptions, data: FaceImages) -> None:
    """What another stage needs to use the trained backbone as a frozen identity encoder."""
    b = options.backbone
    card = {"kind": "iresnet", "backbone": b.name, "inputSize": b.input_size, "embeddingSize": b.embedding_size,
            "widths": list(b.widths) if b.widths else None, "layers": list(b.layers) if b.layers else None,
            "normalisation": "(x/255 - 0.5)/0.5", "weights": "backbone.safetensors", "classes": data.num_classes}
    write_text_atomic(path, json.dumps(card, indent=2))
