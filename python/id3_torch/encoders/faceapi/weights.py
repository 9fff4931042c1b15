"""TFJS weight manifests and shards → named float32 tensors, as the package ships them.

Format (tfjs-core io/weights_loader, `decodeWeights`): a manifest is a list of groups, each with
`paths` (shard files, concatenated in order) and `weights` (name, shape, dtype, optional
`quantization`); the weights lie back to back in the concatenated shards of all groups, in manifest
order. A quantised weight stores one `uint8`/`uint16` per value, dequantised as `min + scale * q`,
or one `float16` per value.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import torch

_ENV_VAR = "ID3_FACEAPI_MODELS"
_PACKAGE = Path("node_modules") / "@vladmandic" / "face-api" / "model"
_STORED = {"float32": np.dtype("<f4"), "int32": np.dtype("<i4")}
_QUANTISED = {"uint8": np.dtype("u1"), "uint16": np.dtype("<u2"), "float16": np.dtype("<f2")}


def faceapi_model_dir() -> Path:
    """The package's `model/` folder: $ID3_FACEAPI_MODELS, else node_modules of this checkout
    (found from this file upwards, as Node's resolution would from the project root)."""
    if os.environ.get(_ENV_VAR):
        folder = Path(os.environ[_ENV_VAR])
        if not folder.is_dir():
            raise FileNotFoundError(f"{_ENV_VAR}={folder}: no such folder (expected face-api's model/ folder)")
        return folder
    for parent in Path(__file__).resolve().parents:
        if (parent / _PACKAGE).is_dir():
            return parent / _PACKAGE
    raise FileNotFoundError(
        "@vladmandic/face-api is not installed: run `npm install` in the project (it is a dependency), "
        f"or set {_ENV_VAR} to the package's model/ folder")


def load_tfjs_weights(name: str, folder: str | os.PathLike | None = None) -> dict[str, torch.Tensor]:
    """`<folder>/<name>-weights_manifest.json` and its shards → {weight name: float32 tensor in TF layout}."""
    folder = Path(folder) if folder is not None else faceapi_model_dir()
    manifest_path = folder / f"{name}-weights_manifest.json"
    try:
        groups = json.loads(manifest_path.read_text(encoding="utf-8"))
    except OSError as error:
        raise FileNotFoundError(f"{manifest_path}: cannot read the TFJS manifest ({error.strerror})") from error
    data = b"".join((folder / shard).read_bytes() for group in groups for shard in group["paths"])
    weights, offset = {}, 0
    for spec in (spec for group in groups for spec in group["weights"]):
        count = math.prod(spec["shape"])
        quantization = spec.get("quantization")
        stored = _QUANTISED[quantization["dtype"]] if quantization else _STORED[spec["dtype"]]
        end = offset + count * stored.itemsize
        if end > len(data):
            raise ValueError(f"{manifest_path}: weight {spec['name']} needs bytes {offset}..{end}, "
                             f"but the shards hold {len(data)}")
        values = np.frombuffer(data, dtype=stored, count=count, offset=offset).astype(np.float64)
        if quantization and quantization["dtype"] != "float16":
            values = quantization["min"] + quantization["scale"] * values
        weights[spec["name"]] = torch.from_numpy(values.astype(np.float32).reshape(spec["shape"]))
        offset = end
    if offset != len(data):
        raise ValueError(f"{manifest_path}: the manifest accounts for {offset} bytes, the shards hold {len(data)}")
    return weights
