"""Parametric face set: faces rendered in torch from hidden identity vectors, with known ground truth.

No installable package ships a face dataset big enough to train a generator, so CPU-scale runs use
faces drawn here. Identity is carried by the geometry and colours of face parts (head shape, skin
tone, hair colour/style, eye spacing/size/iris colour, brows, nose, mouth, ears, beard, glasses, a
mole), drawn on a sphere-mapped head so that the cues stay consistent under pose. Every image also
gets large nuisances (pose, expression, age, illumination, background, clothes, framing, blur,
noise) so that raw pixels do not separate identities.

Determinism contract: every random number belongs to one image (seed, identity, image index) and is
derived from an integer hash, or from a torch.Generator seeded by that hash, so an image has the same
bytes alone or inside any batch. To keep that true, pixel maths avoids everything whose result can
depend on batch layout: transcendental functions on tensors (vectorised and scalar paths may differ
in the last bit), fused kernels (lerp/addcmul may use FMA), matmul/conv (algorithm choice depends on
shape) and division by per-image tensors (a broadcast divisor that is a single element turns into a
multiplication by its reciprocal). Per-image trigonometry runs in Python `math` instead.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from .attributes import ATTRIBUTE_NAMES  # noqa: F401 (the renderer's attribute columns, re-exported)


@dataclasses.dataclass(frozen=True)
class NuisanceRanges:
    """Per-image nuisance ranges, sampled uniformly (mouth_open is skewed towards closed)."""

    age: tuple[float, float] = (18.0, 80.0)  # years
    yaw: tuple[float, float] = (-45.0, 45.0)  # degrees, + turns the face towards image right
    pitch: tuple[float, float] = (-20.0, 20.0)  # degrees, + looks up
    roll: tuple[float, float] = (-15.0, 15.0)  # degrees, + rotates the face counter-clockwise
    smile: tuple[float, float] = (-0.6, 1.0)  # mouth-corner curvature, - frown, + smile
    mouth_open: tuple[float, float] = (0.0, 1.0)
    eye_open: tuple[float, float] = (0.3, 1.0)
    brow_raise: tuple[float, float] = (-1.0, 1.0)
    light_strength: tuple[float, float] = (0.0, 0.7)  # 0 = flat ambient light
    brightness: tuple[float, float] = (0.75, 1.2)
    contrast: tuple[float, float] = (0.75, 1.25)
    white_balance: tuple[float, float] = (0.92, 1.08)  # per-channel gain
    scale: tuple[float, float] = (0.85, 1.1)  # head size relative to the frame
    shift: tuple[float, float] = (-0.08, 0.08)  # head centre offset, fraction of the half-frame
    blur_sigma: tuple[float, float] = (0.0, 0.012)  # Gaussian sigma, fraction of the image width
    noise_std: tuple[float, float] = (0.0, 0.05)  # pixel noise, fraction of full scale


# Hidden identity vector: one uniform (0, 1) number per field, mapped to a trait by `_face_traits`.
IDENTITY_FIELDS = (
    "head_width", "head_height", "jaw", "skin_tone", "skin_red",
    "hair_colour", "hair_shade", "hair_style", "hairline", "hairline_curve", "hair_part",
    "eye_spacing", "eye_height", "eye_size", "eye_aspect", "iris_colour",
    "brow_thickness", "brow_tilt", "brow_arch", "brow_gap",
    "nose_length", "nose_width", "nose_protrusion",
    "mouth_width", "mouth_height", "lip_thickness", "lip_colour",
    "ear_size", "ear_height", "beard", "glasses", "glasses_colour",
    "mole_x", "mole_y", "mole_presence", "greying_onset",
)  # fmt: skip
P_ID = len(IDENTITY_FIELDS)

# Per-image scalar nuisances: name -> NuisanceRanges field giving its range (None: fixed range below).
_SCALAR_NUISANCES = {
    "age": "age", "yaw": "yaw", "pitch": "pitch", "roll": "roll",
    "smile": "smile", "mouth_open": "mouth_open", "eye_open": "eye_open", "brow_raise": "brow_raise",
    "gaze_x": None, "gaze_y": None, "light_azimuth": None, "light_elevation": None,
    "light_strength": "light_strength", "brightness": "brightness", "contrast": "contrast",
    "scale": "scale", "shift_x": "shift", "shift_y": "shift",
    "background_angle": None, "clutter_x": None, "clutter_y": None, "clutter_radius": None,
    "blur_sigma": "blur_sigma", "noise_std": "noise_std",
}  # fmt: skip
_FIXED_RANGES = {
    "gaze_x": (-1.0, 1.0), "gaze_y": (-1.0, 1.0),
    "light_azimuth": (-80.0, 80.0), "light_elevation": (-30.0, 60.0),  # degrees, light from the front
    "background_angle": (0.0, 360.0), "clutter_x": (-1.0, 1.0), "clutter_y": (-1.0, 1.0),
    "clutter_radius": (0.15, 0.55),
}  # fmt: skip
# Per-image colour nuisances, (N, 3) each, uniform in [0, 1) unless white balance.
_COLOUR_NUISANCES = ("white_balance", "background_a", "background_b", "clutter_colour", "clothes")

_IDENTITY_STREAM = 0x1D
_IMAGE_STREAM = 0x1A
_NOISE_STREAM = 0x2B
_MASK32 = 0xFFFFFFFF


# ----------------------------------------------------------------------------------------------
# Counter-based randomness: a pure function of integer keys, so batching cannot change it.


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    """(x * c) mod 2**32 for x in [0, 2**32), split in 16-bit halves so int64 never overflows."""
    low = (x & 0xFFFF) * c
    high = ((x >> 16) * c) & 0xFFFF
    return (low + (high << 16)) & _MASK32


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """Avalanching 32-bit integer hash (lowbias32 constants)."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def _hash(*keys: torch.Tensor | int) -> torch.Tensor:
    """Hash broadcastable int64 keys (any 64-bit value) into uint32 values stored as int64."""
    h = torch.tensor(0x2545F491, dtype=torch.int64)
    for key in keys:
        key = torch.as_tensor(key, dtype=torch.int64)
        for word in (key & _MASK32, (key >> 32) & _MASK32):
            h = _mix32(((h ^ word) + 0x9E3779B9) & _MASK32)
    return h


def _uniform(bits: torch.Tensor) -> torch.Tensor:
    """uint32 hash -> float32 uniform in (0, 1) from its top 24 bits (exact in float32)."""
    return ((bits >> 8).to(torch.float32) + 0.5) * (1.0 / (1 << 24))


