"""Does a trained ID³ model follow the attributes s it is asked for? Three probes on a finished run:

    .venv/bin/python scripts/attribute-probe.py runs/proof-id3 [out.png] [--cfg 3]

1. Loss gap: x̂0's mean squared error on the test images at t = 100 … 900 with their true (y, s), and how
   much it grows when s (or y) is shuffled among them: a model that reads s loses accuracy without it (pixel-space
   models only: it noises the images, not latents).
2. Yaw sweep: 6 test identities, one seed each, yaw asked −40° … +40° (age 40, no pitch or roll); the
   attribute regressor's yaw of each sample, their correlation with the yaw asked, and the mean pixel
   change along a row (what a person would see). The grid goes to out.png (rows: identities).
3. Conditioned on 96 test images' own (y, s), one seed: the correlation of the samples' predicted
   attributes with the conditions' true ones, beside the regressor's own on the real images.
Plain DDIM 15, no identity guidance; classifier-free guidance at κ = --cfg (default 1: off). The regressor is the
run's `attributes` stage (the parametric set only).
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))

from id3_torch.data.attributes import ATTRIBUTE_NAMES  # noqa: E402
from id3_torch.data.image_files import write_grid_png  # noqa: E402
from id3_torch.data.labelled_images import LabelledImages, attribute_columns  # noqa: E402
from id3_torch.diffusion.model import load_diffusion_model  # noqa: E402
from id3_torch.diffusion.sampler import SamplerOptions, to_uint8  # noqa: E402
from id3_torch.encoders import embed_images, load_identity_encoder  # noqa: E402
from id3_torch.encoders.attribute_regressor import load_attribute_regressor  # noqa: E402
from id3_torch.recognition.iresnet import normalize_face_images  # noqa: E402

YAWS = (-40.0, -20.0, 0.0, 20.0, 40.0)


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.corrcoef(torch.stack([a.double(), b.double()]))[0, 1])


def main(run: str, out: str, cfg_scale: float) -> None:
    torch.manual_seed(0)
    model = load_diffusion_model(os.path.join(run, "train"))
    encoder = load_identity_encoder(model.encoder_spec)
    regressor = load_attribute_regressor(os.path.join(run, "attributes"))
    manifest = os.path.join(run, "prepare", "manifest.csv")
    test = LabelledImages.from_manifest(manifest, splits=("test",))
    s = attribute_columns(test, ATTRIBUTE_NAMES, manifest=manifest)
    y = embed_images(encoder, test.images)
    predicted = lambda images: torch.stack([regressor.predict(images)[n] for n in ATTRIBUTE_NAMES], 1)  # noqa: E731
    options = SamplerOptions(steps=15, cfg_scale=cfg_scale)

    if model.decoder is None:
        loss_gap(model, test, y, s)
    else:
        print("1. (a latent model: the loss gap noises pixels, not latents; skipped)")
    yaw_sweep_and_conditioned(model, test, y, s, predicted, options, out)


def loss_gap(model, test: LabelledImages, y: torch.Tensor, s: torch.Tensor) -> None:
    print("1. x̂0 MSE with the true (y, s), and its growth with s or y shuffled among the test images")
    x0, shuffle = normalize_face_images(test.images), torch.randperm(len(y))
    with torch.no_grad():
        for t in (100, 300, 500, 700, 900):
            a = model.schedule.alphas_cumprod[t]
            noise = torch.randn_like(x0)
            x_t, steps = a.sqrt() * x0 + (1 - a).sqrt() * noise, torch.full((len(x0),), t)
            mse = lambda yy, ss: float((((model.denoiser(x_t, steps, yy, ss) - noise) ** 2).mean() * (1 - a) / a))  # noqa: E731
            base = mse(y, s)
            print(f"   t {t}: {base:.4f}, s shuffled {mse(y, s[shuffle]) - base:+.4f}, y shuffled {mse(y[shuffle], s) - base:+.4f}")


def yaw_sweep_and_conditioned(model, test: LabelledImages, y: torch.Tensor, s: torch.Tensor, predicted,
                              options: SamplerOptions, out: str) -> None:
    print("2. yaw asked −40 … +40 on one seed per identity: the regressor's yaw")
    rows = y[::8][:6]
    conditions = rows.repeat_interleave(len(YAWS), 0)
    asked = torch.zeros(len(conditions), 4)
    asked[:, 0], asked[:, 1] = 40.0, torch.tensor(YAWS).repeat(len(rows))
    samples = to_uint8(model.sample(y=conditions, s=asked,
                                     seeds=[1000 + i // len(YAWS) for i in range(len(conditions))], options=options))
    yaw = predicted(samples)[:, 1]
    for r in range(len(rows)):
        print("  ", " ".join(f"{v:6.1f}" for v in yaw[r * len(YAWS):(r + 1) * len(YAWS)].tolist()))
    grid = samples.float().view(len(rows), len(YAWS), *samples.shape[1:])
    change = [float((grid[:, k] - grid[:, 0]).abs().mean()) for k in range(len(YAWS))]
    print(f"   correlation with the yaw asked {correlation(yaw, asked[:, 1]):.3f}; mean |pixel change| from the first "
          f"column, of 255: {', '.join(f'{c:.1f}' for c in change)}")
    write_grid_png(out, samples, len(rows), len(YAWS))

    print("3. conditioned on 96 test images' own (y, s), one seed: correlation with their true attributes")
    n = 96
    samples = to_uint8(model.sample(y=y[:n], s=s[:n], seeds=[7] * n, options=options))
    got, real = predicted(samples), predicted(test.images)
    for k, name in enumerate(ATTRIBUTE_NAMES):
        print(f"   {name}: samples {correlation(got[:, k], s[:n, k]):.3f} (the regressor on the real test images "
              f"{correlation(real[:, k], s[:, k]):.3f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("out", nargs="?", default="attribute-probe.png", help="the yaw sweep's grid")
    parser.add_argument("--cfg", type=float, default=1.0, help="classifier-free guidance κ (1: off)")
    options = parser.parse_args()
    main(options.run, options.out, options.cfg)
