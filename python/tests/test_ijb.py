"""IJB-B/C 1:1 verification (evaluation/ijb.py) against a reference written from the published protocol
(insightface's eval_ijbc: its loops, scikit-learn's roc_curve, normalize and auc), on a small IJB-style
folder built here: rendered faces of 8 people placed in larger photos by random similarities, saved as
JPEG, with noisy five-point landmarks, detector scores, templates of several media and every template
pair labelled."""
import json
import os

import cv2
import numpy as np
import pytest
import sklearn.metrics
import sklearn.preprocessing
import torch
from PIL import Image

from id3_torch.bridge.jobs import Progress
from id3_torch.data import parametric
from id3_torch.evaluation import ijb
from id3_torch.jobs.evaluate import verify_ijb
from id3_torch.recognition.checkpoints import save_safetensors
from id3_torch.recognition.encoder import FaceEncoder
from id3_torch.recognition.iresnet import build_backbone
from ijb_helper import photo_of, write_ijb_folder

SUBJECTS, TEMPLATES_EACH = 8, 3
X_LABELS = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]


@pytest.fixture(scope="module")
def ijb_folder(tmp_path_factory):
    """24 templates (3 per person) of 1-3 media, each media 1-3 images, 276 labelled template pairs."""
    root = tmp_path_factory.mktemp("release") / "IJBC"
    write_ijb_folder(str(root), subjects=SUBJECTS, templates_each=TEMPLATES_EACH)
    return root


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A small iresnet at 112 px, written as a train-fr folder: (folder, its network)."""
    folder = tmp_path_factory.mktemp("encoder")
    torch.manual_seed(0)
    backbone = build_backbone("iresnet-small", input_size=112, embedding_size=16, widths=(4, 4, 8, 8), layers=(1, 1, 1, 1))
    # BatchNorm statistics measured on faces (as training leaves them): random weights with the default
    # statistics map every face near one direction (cosines all above 0.99).
    faces, _ = parametric.render_images(4, torch.arange(32), torch.zeros(32, dtype=torch.long), 112)
    for layer in backbone.modules():
        if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm):
            layer.momentum = None  # a plain average over the batches seen
    with torch.no_grad():
        backbone.train()(faces.float() / 127.5 - 1)
    save_safetensors(folder / "backbone.safetensors", backbone.eval())
    (folder / "encoder.json").write_text(json.dumps({
        "kind": "iresnet", "backbone": "iresnet-small", "inputSize": 112, "embeddingSize": 16, "widths": [4, 4, 8, 8],
        "layers": [1, 1, 1, 1], "weights": "backbone.safetensors"}))
    return folder, FaceEncoder(backbone.eval(), 112)


def umeyama(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Umeyama (1991), eq. 40-42, as scikit-image's SimilarityTransform.estimate: 2×3 (photo → template)."""
    source, target = source.astype(np.float64), target.astype(np.float64)
    mean_s, mean_t = source.mean(0), target.mean(0)
    covariance = (target - mean_t).T @ (source - mean_s) / len(source)
    sign = np.ones(2)
    if np.linalg.det(covariance) < 0:
        sign[1] = -1
    u, singular, vt = np.linalg.svd(covariance)
    rotation = u @ np.diag(sign) @ vt
    scale = (singular @ sign) / (source - mean_s).var(axis=0).sum()
    return np.hstack([scale * rotation, (mean_t - scale * rotation @ mean_s)[:, None]])


