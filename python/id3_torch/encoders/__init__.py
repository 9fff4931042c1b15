"""Frozen face encoders and attribute predictors, by name: what ID³ conditions on and measures with.

`load_identity_encoder(spec)` turns a config's `encoder` section (JSON) into an
`IdentityEncoder`: images in [-1, 1] → unit embeddings, differentiable with respect to the
images, so that the ID loss and the guided sampler can back-propagate through it.
"""
from .base import IdentityEncoder, embed_images
from .registry import ENCODER_KINDS, load_identity_encoder

__all__ = ["IdentityEncoder", "embed_images", "ENCODER_KINDS", "load_identity_encoder"]
