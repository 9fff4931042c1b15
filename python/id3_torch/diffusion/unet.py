"""The pixel-space U-Net ε_θ(x_t, t, c) of ID³.

Residual blocks (GroupNorm, SiLU, 3×3 convolutions) whose normalised activations are scaled and
shifted by the embedding e = MLP(sinusoid(t)) + W c; at the configured resolutions, self-attention
over the feature map and cross-attention from it to the condition tokens (both through
`scaled_dot_product_attention`). How c enters is [ours] (docs/method.md): through e in
every residual block, and as the key/value tokens of cross-attention, c (768) split into
`condition_tokens` tokens with learned position embeddings. An optional space-to-depth stem
(`patch_size`, as in "simple diffusion") runs the first level at R/p a side: how a CPU trains
32-px faces in minutes. Optional extra input channels (the pose map, pose_map.py) are read beside x_t.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class UNetConfig:
    resolution: int  # image side in pixels, 32 to 128
    patch_size: int = 1  # pixels folded into channels before the first level (space-to-depth); 1 = none
    channels: int = 64  # width of the first level
    channel_mults: tuple[int, ...] = (1, 2, 2, 2)  # width of each level = channels × mult; one level per entry
    res_blocks: int = 2  # residual blocks per level (down path; the up path has one more)
    attention_resolutions: tuple[int, ...] = (16,)  # feature-map sides with self- and cross-attention
    head_channels: int = 32  # channels per attention head
    dropout: float = 0.0  # inside residual blocks
    condition_size: int = 768  # c
    condition_tokens: int = 4  # c split into this many cross-attention tokens
    extra_input_channels: int = 0  # channels read beside x_t (the pose map), none in the output
    image_channels: int = 3  # channels of x_t and ε: an image's 3, or a latent's

    def __post_init__(self) -> None:
        problems = []
        if not 8 <= self.resolution <= 512:
            problems.append(f"resolution {self.resolution} (expected 8 to 512)")
        if self.resolution % (self.patch_size * 2 ** (len(self.channel_mults) - 1)):
            problems.append(f"resolution {self.resolution} not divisible by patch_size {self.patch_size} × "
                            f"2^{len(self.channel_mults) - 1} (one halving per level)")
        if self.channels < self.image_channels * self.patch_size**2:
            problems.append(f"channels {self.channels} < image_channels × patch_size² = "
                            f"{self.image_channels * self.patch_size**2} "
                            "(the first level must carry every pixel of a patch, or ε cannot be predicted)")
        for mult in self.channel_mults:
            width = self.channels * mult
            if width % self.head_channels:
                problems.append(f"level width {width} (expected a multiple of head_channels {self.head_channels})")
        if self.condition_size % self.condition_tokens:
            problems.append(f"condition_size {self.condition_size} not divisible by condition_tokens {self.condition_tokens}")
        if problems:
            raise ValueError("diffusion.model: " + "; ".join(problems))

    def to_json(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @staticmethod
    def from_json(d: dict) -> "UNetConfig":
        return UNetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def timestep_sinusoid(t: torch.Tensor, dim: int) -> torch.Tensor:
    """(B,) timesteps → (B, dim) [cos | sin] at geometric frequencies 1 … 1/10000 (Transformer / DDPM)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float()[:, None] * freqs[None]  # (B, half)
    return torch.cat([angles.cos(), angles.sin()], dim=-1)


