"""Bridge jobs that sample a trained ID³ model: `diffusion.sample` (for generate) and `diffusion.measure`.

Bulk inputs come as `.npy` files (float32 embeddings (N, d), attributes (N, 4) in years and degrees,
int64 seeds (N,)), never as JSON lists. Images are written as PNGs, each whole or absent; a rerun
samples only the missing ones, and since an image depends only on its seed and condition, what a
killed run wrote is what an uninterrupted one would have.
"""
from __future__ import annotations

import json
import os
import time

import numpy as np
import torch

from ..bridge.jobs import Progress
from ..data.image_files import write_grid_png, write_png_atomic
from ..data.labelled_images import LabelledImages, attribute_columns
from ..encoders import embed_images, load_identity_encoder
from ..encoders.attribute_regressor import load_attribute_regressor
from ..files import write_text_atomic
from ..training.distributed import Distributed
from .conditioning import ATTRIBUTE_NAMES
from .measure import attribute_scores, held_out_conditions, identity_scores
from .model import load_diffusion_model
from .sampler import SamplerOptions, sample_images, to_uint8


def _array(args: dict, field: str, *, dtype: type, columns: int | None, rows: int | None) -> np.ndarray:
    """The `.npy` file named by args[field], checked: dtype kind, 2-D with `columns` (or 1-D), `rows` long."""
    path = args[field]
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"{field}: cannot read {path} as a .npy array ({error})") from error
    shape_ok = array.ndim == 1 if columns is None else (array.ndim == 2 and array.shape[1] == columns)
    kind_ok = np.issubdtype(array.dtype, dtype)
    if not shape_ok or not kind_ok or (rows is not None and len(array) != rows):
        want = f"({rows if rows is not None else 'N'}{'' if columns is None else f', {columns}'})"
        raise ValueError(f"{field}: {path} holds {array.dtype} {array.shape}; expected {dtype.__name__} {want}")
    return array


def sample_job(args: dict, progress: Progress) -> dict:
    """Job `diffusion.sample`: args {trainDir, embeddings, attributes, seeds, targets?, paths, outDir, sampler, batchSize, device}.

    Image i has condition (embeddings[i], attributes[i]), guidance target targets[i] (default the
    embedding; the anchor w_i for the ablation), seed seeds[i], and goes to outDir/paths[i].
    """
    device = Distributed.from_environment(args.get("device", "auto")).device
    model = load_diffusion_model(args["trainDir"], device=device)
    y = _array(args, "embeddings", dtype=np.floating, columns=model.card["embeddingSize"], rows=None)
    n = len(y)
    s = _array(args, "attributes", dtype=np.floating, columns=len(ATTRIBUTE_NAMES), rows=n)
    seeds = _array(args, "seeds", dtype=np.integer, columns=None, rows=n)
    target = _array(args, "targets", dtype=np.floating, columns=y.shape[1], rows=n) if args.get("targets") else y
    paths = args["paths"]
    if len(paths) != n:
        raise ValueError(f"paths: expected {n} paths (one per embedding), got {len(paths)}")
    options = SamplerOptions.from_args(args["sampler"])
    encoder = load_identity_encoder(model.encoder_spec, device=device) if options.guidance_scale > 0 else None
    files = [os.path.join(args["outDir"], p) for p in paths]
    missing = [i for i, f in enumerate(files) if not os.path.exists(f)]
    progress.begin(n, label="sample", unit="img", step=n - len(missing))
    started = time.perf_counter()
    for start in range(0, len(missing), args["batchSize"]):
        batch = missing[start:start + args["batchSize"]]
        as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a[batch], dtype=np.float32)).to(device)  # noqa: E731
        images = to_uint8(sample_images(model.denoiser, model.schedule, y=as_tensor(y), s=as_tensor(s),
                                        target=as_tensor(target), seeds=seeds[batch].tolist(), options=options,
                                        encoder=encoder)).cpu()
        for i, image in zip(batch, images):
            os.makedirs(os.path.dirname(files[i]), exist_ok=True)
            write_png_atomic(files[i], image)
        progress.advance(len(batch))
    seconds = time.perf_counter() - started
    return {"images": n, "written": len(missing), "reused": n - len(missing), "seconds": seconds,
            "imagesPerSecond": len(missing) / seconds if missing and seconds > 0 else None}


def measure_job(args: dict, progress: Progress) -> dict:
    """Job `diffusion.measure`: identity preservation and attribute error of samples for held-out identities.

    args {trainDir, manifest, split, perIdentity, sampler, seed, batchSize, attributeRegressor,
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
              "identity": {name: identity_scores(judge, samples_t, real, data.images[conditions.partner], conditions.labels)
                           for name, judge in judges.items()},
              "attributeError": attribute_scores(load_attribute_regressor(args["attributeRegressor"], device=device),
                                                 samples_t, real, s),
              "sampler": args["sampler"], "samplingSeconds": seconds}
    if args.get("outDir"):
        os.makedirs(args["outDir"], exist_ok=True)
        shown = min(8, n)
        write_grid_png(os.path.join(args["outDir"], "samples.png"), torch.cat([real[:shown], samples_t[:shown]]), 2, shown)
        write_text_atomic(os.path.join(args["outDir"], "measure.json"), json.dumps(result, indent=2))
    return result
