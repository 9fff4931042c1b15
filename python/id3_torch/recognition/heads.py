"""Margin-softmax heads for face-recognition training: ArcFace, CosFace, combined margin, AdaFace.

Every head holds the class centres W (num_classes, embedding_size) and computes
cos θ_j = <x/|x|, W_j/|W_j|> for each class j; only the target class's cosine gets a margin, then
all logits are scaled by s and fed to softmax cross-entropy.

ArcFace's margin pushes θ_y + m past π for samples far from their centre, where cos(θ_y + m)
would rise again and reward being farther away. We use arcface_torch's first "threshold" rule
(its `easy_margin = False` branch): past that point the target logit is cos θ_y - m·sin m, a
penalty that keeps falling with θ_y. (arcface_torch's later CombinedMarginLoss drops the rule and
lets the cosine wrap; the rule changes nothing for θ_y < π - m, where training spends its time.)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn


class MarginHeadOutput(NamedTuple):
    loss: torch.Tensor  # () mean softmax cross-entropy over the batch
    logits: torch.Tensor  # (B, C) s * cosines, with the margin on each target


class MarginHead(nn.Module):
    """Class centres W and the shared cosine / scale / cross-entropy steps; subclasses set the margin."""

    # Cosines are clamped to [-1 + eps, 1 - eps] so that arccos keeps a finite gradient.
    cosine_eps: float = 1e-6

    def __init__(self, num_classes: int, embedding_size: int, *, s: float) -> None:
        super().__init__()
        self.s = s
        # arcface_torch's PartialFC init; the scale is irrelevant since rows are normalised.
        self.weight = nn.Parameter(torch.normal(0.0, 0.01, (num_classes, embedding_size)))

    def target_cosine(self, cos_theta_y: torch.Tensor, norms: torch.Tensor) -> torch.Tensor:
        """Margin-adjusted target cosine (B,) from cos θ_y (B,) and embedding norms |x| (B,)."""
        raise NotImplementedError

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> MarginHeadOutput:
        num_classes, embedding_size = self.weight.shape
        if embeddings.ndim != 2 or embeddings.shape[1] != embedding_size:
            raise ValueError(
                f"{type(self).__name__}: expected embeddings of shape (B, {embedding_size}), "
                f"got {tuple(embeddings.shape)}"
            )
        if labels.shape != embeddings.shape[:1] or labels.dtype != torch.int64:
            raise ValueError(
                f"{type(self).__name__}: expected int64 labels of shape ({embeddings.shape[0]},), "
                f"got {labels.dtype} {tuple(labels.shape)}"
            )
        # Checked on the CPU only: on CUDA it would cost a host sync every step, and cross_entropy
        # stops out-of-range labels there with a device-side assert anyway.
        if not labels.is_cuda and labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"{type(self).__name__}: labels must lie in [0, {num_classes}), got {labels.tolist()}")
        norms = embeddings.norm(dim=1)  # (B,)
        cos_theta = F.linear(F.normalize(embeddings), F.normalize(self.weight))  # (B, C)
        cos_theta = cos_theta.clamp(-1.0 + self.cosine_eps, 1.0 - self.cosine_eps)
        target = labels[:, None]  # (B, 1)
        cos_theta_y = cos_theta.gather(1, target).squeeze(1)  # (B,)
        margin_cos = cos_theta.scatter(1, target, self.target_cosine(cos_theta_y, norms)[:, None])  # (B, C)
        logits = self.s * margin_cos
        return MarginHeadOutput(F.cross_entropy(logits, labels), logits)


class CombinedMarginHead(MarginHead):
    """Combined margin (insightface): target logit cos(θ_y + m_angular) - m_additive.

    insightface's combined form also has a multiplicative SphereFace margin m1 (cos(m1·θ + m2) - m3);
    arcface_torch only trains with m1 = 1, so it is left out.
    """

    def __init__(
        self, num_classes: int, embedding_size: int, *, s: float = 64.0, m_angular: float, m_additive: float
    ) -> None:
        super().__init__(num_classes, embedding_size, s=s)
        self.m_angular = m_angular
        self.m_additive = m_additive

    def target_cosine(self, cos_theta_y: torch.Tensor, norms: torch.Tensor) -> torch.Tensor:
        theta_y = torch.acos(cos_theta_y)
        with_margin = torch.cos(theta_y + self.m_angular)
        # Threshold rule (module docstring): past θ_y + m = π, a linear penalty instead of the wrap.
        past_pi = cos_theta_y - self.m_angular * math.sin(self.m_angular)
        return torch.where(theta_y + self.m_angular <= math.pi, with_margin, past_pi) - self.m_additive


class ArcFaceHead(CombinedMarginHead):
    """ArcFace (Deng et al. 2019): additive angular margin, target logit s·cos(θ_y + m)."""

    def __init__(self, num_classes: int, embedding_size: int, *, s: float = 64.0, m: float = 0.5) -> None:
        super().__init__(num_classes, embedding_size, s=s, m_angular=m, m_additive=0.0)


class CosFaceHead(CombinedMarginHead):
    """CosFace (Wang et al. 2018): additive cosine margin, target logit s·(cos θ_y - m)."""

    def __init__(self, num_classes: int, embedding_size: int, *, s: float = 64.0, m: float = 0.4) -> None:
        super().__init__(num_classes, embedding_size, s=s, m_angular=0.0, m_additive=m)


class AdaFaceHead(MarginHead):
    """AdaFace (Kim et al., CVPR 2022): the margin adapts to image quality, proxied by |x|.

    ẑ = clip(h·(|x| - μ)/(σ + eps), -1, 1) with μ, σ EMAs (rate t_alpha) of the batch mean and std
    of |x|; target logit s·(cos(clip(θ_y + g_angle, eps, π - eps)) - g_add) with g_angle = -m·ẑ and
    g_add = m·ẑ + m. High-norm (easy) samples get an angular margin, low-norm ones a cosine margin.
    Constants follow the authors' code: eps = 1e-3 (also the cosine clamp), |x| clipped to
    [0.001, 100] and detached, μ starts at 20 and σ at 100, σ is the unbiased batch std, and the
    EMA is updated before ẑ is computed. Unlike that code, the statistics only move in training mode.
    """

    cosine_eps = 1e-3

    def __init__(
        self,
        num_classes: int,
        embedding_size: int,
        *,
        s: float = 64.0,
        m: float = 0.4,
        h: float = 0.333,
        t_alpha: float = 0.01,
    ) -> None:
        super().__init__(num_classes, embedding_size, s=s)
        self.m = m
        self.h = h
        self.t_alpha = t_alpha
        self.register_buffer("batch_mean", torch.tensor(20.0))
        self.register_buffer("batch_std", torch.tensor(100.0))

    def target_cosine(self, cos_theta_y: torch.Tensor, norms: torch.Tensor) -> torch.Tensor:
        eps = self.cosine_eps
        safe_norms = norms.detach().clamp(0.001, 100.0)  # (B,)
        if self.training:
            if safe_norms.numel() < 2:
                raise ValueError(
                    f"AdaFaceHead: a training batch needs at least 2 samples for the norm std, got {safe_norms.numel()}"
                )
            # EMA of the batch statistics: μ <- α·mean + (1 - α)·μ, likewise σ.
            self.batch_mean.mul_(1.0 - self.t_alpha).add_(self.t_alpha * safe_norms.mean())
            self.batch_std.mul_(1.0 - self.t_alpha).add_(self.t_alpha * safe_norms.std())
        z_hat = (self.h * (safe_norms - self.batch_mean) / (self.batch_std + eps)).clamp(-1.0, 1.0)  # (B,)
        g_angle = -self.m * z_hat
        g_add = self.m * z_hat + self.m
        theta_y = torch.acos(cos_theta_y)
        return torch.cos((theta_y + g_angle).clamp(eps, math.pi - eps)) - g_add
