"""When to train in bf16 autocast: the config's `auto | bf16 | off`, and what `auto` means on this machine."""
from __future__ import annotations

import torch

AUTOCAST_SETTINGS = ("auto", "bf16", "off")


def cpu_has_native_bf16() -> bool:
    """AMX tiles or AVX-512 BF16. Without them bf16 is emulated: a conv + GroupNorm stack ran 15–20× slower
    under CPU autocast than in float32 on an AVX2-only EPYC, and 1.7× faster on a CPU with AMX (docs/diffusion.md)."""
    cpu = torch.cpu
    return any(getattr(cpu, probe, lambda: False)() for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"))


def use_bf16_autocast(setting: str, device: torch.device) -> bool:
    """`auto`: on CUDA, and on CPUs with native bf16; `bf16`: always; `off`: never (float32)."""
    if setting not in AUTOCAST_SETTINGS:
        raise ValueError(f"autocast: expected one of {', '.join(AUTOCAST_SETTINGS)}, got {setting!r}")
    if setting == "auto":
        return device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16())
    return setting == "bf16"
