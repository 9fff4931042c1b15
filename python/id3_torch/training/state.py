"""A training run's whole state in one safetensors file: what exact resume needs, no pickle.

Tensors (module weights and buffers, optimiser moments, generator states) go in the tensor
table under "<module>/<name>", "optimizer/<param index>/<key>" and "generator/<name>"; everything
else (step, optimiser hyper-parameters, the caller's extras) goes in the JSON metadata. Written
to a temporary name and renamed, so a kill never leaves a checkpoint that looks whole but is not.
"""
from __future__ import annotations

import json
from typing import Any

import torch

from ..recognition.checkpoints import read_safetensors, write_safetensors

_META_KEY = "id3.training_state"


def save_training_state(path: str, *, step: int, modules: dict[str, torch.nn.Module],
                        optimizer: torch.optim.Optimizer, generators: dict[str, torch.Generator] | None = None,
                        extra: dict[str, Any] | None = None) -> None:
    tensors: dict[str, torch.Tensor] = {}
    for module_name, module in modules.items():
        for key, value in module.state_dict().items():
            tensors[f"{module_name}/{key}"] = value.detach().cpu().contiguous()
    optimizer_state = optimizer.state_dict()
    optimizer_scalars: dict[str, Any] = {}
    for index, state in optimizer_state["state"].items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer/{index}/{key}"] = value.detach().cpu().contiguous()
            else:
                optimizer_scalars[f"{index}/{key}"] = value
    for name, generator in (generators or {}).items():
        tensors[f"generator/{name}"] = generator.get_state()
    metadata = {"step": step, "param_groups": optimizer_state["param_groups"],
                "optimizer_scalars": optimizer_scalars, "extra": extra or {}}
    write_safetensors(path, tensors, metadata={_META_KEY: json.dumps(metadata)})


def load_training_state(path: str, *, modules: dict[str, torch.nn.Module], optimizer: torch.optim.Optimizer,
                        generators: dict[str, torch.Generator] | None = None) -> dict[str, Any]:
    """Restore everything `save_training_state` wrote, in place; returns {"step", "extra"}."""
    tensors, file_metadata = read_safetensors(path)
    metadata = json.loads(file_metadata[_META_KEY])
    for module_name, module in modules.items():
        prefix = f"{module_name}/"
        module.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}, strict=True)
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer/"):
            _, index, name = key.split("/", 2)
            state.setdefault(int(index), {})[name] = value
    for key, value in metadata["optimizer_scalars"].items():
        index, name = key.split("/", 1)
        state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": metadata["param_groups"]})
    for name, generator in (generators or {}).items():
        generator.set_state(tensors[f"generator/{name}"])
    return {"step": metadata["step"], "extra": metadata["extra"]}
