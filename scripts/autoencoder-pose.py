"""How much of the head pose and age survives the autoencoder of latent diffusion? (issue 15)

    .venv/bin/python scripts/autoencoder-pose.py runs/demo-id3 [--steps 800] [--channels 3,8] [--downscale 4]

The generated images' attributes can follow the plan no better than the decoder can draw them: for each latent
size C, the library's autoencoder (width 32, 32 × 32 × 3 → 8 × 8 × C, or 16 × 16 × C at --downscale 2) is trained
on the run's training split and the run's attribute regressor (stage `attributes`, never trained on reconstructions)
reads the held-out test images before and after D(E(x)). Prints, per C, the held-out L1 and the correlation between the truth and the
regressor's reading for age, yaw, pitch and roll, beside the real images' row: the ceiling of the attribute
figures in `generate/card.json` for that latent.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))

from id3_torch.data.attributes import ATTRIBUTE_NAMES  # noqa: E402
from id3_torch.data.labelled_images import LabelledImages, attribute_columns  # noqa: E402
from id3_torch.diffusion.autoencoder import AutoencoderOptions, train_autoencoder  # noqa: E402
from id3_torch.diffusion.sampler import to_uint8  # noqa: E402
from id3_torch.encoders.attribute_regressor import load_attribute_regressor  # noqa: E402
from id3_torch.recognition.iresnet import normalize_face_images  # noqa: E402


def correlations(regressor, images: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    predicted = regressor.predict(images)
    return {name: round(float(np.corrcoef(predicted[name].numpy(), truth[:, k].numpy())[0, 1]), 3)
            for k, name in enumerate(ATTRIBUTE_NAMES)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--steps", type=int, default=800, help="autoencoder steps of 64 images")
    parser.add_argument("--channels", default="3,8", help="latent channels C to compare, comma-separated")
    parser.add_argument("--downscale", type=int, default=4, choices=(2, 4), help="latent side = image side / downscale")
    options = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    manifest = os.path.join(options.run, "prepare", "manifest.csv")
    train = LabelledImages.from_manifest(manifest, splits=("train",))
    test = LabelledImages.from_manifest(manifest, splits=("test",))
    truth = attribute_columns(test, ATTRIBUTE_NAMES, manifest=manifest)
    regressor = load_attribute_regressor(os.path.join(options.run, "attributes"))
    print(f"real images: {correlations(regressor, test.images, truth)}", flush=True)
    x = normalize_face_images(test.images)
    for channels in (int(c) for c in options.channels.split(",")):
        started = time.perf_counter()
        trained = train_autoencoder(train.images, AutoencoderOptions(width=32, channels=channels,
                                                                     downscale=options.downscale, steps=options.steps,
                                                                     batch_size=64, lr=2e-3),
                                    seed=0, device=torch.device("cpu"))
        with torch.no_grad():
            back = trained.decode(trained.encode(x)).clamp(-1.0, 1.0)
        print(f"C = {channels}, downscale {options.downscale}: held-out L1 {float((back - x).abs().mean()):.4f} "
              f"({time.perf_counter() - started:.0f} s), "
              f"D(E(x)): {correlations(regressor, to_uint8(back), truth)}", flush=True)


if __name__ == "__main__":
    main()
