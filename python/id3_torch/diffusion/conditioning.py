"""The condition c = MLP([y ; s]) of ID³: an identity embedding and face attributes → one 768-d vector.

    y: (B, d) unit identity embedding f(x0);  s: (B, 4) age (years), yaw, pitch, roll (degrees)
    c = W3 ReLU(W2 ReLU(W1 [y ; ŝ]))  with hidden sizes (512, 256) and output 768 [paper],
    ŝ = s normalised to about [-1, 1] by the paper's ranges (age [0, 100], pose [-90°, 90°]).

Condition dropout [ours]: rows marked `drop` get a learned null token instead of c, which trains the
unconditional model that classifier-free guidance needs. Attribute dropout [ours]: rows marked `drop_attributes`
keep y but read ŝ = UNKNOWN_ATTRIBUTES, a point no real attribute maps to, which trains ε_θ(x_t, t, y, ∅): what
classifier-free guidance on the attributes alone needs (sampler.py).
"""
from __future__ import annotations

import torch
from torch import nn

from ..data.attributes import ATTRIBUTE_NAMES
from ..evaluation.synthetic import identity_centres

# [paper] age in [0, 100] years, pose in [-90°, 90°]: mapped linearly onto [-1, 1].
ATTRIBUTE_RANGES = {"age": (0.0, 100.0), "yaw": (-90.0, 90.0), "pitch": (-90.0, 90.0), "roll": (-90.0, 90.0)}
# [ours] ŝ of "attributes unknown": outside [-1, 1] on every axis, so the MLP can tell it from any real s.
UNKNOWN_ATTRIBUTES = -2.0


class ConditionEncoder(nn.Module):
    def __init__(self, embedding_size: int, *, hidden: tuple[int, int] = (512, 256), output: int = 768) -> None:
        super().__init__()
        self.embedding_size, self.output_size = embedding_size, output
        low = torch.tensor([ATTRIBUTE_RANGES[n][0] for n in ATTRIBUTE_NAMES])
        high = torch.tensor([ATTRIBUTE_RANGES[n][1] for n in ATTRIBUTE_NAMES])
        self.register_buffer("attribute_centre", (low + high) / 2, persistent=False)
        self.register_buffer("attribute_half_range", (high - low) / 2, persistent=False)
        self.mlp = nn.Sequential(
            nn.Linear(embedding_size + len(ATTRIBUTE_NAMES), hidden[0]), nn.ReLU(),
            nn.Linear(hidden[0], hidden[1]), nn.ReLU(),
            nn.Linear(hidden[1], output),
        )
        self.null_token = nn.Parameter(torch.zeros(output))

    def normalise_attributes(self, s: torch.Tensor) -> torch.Tensor:
        """(B, 4) years/degrees → ŝ in about [-1, 1]."""
        return (s - self.attribute_centre) / self.attribute_half_range

    def forward(self, y: torch.Tensor, s: torch.Tensor, drop: torch.Tensor | None = None,
                drop_attributes: torch.Tensor | None = None) -> torch.Tensor:
        """(B, d), (B, 4) [, (B,) bool, (B,) bool] → c (B, 768); rows with drop=True are the null token, rows with
        drop_attributes=True are c of y with the attributes unknown."""
        if y.shape[-1] != self.embedding_size or s.shape[-1] != len(ATTRIBUTE_NAMES) or len(y) != len(s):
            raise ValueError(f"expected y (B, {self.embedding_size}) and s (B, {len(ATTRIBUTE_NAMES)}: "
                             f"{', '.join(ATTRIBUTE_NAMES)}), got {tuple(y.shape)} and {tuple(s.shape)}")
        s_hat = self.normalise_attributes(s)
        if drop_attributes is not None:
            s_hat = torch.where(drop_attributes[:, None], torch.full_like(s_hat, UNKNOWN_ATTRIBUTES), s_hat)
        c = self.mlp(torch.cat([y, s_hat], dim=-1))
        if drop is None:
            return c
        # torch.where keeps the null token in the graph even when no row drops: DDP sees every parameter used.
        return torch.where(drop[:, None], self.null_token.to(c.dtype).expand_as(c), c)


IDENTITY_CONDITIONS = ("image", "centre")


def identity_conditions(embeddings: torch.Tensor, labels: torch.Tensor, mode: str) -> torch.Tensor:
    """y of every image, from its f(x) (N, d) and identity label (N,):
        image  [paper]  y_ij = f(x_ij)
        centre [ours]   y_ij = normalise(Σ_k f(x_ik)): one y per identity, the same for all its images.
    f(x) also carries the image's pose (docs/diffusion.md, "The identity condition"); the centre averages it away, so
    that the pose the model draws has to come from s, as it must when y is an anchor at generation."""
    if mode not in IDENTITY_CONDITIONS:
        raise ValueError(f"diffusion.conditioning.identity: expected one of {', '.join(IDENTITY_CONDITIONS)}, got {mode!r}")
    if mode == "image":
        return embeddings
    return identity_centres(embeddings, labels, int(labels.max()) + 1)[labels]
