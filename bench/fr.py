"""Face-recognition training: our loop (train-fr's job function) vs a bare PyTorch loop over the
same model, data, batches and optimiser, median step times in alternating rounds (timing.py); and
the verification protocol's speed. Prints JSON."""
import csv
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from id3_torch.data import image_files, parametric  # noqa: E402
from id3_torch.data.labelled_images import LabelledImages  # noqa: E402
from id3_torch.evaluation import verify_pairs  # noqa: E402
from id3_torch.recognition.iresnet import normalize_face_images  # noqa: E402
from id3_torch.jobs.contracts import with_defaults  # noqa: E402
from id3_torch.jobs.train_fr import fr_training_options, train_face_recognition  # noqa: E402
from id3_torch.recognition.train import HEADS, FaceRecognitionModel  # noqa: E402
from id3_torch.training.order import rank_batches  # noqa: E402
from timing import StepClock, clock, compare, step_times  # noqa: E402

IDENTITIES, IMAGES, RESOLUTION, EPOCHS, ROUNDS = 32, 16, 32, 2, 10
ARGS = {"device": "cpu", "splits": ["train"], "identities": None,
        "backbone": {"name": "iresnet-small", "inputSize": RESOLUTION, "embeddingSize": 128, "widths": None,
                     "layers": None},
        "head": "cosface", "s": 30.0, "m": 0.3, "epochs": EPOCHS, "batchSize": 64, "lr": 0.1, "momentum": 0.9,
        "weightDecay": 5e-4, "decayEpochs": [2], "warmupEpochs": 0, "flip": False, "gradClip": None,
        "maxWeightGrowth": None, "checkpointEvery": 10**9, "seed": 0}


def job_args(manifest: str, out_dir: str) -> dict:
    """train-fr's arguments as TypeScript sends them."""
    return with_defaults("train-fr", {**ARGS, "data": manifest, "outDir": out_dir})


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


def bare_loop(manifest: str) -> dict:
    """The same model, head, optimiser and batches, with nothing around them: median step times."""
    options = fr_training_options(job_args(manifest, "-"))
    data = LabelledImages.from_manifest(manifest, splits=("train",))
    torch.manual_seed(options.seed)
    head = HEADS[options.head](data.num_classes, options.backbone.embedding_size, s=options.s, m=options.m)
    model = FaceRecognitionModel(options.backbone.build(), head)
    optimizer = torch.optim.SGD(model.parameters(), lr=options.lr, momentum=options.momentum,
                                weight_decay=options.weight_decay)
    stamps = [clock()]
    for epoch in range(options.epochs):
        for batch in rank_batches(len(data), batch_size=options.batch_size, seed=options.seed, epoch=epoch):
            loss = model(normalize_face_images(data.images[batch]), data.labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            stamps.append(clock())
    return step_times(stamps)


def our_loop(manifest: str, out_dir: str) -> dict:
    """train-fr's job from step 0: median step times."""
    for name in os.listdir(out_dir):  # no checkpoint to resume from
        if name.endswith(".safetensors"):
            os.unlink(os.path.join(out_dir, name))
    progress = StepClock()
    train_face_recognition(job_args(manifest, out_dir), progress)
    return step_times(progress.stamps)


def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        manifest = write_set(root)
        out_dir = os.path.join(root, "out")
        os.makedirs(out_dir)
        training = compare(lambda: our_loop(manifest, out_dir), lambda: bare_loop(manifest), ROUNDS)
    rng = np.random.default_rng(0)
    e1, e2 = rng.normal(size=(2, 6000, 512))
    same = rng.random(6000) < 0.5
    started = time.perf_counter()
    verify_pairs(e1, e2, same)
    pairs_per_second = 6000 / (time.perf_counter() - started)
    print(json.dumps({"batchSize": ARGS["batchSize"], "training": training, "pairsPerSecond": pairs_per_second}))


if __name__ == "__main__":
    main()
