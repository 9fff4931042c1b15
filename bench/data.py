"""Data loading: decoded 112×112 JPEG images/s from a `.rec` with 2 DataLoader workers vs the same files
from identity folders; and train-fr's loop with its data in memory vs streamed. Prints JSON.

The images are 256 parametric faces rendered at 112 px (JPEG quality 95, about 6.5 kB each), each
stored 16 times under different names, 4,096 files in all: decoding cost depends on the bytes, not on
whether two files hold the same ones, and rendering 4,096 distinct faces would take minutes. Both
formats are read once before timing (page cache warm for both), then alternately, best of 3 each.
"""
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))

import torch  # noqa: E402

from id3_torch.bridge.jobs import Progress  # noqa: E402
from id3_torch.data.batches import EpochBatches, face_loader  # noqa: E402
from id3_torch.data.datasets import open_face_images  # noqa: E402
from id3_torch.data.folders import encode_image  # noqa: E402
from id3_torch.data.parametric import render_images  # noqa: E402
from id3_torch.data.recordio import RecordIOWriter  # noqa: E402
from id3_torch.jobs.contracts import with_defaults  # noqa: E402
from id3_torch.jobs.train_fr import train_face_recognition  # noqa: E402

UNIQUE, COPIES, SIDE, BATCH, WORKERS = 256, 16, 112, 256, 2
FR_ARGS = {"device": "cpu", "splits": None, "identities": None,
           "backbone": {"name": "iresnet-small", "inputSize": 32, "embeddingSize": 128, "widths": None, "layers": None},
           "head": "cosface", "s": 30.0, "m": 0.3, "epochs": 1, "batchSize": 64, "lr": 0.1, "momentum": 0.9,
           "weightDecay": 5e-4, "decayEpochs": [2], "warmupEpochs": 0, "flip": True, "gradClip": None,
           "maxWeightGrowth": None, "checkpointEvery": 10**9, "seed": 0}


def write_sets(root: str, side: int, unique: int, copies: int) -> tuple[str, str]:
    """(identity folders, .rec) holding the same JPEG bytes: `unique` faces, `copies` files each."""
    identity = torch.arange(unique) // 4  # 4 rendered faces per identity, copies spread over the identity
    faces, _ = render_images(0, identity, torch.arange(unique) % 4, side)
    bodies = [encode_image(face, quality=95) for face in faces]
    folders, rec = os.path.join(root, "folders"), os.path.join(root, "faces.rec")
    with RecordIOWriter(rec) as writer:
        for person in range(unique // 4):
            os.makedirs(os.path.join(folders, f"{person:04d}"))
            for copy in range(copies):
                for k in range(4):
                    body = bodies[4 * person + k]
                    with open(os.path.join(folders, f"{person:04d}", f"{copy:02d}-{k}.jpg"), "wb") as f:
                        f.write(body)
                    writer.add_image(person, body)
    return folders, rec


def images_per_second(path: str) -> float:
    """One epoch in a seeded random order (as training reads), decoded by WORKERS workers, start-up included."""
    dataset = open_face_images(path)
    batches = EpochBatches(dataset.labels, batch_size=BATCH, seed=0)
    started, seen = time.perf_counter(), 0
    for batch in face_loader(dataset, batches, workers=WORKERS):
        seen += len(batch.labels)
    return seen / (time.perf_counter() - started)


def train_fr(data: str, out_dir: str, mode: str) -> float:
    for name in os.listdir(out_dir):
        os.unlink(os.path.join(out_dir, name))
    args = with_defaults("train-fr", {**FR_ARGS, "data": data, "outDir": out_dir,
                                      "loader": {"mode": mode, "workers": WORKERS}})
    result = train_face_recognition(args, Progress())
    return result["imagesPerSecond"]


def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        folders, rec = write_sets(root, SIDE, UNIQUE, COPIES)
        images_per_second(rec), images_per_second(folders)  # warm the page cache for both
        from_rec, from_folders = [], []
        for _ in range(3):
            from_rec.append(images_per_second(rec))
            from_folders.append(images_per_second(folders))

        small = os.path.join(root, "small")
        os.makedirs(small)
        small_folders, _ = write_sets(small, 32, 256, 4)  # 1,024 images of 64 identities at 32 px
        out_dir = os.path.join(root, "out")
        os.makedirs(out_dir)
        memory, stream = [], []
        for _ in range(2):
            memory.append(train_fr(small_folders, out_dir, "memory"))
            stream.append(train_fr(small_folders, out_dir, "stream"))
    print(json.dumps({"images": UNIQUE * COPIES, "rec": max(from_rec), "folders": max(from_folders),
                      "trainMemory": max(memory), "trainStream": max(stream)}))


if __name__ == "__main__":
    main()
