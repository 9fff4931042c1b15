"""Face-recognition training: our loop (train-fr's job function) vs a bare PyTorch loop over the
same model, data, batches and optimiser; and the verification protocol's speed. Prints JSON."""
import csv
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from id3_torch.bridge.jobs import Progress  # noqa: E402
from id3_torch.data import image_files, parametric  # noqa: E402
from id3_torch.data.labelled_images import LabelledImages  # noqa: E402
from id3_torch.evaluation import verify_pairs  # noqa: E402
from id3_torch.recognition.iresnet import normalize_face_images  # noqa: E402
from id3_torch.recognition.train import HEADS, FaceRecognitionModel, FrTrainingOptions, train_face_recognition  # noqa: E402
from id3_torch.training.order import rank_batches  # noqa: E402

IDENTITIES, IMAGES, RESOLUTION, EPOCHS = 32, 16, 32, 3
ARGS = {"device": "cpu", "splits": ["train"],
        "backbone": {"name": "iresnet-small", "inputSize": RESOLUTION, "embeddingSize": 128},
        "head": "cosface", "s": 30.0, "m": 0.3, "epochs": EPOCHS, "batchSize": 64, "lr": 0.1, "momentum": 0.9,
        "weightDecay": 5e-4, "decayEpochs": [2], "warmupEpochs": 0, "flip": False, "gradClip": None,
        "checkpointEvery": 10**9, "seed": 0}


def write_set(root: str) -> str:
    identity = torch.arange(IDENTITIES).repeat_interleave(IMAGES)
    image = torch.arange(IMAGES).repeat(IDENTITIES)
    pictures, _ = parametric.render_images(0, identity, image, RESOLUTION)
    with open(os.path.join(root, "manifest.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "identity", "split"])
        for i, k, picture in zip(identity.tolist(), image.tolist(), pictures):
            os.makedirs(os.path.join(root, str(i)), exist_ok=True)
            image_files.write_png_atomic(os.path.join(root, str(i), f"{k}.png"), picture)
            writer.writerow([f"{i}/{k}.png", i, "train"])
    return os.path.join(root, "manifest.csv")


def bare_loop(manifest: str) -> float:
    """The same model, batches and SGD, with nothing around them: images/s."""
    options = FrTrainingOptions.from_args({**ARGS, "manifest": manifest, "outDir": ""})
    data = LabelledImages.from_manifest(manifest, splits=("train",))
    torch.manual_seed(0)
    model = FaceRecognitionModel(options.backbone.build(), HEADS["cosface"](data.num_classes, 128, s=30.0, m=0.3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    started, seen = time.perf_counter(), 0
    for epoch in range(EPOCHS):
        for batch in rank_batches(len(data), batch_size=64, seed=0, epoch=epoch):
            loss = model(normalize_face_images(data.images[batch]), data.labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            seen += len(batch)
    return seen / (time.perf_counter() - started)


def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        manifest = write_set(root)
        bare = bare_loop(manifest)
        ours = train_face_recognition({**ARGS, "manifest": manifest, "outDir": root}, Progress())["imagesPerSecond"]
    rng = np.random.default_rng(0)
    e1, e2 = rng.normal(size=(2, 6000, 512))
    same = rng.random(6000) < 0.5
    started = time.perf_counter()
    verify_pairs(e1, e2, same)
    pairs_per_second = 6000 / (time.perf_counter() - started)
    print(json.dumps({"ours": ours, "bare": bare, "pairsPerSecond": pairs_per_second}))


if __name__ == "__main__":
    main()
