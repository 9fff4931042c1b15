"""Shared fixtures of the diffusion tests: tiny parametric sets on disk, a small frozen encoder, tiny U-Nets."""
import csv
import json
import os

import torch

from id3_torch.data import image_files, parametric
from id3_torch.diffusion.model import Denoiser, EpsilonPreconditioning
from id3_torch.diffusion.schedule import DiffusionSchedule
from id3_torch.diffusion.pose_map import POSE_MAP_CHANNELS
from id3_torch.diffusion.unet import UNetConfig
from id3_torch.encoders import load_identity_encoder
from id3_torch.bridge.jobs import Progress
from id3_torch.recognition.checkpoints import save_safetensors
from id3_torch.recognition.iresnet import build_backbone
from id3_torch.jobs.contracts import with_defaults
from id3_torch.jobs.train_fr import train_face_recognition

EMBEDDING = 16
TINY_MODEL = {"patchSize": 2, "channels": 16, "channelMults": [1, 2], "resBlocks": 1, "attentionResolutions": [8],
              "headChannels": 16, "dropout": 0.0, "conditionTokens": 4, "preconditioning": "edm", "sigmaData": 0.5}


def write_faces(root, *, identities, images, splits=None, seed=0, resolution=32, copies=1):
    """identities × images parametric faces under root with a manifest (split per identity: `splits` or all
    train). `identities` is a count (identities 0 … n−1) or a list of the renderer's identity numbers. Below
    32 px (the renderer's least) they are rendered at 32 and average-pooled; `copies` lists every row that
    many times (a batch can then hold a face several times)."""
    numbers = torch.arange(identities) if isinstance(identities, int) else torch.tensor(identities)
    identity = numbers.repeat_interleave(images)
    image = torch.arange(images).repeat(len(numbers))
    pictures, nuisance = parametric.render_images(seed, identity, image, max(32, resolution))
    if resolution < 32:
        pictures = torch.nn.functional.avg_pool2d(pictures.float(), 32 // resolution).round().to(torch.uint8)
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "manifest.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "identity", "image", "split", *parametric.ATTRIBUTE_NAMES])
        position = {i: p for p, i in enumerate(numbers.tolist())}
        for n, (i, k, picture) in enumerate(zip(identity.tolist(), image.tolist(), pictures)):
            os.makedirs(os.path.join(root, str(i)), exist_ok=True)
            image_files.write_png_atomic(os.path.join(root, str(i), f"{k}.png"), picture)
            for _ in range(copies):
                writer.writerow([f"{i}/{k}.png", i, k, splits[position[i]] if splits else "train",
                                 *[round(float(nuisance[a][n]), 4) for a in parametric.ATTRIBUTE_NAMES]])
    return os.path.join(root, "manifest.csv")


def write_encoder(folder, *, seed=0, backbone="iresnet-small", input_size=32, embedding_size=EMBEDDING,
                  widths=(8, 8, 16, 16), layers=(1, 1, 1, 1)):
    """An untrained iResNet as a train-fr folder: a frozen, differentiable f (by default a small one with
    16-d embeddings; `widths`/`layers` None for the named backbone's own)."""
    os.makedirs(folder, exist_ok=True)
    torch.manual_seed(seed)
    network = build_backbone(backbone, input_size=input_size, embedding_size=embedding_size, widths=widths,
                             layers=layers)
    save_safetensors(os.path.join(folder, "backbone.safetensors"), network.eval())
    card = {"kind": "iresnet", "backbone": backbone, "inputSize": input_size, "embeddingSize": embedding_size,
            "weights": "backbone.safetensors"}
    if widths is not None:
        card |= {"widths": list(widths), "layers": list(layers)}
    with open(os.path.join(folder, "encoder.json"), "w") as f:
        json.dump(card, f)
    return {"kind": "folder", "path": str(folder)}


def write_trained_encoder(folder, manifest, *, epochs=30, widths=(8, 8, 16, 16), head="cosface"):
    """f trained (CosFace, a few seconds) on the identities of `manifest`: embeddings that tell those faces apart,
    as a real f's do. An untrained f embeds any two faces within cosine 0.93–0.98 of each other, which leaves
    identity tests on a knife-edge."""
    args = {"data": manifest, "outDir": str(folder), "splits": ["train"], "identities": None, "device": "cpu",
            "backbone": {"name": "iresnet-small", "inputSize": 32, "embeddingSize": EMBEDDING, "widths": list(widths),
                         "layers": [1, 1, 1, 1]},
            "head": head, "s": 16.0, "m": 0.2, "epochs": epochs, "batchSize": 16, "lr": 0.05, "momentum": 0.9,
            "weightDecay": 5e-4, "decayEpochs": [epochs + 1], "warmupEpochs": 0, "flip": False, "gradClip": 5.0,
            "maxWeightGrowth": 100.0, "checkpointEvery": 10**6, "seed": 0}
    os.makedirs(folder, exist_ok=True)
    train_face_recognition(with_defaults("train-fr", args), Progress())
    return {"kind": "folder", "path": str(folder)}


def encoder_at(folder):
    return load_identity_encoder(write_encoder(folder))


def random_denoiser(seed=0, pose_map=None, **config):
    """A tiny denoiser whose zero-initialised output layers are randomised, so that every input matters."""
    torch.manual_seed(seed)
    fields = dict(resolution=32, patch_size=2, channels=16, channel_mults=(1, 2), res_blocks=1,
                  attention_resolutions=(8,), head_channels=16, condition_size=64, condition_tokens=4,
                  extra_input_channels=POSE_MAP_CHANNELS if pose_map else 0)
    denoiser = Denoiser(UNetConfig(**{**fields, **config}), embedding_size=EMBEDDING, condition_hidden=(32, 32),
                        preconditioning=EpsilonPreconditioning(DiffusionSchedule().alphas_cumprod, sigma_data=0.5),
                        pose_map=pose_map)
    with torch.no_grad():
        for p in denoiser.parameters():
            if not p.any():
                p.normal_(0, 0.05)
    return denoiser.eval()


def training_args(manifest, out_dir, encoder, **overrides):
    """The `train` job's arguments (what src/pipeline/stages/train.ts sends) for a tiny run."""
    args = {"manifest": manifest, "outDir": str(out_dir), "encoder": encoder, "device": "cpu", "model": dict(TINY_MODEL),
            "conditioning": {"hidden": [32, 32], "size": 64, "dropout": 0.1},
            "schedule": {"timesteps": 1000, "betaStart": 1e-4, "betaEnd": 0.02},
            "loss": {"w": 0.5, "weighting": "epsilon", "logSigmaMean": -1.2, "logSigmaStd": 1.2},
            "training": {"steps": 8, "batchSize": 4, "lr": 1e-3, "weightDecay": 0.0, "warmupSteps": 2, "gradClip": 1.0,
                         "emaDecay": 0.9, "checkpointEvery": 3, "gridImages": 0, "seed": 0, "autocast": "auto"}}
    for key, value in overrides.items():
        args[key] = {**args[key], **value} if isinstance(value, dict) else value
    return with_defaults("train", args)
