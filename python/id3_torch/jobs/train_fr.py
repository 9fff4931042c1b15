"""Job `train-fr` (contract: src/jobs/train-fr.ts)."""
from __future__ import annotations

from ..bridge.jobs import Progress
from ..data.augment import AugmentOptions
from ..data.feeds import LoaderOptions
from ..recognition.train import BackboneSpec, FrTrainingOptions, train


def augment_options(flip: bool, d: dict) -> AugmentOptions:
    """The contract's `augment` section (camelCase), with `flip`, as the augmentation's options."""
    return AugmentOptions(flip=flip, crop=d["crop"], crop_scale=tuple(d["cropScale"]),
                          low_resolution=d["lowResolution"], low_resolution_scale=tuple(d["lowResolutionScale"]),
                          photometric=d["photometric"], photometric_strength=d["photometricStrength"])


def loader_options(d: dict) -> LoaderOptions:
    """The contract's `loader` section (camelCase) as the feed's options."""
    return LoaderOptions(mode=d["mode"], workers=d["workers"], memory_gib=d["memoryGiB"], sampling=d["sampling"],
                         on_corrupt=d["onCorrupt"])


def fr_training_options(args: dict) -> FrTrainingOptions:
    """The job's arguments as the training's options: all but data, splits, identities and outDir."""
    b = args["backbone"]
    backbone = BackboneSpec(b["name"], b["inputSize"], b["embeddingSize"],
                            tuple(b["widths"]) if b["widths"] else None, tuple(b["layers"]) if b["layers"] else None)
    return FrTrainingOptions(
        backbone=backbone, head=args["head"], s=args["s"], m=args["m"], epochs=args["epochs"],
        batch_size=args["batchSize"], lr=args["lr"], momentum=args["momentum"], weight_decay=args["weightDecay"],
        decay_epochs=tuple(args["decayEpochs"]), warmup_epochs=args["warmupEpochs"],
        augment=augment_options(args["flip"], args["augment"]), loader=loader_options(args["loader"]),
        grad_clip=args["gradClip"], max_weight_growth=args["maxWeightGrowth"], checkpoint_every=args["checkpointEvery"],
        seed=args["seed"], device=args["device"])


def train_face_recognition(args: dict, progress: Progress) -> dict:
    splits = args["splits"]
    return train(fr_training_options(args), data=args["data"], out_dir=args["outDir"],
                 splits=None if splits is None else tuple(splits), identities=args["identities"], progress=progress)