def identity_params(seed: int, identities: torch.Tensor) -> torch.Tensor:
    """(N,) int64 identity indices -> (N, P_ID) float32 hidden identity vectors in (0, 1).

    Depends only on (seed, index).
    """
    identities = identities.to(torch.int64).view(-1, 1)
    fields = torch.arange(P_ID, dtype=torch.int64).view(1, -1)
    return _uniform(_hash(seed, _IDENTITY_STREAM, identities, fields))  # (N, P_ID)


def image_params(
    seed: int, identities: torch.Tensor, image_indices: torch.Tensor, ranges: NuisanceRanges
) -> dict[str, torch.Tensor]:
    """Per-image nuisances for images (identity i, k-th image); each value (N,) or (N, 3).

    Scalars are in natural units (years, degrees, fractions); colours are (N, 3) in [0, 1];
    'noise_seed' is an int64 seed for the pixel noise. Depends only on (seed, identity, image index).
    """
    identities = identities.to(torch.int64).view(-1, 1)
    image_indices = image_indices.to(torch.int64).view(-1, 1)
    width = len(_SCALAR_NUISANCES) + 3 * len(_COLOUR_NUISANCES)
    columns = torch.arange(width, dtype=torch.int64).view(1, -1)
    u = _uniform(_hash(seed, _IMAGE_STREAM, identities, image_indices, columns))  # (N, width)

    nuisance = {}
    for column, (name, range_field) in enumerate(_SCALAR_NUISANCES.items()):
        low, high = getattr(ranges, range_field) if range_field else _FIXED_RANGES[name]
        draw = u[:, column] * u[:, column] if name == "mouth_open" else u[:, column]  # mostly closed
        nuisance[name] = low + (high - low) * draw
    for offset, name in enumerate(_COLOUR_NUISANCES):
        start = len(_SCALAR_NUISANCES) + 3 * offset
        colour = u[:, start : start + 3]
        if name == "white_balance":
            low, high = ranges.white_balance
            colour = low + (high - low) * colour
        nuisance[name] = colour
    nuisance["noise_seed"] = _hash(seed, _NOISE_STREAM, identities, image_indices).view(-1)
    return nuisance


# ----------------------------------------------------------------------------------------------
# Identity traits: hidden uniforms -> physical face parameters.

_SKIN_RAMP = torch.tensor(
    [[0.30, 0.19, 0.13], [0.52, 0.35, 0.24], [0.74, 0.55, 0.42], [0.90, 0.74, 0.63], [0.98, 0.86, 0.79]]
)
_HAIR_PALETTE = torch.tensor(
    [
        [0.06, 0.05, 0.05],  # black
        [0.19, 0.12, 0.08],  # dark brown
        [0.38, 0.25, 0.15],  # brown
        [0.50, 0.22, 0.11],  # auburn
        [0.78, 0.40, 0.17],  # ginger
        [0.62, 0.50, 0.32],  # dark blonde
        [0.88, 0.77, 0.52],  # blonde
    ]
)
_IRIS_PALETTE = torch.tensor(
    [[0.20, 0.11, 0.05], [0.40, 0.24, 0.10], [0.45, 0.40, 0.16], [0.25, 0.52, 0.28], [0.25, 0.45, 0.80], [0.52, 0.58, 0.64]]
)
_GLASSES_PALETTE = torch.tensor(
    [[0.05, 0.05, 0.05], [0.40, 0.22, 0.10], [0.72, 0.72, 0.76], [0.80, 0.62, 0.25], [0.65, 0.10, 0.12]]
)
# Hair styles, columns: hairline height, side depth (hair where the head surface z < this),
# lowest side-hair y, top of a side ring (bald crown), volume beyond the head, lowest y of the
# hair behind the head, density.
_HAIR_STYLES = torch.tensor(
    [
        [0.52, 0.30, 0.05, 9.0, 0.07, 0.20, 1.00],  # short
        [0.44, 0.32, -0.35, 9.0, 0.12, -0.30, 1.00],  # medium
        [0.42, 0.40, -1.20, 9.0, 0.16, -1.60, 1.00],  # long
        [9.00, 0.12, -0.05, 0.55, 0.00, 9.00, 1.00],  # bald crown, hair ring
        [0.56, 0.25, 0.00, 9.0, 0.00, 9.00, 0.60],  # buzz cut
        [0.20, 0.34, -0.60, 9.0, 0.12, -0.70, 1.00],  # bangs
    ]
)
# Facial hair, columns: density, moustache, goatee, full beard.
_BEARDS = torch.tensor(
    [
        [0.35, 1.0, 0.0, 1.0],  # stubble
        [0.9, 1.0, 0.0, 0.0],  # moustache
        [0.9, 1.0, 1.0, 0.0],  # goatee
        [0.9, 1.0, 0.0, 1.0],  # full beard
    ]
)
_BEARD_SHARE = 0.45  # identities with facial hair


def _span(u: torch.Tensor, low: float, high: float) -> torch.Tensor:
    return low + (high - low) * u


