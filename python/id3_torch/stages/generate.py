"""generate, Python half: the synthetic dataset. Every image of the per-image plan (written by the
TypeScript side before sampling: y_ij, s_ij, seeds) is sampled with the ID-preserving sampler from
the trained model and written through the sharded writer; then the finished set is measured for its
card, by the judge and by f (evaluation/synthetic.py, evaluation/realism.py), and, given pytorch-fid's
Inception weights, by FID (evaluation/fid.py).

Resumable by shard (a shard is written whole or redone), and under torchrun each rank samples its
own shards (s ≡ rank mod world size); rank 0 joins them and measures. An image depends only on its
seed and condition, so a resumed or distributed run writes the bytes an unbroken one would.
"""
from __future__ import annotations

import csv
import hashlib
import os
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..bridge.jobs import Progress
from ..data.datasets import open_face_images
from ..data.image_files import write_grid_png
from ..data.labelled_images import LabelledImages, attribute_columns
from ..data.synthetic import SyntheticDatasetWriter, SyntheticLayout
from ..diffusion.conditioning import ATTRIBUTE_NAMES
from ..diffusion.model import TrainedDiffusion, load_diffusion_model
from ..diffusion.sampler import SamplerOptions, to_uint8
from ..encoders import embed_images, load_identity_encoder, refuse_equal_encoders
from ..encoders.attribute_regressor import load_attribute_regressor
from ..evaluation import memorisation
from ..evaluation.fid import fid_table
from ..evaluation.fid_inception import load_fid_inception
from ..evaluation.realism import realism_table
from ..evaluation.synthetic import attribute_control, condition_agreement, embed_dataset, encoder_statistics, identity_centres
from ..training.distributed import Distributed
from .memo import memo, real_key, spec_key


@dataclass(frozen=True)
class GenerateOptions:
    """How the dataset is written (data/synthetic.py's layout), sampled and measured in batches, and shown."""

    identities_per_shard: int  # written (and, after a kill, redone) together; torchrun ranks take whole shards
    formats: tuple[str, ...]
    image_format: str
    jpeg_quality: int
    batch_size: int
    grid_identities: int  # rows of grid.png
    grid_images: int  # columns of grid.png


@dataclass(frozen=True)
class AttributeReader:
    """How the generated images' attributes are measured: kind "regressor", the parametric set's trained regressor
    at `path`, also scored on the held-out real faces `real` ({manifest, split}, whose truth is known); or kind
    "face-api", face-api's age net and landmark pose, for real faces."""

    kind: str
    path: str | None = None
    real: dict | None = None


@dataclass(frozen=True)
class Judge:
    """An encoder independent of f (`spec`, an encoder spec) that measures the set, as the card names it, against
    the prepared real faces `real` ({manifest, split}: its training identities, the held-out split's images)."""

    spec: dict
    name: str
    real: dict


@dataclass(frozen=True)
class FidInputs:
    """pytorch-fid's Inception weights (a file) and the held-out real faces ({manifest, split}) FID compares with."""

    weights: str
    real: dict


