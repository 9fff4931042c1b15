"""What the Python side is: versions, devices, its own process."""
import importlib.metadata
import os
import platform
import sys

import torch

_PACKAGES = ("torch", "numpy", "pillow", "safetensors")


def ping() -> str:
    return "pong"


def info() -> dict:
    gpus = [
        {"index": i, "name": torch.cuda.get_device_name(i),
         "memoryGiB": round(torch.cuda.get_device_properties(i).total_memory / 2**30, 1)}
        for i in range(torch.cuda.device_count())
    ] if torch.cuda.is_available() else []
    return {
        "pid": os.getpid(),
        "python": platform.python_version(),
        "executable": sys.executable,
        "packages": {name: _version(name) for name in _PACKAGES},
        "torchCuda": torch.version.cuda,
        "cudaAvailable": torch.cuda.is_available(),
        "gpus": gpus,
        "torchThreads": torch.get_num_threads(),
    }


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None
