"""Pixel or latent diffusion at equal CPU time: which one learns the parametric faces sooner? (issue 15)

    .venv/bin/python scripts/latent-probe.py runs/demo-id3 /tmp/latent-probe [--seconds 300] [--ae-steps 1500]

Both arms train the same conditional denoiser recipe (c = MLP([y ; s]), EDM preconditioning and loss weighting,
w = 0: no identity term, so nothing but learnability is compared) for the same wall-clock budget on the run's
prepared training split:
- pixel: the run's own U-Net on 32-px images (patch 2, as configs/demo.ts);
- latent [ours, LDM-style]: the library's autoencoder (diffusion/autoencoder.py: 32 × 32 × 3 → 8 × 8 × 3,
  tanh-bounded, L1) is trained first, inside the same budget, then a U-Net of the same width on its 8 × 8
  latents (patch 1); samples are decoded.
Each arm then samples one image per held-out test identity (its first image's y and s, DDIM 25, one seed each),
judged by the run's judge (never trained against): rank-1 among the test identities, Fréchet distance and k-NN
precision/recall against half of the test images, beside real vs real and the flat-image floor. The grids
(real conditions above each arm's samples) go to the output folder: look at them.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))

from id3_torch.data.attributes import ATTRIBUTE_NAMES  # noqa: E402
from id3_torch.data.image_files import write_grid_png  # noqa: E402
from id3_torch.data.labelled_images import LabelledImages, attribute_columns  # noqa: E402
from id3_torch.diffusion.autoencoder import Autoencoder, AutoencoderOptions, train_autoencoder  # noqa: E402
from id3_torch.diffusion.loss import denoising_weight, timestep_probabilities  # noqa: E402
from id3_torch.diffusion.measure import held_out_conditions, identity_scores  # noqa: E402
from id3_torch.diffusion.model import Denoiser, preconditioning_for  # noqa: E402
from id3_torch.diffusion.pose_map import PoseMapSpec  # noqa: E402
from id3_torch.diffusion.sampler import SamplerOptions, sample_images, to_uint8  # noqa: E402
from id3_torch.diffusion.schedule import DiffusionSchedule  # noqa: E402
from id3_torch.diffusion.unet import UNetConfig  # noqa: E402
from id3_torch.encoders import embed_images, load_identity_encoder  # noqa: E402
from id3_torch.evaluation.realism import realism_table  # noqa: E402
from id3_torch.recognition.iresnet import normalize_face_images  # noqa: E402

POSE_MAP = PoseMapSpec(centre=(0.0, 0.08), half_axes=(0.55, 0.68))  # configs/demo.ts's parametricPoseMap


def fit_autoencoder(images: torch.Tensor, steps: int) -> tuple[Autoencoder, float]:
    """The library's autoencoder (width 32, 3 latent channels, batch 64, lr 2e-3), and its training seconds."""
    started = time.perf_counter()
    options = AutoencoderOptions(width=32, channels=3, downscale=4, steps=steps, batch_size=64, lr=2e-3)
    trained = train_autoencoder(images, options, seed=0, device=torch.device("cpu"))
    return trained, time.perf_counter() - started


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Of uint8 images."""
    mse = (a.float() - b.float()).square().mean()
    return float(10 * torch.log10(255.0**2 / mse))


def train_denoiser(x0_all: torch.Tensor, y_all: torch.Tensor, s_all: torch.Tensor, unet: UNetConfig, seconds: float,
                   embedding_size: int) -> tuple[Denoiser, DiffusionSchedule, int]:
    """The demo's recipe (batch 32, lr 2e-3, 40 warm-up steps, EMA 0.995, EDM weighting −0.8 ± 1.4, 10 % of
    conditions dropped) until `seconds` have passed; returns the EMA model and the steps taken."""
    torch.manual_seed(0)
    schedule = DiffusionSchedule(timesteps=1000, beta_start=1e-4, beta_end=0.02)
    model = Denoiser(unet, embedding_size=embedding_size, pose_map=POSE_MAP,
                     preconditioning=preconditioning_for(schedule, {"kind": "edm", "sigmaData": 0.5}))
    ema = Denoiser(unet, embedding_size=embedding_size, pose_map=POSE_MAP,
                   preconditioning=preconditioning_for(schedule, {"kind": "edm", "sigmaData": 0.5}))
    ema.load_state_dict(model.state_dict())
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.0)
    p_t = timestep_probabilities(schedule.alphas_cumprod, weighting="edm", log_sigma_mean=-0.8,
                                 log_sigma_std=1.4).float()
    started, step = time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        batch = torch.randint(len(x0_all), (32,))
        x0, t = x0_all[batch], torch.multinomial(p_t, 32, replacement=True)
        noise = torch.randn_like(x0)
        drop = torch.rand(32) < 0.1
        eps = model(schedule.q_sample(x0, t, noise), t, y_all[batch], s_all[batch], drop)
        loss = (denoising_weight(schedule.alphas_cumprod, t, weighting="edm", sigma_data=0.5)
                * (noise - eps).square().mean(dim=(1, 2, 3))).mean()
        for group in optimizer.param_groups:
            group["lr"] = 2e-3 * min(1.0, (step + 1) / 40)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        decay = min(0.995, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema.parameters(), model.parameters()):
                e.lerp_(p, 1 - decay)
        step += 1
        if step % 200 == 0:
            print(f"   step {step}: loss {float(loss):.4f} ({time.perf_counter() - started:.0f} s)", flush=True)
    return ema.eval(), schedule, step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("out")
    parser.add_argument("--seconds", type=float, default=300.0, help="each arm's training budget, wall clock")
    parser.add_argument("--ae-steps", type=int, default=1500)
    parser.add_argument("--arms", default="latent,pixel")
    options = parser.parse_args()
    os.makedirs(options.out, exist_ok=True)
    torch.set_num_threads(os.cpu_count() or 1)
    manifest = os.path.join(options.run, "prepare", "manifest.csv")
    f = load_identity_encoder({"kind": "folder", "path": os.path.join(options.run, "encoder")})
    judge = load_identity_encoder({"kind": "folder", "path": os.path.join(options.run, "judge")})
    train = LabelledImages.from_manifest(manifest, splits=("train",))
    test = LabelledImages.from_manifest(manifest, splits=("test",))
    y_all = embed_images(f, train.images)
    s_all = attribute_columns(train, ATTRIBUTE_NAMES, manifest=manifest)
    conditions = held_out_conditions(test, per_identity=1)
    real = test.images[conditions.rows]
    y_test = embed_images(f, real)
    s_test = attribute_columns(test, ATTRIBUTE_NAMES, manifest=manifest)[conditions.rows]
    held_out = embed_images(judge, test.images)
    flat = test.images.float().mean(dim=(2, 3), keepdim=True).expand_as(test.images).round().to(torch.uint8)
    results = {}
    for arm in options.arms.split(","):
        print(f"{arm}:", flush=True)
        budget, extra = options.seconds, {}
        if arm == "latent":
            ae, ae_seconds = fit_autoencoder(train.images, options.ae_steps)
            budget -= ae_seconds
            with torch.no_grad():
                x0_all = torch.cat([ae.encode(normalize_face_images(train.images[i:i + 512]))
                                    for i in range(0, len(train), 512)])
                back = to_uint8(ae.decode(ae.encode(normalize_face_images(test.images))))
            extra = {"autoencoderSeconds": ae_seconds, "reconstructionPsnr": psnr(back, test.images),
                     "latentStd": float(x0_all.std())}
            unet = UNetConfig(resolution=8, patch_size=1, channels=32, channel_mults=(1, 2), res_blocks=1,
                              attention_resolutions=(8, 4), head_channels=16, condition_size=768, extra_input_channels=3)
            decode = ae.decode
        else:
            x0_all = normalize_face_images(train.images)
            unet = UNetConfig(resolution=32, patch_size=2, channels=16, channel_mults=(1, 2, 2), res_blocks=1,
                              attention_resolutions=(8, 4), head_channels=16, condition_size=768, extra_input_channels=3)
            decode = None
        model, schedule, steps = train_denoiser(x0_all, y_all, s_all, unet, budget, f.embedding_size)
        with torch.no_grad():
            samples = sample_images(model, schedule, y=y_test, s=s_test, seeds=list(range(len(y_test))),
                                    options=SamplerOptions(steps=25, clip=decode is None))
            images = to_uint8(decode(samples) if decode else samples)
        generated = embed_images(judge, images)
        results[arm] = {"steps": steps, "trainSeconds": budget, **extra,
                        "judge": identity_scores(judge, images, real, test.images[conditions.partner], conditions.labels),
                        "realism": realism_table(held_out, embed_images(judge, flat), generated, seed=0)}
        shown = 16
        write_grid_png(os.path.join(options.out, f"{arm}.png"), torch.cat([real[:shown], images[:shown]]), 2, shown)
        print(json.dumps(results[arm], indent=1), flush=True)
    with open(os.path.join(options.out, "results.json"), "w", encoding="utf-8") as out:
        json.dump(results, out, indent=2)


if __name__ == "__main__":
    main()