class Plan:
    """The per-image plan of src/anchors/plan.ts: plan.csv rows ↔ embeddings.npy and attributes.npy
    rows; anchors.npy row i is identity i's anchor."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.embeddings = np.load(os.path.join(folder, "embeddings.npy"), allow_pickle=False)  # (N·m, d)
        self.attributes = np.load(os.path.join(folder, "attributes.npy"), allow_pickle=False)  # (N·m, 4)
        self.anchors = np.load(os.path.join(folder, "anchors.npy"), allow_pickle=False)  # (N, d)
        with open(os.path.join(folder, "plan.csv"), newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        identity = np.array([int(r["identity"]) for r in rows])
        image = np.array([int(r["image"]) for r in rows])
        self.seeds = np.array([int(r["seed"]) for r in rows], dtype=np.int64)
        self.identities, self.images_per_identity = len(self.anchors), int(image.max()) + 1
        # row_of[i, j]: the plan row of identity i's image j
        self.row_of = np.full((self.identities, self.images_per_identity), -1, dtype=np.int64)
        self.row_of[identity, image] = np.arange(len(rows))
        if (self.row_of < 0).any() or len(rows) != len(self.embeddings) or len(rows) != len(self.attributes):
            raise ValueError(f"{folder}: plan.csv, embeddings.npy and attributes.npy do not describe "
                             f"{self.identities} identities × {self.images_per_identity} images")

    def rows(self, identities: range) -> np.ndarray:
        """Plan rows of these identities, identity-major (the order the writer takes them in)."""
        return self.row_of[identities.start:identities.stop].reshape(-1)


def _sample_rows(plan: Plan, rows: np.ndarray, identity: np.ndarray, *, model: TrainedDiffusion, encoder,
                 options: SamplerOptions, target: str, device: torch.device) -> torch.Tensor:
    """uint8 images (on the CPU) of plan `rows`, row k of identity identity[k]: conditioned on its (y, s), guided
    towards y or (target "anchor") its identity's anchor, from its seed."""
    y = torch.from_numpy(plan.embeddings[rows].astype(np.float32)).to(device)
    s = torch.from_numpy(plan.attributes[rows].astype(np.float32)).to(device)
    goal = torch.from_numpy(plan.anchors[identity].astype(np.float32)).to(device) if target == "anchor" else y
    x = model.sample(y=y, s=s, target=goal, seeds=plan.seeds[rows].tolist(), options=options, encoder=encoder)
    return to_uint8(x).cpu()


def _sample_shards(writer: SyntheticDatasetWriter, plan: Plan, shards: list[int], *, model, encoder, options: SamplerOptions,
                   target: str, batch_size: int, device: torch.device, progress: Progress) -> None:
    m = plan.images_per_identity
    for shard in shards:
        rows = plan.rows(writer.layout.shard_identities(shard))
        with writer.open_shard(shard) as out:
            for start in range(0, len(rows), batch_size):
                batch = rows[start:start + batch_size]
                position = start + np.arange(len(batch))  # identity-major within the shard
                identity, image = writer.layout.shard_identities(shard).start + position // m, position % m
                images = _sample_rows(plan, batch, identity, model=model, encoder=encoder, options=options, target=target,
                                      device=device)
                out.add(identity=identity, image=image, images=images, anchor=identity,
                        embedding=plan.embeddings[batch], attributes=plan.attributes[batch], seed=plan.seeds[batch])
                progress.advance(len(batch))


def _write_grid(root: str, path: str, layout: SyntheticLayout, rows: int, cols: int) -> None:
    """The first identities as rows, their first images as columns."""
    dataset = open_face_images(root)
    rows, cols = min(rows, layout.identities), min(cols, layout.images_per_identity)
    images = torch.stack([dataset.image(i * layout.images_per_identity + j) for i in range(rows) for j in range(cols)])
    write_grid_png(path, images, rows, cols)


def _attribute_predictor(reader: AttributeReader, device: torch.device):
    """uint8 images → {age, yaw, pitch, roll} tensors."""
    if reader.kind == "regressor":
        return load_attribute_regressor(reader.path, device=device).predict
    if reader.kind == "face-api":
        from ..encoders.attributes import AttributePredictor

        predict = AttributePredictor.from_package(device=device)
        return lambda images: {k: torch.as_tensor(np.asarray(v), dtype=torch.float32) for k, v in predict(images).items()}
    raise ValueError(f"attributes.kind: expected 'regressor' or 'face-api', got {reader.kind!r}")