def _norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with 32 groups where the width allows (any width: the largest divisor of 32 that fits)."""
    return nn.GroupNorm(math.gcd(32, channels), channels)


def _zero(module: nn.Module) -> nn.Module:
    """Zero-initialised output layers: each residual branch starts as the identity (improved DDPM)."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    """h = conv(SiLU(GN(x))); h = GN(h)·(1 + scale(e)) + shift(e); out = skip(x) + conv(dropout(SiLU(h)))."""

    def __init__(self, in_channels: int, out_channels: int, embedding_size: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.conv1 = _norm(in_channels), nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.scale_shift = nn.Linear(embedding_size, 2 * out_channels)
        self.norm2, self.dropout = _norm(out_channels), nn.Dropout(dropout)
        self.conv2 = _zero(nn.Conv2d(out_channels, out_channels, 3, padding=1))
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.scale_shift(F.silu(e))[:, :, None, None].chunk(2, dim=1)  # (B, C, 1, 1) each
        h = self.norm2(h) * (1 + scale) + shift
        return self.skip(x) + self.conv2(self.dropout(F.silu(h)))


class AttentionBlock(nn.Module):
    """Self-attention over the H·W positions, then cross-attention from them to the condition tokens."""

    def __init__(self, channels: int, head_channels: int, token_size: int) -> None:
        super().__init__()
        self.heads = channels // head_channels
        self.norm_self, self.qkv = _norm(channels), nn.Linear(channels, 3 * channels)
        self.out_self = _zero(nn.Linear(channels, channels))
        self.norm_cross, self.q = _norm(channels), nn.Linear(channels, channels)
        self.kv = nn.Linear(token_size, 2 * channels)
        self.out_cross = _zero(nn.Linear(channels, channels))

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        return x.view(b, n, self.heads, c // self.heads).transpose(1, 2)  # (B, heads, N, C/heads)

    def _merge(self, x: torch.Tensor) -> torch.Tensor:
        b, h, n, d = x.shape
        return x.transpose(1, 2).reshape(b, n, h * d)  # (B, N, C)

    def forward(self, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        b, c, height, width = x.shape
        h = self.norm_self(x).flatten(2).transpose(1, 2)  # (B, HW, C)
        q, k, v = self.qkv(h).chunk(3, dim=-1)
        h = self._merge(F.scaled_dot_product_attention(self._heads(q), self._heads(k), self._heads(v)))
        x = x + self.out_self(h).transpose(1, 2).reshape(b, c, height, width)
        h = self.norm_cross(x).flatten(2).transpose(1, 2)  # (B, HW, C)
        k, v = self.kv(tokens).chunk(2, dim=-1)  # (B, tokens, C) each
        h = self._merge(F.scaled_dot_product_attention(self._heads(self.q(h)), self._heads(k), self._heads(v)))
        return x + self.out_cross(h).transpose(1, 2).reshape(b, c, height, width)


class _Level(nn.Module):
    """The residual blocks of one resolution (each followed by attention where configured)."""

    def __init__(self, blocks: list[ResBlock], attention: list[AttentionBlock | None]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.attention = nn.ModuleList([a if a is not None else nn.Identity() for a in attention])
        self.has_attention = [a is not None for a in attention]


class UNet(nn.Module):
    """ε_θ(x_t, t, c): (B, C, R, R) noisy images (C = image_channels), (B,) timesteps, (B, 768) conditions →
    (B, C, R, R) noise."""

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = cfg = config
        embedding_size = 4 * cfg.channels
        token_size = cfg.condition_size // cfg.condition_tokens
        self.time_mlp = nn.Sequential(nn.Linear(cfg.channels, embedding_size), nn.SiLU(),
                                      nn.Linear(embedding_size, embedding_size))
        self.condition_proj = nn.Linear(cfg.condition_size, embedding_size)
        self.token_position = nn.Parameter(torch.randn(cfg.condition_tokens, token_size) * 0.02)
        patch_channels = cfg.image_channels * cfg.patch_size**2
        self.conv_in = nn.Conv2d((cfg.image_channels + cfg.extra_input_channels) * cfg.patch_size**2, cfg.channels, 3,
                                 padding=1)

        def attention(width: int, side: int) -> AttentionBlock | None:
            return AttentionBlock(width, cfg.head_channels, token_size) if side in cfg.attention_resolutions else None

        widths = [cfg.channels * m for m in cfg.channel_mults]
        skips = [cfg.channels]  # channels of every activation the up path concatenates, in order
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        width, side = cfg.channels, cfg.resolution // cfg.patch_size
        for level, out_width in enumerate(widths):
            blocks, attn = [], []
            for _ in range(cfg.res_blocks):
                blocks.append(ResBlock(width, out_width, embedding_size, cfg.dropout))
                attn.append(attention(out_width, side))
                width = out_width
                skips.append(width)
            self.down.append(_Level(blocks, attn))
            last = level == len(widths) - 1
            self.downsample.append(nn.Identity() if last else nn.Conv2d(width, width, 3, stride=2, padding=1))
            if not last:
                skips.append(width)
                side //= 2
        self.middle = _Level([ResBlock(width, width, embedding_size, cfg.dropout),
                              ResBlock(width, width, embedding_size, cfg.dropout)],
                             [attention(width, side), None])
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for level, out_width in reversed(list(enumerate(widths))):
            blocks, attn = [], []
            for _ in range(cfg.res_blocks + 1):
                blocks.append(ResBlock(width + skips.pop(), out_width, embedding_size, cfg.dropout))
                attn.append(attention(out_width, side))
                width = out_width
            self.up.append(_Level(blocks, attn))
            first = level == 0
            self.upsample.append(nn.Identity() if first else nn.Conv2d(width, width, 3, padding=1))
            if not first:
                side *= 2
        self.norm_out = _norm(width)
        self.conv_out = _zero(nn.Conv2d(width, patch_channels, 3, padding=1))

    @staticmethod
    def _run(level: _Level, h: torch.Tensor, e: torch.Tensor, tokens: torch.Tensor, index: int) -> torch.Tensor:
        h = level.blocks[index](h, e)
        return level.attention[index](h, tokens) if level.has_attention[index] else h

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, c: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        """`extra`: (B, extra_input_channels, R, R) read beside x_t (the pose map), or None when there are none."""
        cfg = self.config
        if (extra is None) != (cfg.extra_input_channels == 0):
            raise ValueError(f"the U-Net reads {cfg.extra_input_channels} extra input channels, got "
                             f"{'none' if extra is None else tuple(extra.shape)}")
        if extra is not None:
            x_t = torch.cat([x_t, extra.to(x_t.dtype)], dim=1)
        e = self.time_mlp(timestep_sinusoid(t, cfg.channels)) + self.condition_proj(c)  # (B, 4·channels)
        tokens = c.view(len(c), cfg.condition_tokens, -1) + self.token_position  # (B, tokens, 768 / tokens)
        h = self.conv_in(F.pixel_unshuffle(x_t, cfg.patch_size) if cfg.patch_size > 1 else x_t)
        skips = [h]
        for level, down in zip(self.down, self.downsample):
            for i in range(len(level.blocks)):
                h = self._run(level, h, e, tokens, i)
                skips.append(h)
            if not isinstance(down, nn.Identity):
                h = down(h)
                skips.append(h)
        for i in range(2):
            h = self._run(self.middle, h, e, tokens, i)
        for level, up in zip(self.up, self.upsample):
            for i in range(len(level.blocks)):
                h = self._run(level, torch.cat([h, skips.pop()], dim=1), e, tokens, i)
            if not isinstance(up, nn.Identity):
                h = up(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        out = self.conv_out(F.silu(self.norm_out(h)))
        return F.pixel_shuffle(out, cfg.patch_size) if cfg.patch_size > 1 else out
