"""When the trainers autocast to bf16: `auto` only where bf16 is native (it is emulated, and many times slower, elsewhere)."""
import pytest
import torch

from id3_torch.training.precision import cpu_has_native_bf16, use_bf16_autocast


def test_auto_follows_the_cpu_and_the_explicit_settings_do_not():
    cpu = torch.device("cpu")
    assert use_bf16_autocast("auto", cpu) is cpu_has_native_bf16()
    assert use_bf16_autocast("auto", torch.device("cuda")) is True
    assert use_bf16_autocast("bf16", cpu) is True and use_bf16_autocast("off", torch.device("cuda")) is False
    with pytest.raises(ValueError, match="autocast: expected one of auto, bf16, off, got 'fp16'"):
        use_bf16_autocast("fp16", cpu)


def test_native_bf16_is_what_the_cpu_reports():
    flags = open("/proc/cpuinfo").read().split()
    assert cpu_has_native_bf16() is (("amx_tile" in flags) or ("avx512_bf16" in flags))
