"""Benchmark evaluation: the face-verification protocol and the pair lists it runs on."""
from .pairs import PairList, make_pairs, read_pairs_csv, write_pairs_csv
from .verification import (
    FAR_TARGETS, N_FOLDS, PROTOCOL, THRESHOLDS, VerificationResult, flip_sum_embeddings, squared_distances,
    tar_at_far, ten_fold_accuracy, verify_pairs,
)

__all__ = [
    "FAR_TARGETS", "N_FOLDS", "PROTOCOL", "THRESHOLDS", "PairList", "VerificationResult", "flip_sum_embeddings",
    "make_pairs", "read_pairs_csv", "squared_distances", "tar_at_far", "ten_fold_accuracy", "verify_pairs",
    "write_pairs_csv",
]
