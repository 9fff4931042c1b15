"""Frozen face encoders and attribute predictors, by name: what ID³ conditions on and measures with.

`load_identity_encoder(spec)` turns a config's `encoder` section (JSON) into an
`IdentityEncoder`: images in [-1, 1] → unit embeddings, differentiable with respect to the
images, so that the ID loss and the guided sampler can back-propagate through it.
`AttributePredictor` gives the attributes s (age, yaw, pitch, roll), `FaceFinder` the faces and
68 landmarks in raw photos, `warp_to_framing` the aligned crops. See docs/encoders.md.
"""
from ..data.attributes import ATTRIBUTE_NAMES
from .attributes import AttributePredictor
from .base import IdentityEncoder, embed_images, refuse_equal_encoders
from .faces import FaceFinder, FoundFace
from .framing import FRAMINGS, conversion, warp_to_framing
from .registry import ENCODER_KINDS, load_identity_encoder

__all__ = ["ATTRIBUTE_NAMES", "AttributePredictor", "ENCODER_KINDS", "FRAMINGS", "FaceFinder", "FoundFace",
           "IdentityEncoder", "conversion", "embed_images", "load_identity_encoder", "refuse_equal_encoders",
           "warp_to_framing"]