def _attributes_of_real_images(reader: AttributeReader, device: torch.device) -> dict:
    """The attribute figures of the held-out real images with their ground truth as "asked": the yardstick's own
    ceiling (a generator that follows its attributes exactly scores about this)."""
    real = reader.real

    def measure() -> dict:
        images = LabelledImages.from_manifest(real["manifest"], splits=(real["split"],))
        truth = attribute_columns(images, ATTRIBUTE_NAMES, manifest=real["manifest"])
        return attribute_control(_attribute_predictor(reader, device)(images.images), truth, ATTRIBUTE_NAMES,
                                 images.labels, images.num_classes)

    return memo("attributesReal", [spec_key({"kind": reader.kind, "path": reader.path}), real_key(real)], measure)


@dataclass(frozen=True)
class JudgedRealFaces:
    """The real side of the judge's figures: the prepared manifest's training split (embeddings, labels, 16-px
    thumbnails) and held-out split (images, their mean-colour floor, both embedded). Read-only: shared by
    every generate job that measures the same faces with the same judge."""

    training: torch.Tensor  # (T, d) unit judge embeddings
    training_labels: torch.Tensor  # (T,)
    training_thumbnails: torch.Tensor  # (T, 3·16²)
    held_out: torch.Tensor  # (H, 3, h, w) uint8
    flat: torch.Tensor  # (H, 3, h, w) uint8, each image its mean colour
    held_out_embeddings: torch.Tensor  # (H, d)
    flat_embeddings: torch.Tensor  # (H, d)


def _judged_real_faces(judge_spec: dict, judge, real: dict, device: torch.device, batch: int) -> JudgedRealFaces:
    def measure() -> JudgedRealFaces:
        trained, trained_labels, _ = embed_dataset(real["manifest"], judge, device=device, batch_size=batch, splits=("train",))
        held_out, flat = _held_out(real)
        return JudgedRealFaces(
            training=trained, training_labels=trained_labels,
            training_thumbnails=memorisation.dataset_thumbnails(real["manifest"], splits=("train",)),
            held_out=held_out, flat=flat,
            held_out_embeddings=embed_images(judge, held_out, device=device, batch_size=batch),
            flat_embeddings=embed_images(judge, flat, device=device, batch_size=batch))

    return memo("judgedRealFaces", [spec_key(judge_spec), real_key(real)], measure)


