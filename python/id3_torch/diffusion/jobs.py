"""The bridge job that measures a trained ID³ model on held-out identities: `diffusion.measure`.
(Sampling a plan into a dataset is the `generate` stage's job, python/id3_torch/stages/generate.py.)
"""
from __future__ import annotations

import json
import os
import time

import torch

from ..bridge.jobs import Progress
from ..data.image_files import write_grid_png
from ..data.labelled_images import LabelledImages, attribute_columns
from ..encoders import embed_images, load_identity_encoder
from ..encoders.attribute_regressor import load_attribute_regressor
from ..files import write_text_atomic
from ..training.distributed import Distributed
from .conditioning import ATTRIBUTE_NAMES
from .measure import attribute_scores, held_out_conditions, identity_scores
from .model import load_diffusion_model
from .sampler import SamplerOptions, sample_images, to_uint8


def measure_job(args: dict, progress: Progress) -> dict:
    """Job `diffusion.measure`: identity preservation and attribute error of samples for held-out identities.

    args {trainDir, manifest, split, perIdentity, sampler, seed, batchSize, attributeRegressor? (none: no attribute errors),
    judges? ({name: encoder spec}; the model's own f is always judge "f"), outDir?, device}. The
    samples are drawn once and scored by every judge: an independent encoder tells identity carried
    by the image from identity that only fools the f the model was trained against.
    """
    device = Distributed.from_environment(args.get("device", "auto")).device
    model = load_diffusion_model(args["trainDir"], device=device)
    encoder = load_identity_encoder(model.encoder_spec, device=device)
    judges = {"f": encoder, **{name: load_identity_encoder(spec, device=device) for name, spec in (args.get("judges") or {}).items()}}
    data = LabelledImages.from_manifest(args["manifest"], splits=(args["split"],))
    s_all = attribute_columns(data, ATTRIBUTE_NAMES, manifest=args["manifest"])
    conditions = held_out_conditions(data, per_identity=args["perIdentity"])
    real = data.images[conditions.rows]
    y = embed_images(encoder, real, device=device)  # the condition: f of the held-out real image
    s = s_all[conditions.rows]
    options = SamplerOptions.from_args(args["sampler"])
    n, batch_size = len(conditions.rows), args["batchSize"]
    steps_per_image = options.steps if options.method == "ddim" else model.schedule.timesteps
    progress.begin(-(-n // batch_size) * steps_per_image, label="measure", unit="step")
    samples = []
    started = time.perf_counter()
    for start in range(0, n, batch_size):
        rows = slice(start, start + batch_size)
        samples.append(to_uint8(sample_images(
            model.denoiser, model.schedule, y=y[rows].to(device), s=s[rows].to(device),
            seeds=[args["seed"] + i for i in range(start, min(start + batch_size, n))], options=options,
            encoder=encoder, on_step=progress.advance)).cpu())
    seconds = time.perf_counter() - started
    samples_t = torch.cat(samples)
    result = {"split": args["split"], "identities": int(conditions.labels.unique().numel()), "samples": n,
              "identity": {name: identity_scores(judge, samples_t, real, data.images[conditions.partner], conditions.labels,
                                                 alone=conditions.partner == conditions.rows)
                           for name, judge in judges.items()},
              "attributeError": attribute_scores(load_attribute_regressor(args["attributeRegressor"], device=device),
                                                 samples_t, real, s) if args.get("attributeRegressor") else None,
              "sampler": args["sampler"], "samplingSeconds": seconds}
    if args.get("outDir"):
        os.makedirs(args["outDir"], exist_ok=True)
        shown = min(8, n)
        write_grid_png(os.path.join(args["outDir"], "samples.png"), torch.cat([real[:shown], samples_t[:shown]]), 2, shown)
        write_text_atomic(os.path.join(args["outDir"], "measure.json"), json.dumps(result, indent=2))
    return result