def _pick(table: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Row of `table` chosen by a uniform: (N,) -> (N, C)."""
    index = (u * table.shape[0]).to(torch.int64).clamp(0, table.shape[0] - 1)
    return table[index]


def _ramp(table: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear colour along the rows of `table`: (N,) -> (N, C)."""
    position = u * (table.shape[0] - 1)
    index = position.to(torch.int64).clamp(0, table.shape[0] - 2)
    frac = (position - index.to(torch.float32)).view(-1, 1)
    return table[index] + (table[index + 1] - table[index]) * frac


def _face_traits(identity: torch.Tensor) -> dict[str, torch.Tensor]:
    """(N, P_ID) hidden vectors -> traits: scalars (N, 1, 1), colours (N, 3, 1, 1), tables (N, C)."""
    u = {name: identity[:, i] for i, name in enumerate(IDENTITY_FIELDS)}
    skin = _ramp(_SKIN_RAMP, u["skin_tone"])
    skin = skin + torch.tensor([0.05, -0.01, -0.02]) * (u["skin_red"].view(-1, 1) - 0.5)
    hair = _pick(_HAIR_PALETTE, u["hair_colour"]) * _span(u["hair_shade"], 0.8, 1.2).view(-1, 1)
    mole_side = torch.where(u["mole_x"] < 0.5, -1.0, 1.0)
    scalars = {
        "head_width": _span(u["head_width"], 0.48, 0.63),  # image units (frame is [-1, 1])
        "head_height": _span(u["head_height"], 0.61, 0.75),
        "jaw": _span(u["jaw"], 0.10, 0.42),  # chin narrowing
        "hairline": _span(u["hairline"], -0.07, 0.07),  # offset to the style's hairline
        "hairline_curve": _span(u["hairline_curve"], -0.1, 0.35),  # + receding temples
        "hair_part": _span(u["hair_part"], -0.12, 0.12),
        "eye_spacing": _span(u["eye_spacing"], 0.26, 0.38),  # head-surface units, head radius 1
        "eye_height": _span(u["eye_height"], 0.02, 0.19),
        "eye_size": _span(u["eye_size"], 0.105, 0.16),
        "eye_aspect": _span(u["eye_aspect"], 0.42, 0.65),
        "brow_thickness": _span(u["brow_thickness"], 0.03, 0.075),
        "brow_tilt": _span(u["brow_tilt"], -1.0, 1.0),
        "brow_arch": _span(u["brow_arch"], 0.0, 1.0),
        "brow_gap": _span(u["brow_gap"], 0.10, 0.17),
        "nose_length": _span(u["nose_length"], 0.19, 0.35),
        "nose_width": _span(u["nose_width"], 0.055, 0.10),
        "nose_protrusion": _span(u["nose_protrusion"], 0.08, 0.2),
        "mouth_width": _span(u["mouth_width"], 0.14, 0.25),
        "mouth_gap": _span(u["mouth_height"], 0.14, 0.24),  # nose tip to mouth
        "lip_thickness": _span(u["lip_thickness"], 0.022, 0.05),
        "ear_size": _span(u["ear_size"], 0.13, 0.2),
        "ear_height": _span(u["ear_height"], -0.15, 0.0),
        "glasses": (u["glasses"] < 0.25).to(torch.float32),
        "mole": (u["mole_presence"] < 0.35).to(torch.float32),
        "mole_x": mole_side * _span((u["mole_x"] - 0.5).abs() * 2.0, 0.15, 0.45),
        "mole_y": _span(u["mole_y"], -0.45, -0.05),
        "greying_onset": _span(u["greying_onset"], 35.0, 80.0),  # some never grey
    }
    traits = {name: value.view(-1, 1, 1) for name, value in scalars.items()}
    colours = {
        "skin": skin,
        "hair": hair.clamp(0.0, 1.0),
        "iris": _pick(_IRIS_PALETTE, u["iris_colour"]),
        "lips": skin * torch.tensor([0.95, 0.62, 0.62]) * _span(u["lip_colour"], 0.8, 1.05).view(-1, 1),
        "glasses_frame": _pick(_GLASSES_PALETTE, u["glasses_colour"]),
    }
    traits.update({name: value.view(-1, 3, 1, 1) for name, value in colours.items()})
    traits["hair_style"] = _pick(_HAIR_STYLES, u["hair_style"])  # (N, 7)
    bearded = u["beard"] > 1.0 - _BEARD_SHARE
    beard_type = (u["beard"] - (1.0 - _BEARD_SHARE)) * (1.0 / _BEARD_SHARE)
    traits["beard"] = _pick(_BEARDS, beard_type) * bearded.view(-1, 1)  # (N, 4), zeros: clean-shaven
    return traits

# ----------------------------------------------------------------------------------------------
# Soft shapes. Signed distances are negative inside; coverage ramps linearly over about one
# pixel, which anti-aliases without exp/sigmoid. `inv_edge` converts head units to pixels.


def _cover(sd: torch.Tensor, inv_edge: torch.Tensor) -> torch.Tensor:
    return (0.5 - sd * inv_edge).clamp(0.0, 1.0)


def _ellipse_cover(x, y, rx, ry, inv_edge) -> torch.Tensor:
    """Coverage of an axis-aligned ellipse at the origin; radii are per image (N, 1, 1).

    Uses the first-order distance (q - 1) * r / 2 of q = (x/rx)^2 + (y/ry)^2, exact at the outline
    for circles and slightly softer at the ends of long ellipses; it saves a sqrt per pixel.
    """
    ex = x * torch.reciprocal(rx)
    ey = y * torch.reciprocal(ry)
    k = torch.minimum(rx, ry) * (0.5 * inv_edge)
    return ((0.5 + k) - (ex * ex + ey * ey) * k).clamp(0.0, 1.0)


def _box_sd(x, y, half_w, half_h, radius: float) -> torch.Tensor:
    """Signed distance to a rounded box centred at the origin."""
    qx = x.abs() - (half_w - radius)
    qy = y.abs() - (half_h - radius)
    px, py = qx.clamp(min=0.0), qy.clamp(min=0.0)
    return (px * px + py * py).sqrt() + torch.maximum(qx, qy).clamp(max=0.0) - radius


def _segment_sd(x, y, ax, ay, bx, by, half_width) -> torch.Tensor:
    """Signed distance to a capsule from (ax, ay) to (bx, by); endpoints are per image (N, 1, 1)."""
    px, py = x - ax, y - ay
    dx, dy = bx - ax, by - ay
    inv_len2 = torch.reciprocal(dx * dx + dy * dy + 1e-9)
    t = ((px * dx + py * dy) * inv_len2).clamp(0.0, 1.0)
    ox, oy = px - dx * t, py - dy * t
    return (ox * ox + oy * oy).sqrt() - half_width


def _zigzag(x: torch.Tensor, period: float) -> torch.Tensor:
    """Triangle wave in [0, 1] (1 at multiples of the period), built from floor: exact per element."""
    phase = x * (1.0 / period)
    return (phase - phase.floor() - 0.5).abs() * 2.0


def _paint(canvas: torch.Tensor, alpha: torch.Tensor, colour) -> torch.Tensor:
    """Alpha-blend a colour over an opaque canvas: canvas (N,3,H,W), alpha (N,H,W), colour broadcastable."""
    return canvas + alpha.unsqueeze(1) * (colour - canvas)


def _darken(tone: torch.Tensor, alpha: torch.Tensor, amount) -> torch.Tensor:
    """Multiply a one-channel skin tone (N,H,W): cheaper than painting three channels."""
    return tone * (1.0 - alpha * amount)


def _rgb(r: float, g: float, b: float) -> torch.Tensor:
    return torch.tensor([r, g, b]).view(1, 3, 1, 1)


class _Layers:
    """Premultiplied colour and coverage of everything in front of the background."""

    def __init__(self, n: int, resolution: int):
        self.colour = torch.zeros(n, 3, resolution, resolution)  # (N, 3, H, W) premultiplied
        self.alpha = torch.zeros(n, 1, resolution, resolution)  # (N, 1, H, W)

    def over(self, alpha: torch.Tensor, colour: torch.Tensor) -> None:
        alpha = alpha.unsqueeze(1)
        self.colour = self.colour + alpha * (colour - self.colour)
        self.alpha = self.alpha + alpha * (1.0 - self.alpha)


# ----------------------------------------------------------------------------------------------
# Geometry: pixels -> head frame -> head-surface (object) coordinates.


def _per_image(fn, values: torch.Tensor) -> torch.Tensor:
    """Apply a Python math function per image, (N,) -> (N, 1, 1): exact and batch-independent."""
    return torch.tensor([fn(v) for v in values.tolist()], dtype=torch.float32).view(-1, 1, 1)


def _cos_deg(values: torch.Tensor) -> torch.Tensor:
    return _per_image(lambda d: math.cos(math.radians(d)), values)


def _sin_deg(values: torch.Tensor) -> torch.Tensor:
    return _per_image(lambda d: math.sin(math.radians(d)), values)


def _col(values: torch.Tensor) -> torch.Tensor:
    return values.to(torch.float32).view(-1, 1, 1)


@dataclasses.dataclass
class _Pose:
    """Per-image rotation terms, each (N, 1, 1). Camera = R_yaw R_pitch surface, orthographic."""

    cos_yaw: torch.Tensor
    sin_yaw: torch.Tensor
    cos_pitch: torch.Tensor
    sin_pitch: torch.Tensor

    def project(self, x, y, z):
        """Head-surface point -> sphere-frame (x, y) seen by the camera."""
        y1 = y * self.cos_pitch + z * self.sin_pitch
        z1 = z * self.cos_pitch - y * self.sin_pitch
        return x * self.cos_yaw + z1 * self.sin_yaw, y1

    def unproject(self, sx, sy, sz):
        """Visible sphere point (camera frame) -> head-surface coordinates."""
        x1 = sx * self.cos_yaw - sz * self.sin_yaw
        z1 = sx * self.sin_yaw + sz * self.cos_yaw
        return x1, sy * self.cos_pitch - z1 * self.sin_pitch, sy * self.sin_pitch + z1 * self.cos_pitch


@dataclasses.dataclass
class _Frame:
    """Head-frame coordinates of a pixel grid, each (N, H, W) unless noted."""

    x: torch.Tensor  # image coordinates in [-1, 1], y up; (1 or N, H, W)
    y: torch.Tensor
    hx: torch.Tensor  # head centred, unrolled, head half-size 1
    hy: torch.Tensor
    sx: torch.Tensor  # hx with the jaw narrowing undone (the head outline is the unit circle)
    r2: torch.Tensor  # sx^2 + hy^2
    inv_edge: torch.Tensor  # (N, 1, 1) pixels per head unit
    pose: _Pose


@dataclasses.dataclass
class _HeadFrame(_Frame):
    """A _Frame plus the head-surface coordinates of its pixels."""

    xo: torch.Tensor  # unit-sphere surface coordinates after undoing yaw and pitch
    yo: torch.Tensor
    zo: torch.Tensor
    xf: torch.Tensor  # xo, yo on the face side (zo > 0); far away elsewhere so face parts vanish
    yf: torch.Tensor
    mirror_x: torch.Tensor  # |xf|: paired face parts (eyes, brows, ...) are drawn once for both sides
    head_alpha: torch.Tensor  # head outline coverage


def _pixel_centres(first: torch.Tensor, count: int, resolution: int) -> torch.Tensor:
    """Image coordinates of pixel columns first..first+count-1: (N or 1, count).

    The full image and the head window use this same arithmetic, so a pixel gets the same
    coordinate, to the bit, in both.
    """
    index = first.view(-1, 1) + torch.arange(count, dtype=torch.int64).view(1, -1)
    return (index.to(torch.float32) + 0.5) * (2.0 / resolution) - 1.0


def _frame(face: dict, nuisance: dict, age_weight, resolution: int, columns, rows) -> _Frame:
    """Head frame for a grid given by per-image first column/row and its size."""
    (first_col, width), (first_row, height) = columns, rows
    x = _pixel_centres(first_col, width, resolution).unsqueeze(1)  # (N, 1, W)
    y = -_pixel_centres(first_row, height, resolution).unsqueeze(2)  # (N, H, 1), y up
    scale = _col(nuisance["scale"])
    dx = x - _col(nuisance["shift_x"])
    dy = y - (0.08 + _col(nuisance["shift_y"]))
    cos_r, sin_r = _cos_deg(nuisance["roll"]), _sin_deg(nuisance["roll"])
    hx = (cos_r * dx + sin_r * dy) * torch.reciprocal(face["head_width"] * scale)  # (N, H, W)
    hy = (cos_r * dy - sin_r * dx) * torch.reciprocal(face["head_height"] * scale)

    chin = (-hy).clamp(0.0, 1.0)
    jaw = face["jaw"] - 0.08 * age_weight  # jowls widen the jaw with age
    sx = hx / (1.0 - jaw * chin * chin)  # per-pixel divisor: exact per element
    inv_edge = resolution * scale * (face["head_width"] + face["head_height"]) * 0.25
    pose = _Pose(_cos_deg(nuisance["yaw"]), _sin_deg(nuisance["yaw"]), _cos_deg(nuisance["pitch"]), _sin_deg(nuisance["pitch"]))
    return _Frame(x, y, hx, hy, sx, sx * sx + hy * hy, inv_edge, pose)


def _head_frame(f: _Frame) -> _HeadFrame:
    k = 0.5 * f.inv_edge
    head_alpha = ((0.5 + k) - f.r2 * k).clamp(0.0, 1.0)  # first-order circle distance
    sz = (1.0 - f.r2).clamp(min=0.0).sqrt()
    xo, yo, zo = f.pose.unproject(f.sx, f.hy, sz)
    # Face parts sit within ~0.65 of the face centre; their mirror images on the back of the head
    # (zo < 0) are never visible from |yaw| <= 45, |pitch| <= 20, so a hard cut at zo = 0 is invisible.
    front = zo > 0.0
    xf = torch.where(front, xo, 10.0)
    yf = torch.where(front, yo, 10.0)
    return _HeadFrame(**vars(f), xo=xo, yo=yo, zo=zo, xf=xf, yf=yf, mirror_x=xf.abs(), head_alpha=head_alpha)


def _head_window(face: dict, nuisance: dict, resolution: int):
    """Per-image pixel window holding the whole head outline: ((first_col, width), (first_row, height)).

    The size is the largest in the chunk; it only decides which pixels are computed, never their values.
    """
    margin = 2  # pixels: anti-aliasing ramp plus rounding

    def to_pixel(c: float) -> float:  # image coordinate -> pixel index
        return (c + 1.0) * resolution * 0.5 - 0.5

    per_image = (face["head_width"], face["head_height"], nuisance["scale"], nuisance["shift_x"], nuisance["shift_y"], nuisance["roll"])
    first_cols, last_cols, first_rows, last_rows = [], [], [], []
    for w, h, s, sx, sy, roll in zip(*(t.reshape(-1).tolist() for t in per_image)):
        a, b, r = w * s, h * s, math.radians(roll)  # half-axes of the rotated head ellipse
        half_x = math.hypot(a * math.cos(r), b * math.sin(r))
        half_y = math.hypot(a * math.sin(r), b * math.cos(r))
        centre_row = -(0.08 + sy)  # rows run down
        first_cols.append(max(0, math.floor(to_pixel(sx - half_x)) - margin))
        last_cols.append(min(resolution - 1, math.ceil(to_pixel(sx + half_x)) + margin))
        first_rows.append(max(0, math.floor(to_pixel(centre_row - half_y)) - margin))
        last_rows.append(min(resolution - 1, math.ceil(to_pixel(centre_row + half_y)) + margin))
    width = max(last - first for first, last in zip(first_cols, last_cols)) + 1
    height = max(last - first for first, last in zip(first_rows, last_rows)) + 1
    first_col = torch.tensor([min(c, resolution - width) for c in first_cols])
    first_row = torch.tensor([min(r, resolution - height) for r in first_rows])
    return (first_col, width), (first_row, height)


def _paste(window: torch.Tensor, columns, rows, resolution: int) -> torch.Tensor:
    """Place per-image windows (N, C, h, w) into zero images (N, C, R, R)."""
    (first_col, width), (first_row, height) = columns, rows
    full = torch.zeros(*window.shape[:2], resolution, resolution)
    for i, (c, r) in enumerate(zip(first_col.tolist(), first_row.tolist())):
        full[i, :, r : r + height, c : c + width] = window[i]
    return full


# ----------------------------------------------------------------------------------------------
# Layers behind the head: body, hair volume, protruding ears.


def _paint_body(layers: _Layers, f: _Frame, face: dict, nuisance: dict) -> None:
    neck = torch.maximum(f.hx.abs() - 0.42, f.hy + 0.5)
    layers.over(_cover(neck, f.inv_edge), face["skin"] * 0.78)
    shoulder_top = -1.22 - 0.22 * f.hx * f.hx
    v_neck = f.hx.abs() - 0.45 * (f.hy + 1.75)  # negative inside the neckline
    clothes = torch.maximum(f.hy - shoulder_top, -v_neck)
    layers.over(_cover(clothes, f.inv_edge), nuisance["clothes"].view(-1, 3, 1, 1))


def _paint_back_hair(layers: _Layers, f: _Frame, face: dict, hair: torch.Tensor) -> None:
    style = face["hair_style"]
    volume = style[:, 4].view(-1, 1, 1)
    lowest = style[:, 5].view(-1, 1, 1)
    above = f.hy.clamp(min=0.0)
    # A circle over the crown that continues as a straight band down the sides.
    shape = (f.hx * f.hx + above * above).sqrt() - (1.0 + volume)
    layers.over(_cover(torch.maximum(shape, lowest - f.hy), f.inv_edge), hair * 0.9)


def _paint_outer_ears(layers: _Layers, f: _Frame, face: dict) -> None:
    """Ears behind the head outline: visible where they stick out, hidden when turned away."""
    ear_z = torch.full_like(face["ear_height"], -0.02)
    width = torch.full_like(face["ear_height"], 0.1)
    cover = []
    for side in (-1.0, 1.0):
        ex, ey = f.pose.project(side * 1.05, face["ear_height"], ear_z)
        cover.append(_ellipse_cover(f.sx - ex, f.hy - ey, width, face["ear_size"], f.inv_edge))
    layers.over(torch.maximum(*cover), face["skin"] * 0.88)


# ----------------------------------------------------------------------------------------------
# Skin marks: one-channel darkening of the skin before coloured parts go on top.


def _ear_tone(tone, f: _HeadFrame, face: dict) -> torch.Tensor:
    """Ears seen on the side of the head surface (|xo| near 1), both sides at once."""
    side = ((f.xo.abs() - 0.6) * 10.0).clamp(0.0, 1.0)
    dy = f.yo - face["ear_height"]
    dz = f.zo + 0.02
    depth = torch.full_like(face["ear_size"], 0.09)
    tone = _darken(tone, _ellipse_cover(dy, dz, face["ear_size"], depth, f.inv_edge) * side, 0.1)
    inner = _ellipse_cover(dy, dz, face["ear_size"] * 0.55, depth * 0.5, f.inv_edge)
    return _darken(tone, inner * side, 0.25)


def _wrinkle_tone(tone, f: _HeadFrame, face: dict, age_weight, mouth_y) -> torch.Tensor:
    # Three forehead lines: a triangle wave across the forehead band.
    base = face["eye_height"] + 0.3 + 0.05 * f.xf * f.xf
    band = torch.maximum((f.yf - base - 0.075).abs() - 0.11, f.mirror_x - 0.28)
    lines = _cover(torch.maximum(band, 0.0375 - 0.0375 * _zigzag(f.yf - base, 0.075) - 0.01), f.inv_edge)
    nose_tip_y = face["eye_height"] - face["nose_length"]
    folds = _segment_sd(
        f.mirror_x, f.yf,
        face["nose_width"] + 0.05, nose_tip_y + 0.03,
        face["mouth_width"] + 0.04, mouth_y - 0.05,
        0.012,
    )  # fmt: skip
    return _darken(tone, torch.maximum(lines, _cover(folds, f.inv_edge)), age_weight * 0.4)


def _mole_tone(tone, f: _HeadFrame, face: dict) -> torch.Tensor:
    radius = torch.full_like(face["mole_x"], 0.032)
    cover = _ellipse_cover(f.xf - face["mole_x"], f.yf - face["mole_y"], radius, radius, f.inv_edge)
    return _darken(tone, cover, face["mole"] * 0.6)


def _nose_tone(tone, f: _HeadFrame, face: dict) -> torch.Tensor:
    """The nose sticks out of the sphere, so its parts are projected from 3D points."""
    tip_y = face["eye_height"] - face["nose_length"]
    tip_z = (1.0 - tip_y * tip_y).sqrt() + face["nose_protrusion"]
    width = face["nose_width"]
    tx, ty = f.pose.project(torch.zeros_like(tip_y), tip_y - 0.035, tip_z - 0.05)
    shadow = _ellipse_cover(f.sx - tx, f.hy - ty, width * 1.3, torch.full_like(width, 0.035), f.inv_edge)
    tone = _darken(tone, shadow, 0.15)
    bridge_y = face["eye_height"] - 0.03
    bridge_z = (1.0 - bridge_y * bridge_y).sqrt() + 0.02
    nostrils, ridges = [], []
    for side in (-1.0, 1.0):
        nx, ny = f.pose.project(side * width * 0.55, tip_y - 0.02, tip_z - 0.04)
        nostril_w, nostril_h = torch.full_like(width, 0.03), torch.full_like(width, 0.018)
        nostrils.append(_ellipse_cover(f.sx - nx, f.hy - ny, nostril_w, nostril_h, f.inv_edge))
        ax, ay = f.pose.project(side * 0.045, bridge_y, bridge_z)
        bx, by = f.pose.project(side * width * 1.1, tip_y + 0.01, tip_z - 0.06)
        ridges.append(_cover(_segment_sd(f.sx, f.hy, ax, ay, bx, by, 0.011), f.inv_edge))
    tone = _darken(tone, torch.maximum(*ridges), 0.18)
    return _darken(tone, torch.maximum(*nostrils), 0.55)


def _lash_tone(tone, f: _HeadFrame, face: dict, eye) -> torch.Tensor:
    """Dark lash line: a slightly larger dark eye shape under the eye white."""
    x = f.mirror_x - face["eye_spacing"]
    cover = _ellipse_cover(x, f.yf - face["eye_height"], eye["half_w"] * 1.12, eye["half_h"] * 1.2 + 0.015, f.inv_edge)
    return _darken(tone, cover, 0.8)


# ----------------------------------------------------------------------------------------------
# Coloured face parts.


def _eye_shape(face: dict, nuisance: dict, age_weight) -> dict[str, torch.Tensor]:
    half_w = face["eye_size"] * (1.0 - 0.06 * age_weight)
    half_h = half_w * face["eye_aspect"] * _col(nuisance["eye_open"])
    return {
        "half_w": half_w,
        "half_h": half_h,
        "gaze_x": _col(nuisance["gaze_x"]) * half_w * 0.35,
        "gaze_y": _col(nuisance["gaze_y"]) * half_h * 0.3,
        "iris_r": face["eye_size"] * 0.48,
    }


def _paint_eyes(head, f: _HeadFrame, face: dict, eye) -> torch.Tensor:
    x = f.mirror_x - face["eye_spacing"]
    y = f.yf - face["eye_height"]
    sclera = _ellipse_cover(x, y, eye["half_w"], eye["half_h"], f.inv_edge)
    head = _paint(head, sclera, _rgb(0.94, 0.91, 0.88))
    ix = x - f.xf.sign() * eye["gaze_x"]  # both eyes look the same way, so undo the mirroring
    iy = y - eye["gaze_y"]
    head = _paint(head, _ellipse_cover(ix, iy, eye["iris_r"], eye["iris_r"], f.inv_edge) * sclera, face["iris"])
    pupil = _ellipse_cover(ix, iy, eye["iris_r"] * 0.45, eye["iris_r"] * 0.45, f.inv_edge)
    return _paint(head, pupil * sclera, 0.03)


def _paint_brows(head, f: _HeadFrame, face: dict, nuisance: dict, colour) -> torch.Tensor:
    half_len = face["eye_size"] * 1.3
    inv_half_len = torch.reciprocal(half_len)
    base = face["eye_height"] + face["brow_gap"] + 0.035 * _col(nuisance["brow_raise"])
    t = (f.mirror_x - face["eye_spacing"]) * inv_half_len  # -1 (inner end) .. 1 (outer end)
    centre = base + 0.045 * face["brow_arch"] * (1.0 - t * t) + 0.035 * face["brow_tilt"] * t
    sd = torch.maximum((f.yf - centre).abs() - face["brow_thickness"] * 0.5, (t.abs() - 1.0) * half_len)
    return _paint(head, _cover(sd, f.inv_edge) * 0.92, colour)


def _paint_beard(head, f: _HeadFrame, face: dict, colour, mouth_y) -> torch.Tensor:
    density, moustache, goatee, full = (face["beard"][:, i].view(-1, 1, 1) for i in range(4))
    # The beard wraps around the jaw, so it uses the surface coordinates up to the sides of the head.
    x, y = f.xo, f.yo
    upper_lip = mouth_y + face["lip_thickness"] + 0.03
    moustache_sd = torch.maximum((y - upper_lip).abs() - 0.028, x.abs() - face["mouth_width"] * 1.05)
    goatee_sd = torch.maximum((y - mouth_y + 0.16).abs() - 0.14, x.abs() - 0.13)
    x2 = x * x
    jawline = torch.minimum(mouth_y + 0.04 + 3.0 * x2 * x2, face["ear_height"] + 0.1)  # up to the sideburns
    full_sd = torch.maximum(y - jawline, -f.zo)
    cover = torch.maximum(
        torch.maximum(_cover(moustache_sd, f.inv_edge) * moustache, _cover(goatee_sd, f.inv_edge) * goatee),
        _cover(full_sd, f.inv_edge) * full,
    )
    return _paint(head, cover * density, colour)


def _paint_mouth(head, f: _HeadFrame, face: dict, nuisance: dict, mouth_y) -> torch.Tensor:
    smile = _col(nuisance["smile"])
    half_w = face["mouth_width"] * (1.0 + 0.08 * smile)
    t = f.xf * torch.reciprocal(half_w)  # -1..1 along the mouth
    t2 = t * t
    across = (1.0 - t2).clamp(min=0.0)
    centre = mouth_y + 0.06 * smile * (t2 - 0.35)  # smiles lift the corners
    opening = _col(nuisance["mouth_open"]) * 0.045 * across
    dist = (f.yf - centre).abs()
    along = (t.abs() - 1.0) * half_w
    lips = torch.maximum(dist - opening - face["lip_thickness"] * across.sqrt(), along)
    head = _paint(head, _cover(lips, f.inv_edge), face["lips"])
    inside = _cover(torch.maximum(dist - opening, along + 0.01), f.inv_edge)
    seam = _cover(torch.maximum(dist - 0.008, along), f.inv_edge) * 0.55  # line between closed lips
    head = _paint(head, torch.maximum(inside, seam), face["lips"] * 0.35)
    teeth = inside * ((f.yf - centre + opening * 0.2) * f.inv_edge).clamp(0.0, 1.0)  # upper part
    return _paint(head, teeth, _rgb(0.9, 0.87, 0.8))


def _paint_surface_hair(head, f: _HeadFrame, face: dict, hair) -> torch.Tensor:
    style = face["hair_style"]
    hairline, side_z, lowest, ring_top, _, _, density = (style[:, i].view(-1, 1, 1) for i in range(7))
    line = (
        hairline + face["hairline"] + face["hairline_curve"] * f.xo * f.xo
        + face["hair_part"] * f.xo + 0.025 * _zigzag(f.xo, 0.12)
    )  # fmt: skip
    top_sd = line - f.yo
    side_sd = torch.maximum(torch.maximum(f.zo - side_z, lowest - f.yo), f.yo - ring_top)
    return _paint(head, _cover(torch.minimum(top_sd, side_sd), f.inv_edge) * density, hair)


def _paint_glasses(head, f: _HeadFrame, face: dict) -> torch.Tensor:
    half_w = face["eye_size"] * 1.4
    half_h = face["eye_size"] * 0.95
    lens_y = face["eye_height"] + 0.01
    x = f.xo.abs()  # mirrored; the arms reach the sides of the head, beyond the face side
    y = f.yo - lens_y
    lens = _box_sd(x - face["eye_spacing"], y, half_w, half_h, 0.05)
    bar = (y - 0.025).abs() - 0.014  # band holding the bridge and the arms
    outer_x = face["eye_spacing"] + half_w
    arms_and_bridge = torch.maximum(bar, torch.minimum(outer_x - x, x - (face["eye_spacing"] - half_w)))
    frames = _cover(torch.minimum(lens.abs() - 0.014, arms_and_bridge), f.inv_edge)
    visible = face["glasses"] * (f.zo > -0.15)
    lenses = _cover(lens, f.inv_edge) * (f.zo > 0.0)
    head = _paint(head, lenses * visible * 0.15, _rgb(0.5, 0.55, 0.6))
    return _paint(head, frames * visible, face["glasses_frame"])


def _paint_head(f: _HeadFrame, face: dict, nuisance: dict, age_weight, hair) -> torch.Tensor:
    """Opaque head colour (N, 3, H, W); the head outline is applied by the caller."""
    mouth_y = face["eye_height"] - face["nose_length"] - face["mouth_gap"] - 0.03 * age_weight
    eye = _eye_shape(face, nuisance, age_weight)
    tone = torch.ones_like(f.hx)  # (N, H, W) skin darkening
    tone = _ear_tone(tone, f, face)
    tone = _wrinkle_tone(tone, f, face, age_weight, mouth_y)
    tone = _mole_tone(tone, f, face)
    tone = _nose_tone(tone, f, face)
    tone = _lash_tone(tone, f, face, eye)
    head = face["skin"] * tone.unsqueeze(1)
    head = _paint_beard(head, f, face, hair, mouth_y)
    head = _paint_mouth(head, f, face, nuisance, mouth_y)
    head = _paint_eyes(head, f, face, eye)
    brow_colour = (face["hair"] * 0.7 + hair * 0.3) * 0.75  # darker than hair, greys later
    head = _paint_brows(head, f, face, nuisance, brow_colour)
    head = _paint_surface_hair(head, f, face, hair)
    return _paint_glasses(head, f, face)


# ----------------------------------------------------------------------------------------------
# Light, background, camera.


def _shading(f: _Frame, nuisance: dict) -> torch.Tensor:
    """Half-Lambert shading of a sphere-like person, (N, 1, H, W); strength 0 gives 1 everywhere."""
    rim = (0.94 / (f.r2 + 1e-6)).clamp(max=1.0).sqrt()  # beyond the head outline: rim normals
    nx, ny = f.sx * rim, f.hy * rim
    nz = (1.0 - nx * nx - ny * ny).clamp(min=0.0).sqrt()
    azimuth, elevation = nuisance["light_azimuth"], nuisance["light_elevation"]
    cos_e = _cos_deg(elevation)
    lx, ly, lz = _sin_deg(azimuth) * cos_e, _sin_deg(elevation), _cos_deg(azimuth) * cos_e
    lit = ((nx * lx + ny * ly + nz * lz) * 0.5 + 0.5).clamp(0.0, 1.0)
    strength = _col(nuisance["light_strength"])
    return ((1.0 - strength) + (strength * 1.8) * lit * lit).unsqueeze(1)


def _background(f: _Frame, nuisance: dict) -> torch.Tensor:
    angle = nuisance["background_angle"]
    ramp = ((f.x * _cos_deg(angle) + f.y * _sin_deg(angle)) * 0.5 + 0.5).clamp(0.0, 1.0)  # (N, H, W)
    colour_a = nuisance["background_a"].view(-1, 3, 1, 1)
    colour_b = nuisance["background_b"].view(-1, 3, 1, 1)
    image = _paint(colour_a.expand(-1, -1, *ramp.shape[1:]), ramp, colour_b)  # (N, 3, H, W)
    radius = _col(nuisance["clutter_radius"])
    pixels_per_unit = torch.full_like(radius, f.x.shape[-1] * 0.5)
    blob = _ellipse_cover(f.x - _col(nuisance["clutter_x"]), f.y - _col(nuisance["clutter_y"]), radius, radius, pixels_per_unit)
    return _paint(image, blob * 0.85, nuisance["clutter_colour"].view(-1, 3, 1, 1))


def _camera_response(image: torch.Tensor, nuisance: dict) -> torch.Tensor:
    contrast = _col(nuisance["contrast"]).unsqueeze(1)
    gain = _col(nuisance["brightness"]).unsqueeze(1) * nuisance["white_balance"].view(-1, 3, 1, 1)
    return ((image - 0.5) * contrast + 0.5) * gain


def _blur_radius(resolution: int) -> int:
    """Fixed per resolution (never per batch) so every image sums the same taps."""
    return max(1, math.ceil(0.03 * resolution))


def _gaussian_taps(sigma_px: float, radius: int) -> list[float]:
    if sigma_px < 1e-3:
        return [1.0] + [0.0] * radius
    weights = [math.exp(-0.5 * (j / sigma_px) ** 2) for j in range(radius + 1)]
    total = weights[0] + 2.0 * sum(weights[1:])
    return [w / total if w > 1e-12 * total else 0.0 for w in weights]  # no denormal (slow) floats


def _blur(image: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable per-image Gaussian blur, sigma as a fraction of the width; (N, 3, H, W).

    Taps are summed one by one (no conv) so the arithmetic is the same for every batch; the kernel
    is cut at _blur_radius, which suits sigmas up to about a third of it.
    """
    resolution = image.shape[-1]
    radius = _blur_radius(resolution)
    taps = [_gaussian_taps(s * resolution, radius) for s in sigma.tolist()]
    weights = torch.tensor(taps, dtype=torch.float32).view(-1, radius + 1, 1, 1, 1)  # (N, taps, 1, 1, 1)
    for dim, padding in ((3, (radius, radius, 0, 0)), (2, (0, 0, radius, radius))):
        padded = torch.nn.functional.pad(image, padding, mode="replicate")
        out = padded.narrow(dim, radius, resolution) * weights[:, 0]
        for j in range(1, radius + 1):
            pair = padded.narrow(dim, radius - j, resolution) + padded.narrow(dim, radius + j, resolution)
            out = out + pair * weights[:, j]
        image = out
    return image


# Noise words are 31-bit: three 8-bit parts and a 7-bit part counted twice, which has a byte's variance.
_NOISE_MEAN = 3 * 127.5 + 2 * 63.5
_NOISE_STD = math.sqrt(3 * (256**2 - 1) / 12 + 4 * (128**2 - 1) / 12)


def _pixel_noise(shape: tuple[int, ...], seeds: torch.Tensor) -> torch.Tensor:
    """Roughly standard-normal noise (N, *shape): one generator per image, so it ignores the batch.

    Each value sums four parts of a random integer (Irwin-Hall, close to a Gaussian): integer-only,
    so unlike randn's vectorised Box-Muller it gives the same bytes on every CPU.
    """
    words = torch.stack([torch.empty(shape, dtype=torch.int32).random_(generator=torch.Generator().manual_seed(s)) for s in seeds.tolist()])
    parts = (words & 255) + ((words >> 8) & 255) + ((words >> 16) & 255) + ((words >> 24) << 1)
    return (parts.to(torch.float32) - _NOISE_MEAN) * (1.0 / _NOISE_STD)


def _to_uint8(image: torch.Tensor) -> torch.Tensor:
    return (image * 255.0 + 0.5).floor().clamp(0.0, 255.0).to(torch.uint8)


# Images rendered per pass: keeps the per-pixel temporaries in cache. Results do not depend on it.
_CHUNK = 32


def _render_chunk(identity: torch.Tensor, nuisance: dict[str, torch.Tensor], resolution: int) -> torch.Tensor:
    face = _face_traits(identity.to(torch.float32))
    age = _col(nuisance["age"])
    age_weight = ((age - 30.0) * (1.0 / 45.0)).clamp(0.0, 1.0)  # wrinkles, sag
    greying = ((age - face["greying_onset"]) * (1.0 / 25.0)).clamp(0.0, 0.75).unsqueeze(1)
    hair = face["hair"] + greying * (_rgb(0.75, 0.74, 0.72) - face["hair"])

    n = identity.shape[0]
    whole_image = (torch.zeros(n, dtype=torch.int64), resolution)
    frame = _frame(face, nuisance, age_weight, resolution, whole_image, whole_image)
    layers = _Layers(n, resolution)
    _paint_body(layers, frame, face, nuisance)
    _paint_back_hair(layers, frame, face, hair)
    _paint_outer_ears(layers, frame, face)
    # Face parts are only computed in a window around the head: most of the work, on half the pixels.
    columns, rows = _head_window(face, nuisance, resolution)
    head = _head_frame(_frame(face, nuisance, age_weight, resolution, columns, rows))
    head_colour = _paste(_paint_head(head, face, nuisance, age_weight, hair), columns, rows, resolution)
    head_alpha = _paste(head.head_alpha.unsqueeze(1), columns, rows, resolution).squeeze(1)
    layers.over(head_alpha, head_colour)

    person = layers.colour * _shading(frame, nuisance)
    image = _background(frame, nuisance) * (1.0 - layers.alpha) + person
    image = _camera_response(image, nuisance)
    image = _blur(image, nuisance["blur_sigma"])
    noise = _pixel_noise((3, resolution, resolution), nuisance["noise_seed"])
    return _to_uint8(image + noise * _col(nuisance["noise_std"]).unsqueeze(1))


def render(identity: torch.Tensor, nuisance: dict[str, torch.Tensor], resolution: int) -> torch.Tensor:
    """Batched render -> (N, 3, resolution, resolution) uint8. Deterministic: same inputs, same bytes.

    identity: (N, P_ID) from identity_params; nuisance: the dict from image_params (values may be
    edited, e.g. to fix a pose). Image n depends only on row n of each input.
    """
    if not 32 <= resolution <= 128:
        raise ValueError(f"resolution must be in [32, 128], got {resolution}")
    mismatched = [k for k, v in nuisance.items() if v.shape[0] != identity.shape[0]]
    if mismatched:
        raise ValueError(f"nuisance entries {mismatched} do not have {identity.shape[0]} rows")
    images = [
        _render_chunk(identity[start : start + _CHUNK], {k: v[start : start + _CHUNK] for k, v in nuisance.items()}, resolution)
        for start in range(0, identity.shape[0], _CHUNK)
    ]
    return torch.cat(images) if images else torch.zeros(0, 3, resolution, resolution, dtype=torch.uint8)


def render_images(
    seed: int,
    identities: torch.Tensor,
    image_indices: torch.Tensor,
    resolution: int,
    ranges: NuisanceRanges = NuisanceRanges(),
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """identity_params + image_params + render; returns (uint8 images (N, 3, R, R), nuisance dict)."""
    identity = identity_params(seed, identities)
    nuisance = image_params(seed, identities, image_indices, ranges)
    return render(identity, nuisance, resolution), nuisance