def _held_out(real: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The held-out real images (uint8 (N, 3, H, W)) of the prepared manifest's split, and the floor: each
    image replaced by its mean colour (what no face scores). Read once for the judge and FID."""
    def read() -> tuple[torch.Tensor, torch.Tensor]:
        held_out = LabelledImages.from_manifest(real["manifest"], splits=(real["split"],)).images
        flat = held_out.float().mean(dim=(2, 3), keepdim=True).expand_as(held_out).round().to(torch.uint8)
        return held_out, flat

    return memo("heldOut", real_key(real), read)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fid(root: str, fid: FidInputs, held_out: torch.Tensor, flat: torch.Tensor, device: torch.device) -> dict:
    """The FID rows of the card (evaluation/fid.py), with the split and the weights file they were measured with."""
    model = load_fid_inception(fid.weights, device=device)
    dataset = open_face_images(root)
    table = fid_table(model, held_out, flat, len(dataset),
                      lambda rows: torch.stack([dataset.image(int(n)) for n in rows]), seed=0)
    return {**table, "heldOutSplit": fid.real["split"], "weightsSha256": _sha256(fid.weights)}


def _memorisation(root: str, real: dict, generated: torch.Tensor, faces: JudgedRealFaces, picture: str) -> dict:
    """evaluation/memorisation.py's figures in the judge's space and in pixels, and the picture of the closest
    pairs: rows of generated images over their nearest training images, by the judge then by pixels."""
    training_images = open_face_images(real["manifest"], splits=("train",))
    figures, rows = {}, []
    for name, measure, queries, reference, references in (
            ("judge", "cosine", generated, faces.held_out_embeddings, faces.training),
            ("pixels", "rms", memorisation.dataset_thumbnails(root), memorisation.thumbnails(faces.held_out),
             faces.training_thumbnails)):
        figures[name], score, index = memorisation.memorisation_figures(queries, reference, references, measure=measure)
        pairs = memorisation.closest_pairs(score, index, measure=measure)
        rows += [[generated_image for generated_image, _ in pairs], [training for _, training in pairs]]
    dataset = open_face_images(root)
    images = []
    for n, row in enumerate(rows):
        source = dataset if n % 2 == 0 else training_images
        images += [source.image(i) for i in row]
    side = images[0].shape[-1]
    images = [i if i.shape[-1] == side else F.interpolate(i[None].float(), size=(side, side), mode="area")[0].round().to(torch.uint8)
              for i in images]
    write_grid_png(picture, torch.stack(images), len(rows), len(rows[0]))
    return {**figures, "picture": os.path.basename(picture)}


def _measure(root: str, plan: Plan, layout: SyntheticLayout, f, device: torch.device, progress: Progress,
             picture: str, *, batch_size: int, attributes: AttributeReader, judge: Judge | None, fid: FidInputs | None,
             centres: str | None) -> tuple[dict, dict]:
    """The card's figures: attribute control; the judge's identity and realism figures, and memorisation (the
    closest pairs drawn to `picture`); FID when given its weights; f's identity figures, labelled as optimised by
    the sampler (its condition and anchor cosines are f's alone), their leakage against the training identities'
    `centres` (a .npy) when given."""
    identities = layout.identities
    f_embeddings, labels, predicted = embed_dataset(root, f, device=device, batch_size=batch_size,
                                                    predictor=_attribute_predictor(attributes, device))
    order = plan.rows(range(identities))  # the dataset's manifest rows, as plan rows
    statistics: dict = {"attributes": attribute_control(predicted, torch.from_numpy(plan.attributes[order].astype(np.float32)),
                                                        ATTRIBUTE_NAMES, labels, identities)}
    if attributes.real:
        statistics["attributesReal"] = _attributes_of_real_images(attributes, device)
    training_centres = torch.from_numpy(np.load(centres, allow_pickle=False)) if centres else None
    f_statistics, f_histograms = encoder_statistics(f_embeddings, labels, identities, training_centres=training_centres)
    f_statistics["identityConsistency"] |= condition_agreement(
        f_embeddings, labels, torch.from_numpy(plan.embeddings[order].astype(np.float32)),
        torch.from_numpy(plan.anchors.astype(np.float32)))
    histograms = {f"f: {name}": values for name, values in f_histograms.items()}
    if judge is not None:
        progress.check_cancelled()
        judge_encoder = load_identity_encoder(judge.spec, device=device)
        refuse_equal_encoders(judge_encoder, f)
        real = judge.real  # the prepared manifest: its training identities, its held-out images
        embeddings, _, _ = embed_dataset(root, judge_encoder, device=device, batch_size=batch_size)
        faces = _judged_real_faces(judge.spec, judge_encoder, real, device, batch_size)
        judged, judge_histograms = encoder_statistics(
            embeddings, labels, identities,
            training_centres=identity_centres(faces.training, faces.training_labels, int(faces.training_labels.max()) + 1))
        judged["realism"] = realism_table(faces.held_out_embeddings, faces.flat_embeddings, embeddings, seed=0)
        judged["realism"]["heldOutSplit"] = real["split"]
        statistics["judge"] = {"encoder": judge.name, **judged}
        histograms |= {f"judge: {name}": values for name, values in judge_histograms.items()}
        progress.check_cancelled()
        statistics["memorisation"] = _memorisation(root, real, embeddings, faces, picture)
    if fid is not None:
        progress.check_cancelled()
        statistics["fid"] = _fid(root, fid, *_held_out(fid.real), device)
    statistics["f"] = {"encoder": "f, optimised by the sampler (the ID loss and the guidance)", **f_statistics}
    return statistics, histograms


def generate(plan_dir: str, train_dir: str, out_dir: str, *, sampler: SamplerOptions, target: str,
             options: GenerateOptions, attributes: AttributeReader, judge: Judge | None, fid: FidInputs | None,
             centres: str | None, device: str, progress: Progress) -> dict:
    """Sample the plan in `plan_dir` (src/anchors/plan.ts's folder) with the model trained in `train_dir` into
    `out_dir`/dataset, guided towards `target` ("embedding": y_ij, or "anchor": w_i), and measure it for its card
    (_measure); the run's figures, with the card's statistics on rank 0."""
    dist = Distributed.from_environment(device)
    plan = Plan(plan_dir)
    model = load_diffusion_model(train_dir, device=dist.device)
    encoder = load_identity_encoder(model.encoder_spec, device=dist.device)
    layout = SyntheticLayout(identities=plan.identities, images_per_identity=plan.images_per_identity,
                             identities_per_shard=options.identities_per_shard, formats=options.formats,
                             image_format=options.image_format, jpeg_quality=options.jpeg_quality,
                             embedding_size=plan.embeddings.shape[1], attribute_names=ATTRIBUTE_NAMES)
    root = os.path.join(out_dir, "dataset")
    writer = SyntheticDatasetWriter(root, layout)

    mine = [s for s in range(layout.shards) if s % dist.world_size == dist.rank]
    pending = writer.pending_shards(rank=dist.rank, world_size=dist.world_size)
    images_of = lambda shards: sum(len(layout.shard_identities(s)) for s in shards) * layout.images_per_identity  # noqa: E731
    sampled = images_of(writer.pending_shards())  # every rank's pending images, counted before anyone writes
    dist.barrier()
    progress.begin(images_of(mine), label="generate", unit="img", step=images_of(mine) - images_of(pending))
    started = time.perf_counter()
    _sample_shards(writer, plan, pending, model=model, encoder=encoder if sampler.guidance_scale > 0 else None,
                   options=sampler, target=target, batch_size=options.batch_size, device=dist.device, progress=progress)
    seconds = time.perf_counter() - started
    dist.barrier()
    result = {"identities": layout.identities, "imagesPerIdentity": layout.images_per_identity, "images": layout.images,
              "sampled": sampled, "reused": layout.images - sampled, "processes": dist.world_size,
              "samplingSeconds": seconds, "imagesPerSecond": sampled / seconds if sampled and seconds > 0 else None}
    if dist.is_main:
        writer.finalize()
        progress.check_cancelled()
        statistics, histograms = _measure(root, plan, layout, encoder, dist.device, progress,
                                          os.path.join(out_dir, "memorisation.png"), batch_size=options.batch_size,
                                          attributes=attributes, judge=judge, fid=fid, centres=centres)
        writer.write_card(statistics=statistics, histograms=histograms)
        _write_grid(root, os.path.join(out_dir, "grid.png"), layout, options.grid_identities, options.grid_images)
        result["statistics"] = statistics
    dist.barrier()
    dist.close()
    return result


def preview(plan_dir: str, train_dir: str, out: str, *, sampler: SamplerOptions, target: str, batch_size: int,
            device: str, progress: Progress) -> dict:
    """Every image of a (small) plan, sampled as generate would, shown as a grid PNG at `out` (identities as rows,
    their images as columns); no dataset is written."""
    torch_device = Distributed.from_environment(device).device
    plan = Plan(plan_dir)
    model = load_diffusion_model(train_dir, device=torch_device)
    encoder = load_identity_encoder(model.encoder_spec, device=torch_device) if sampler.guidance_scale > 0 else None
    rows = plan.rows(range(plan.identities))
    progress.begin(len(rows), label="preview", unit="img")
    images = []
    for start in range(0, len(rows), batch_size):
        batch = rows[start:start + batch_size]
        identity = (start + np.arange(len(batch))) // plan.images_per_identity
        images.append(_sample_rows(plan, batch, identity, model=model, encoder=encoder, options=sampler, target=target,
                                   device=torch_device))
        progress.advance(len(batch))
    write_grid_png(out, torch.cat(images), plan.identities, plan.images_per_identity)
    return {"grid": out, "images": len(rows)}
