"""Published face-recognition checkpoints, read without running their pickles' code.

- insightface arcface_torch: `backbone.pth`, a plain state dict (recognition/checkpoints.py).
- AdaFace: a PyTorch Lightning `.ckpt`, a dict whose "state_dict" holds the backbone under
  "model." (and the margin head under "head."); the authors' `inference.py` strips the prefix.
  A plain state dict of the backbone, or a safetensors file of one, is accepted too.

`.pth`/`.ckpt` files go through `torch.load(weights_only=True)`: tensors, containers and
primitives only, so a crafted pickle is refused instead of executed.
"""
from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from ..recognition.checkpoints import _check_and_load, read_safetensors

LIGHTNING_PREFIX = "model."


def read_checkpoint(path: str | os.PathLike) -> object:
    """The file's content: safetensors by suffix, else a weights-only torch.load."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    if path.suffix == ".safetensors":
        return read_safetensors(path)[0]
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as error:
        raise ValueError(
            f"{path}: refused by the weights-only loader (it holds objects other than tensors and plain "
            f"containers: {str(error).splitlines()[-1][:300]}). Extract its state dict where you trust the file "
            "and save that (torch.save(state_dict) or safetensors).") from error
    except (RuntimeError, EOFError, OSError) as error:
        raise ValueError(f"{path}: not a PyTorch checkpoint ({error})") from error


def _tensor_mapping(state: object, path: Path, what: str) -> Mapping[str, torch.Tensor]:
    if not isinstance(state, Mapping) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: expected {what}, got {type(state).__name__}")
    return state


def adaface_state_dict(content: object, path: str | os.PathLike) -> Mapping[str, torch.Tensor]:
    """The backbone's state dict from an AdaFace checkpoint's content (Lightning or plain)."""
    path = Path(path)
    if isinstance(content, Mapping) and "state_dict" in content:
        lightning = _tensor_mapping(content["state_dict"], path, "a Lightning checkpoint whose state_dict maps names to tensors")
        backbone = {key[len(LIGHTNING_PREFIX):]: value for key, value in lightning.items() if key.startswith(LIGHTNING_PREFIX)}
        if not backbone:
            raise ValueError(f"{path}: its state_dict has no '{LIGHTNING_PREFIX}' keys (found e.g. {sorted(lightning)[:3]})")
        return backbone
    return _tensor_mapping(content, path, "a Lightning checkpoint (with 'state_dict') or a state dict of tensors")


def load_adaface_checkpoint(path: str | os.PathLike, model: nn.Module) -> None:
    """Load an AdaFace checkpoint into `model`, strictly (names, shapes: errors list the first keys)."""
    _check_and_load(model, adaface_state_dict(read_checkpoint(path), path), Path(path))


def load_arcface_checkpoint(path: str | os.PathLike, model: nn.Module) -> None:
    """Load an arcface_torch backbone (`.pth` state dict, or safetensors) into `model`, strictly."""
    content = read_checkpoint(path)
    _check_and_load(model, _tensor_mapping(content, Path(path), "a state dict (names → tensors)"), Path(path))
