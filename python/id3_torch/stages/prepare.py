"""prepare, Python half: render the parametric face set into `<identity>/<image>.png`.

Resumable image by image: every image depends only on (seed, identity, image index), files
are written whole or not at all, so a rerun renders only the images that are missing.
"""
from __future__ import annotations

import os

import torch

from ..bridge.jobs import Progress
from ..data import image_files, parametric


def parametric_faces(args: dict, progress: Progress) -> dict:
    out_dir = args["outDir"]
    n_ids, per_id = args["identities"], args["imagesPerIdentity"]
    ranges = parametric.NuisanceRanges(**{k: tuple(v) for k, v in args["ranges"].items()})
    first = args.get("firstIdentity", 0)  # a judge's faces: identities after every one of the dataset's
    identity = (first + torch.arange(n_ids)).repeat_interleave(per_id)  # (N,)
    image = torch.arange(per_id).repeat(n_ids)  # (N,)
    relative = [f"{i}/{k}.png" for i, k in zip(identity.tolist(), image.tolist())]
    missing = [n for n, rel in enumerate(relative) if not os.path.exists(os.path.join(out_dir, rel))]
    for i in range(first, first + n_ids):
        _clear_temporaries(os.path.join(out_dir, str(i)))

    progress.begin(len(relative), label="render", unit="img", step=len(relative) - len(missing))
    for start in range(0, len(missing), args["batchSize"]):
        batch = torch.tensor(missing[start:start + args["batchSize"]])
        images, _ = parametric.render_images(args["seed"], identity[batch], image[batch], args["resolution"], ranges)
        for n, picture in zip(batch.tolist(), images):
            image_files.write_png_atomic(os.path.join(out_dir, relative[n]), picture)
        progress.advance(len(batch))

    # Attributes are cheap to recompute for every image, rendered now or before.
    nuisance = parametric.image_params(args["seed"], identity, image, ranges)
    attributes = {name: nuisance[name].tolist() for name in parametric.ATTRIBUTE_NAMES}
    rows = [
        {"path": relative[n], "identity": int(identity[n]), "image": int(image[n]),
         **{name: round(attributes[name][n], 4) for name in parametric.ATTRIBUTE_NAMES}}
        for n in range(len(relative))
    ]
    _write_grid(args, ranges)
    return {"rows": rows, "rendered": len(missing), "reused": len(relative) - len(missing)}


def _clear_temporaries(folder: str) -> None:
    """Make `folder`, and remove what a killed run left half-written there (never a whole image)."""
    os.makedirs(folder, exist_ok=True)
    for entry in os.scandir(folder):
        if entry.name.startswith(".") and entry.name.endswith(".tmp"):
            os.unlink(entry.path)


def _write_grid(args: dict, ranges: parametric.NuisanceRanges) -> None:
    """The first gridIdentities identities as rows, their first gridImages images as columns."""
    rows = min(args["gridIdentities"], args["identities"])
    cols = min(args["gridImages"], args["imagesPerIdentity"])
    identity = (args.get("firstIdentity", 0) + torch.arange(rows)).repeat_interleave(cols)
    image = torch.arange(cols).repeat(rows)
    images, _ = parametric.render_images(args["seed"], identity, image, args["resolution"], ranges)
    image_files.write_grid_png(args["gridPath"], images, rows, cols)