@torch.no_grad()
def reference_eval_ijbc(root, network, *, use_norm_score=True, use_detector_score=True):
    """The published protocol step by step, in its own order and data types."""
    meta = lambda kind: os.path.join(root, "meta", f"ijbc_{kind}.txt")
    tid_mid = np.loadtxt(meta("face_tid_mid"), dtype=str)
    templates, medias = tid_mid[:, 1].astype(int), tid_mid[:, 2].astype(int)
    pairs = np.loadtxt(meta("template_pair_label"), dtype=int)
    p1, p2, label = pairs[:, 0], pairs[:, 1], pairs[:, 2]
    src = np.array([[30.2946, 51.6963], [65.5318, 51.5014], [48.0252, 71.7366], [33.5493, 92.3655], [62.7299, 92.2041]],
                   dtype=np.float32)
    src[:, 0] += 8.0
    img_feats, faceness_scores = [], []
    for line in open(meta("name_5pts_score")).readlines():
        name_lmk_score = line.strip().split(" ")
        img = cv2.imread(os.path.join(root, "loose_crop", name_lmk_score[0]))
        lmk = np.array([float(x) for x in name_lmk_score[1:-1]], dtype=np.float32).reshape((5, 2))
        img = cv2.warpAffine(img, umeyama(lmk, src), (112, 112), borderValue=0.0)
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        blob = np.stack([np.transpose(img, (2, 0, 1)), np.transpose(np.fliplr(img), (2, 0, 1))])
        imgs = torch.Tensor(blob.astype(np.float32))
        imgs.div_(255).sub_(0.5).div_(0.5)
        img_feats.append(network(imgs).reshape(-1).numpy())
        faceness_scores.append(name_lmk_score[-1])
    img_feats = np.array(img_feats, dtype=np.float32)
    faceness_scores = np.array(faceness_scores).astype(np.float32)
    half = img_feats.shape[1] // 2
    feats = img_feats[:, :half] + img_feats[:, half:]
    if not use_norm_score:
        feats = feats / np.sqrt(np.sum(feats ** 2, -1, keepdims=True))
    if use_detector_score:
        feats = feats * faceness_scores[:, np.newaxis]
    unique_templates = np.unique(templates)
    template_feats = np.zeros((len(unique_templates), feats.shape[1]))
    for count, uqt in enumerate(unique_templates):
        (ind_t,) = np.where(templates == uqt)
        face_feats, face_medias = feats[ind_t], medias[ind_t]
        unique_medias, counts = np.unique(face_medias, return_counts=True)
        media_feats = []
        for u, ct in zip(unique_medias, counts):
            (ind_m,) = np.where(face_medias == u)
            media_feats += [face_feats[ind_m]] if ct == 1 else [np.mean(face_feats[ind_m], axis=0, keepdims=True)]
        template_feats[count] = np.sum(np.array(media_feats), axis=0)
    template_norm_feats = sklearn.preprocessing.normalize(template_feats)
    template2id = np.zeros((max(unique_templates) + 1, 1), dtype=int)
    for count, uqt in enumerate(unique_templates):
        template2id[uqt] = count
    score = np.sum(template_norm_feats[template2id[p1]] * template_norm_feats[template2id[p2]], -1).flatten()
    fpr, tpr, _ = sklearn.metrics.roc_curve(label, score)
    roc_auc = sklearn.metrics.auc(fpr, tpr)
    fpr, tpr = np.flipud(fpr), np.flipud(tpr)
    row = []
    for x in X_LABELS:
        _, min_index = min(list(zip(abs(fpr - x), range(len(fpr)))))
        row.append(tpr[min_index])
    return score, row, roc_auc


@pytest.mark.parametrize("norm_score, detector_score", [(True, True), (False, False), (True, False)])
def test_equals_the_published_protocol(ijb_folder, model, norm_score, detector_score):
    folder, network = model
    result = verify_ijb({"folder": str(ijb_folder), "model": str(folder), "batchSize": 16, "device": "cpu",
                         "normScore": norm_score, "detectorScore": detector_score, "scores": True}, Progress())
    score, row, roc_auc = reference_eval_ijbc(ijb_folder, network, use_norm_score=norm_score, use_detector_score=detector_score)
    np.testing.assert_allclose(result["scores"], score, rtol=0, atol=2e-6)
    # The scores agree to float precision, and no two pairs' scores are nearer than twice that: the same ROC.
    assert np.min(np.diff(np.sort(score))) > 2 * np.max(np.abs(np.array(result["scores"]) - score))
    assert [result["tarAtFar"][f"{x:.0e}".replace("e-0", "e-")] for x in X_LABELS] == pytest.approx(row, abs=1e-12)
    assert result["auc"] == pytest.approx(roc_auc, abs=1e-12)
    assert result["pairs"] == SUBJECTS * TEMPLATES_EACH * (SUBJECTS * TEMPLATES_EACH - 1) // 2
    assert result["templates"] == SUBJECTS * TEMPLATES_EACH


def test_the_options_change_the_scores(ijb_folder, model):
    """Each option is live: switching it off moves the scores (so the test above can tell them apart)."""
    folder, _ = model
    args = {"folder": str(ijb_folder), "model": str(folder), "batchSize": 16, "device": "cpu", "scores": True}
    default = verify_ijb(args, Progress())["scores"]
    for options in ({"detectorScore": False}, {"normScore": False}):
        other = verify_ijb({**args, **options}, Progress())["scores"]
        assert np.max(np.abs(np.array(other) - default)) > 1e-3, options


@pytest.mark.parametrize("seed", range(5))
def test_roc_and_tar_equal_scikit_learns_on_tied_scores(seed):
    """Scores drawn from few values (many ties, straight runs the ROC drops) and a long list."""
    rng = np.random.default_rng(seed)
    n = 3000
    same = rng.random(n) < 0.3
    scores = np.round(rng.normal(same * 1.0, 1.0), 1 if seed % 2 else 3)
    fpr, tpr = ijb.roc_points(scores, same)
    expected_fpr, expected_tpr, _ = sklearn.metrics.roc_curve(same.astype(int), scores)
    np.testing.assert_array_equal(fpr, expected_fpr)
    np.testing.assert_array_equal(tpr, expected_tpr)
    flipped_fpr, flipped_tpr = np.flipud(expected_fpr), np.flipud(expected_tpr)
    for far in (1e-4, 1e-3, 3e-3, 0.01, 0.1, 0.5):
        _, index = min(zip(abs(flipped_fpr - far), range(len(flipped_fpr))))
        assert ijb.tar_at_far(fpr, tpr, far)[0] == flipped_tpr[index]
    assert ijb.area_under(fpr, tpr) == pytest.approx(sklearn.metrics.auc(expected_fpr, expected_tpr), abs=1e-12)


