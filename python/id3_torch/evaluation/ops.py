"""Bridge ops for evaluation (registered in api.py)."""
from __future__ import annotations

import os
import zipfile

import numpy as np
import torch

from ..bridge.jobs import Progress
from ..data.folders import index_manifest
from ..data.verification_bin import load_verification_bin
from ..recognition.checkpoints import load_backbone_checkpoint, load_safetensors
from ..encoders import IdentityEncoder, load_identity_encoder
from ..recognition.encoder import FaceEncoder
from ..recognition.iresnet import build_backbone
from ..training.distributed import Distributed
from . import ijb, verification
from .pairs import read_pairs_csv


def load_pair_embeddings(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(e1, e2, same) from an .npz holding e1 and e2 (N, D) floats and same (N,) bool or integer 0/1."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: expected an .npz archive with arrays e1, e2, same; got a single .npy array")
    with loaded as npz:
        arrays = {name: npz[name] for name in npz.files}
    missing = [name for name in ("e1", "e2", "same") if name not in arrays]
    if missing:
        raise ValueError(f"{path}: missing array(s) {', '.join(missing)}; it holds {', '.join(arrays) or 'nothing'}")
    e1, e2, same = arrays["e1"], arrays["e2"], arrays["same"]
    for name, e in (("e1", e1), ("e2", e2)):
        if e.ndim != 2 or not np.issubdtype(e.dtype, np.floating):
            raise ValueError(f"{path}: {name} must be an (N, D) float array, got shape {e.shape} {e.dtype}")
    if e1.shape != e2.shape:
        raise ValueError(f"{path}: e1 and e2 must have the same shape, got {e1.shape} and {e2.shape}")
    if same.shape != (len(e1),) or not (same.dtype == bool or np.issubdtype(same.dtype, np.integer)):
        raise ValueError(f"{path}: same must be ({len(e1)},) bool or integer, one flag per pair, got shape {same.shape} {same.dtype}")
    return e1, e2, same


def verify_embeddings(path: str) -> dict:
    """The verification protocol on the pair embeddings in `path` (normalised here, not flipped)."""
    e1, e2, same = load_pair_embeddings(os.fspath(path))
    try:
        result = verification.verify_pairs(e1, e2, same)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return verification.result_json(result)


def load_encoder(model: str, *, backbone: str | None, device: torch.device) -> IdentityEncoder:
    """A train-fr folder (encoder.json beside its weights), or an insightface/our checkpoint file of
    the named arcface_torch backbone (112 px input, the insightface template)."""
    if os.path.isdir(model):
        return load_identity_encoder({"kind": "folder", "path": model}, device=device)
    if backbone is None:
        raise ValueError(f"{model}: a checkpoint file needs its architecture (backbone, e.g. 'iresnet50')")
    network = build_backbone(backbone, input_size=112)
    if model.endswith(".safetensors"):
        load_safetensors(model, network)
    else:
        load_backbone_checkpoint(model, network)
    return IdentityEncoder(FaceEncoder(network, 112), input_size=112, embedding_size=network.fc.out_features,
                           framing="arcface-112").to(device)


def _pair_images(pairs: str, manifest: str | None) -> tuple[torch.Tensor, np.ndarray, np.ndarray, np.ndarray]:
    """(images, a, b, same): a `.bin` pair set (images 2i and 2i+1 form pair i), or a pairs.csv whose
    a and b are rows of `manifest`."""
    if pairs.endswith(".bin"):
        images, issame = load_verification_bin(pairs)
        n = len(issame)
        return images, np.arange(0, 2 * n, 2), np.arange(1, 2 * n, 2), issame.numpy()
    if manifest is None:
        raise ValueError(f"{pairs}: a pairs.csv names manifest rows: give the manifest too")
    listed = read_pairs_csv(pairs)
    index = index_manifest(os.path.dirname(os.path.abspath(manifest)), manifest=os.path.basename(manifest))
    rows = np.unique(np.concatenate([listed.a, listed.b]))  # decode only the images the pairs use
    if rows.max() >= len(index):
        raise ValueError(f"{pairs}: row {int(rows.max())} is past the end of {manifest} ({len(index)} rows)")
    images = torch.stack([index.image(int(r)) for r in rows])
    position = {int(r): i for i, r in enumerate(rows)}
    remap = np.vectorize(position.__getitem__)
    return images, remap(listed.a), remap(listed.b), listed.same


def verify_model(pairs: str, model: str, backbone: str | None = None, manifest: str | None = None,
                 batchSize: int = 256, device: str = "auto") -> dict:
    """Embed the pair images with a model (verification.encoder_embeddings, as `evaluate` does) and run the protocol."""
    torch_device = Distributed.from_environment(device).device
    encoder = load_encoder(os.fspath(model), backbone=backbone, device=torch_device)
    images, a, b, same = _pair_images(os.fspath(pairs), manifest)
    embeddings = verification.encoder_embeddings(encoder, images, batch_size=batchSize, device=torch_device).numpy()
    return verification.result_json(verification.verify_pairs(embeddings[a], embeddings[b], same))


def verify_ijb(folder: str, model: str, *, backbone: str | None = None, batch_size: int = 256, workers: int = 0,
               detector_score: bool = True, norm_score: bool = True, device: str = "auto", scores: bool = False,
               progress: Progress | None = None) -> dict:
    """IJB-B/C 1:1 template verification of a model (evaluation/ijb.py); `scores`: every pair's score too."""
    torch_device = Distributed.from_environment(device).device
    encoder = load_encoder(os.fspath(model), backbone=backbone, device=torch_device)
    release = ijb.read_ijb_folder(os.fspath(folder))
    if progress:
        progress.begin(len(release.names), label="IJB", unit="image")
    result = ijb.evaluate_ijb(encoder, release, batch_size=batch_size, workers=workers, device=torch_device,
                              detector_score=detector_score, norm_score=norm_score,
                              on_batch=progress.advance if progress else None)
    return {**result.json(), **({"scores": result.scores.tolist()} if scores else {})}


OPS = {"evaluation.verify_embeddings": verify_embeddings, "evaluation.verify_model": verify_model}
