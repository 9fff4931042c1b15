"""Backbone weights on disk: insightface `.pth` state dicts (read) and our safetensors files (read/write).

Both paths check the file's tensors against the model before loading, so a wrong architecture
fails with the file's name and the first differing keys rather than deep inside torch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import safetensors.torch
import torch
from torch import nn

from ..files import write_bytes_atomic

_SHOWN = 5  # keys listed per kind of mismatch


def _check_and_load(model: nn.Module, state: Mapping[str, torch.Tensor], path: Path) -> None:
    expected = model.state_dict()
    # Files from torch < 0.4.1 lack BatchNorm's num_batches_tracked; load_state_dict fills it in.
    missing = [key for key in expected if key not in state and not key.endswith(".num_batches_tracked")]
    unexpected = [key for key in state if key not in expected]
    misshapen = [
        f"{key} {tuple(state[key].shape)} (expected {tuple(expected[key].shape)})"
        for key in expected
        if key in state and state[key].shape != expected[key].shape
    ]
    problems = [
        f"{len(found)} {kind}: {', '.join(found[:_SHOWN])}{', ...' if len(found) > _SHOWN else ''}"
        for kind, found in (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", misshapen))
        if found
    ]
    if problems:
        raise ValueError(f"{path}: does not match {type(model).__name__} ({'; '.join(problems)})")
    model.load_state_dict(state, strict=True)


def load_backbone_checkpoint(path: str | os.PathLike, model: nn.Module) -> None:
    """Load an insightface/arcface_torch `backbone.pth` (a plain state dict) into `model`, strictly."""
    path = Path(path)
    state = torch.load(path, weights_only=True, map_location="cpu")
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: expected a state dict (a mapping of names to tensors), got {type(state).__name__}")
    _check_and_load(model, state, path)


def save_safetensors(path: str | os.PathLike, model: nn.Module, *, metadata: Mapping[str, str] | None = None) -> None:
    """Write `model`'s state dict as safetensors, atomically (temp name in the same folder, then rename)."""
    path = Path(path)
    state = {key: tensor.detach().cpu().contiguous() for key, tensor in model.state_dict().items()}
    write_safetensors(path, state, metadata=metadata)


def write_safetensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], *,
                      metadata: Mapping[str, str] | None = None) -> None:
    """Tensors as a safetensors file, whole or absent. Serialised in memory and written by our atomic writer:
    safetensors' own `save_file` (0.8) writes through a Rust temporary (`.tmpXXXXXX`) that a killed process leaves
    in the stage folder under a name no resume knows to sweep."""
    write_bytes_atomic(path, safetensors.torch.save(tensors, metadata=dict(metadata) if metadata else None))


def read_safetensors(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors on the CPU, metadata) of a safetensors file; a damaged file is named, not left to a bare
    SafetensorError far from the stage that wrote it."""
    try:
        with safetensors.safe_open(path, framework="pt", device="cpu") as handle:
            return {key: handle.get_tensor(key) for key in handle.keys()}, handle.metadata() or {}
    except safetensors.SafetensorError as error:
        raise ValueError(f"{path}: not a whole safetensors file ({error}); `id3 run` redoes the stage that wrote "
                         "it when its size differs from the recorded one, `id3 run --verify` when its bytes do") from error


def load_safetensors(path: str | os.PathLike, model: nn.Module) -> dict[str, str]:
    """Load a file written by `save_safetensors` into `model`, strictly; returns the file's metadata."""
    state, metadata = read_safetensors(path)
    _check_and_load(model, state, Path(path))
    return metadata