def test_tar_at_far_hand_worked():
    """Scores 0.9 (same), 0.8 (different), 0.7 (same), 0.6 (different): ROC (0,0) (0,½) (½,½) (½,1) (1,1);
    at FAR 0.4 the nearest FPR is ½, reached at TPR ½ and 1: the higher, 1."""
    fpr, tpr = ijb.roc_points(np.array([0.9, 0.8, 0.7, 0.6]), np.array([True, False, True, False]))
    np.testing.assert_array_equal(fpr, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_array_equal(tpr, [0, 0.5, 0.5, 1, 1])
    assert ijb.tar_at_far(fpr, tpr, 0.4) == (1.0, 0.5)
    assert ijb.tar_at_far(fpr, tpr, 0.1) == (0.5, 0.0)


def test_media_frames_are_averaged_before_templates_sum():
    """Template 7: media 1 (frames 2 and 4 → 3) plus media 2 (10) = 13, normalised; template 9: a single image."""
    features = np.array([[2.0, 0.0], [4.0, 0.0], [0.0, 10.0], [0.0, -5.0]])
    unique, pooled = ijb.template_features(features, np.array([7, 7, 7, 9]), np.array([1, 1, 2, 3]))
    np.testing.assert_array_equal(unique, [7, 9])
    np.testing.assert_allclose(pooled, [[3 / np.hypot(3, 10), 10 / np.hypot(3, 10)], [0.0, -1.0]])


def test_the_release_files_are_checked(ijb_folder, tmp_path):
    """Wrong folders and inconsistent meta files are refused, naming the file and the line."""
    with pytest.raises(ValueError, match="IJB-B or IJB-C release folder"):
        ijb.read_ijb_folder(str(tmp_path))
    broken = tmp_path / "IJBB"
    (broken / "meta").mkdir(parents=True)
    source = ijb_folder / "meta"
    lines = (source / "ijbc_face_tid_mid.txt").read_text().splitlines()
    (broken / "meta" / "ijbb_face_tid_mid.txt").write_text("\n".join([lines[1], lines[0], *lines[2:]]) + "\n")
    (broken / "meta" / "ijbb_name_5pts_score.txt").write_text((source / "ijbc_name_5pts_score.txt").read_text())
    (broken / "meta" / "ijbb_template_pair_label.txt").write_text("1 2 1\n")
    with pytest.raises(ValueError, match=r"ijbb_face_tid_mid.txt: line 1 names 2.jpg, but line 1 .* names 1.jpg"):
        ijb.read_ijb_folder(str(broken))
    (broken / "meta" / "ijbb_face_tid_mid.txt").write_text("\n".join(lines) + "\n")
    (broken / "meta" / "ijbb_template_pair_label.txt").write_text("1 2 1\n1 999 0\n")
    with pytest.raises(ValueError, match="1 template.s. without images, e.g. 999"):
        ijb.read_ijb_folder(str(broken))
    (broken / "meta" / "ijbb_template_pair_label.txt").write_text("1 2 1\n1 2\n")
    with pytest.raises(ValueError, match="expected lines of 3 integers"):
        ijb.read_ijb_folder(str(broken))
    (broken / "meta" / "ijbb_template_pair_label.txt").write_text("1 2 1\n")
    folder = ijb.read_ijb_folder(str(broken))
    assert folder.prefix == "ijbb" and len(folder.names) == len(lines)


def test_the_crop_undoes_the_photos_similarity(tmp_path):
    """With exact landmarks, the aligned crop of a photo made from a face is that face again (bilinear twice)."""
    faces, _ = parametric.render_images(3, torch.tensor([2]), torch.tensor([0]), 112)
    face = np.ascontiguousarray(faces[0].permute(1, 2, 0).numpy())
    photo, points = photo_of(face, np.random.default_rng(1), landmark_noise=0.0)
    Image.fromarray(photo).save(tmp_path / "photo.png")
    crop = ijb.aligned_crop(str(tmp_path / "photo.png"), points)
    inside = (slice(None), slice(8, 104), slice(8, 104))
    error = np.abs(crop.astype(float) - faces[0].numpy().astype(float))[inside].mean()
    assert error < 4.0
    wrong = ijb.aligned_crop(str(tmp_path / "photo.png"), points[[1, 0, 2, 4, 3]])
    assert np.abs(wrong.astype(float) - faces[0].numpy().astype(float))[inside].mean() > 4 * error


def test_a_missing_photo_is_named(ijb_folder, model, tmp_path):
    copy = tmp_path / "IJBC"
    (copy / "loose_crop").mkdir(parents=True)
    (copy / "meta").symlink_to(ijb_folder / "meta")
    for name in os.listdir(ijb_folder / "loose_crop"):
        if name != "3.jpg":
            (copy / "loose_crop" / name).symlink_to(ijb_folder / "loose_crop" / name)
    with pytest.raises(ValueError, match=r"loose_crop/3.jpg: missing or not an image"):
        verify_ijb({"folder": str(copy), "model": str(model[0]), "batchSize": 16, "device": "cpu"}, Progress())
