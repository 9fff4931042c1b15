"""prepare, Python half: render the parametric face set into `<identity>/<image>.png`.

Resumable image by image: every image depends only on (seed, identity, image index), files
are written whole or not at all, so a rerun renders only the images that are missing.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ..bridge.jobs import Progress
from ..data import image_files, parametric


@dataclass(frozen=True)
class ParametricFaces:
    """Identities first_identity … first_identity + identities − 1 of the parametric set that `seed` draws,
    images_per_identity images each, resolution² pixels."""

    seed: int
    first_identity: int  # a judge's faces: identities after every one of the dataset's
    identities: int
    images_per_identity: int
    resolution: int
    ranges: parametric.NuisanceRanges


def parametric_faces(faces: ParametricFaces, out_dir: str, *, batch_size: int, grid_path: str, grid_identities: int,
                     grid_images: int, progress: Progress) -> dict:
    """Render the missing images of `faces` into out_dir and draw the grid; {rows (one per image, its path relative
    to out_dir and its attributes), rendered, reused}."""
    first, n_ids, per_id = faces.first_identity, faces.identities, faces.images_per_identity
    identity = (first + torch.arange(n_ids)).repeat_interleave(per_id)  # (N,)
    image = torch.arange(per_id).repeat(n_ids)  # (N,)
    relative = [f"{i}/{k}.png" for i, k in zip(identity.tolist(), image.tolist())]
    missing = [n for n, rel in enumerate(relative) if not os.path.exists(os.path.join(out_dir, rel))]
    for i in range(first, first + n_ids):
        _clear_temporaries(os.path.join(out_dir, str(i)))

    progress.begin(len(relative), label="render", unit="img", step=len(relative) - len(missing))
    for start in range(0, len(missing), batch_size):
        batch = torch.tensor(missing[start:start + batch_size])
        images, _ = parametric.render_images(faces.seed, identity[batch], image[batch], faces.resolution, faces.ranges)
        for n, picture in zip(batch.tolist(), images):
            image_files.write_png_atomic(os.path.join(out_dir, relative[n]), picture)
        progress.advance(len(batch))

    # Attributes are cheap to recompute for every image, rendered now or before.
    nuisance = parametric.image_params(faces.seed, identity, image, faces.ranges)
    attributes = {name: nuisance[name].tolist() for name in parametric.ATTRIBUTE_NAMES}
    rows = [
        {"path": relative[n], "identity": int(identity[n]), "image": int(image[n]),
         **{name: round(attributes[name][n], 4) for name in parametric.ATTRIBUTE_NAMES}}
        for n in range(len(relative))
    ]
    _write_grid(faces, grid_path, grid_identities, grid_images)
    return {"rows": rows, "rendered": len(missing), "reused": len(relative) - len(missing)}


def _clear_temporaries(folder: str) -> None:
    """Make `folder`, and remove what a killed run left half-written there (never a whole image)."""
    os.makedirs(folder, exist_ok=True)
    for entry in os.scandir(folder):
        if entry.name.startswith(".") and entry.name.endswith(".tmp"):
            os.unlink(entry.path)


def _write_grid(faces: ParametricFaces, path: str, identities: int, images: int) -> None:
    """The first `identities` identities as rows, their first `images` images as columns."""
    rows = min(identities, faces.identities)
    cols = min(images, faces.images_per_identity)
    identity = (faces.first_identity + torch.arange(rows)).repeat_interleave(cols)
    image = torch.arange(cols).repeat(rows)
    pictures, _ = parametric.render_images(faces.seed, identity, image, faces.resolution, faces.ranges)
    image_files.write_grid_png(path, pictures, rows, cols)
