"""An attribute regressor: face image → (age, yaw, pitch, roll), to measure what a generator was asked for.

A small CNN trained on a prepared training split (job `attributes.train`), its error on held-out
real images reported beside it: that error is the floor of any sample's measured attribute error.
Targets are standardised by the training set's mean and std (buffers, saved with the weights).

    regressor = load_attribute_regressor(folder)
    regressor.predict(images)  # uint8 (B, 3, H, W) → {"age": (B,) years, "yaw": (B,) degrees, ...}
"""
from __future__ import annotations

import json
import os

import torch
from torch import nn
from torch.nn import functional as F

from ..bridge.jobs import Progress
from ..data.labelled_images import LabelledImages, attribute_columns
from ..data.attributes import ATTRIBUTE_NAMES
from ..files import read_card, write_text_atomic
from ..recognition.checkpoints import load_safetensors, save_safetensors
from ..recognition.iresnet import normalize_face_images
from ..training.distributed import Distributed
from ..training.order import rank_batches, steps_per_epoch

NAMES = ATTRIBUTE_NAMES  # the manifest columns, in this order
CARD, WEIGHTS = "attributes.json", "attributes.safetensors"


class AttributeRegressor(nn.Module):
    """Conv-BN-ReLU stages, each halving the side, then a linear layer on the whole final map to 4 values
    (no global pooling: where a feature is, is what pose is)."""

    def __init__(self, *, input_size: int = 32, widths: tuple[int, ...] = (32, 64, 128, 128)) -> None:
        super().__init__()
        self.input_size, self.widths = input_size, widths
        layers, channels = [], 3
        for width in widths:
            layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                       nn.Conv2d(width, width, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
            channels = width
        self.features = nn.Sequential(*layers)
        side = input_size // 2 ** len(widths)
        if side < 1:
            raise ValueError(f"attribute regressor: input {input_size} px cannot be halved {len(widths)} times")
        self.head = nn.Linear(channels * side * side, len(NAMES))
        self.register_buffer("target_mean", torch.zeros(len(NAMES)))
        self.register_buffer("target_std", torch.ones(len(NAMES)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] → (B, 4) standardised targets."""
        if x.shape[-1] != self.input_size:
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", antialias=True, align_corners=False)
        return self.head(self.features(x).flatten(1))

    @torch.no_grad()
    def predict(self, images: torch.Tensor, *, batch_size: int = 256) -> dict[str, torch.Tensor]:
        """uint8 (B, 3, H, W) → {name: (B,) float tensor in years / degrees}, on the CPU."""
        if images.dtype != torch.uint8:
            raise ValueError(f"expected uint8 images (B, 3, H, W), got {images.dtype}")
        self.eval()
        device = self.target_mean.device
        rows = [self(normalize_face_images(images[i:i + batch_size]).to(device)).cpu()
                for i in range(0, len(images), batch_size)]
        values = torch.cat(rows) * self.target_std.cpu() + self.target_mean.cpu() if rows else torch.zeros(0, len(NAMES))
        return {name: values[:, k] for k, name in enumerate(NAMES)}


def mean_absolute_errors(predicted: dict[str, torch.Tensor], truth: torch.Tensor) -> dict[str, float]:
    """{name: mean |predicted - truth|} with truth (N, 4) in NAMES order."""
    return {name: float((predicted[name] - truth[:, k]).abs().mean()) for k, name in enumerate(NAMES)}


def load_attribute_regressor(folder: str, *, device: torch.device | str = "cpu") -> AttributeRegressor:
    _, card = read_card(folder, CARD, "the folder of an attributes.train job")
    model = AttributeRegressor(input_size=card["inputSize"], widths=tuple(card["widths"]))
    load_safetensors(os.path.join(folder, card["weights"]), model)
    return model.to(device).eval().requires_grad_(False)


def fit_attribute_regressor(*, manifest: str, out_dir: str, splits: tuple[str, ...], eval_split: str, epochs: int,
                            batch_size: int, lr: float, widths: tuple[int, ...], seed: int, input_size: int,
                            device: str, progress: Progress) -> dict:
    """Fit on `splits` of the manifest (MSE on standardised targets, AdamW, cosine lr), then report the mean absolute
    error on `eval_split`: the job `attributes.train`'s result. A finished folder is reused as it is."""
    torch_device = Distributed.from_environment(device).device
    held_out = LabelledImages.from_manifest(manifest, splits=(eval_split,))
    os.makedirs(out_dir, exist_ok=True)
    if not os.path.isfile(os.path.join(out_dir, CARD)):
        data = LabelledImages.from_manifest(manifest, splits=splits)
        targets = attribute_columns(data, NAMES, manifest=manifest)  # (N, 4)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = AttributeRegressor(input_size=input_size, widths=widths).to(torch_device)
        model.target_mean.copy_(targets.mean(0))
        model.target_std.copy_(targets.std(0).clamp(min=1e-6))
        standardised = (targets - targets.mean(0)) / targets.std(0).clamp(min=1e-6)
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
        per_epoch = steps_per_epoch(len(data), batch_size=batch_size)
        total = epochs * per_epoch
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, total)
        progress.begin(total, label="attributes", unit="step")
        model.train()
        for epoch in range(epochs):
            for batch in rank_batches(len(data), batch_size=batch_size, seed=seed, epoch=epoch):
                loss = F.mse_loss(model(normalize_face_images(data.images[batch]).to(torch_device)),
                                  standardised[batch].to(torch_device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                progress.advance(1, loss=loss.item())
        save_safetensors(os.path.join(out_dir, WEIGHTS), model)
        write_text_atomic(os.path.join(out_dir, CARD), json.dumps(
            {"kind": "attribute-regressor", "attributes": list(NAMES), "inputSize": input_size,
             "widths": list(widths), "weights": WEIGHTS, "trainImages": len(data)}, indent=2))
    regressor = load_attribute_regressor(out_dir, device=torch_device)
    errors = mean_absolute_errors(regressor.predict(held_out.images), attribute_columns(held_out, NAMES, manifest=manifest))
    return {"evalSplit": eval_split, "evalImages": len(held_out), "meanAbsoluteError": errors}
