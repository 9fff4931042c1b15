"""Tests for the iResNet backbones, the margin heads and the checkpoint files."""

from __future__ import annotations

import hashlib
import math

import pytest
import torch

from id3_torch.data.parametric import render_images
from id3_torch.recognition import (
    AdaFaceHead,
    ArcFaceHead,
    CombinedMarginHead,
    CosFaceHead,
    build_backbone,
    load_backbone_checkpoint,
    load_safetensors,
    normalize_face_images,
    save_safetensors,
)

# Measured once from insightface's own code (deepinsight/insightface, commit 7fadd420c2,
# recognition/arcface_torch/backbones/iresnet.py), imported in a scratch folder with torch 2.x:
#   model = iresnet50(False, dropout=0.0, fp16=False, num_features=512)   # as train_v2.py builds it
#   entries = [(name, tuple(t.shape)) for name, t in model.state_dict().items()]
#   (len(entries), sha256(repr(entries)), sum(p.numel() for p in model.parameters()))
REFERENCE_LAYOUTS = {
    "iresnet18": (187, "ea0fb9f9f143f0a26086adf16574627cf7e516fb7e7a153daa44d8a3aa3e675e", 24025600),
    "iresnet34": (331, "cd1b7d65dd13d8cf2d439ce8fb1f44e4618b176ca586c155347d923bfc93d1e3", 34139328),
    "iresnet50": (475, "9bb71860a7bb9e18fb017c3da7e4cb688fc97bb6b41091c041f00171a1d092e2", 43590848),
    "iresnet100": (925, "56eda461718b204fe5405a0137374bf70181070b27acad5f8825d7153fe8f328", 65156160),
}

# The same reference iresnet18 in eval mode, its state filled by `_fill_deterministic` below and fed
# `_reference_input()`: out[0, :4], out[1, :4] and the two L2 norms it produced. (Our model was
# bit-identical to it for all four depths, eval and train mode, in that scratch run.)
REFERENCE_IRESNET18_OUT0 = [1.3730369806289673, 2.3861513137817383, -0.4261194169521332, -1.4581111669540405]
REFERENCE_IRESNET18_OUT1 = [2.3735511302948, 2.0579214096069336, -1.0042167901992798, 0.6057286262512207]
REFERENCE_IRESNET18_NORMS = [34.25540542602539, 31.95211410522461]


def _fill_deterministic(model: torch.nn.Module, seed: int = 0) -> None:
    """Overwrite every float entry of the state dict from one generator, in sorted key order."""
    generator = torch.Generator().manual_seed(seed)
    state = model.state_dict()
    with torch.no_grad():
        for key in sorted(state):
            tensor = state[key]
            if not tensor.is_floating_point():
                continue
            r = torch.randn(tensor.shape, generator=generator)
            if key.endswith("running_var"):
                tensor.copy_(1.0 + 0.1 * r.abs())
            elif tensor.ndim >= 2:  # conv / linear weights, scaled for unit-variance outputs
                tensor.copy_(r / tensor[0].numel() ** 0.5)
            elif key.endswith("prelu.weight"):
                tensor.copy_(0.25 + 0.05 * r)
            elif key.endswith(".weight"):
                tensor.copy_(1.0 + 0.1 * r)
            else:
                tensor.copy_(0.1 * r)


def _reference_input() -> torch.Tensor:
    return torch.rand(2, 3, 112, 112, generator=torch.Generator().manual_seed(1)) * 2 - 1  # (2, 3, 112, 112)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One intra-op thread: on a busy 2-core machine 2 OpenMP threads made small convs up to ~15x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- backbones -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REFERENCE_LAYOUTS))
def test_state_dict_layout_matches_arcface_torch(name: str) -> None:
    model = build_backbone(name)
    entries = [(key, tuple(t.shape)) for key, t in model.state_dict().items()]
    digest = hashlib.sha256(repr(entries).encode()).hexdigest()
    assert (len(entries), digest, sum(p.numel() for p in model.parameters())) == REFERENCE_LAYOUTS[name]


def test_iresnet18_embeds_like_arcface_torch() -> None:
    model = build_backbone("iresnet18").eval()
    _fill_deterministic(model)
    with torch.no_grad():
        out = model(_reference_input())  # (2, 512)
    assert out.shape == (2, 512)
    torch.testing.assert_close(out[0, :4], torch.tensor(REFERENCE_IRESNET18_OUT0), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out[1, :4], torch.tensor(REFERENCE_IRESNET18_OUT1), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out.norm(dim=1), torch.tensor(REFERENCE_IRESNET18_NORMS), rtol=1e-4, atol=1e-4)


def test_arcface_torch_details() -> None:
    model = build_backbone("iresnet50")
    batch_norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert batch_norms and all(m.eps == 1e-5 for m in batch_norms)
    assert model.fc.in_features == 512 * 7 * 7 and model.fc.out_features == 512
    assert torch.equal(model.features.weight, torch.ones(512)) and not model.features.weight.requires_grad
    assert model.features.bias.requires_grad
    assert model.layer1[0].conv2.stride == (2, 2) and model.layer1[0].conv1.stride == (1, 1)


def test_iresnet50_outputs_unnormalised_512d_embeddings() -> None:
    model = build_backbone("iresnet50").eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 112, 112) * 2 - 1)
    assert out.shape == (2, 512)
    assert not torch.allclose(out.norm(dim=1), torch.ones(2))


@pytest.mark.parametrize(("input_size", "final_side"), [(32, 2), (48, 3), (64, 4), (112, 7)])
def test_small_backbone_sizes_fc_from_the_input(input_size: int, final_side: int) -> None:
    model = build_backbone("iresnet-small", input_size=input_size, embedding_size=128).eval()
    assert model.fc.in_features == 128 * final_side**2
    with torch.no_grad():
        assert model(torch.zeros(3, 3, input_size, input_size)).shape == (3, 128)
    with pytest.raises(ValueError, match=rf"\(B, 3, {input_size}, {input_size}\)"):
        model(torch.zeros(1, 3, input_size + 16, input_size + 16))


def test_under_bf16_autocast_only_the_trunk_is_mixed_and_the_embedding_stays_float32() -> None:
    # train-fr autocasts on CUDA; CPU autocast makes the same casts, so the rule is checked here.
    torch.manual_seed(0)
    model = build_backbone("iresnet-small", input_size=32, embedding_size=128).eval()
    images = torch.rand(4, 3, 32, 32) * 2 - 1
    trunk_dtypes = []
    model.layer4.register_forward_hook(lambda _m, _i, out: trunk_dtypes.append(out.dtype))
    with torch.no_grad():
        exact = model(images)
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            mixed = model(images)
    assert trunk_dtypes == [torch.float32, torch.bfloat16]
    assert mixed.dtype == torch.float32
    assert torch.nn.functional.cosine_similarity(mixed, exact).min() > 0.99
    assert not torch.equal(mixed, exact)


def test_small_backbone_takes_widths_and_layers() -> None:
    model = build_backbone("iresnet-small", input_size=32, widths=(8, 8, 16, 16), layers=(1, 2, 1, 1))
    assert [len(getattr(model, f"layer{i}")) for i in range(1, 5)] == [1, 2, 1, 1]
    assert model.conv1.out_channels == 8 and model.fc.in_features == 16 * 2 * 2
    assert model.layer2[1].downsample is None and model.layer2[0].downsample is not None


def test_build_backbone_rejects_bad_requests() -> None:
    with pytest.raises(ValueError, match="unknown backbone 'resnet50'"):
        build_backbone("resnet50")
    with pytest.raises(ValueError, match="'iresnet50' has fixed widths"):
        build_backbone("iresnet50", widths=(16, 32, 64, 128))


def test_normalize_face_images_maps_bytes_to_unit_range() -> None:
    images = torch.tensor([0, 51, 255], dtype=torch.uint8).view(1, 3, 1, 1)
    assert normalize_face_images(images).flatten().tolist() == pytest.approx([-1.0, -0.6, 1.0])


def test_small_backbone_with_arcface_learns_parametric_identities() -> None:
    torch.manual_seed(0)
    identities = torch.arange(6).repeat_interleave(6)
    images, _ = render_images(3, identities, torch.arange(6).repeat(6), 32)
    x = normalize_face_images(images)  # (36, 3, 32, 32)
    backbone = build_backbone(
        "iresnet-small", input_size=32, embedding_size=64, widths=(8, 16, 32, 64), layers=(1, 1, 1, 1)
    )
    head = ArcFaceHead(6, 64, s=16.0, m=0.2)
    params = [p for p in [*backbone.parameters(), *head.parameters()] if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    losses = []
    for _ in range(12):
        loss = head(backbone(x), identities).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]  # measured: 5.7 -> 0.04
    assert torch.equal(backbone.features.weight, torch.ones(64))  # frozen scale stayed put


# --- heads -----------------------------------------------------------------------------------------
# Class centres (1, 0), (0, 2), (-1, 1) and embeddings (3, 4), (-9.6, 2.8) give, per row, the cosines
#   x0 = (3, 4)/5:           ( 0.6,  0.8, (−0.6 + 0.8)/√2 )
#   x1 = (−9.6, 2.8)/10:     (−0.96, 0.28, (0.96 + 0.28)/√2 )
# with sin θ = 0.8 for cos θ = 0.6, and θ = acos(−0.96) ≈ 2.858 for the second row.

CENTRES = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0]])
EMBEDDINGS = torch.tensor([[3.0, 4.0], [-9.6, 2.8]])
COSINES = [[0.6, 0.8, 0.2 / math.sqrt(2)], [-0.96, 0.28, 1.24 / math.sqrt(2)]]


def _with_centres(head):
    with torch.no_grad():
        head.weight.copy_(CENTRES)
    return head


def _cross_entropy(logits: list[list[float]], labels: list[int]) -> float:
    """Mean over rows of log Σ_j exp(z_j) - z_y."""
    return sum(math.log(sum(math.exp(z) for z in row)) - row[y] for row, y in zip(logits, labels)) / len(labels)


def _assert_head_output(output, expected_logits: list[list[float]], labels: list[int]) -> None:
    torch.testing.assert_close(output.logits, torch.tensor(expected_logits), rtol=1e-5, atol=1e-4)
    assert output.loss.item() == pytest.approx(_cross_entropy(expected_logits, labels), rel=1e-5)


def test_arcface_target_logit_and_threshold_rule() -> None:
    s, m = 64.0, 0.5
    head = _with_centres(ArcFaceHead(3, 2, s=s, m=m))
    output = head(EMBEDDINGS, torch.tensor([0, 0]))
    # Row 0: θ + m < π, cos(θ + m) = cos θ cos m − sin θ sin m. Row 1: θ + m ≈ 3.36 > π, cos θ − m sin m.
    expected = [
        [s * (0.6 * math.cos(m) - 0.8 * math.sin(m)), s * COSINES[0][1], s * COSINES[0][2]],
        [s * (-0.96 - m * math.sin(m)), s * COSINES[1][1], s * COSINES[1][2]],
    ]
    _assert_head_output(output, expected, [0, 0])


def test_cosface_target_logit() -> None:
    s, m = 64.0, 0.4
    output = _with_centres(CosFaceHead(3, 2, s=s, m=m))(EMBEDDINGS, torch.tensor([0, 2]))
    expected = [
        [s * (0.6 - m), s * COSINES[0][1], s * COSINES[0][2]],
        [s * COSINES[1][0], s * COSINES[1][1], s * (COSINES[1][2] - m)],
    ]
    _assert_head_output(output, expected, [0, 2])


def test_combined_margin_target_logit() -> None:
    s, m2, m3 = 32.0, 0.3, 0.2
    head = _with_centres(CombinedMarginHead(3, 2, s=s, m_angular=m2, m_additive=m3))
    output = head(EMBEDDINGS, torch.tensor([0, 0]))
    expected = [
        [s * (0.6 * math.cos(m2) - 0.8 * math.sin(m2) - m3), s * COSINES[0][1], s * COSINES[0][2]],
        [s * (-0.96 - m2 * math.sin(m2) - m3), s * COSINES[1][1], s * COSINES[1][2]],  # θ + m2 ≈ 3.16 > π
    ]
    _assert_head_output(output, expected, [0, 0])


def test_arcface_gradient_is_finite_when_embedding_sits_on_its_centre() -> None:
    head = _with_centres(ArcFaceHead(3, 2))
    embeddings = torch.tensor([[2.0, 0.0], [0.0, 1.0]], requires_grad=True)  # cos θ_y = 1 exactly
    head(embeddings, torch.tensor([0, 1])).loss.backward()
    assert torch.isfinite(embeddings.grad).all() and torch.isfinite(head.weight.grad).all()
    assert head.weight.grad.abs().sum() > 0


def test_adaface_margins_and_running_statistics() -> None:
    s, m, h, alpha = 64.0, 0.4, 0.333, 0.01
    head = _with_centres(AdaFaceHead(3, 2, s=s, m=m, h=h, t_alpha=alpha)).train()
    labels = torch.tensor([0, 1])
    norms = [5.0, 10.0]  # |x0|, |x1|; batch mean 7.5, unbiased std 5/√2
    mean, std = 20.0, 100.0  # the authors' initial statistics
    for _ in range(2):  # the EMA recursion over two identical batches
        output = head(EMBEDDINGS, labels)
        mean = alpha * 7.5 + (1 - alpha) * mean
        std = alpha * 5 / math.sqrt(2) + (1 - alpha) * std
        assert head.batch_mean.item() == pytest.approx(mean, rel=1e-6)
        assert head.batch_std.item() == pytest.approx(std, rel=1e-6)
    z_hat = [max(-1.0, min(1.0, h * (n - mean) / (std + 1e-3))) for n in norms]
    target = [
        math.cos(math.acos(cos_y) - m * z) - (m * z + m) for cos_y, z in zip([0.6, 0.28], z_hat)
    ]  # cos(θ + g_angle) − g_add
    expected = [
        [s * target[0], s * COSINES[0][1], s * COSINES[0][2]],
        [s * COSINES[1][0], s * target[1], s * COSINES[1][2]],
    ]
    _assert_head_output(output, expected, [0, 1])

    head.eval()
    head(EMBEDDINGS, labels)
    assert head.batch_mean.item() == pytest.approx(mean, rel=1e-6)  # eval leaves the statistics alone


def test_adaface_clips_the_norm_score_the_angle_and_the_cosine() -> None:
    s, m, eps = 64.0, 0.4, 1e-3
    head = _with_centres(AdaFaceHead(3, 2, s=s, m=m, h=1.0, t_alpha=1.0)).train()
    # Norms 1, 1, 10: batch mean 4, unbiased std √27; ẑ = −3/(√27 + eps) twice, 6/(√27 + eps) > 1 → 1.
    embeddings = torch.tensor([[-0.99, math.sqrt(1 - 0.99**2)], [0.0, 1.0], [10.0, 0.0]])
    output = head(embeddings, torch.tensor([0, 2, 0]))
    z_low = -3 / (math.sqrt(27) + eps)
    g_angle_low, g_add_low = -m * z_low, m * z_low + m
    expected_targets = [
        math.cos(math.pi - eps) - g_add_low,  # θ ≈ 3.00 plus g_angle ≈ 0.23 passes π − eps: clipped
        math.cos(math.pi / 4 + g_angle_low) - g_add_low,  # no clipping
        math.cos(eps) - (m + m),  # cos 1 clamped to 1 − eps, θ ≈ 0.045, θ − m < eps: clipped
    ]
    torch.testing.assert_close(output.logits[torch.arange(3), torch.tensor([0, 2, 0])],
                               s * torch.tensor(expected_targets), rtol=1e-5, atol=1e-4)
    assert head.batch_mean.item() == pytest.approx(4.0) and head.batch_std.item() == pytest.approx(math.sqrt(27))
    assert output.logits[2, 1].item() == pytest.approx(0.0, abs=1e-5)  # non-target: s·cos 90°


def test_heads_reject_bad_labels() -> None:
    head = ArcFaceHead(3, 2)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        head(EMBEDDINGS, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="int64 labels"):
        head(EMBEDDINGS, torch.tensor([0, 1], dtype=torch.int32))


# --- checkpoints -----------------------------------------------------------------------------------


def _small_model(input_size: int = 32) -> torch.nn.Module:
    model = build_backbone("iresnet-small", input_size=input_size, embedding_size=32, widths=(8, 8, 16, 16))
    _fill_deterministic(model, seed=torch.randint(0, 2**31, ()).item())
    return model.eval()


def test_safetensors_round_trip_embeds_identically(tmp_path) -> None:
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    saved, fresh = _small_model(), _small_model()
    with torch.no_grad():
        assert not torch.allclose(saved(x), fresh(x))
        save_safetensors(tmp_path / "backbone.safetensors", saved, metadata={"name": "iresnet-small"})
        metadata = load_safetensors(tmp_path / "backbone.safetensors", fresh)
        assert torch.equal(saved(x), fresh(x))
    assert metadata == {"name": "iresnet-small"}
    assert [p.name for p in tmp_path.iterdir()] == ["backbone.safetensors"]  # no temp file left


def test_insightface_pth_loads_strictly(tmp_path) -> None:
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    saved, fresh = _small_model(), _small_model()
    torch.save(saved.state_dict(), tmp_path / "backbone.pth")  # arcface_torch saves a bare state dict
    load_backbone_checkpoint(tmp_path / "backbone.pth", fresh)
    with torch.no_grad():
        assert torch.equal(saved(x), fresh(x))


def test_pth_without_num_batches_tracked_still_loads(tmp_path) -> None:
    saved, fresh = _small_model(), _small_model()
    state = {k: v for k, v in saved.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "legacy.pth")
    load_backbone_checkpoint(tmp_path / "legacy.pth", fresh)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(saved(x), fresh(x))


def test_checkpoint_with_a_missing_key_names_file_and_key(tmp_path) -> None:
    state = _small_model().state_dict()
    del state["layer3.0.prelu.weight"]
    torch.save(state, tmp_path / "backbone.pth")
    with pytest.raises(ValueError, match=r"backbone\.pth: .*1 missing keys: layer3\.0\.prelu\.weight"):
        load_backbone_checkpoint(tmp_path / "backbone.pth", _small_model())


def test_a_truncated_safetensors_file_is_named_in_the_error(tmp_path) -> None:
    # What a killed copy or a full disk leaves: the first 100 bytes of a whole file.
    save_safetensors(tmp_path / "ema.safetensors", _small_model())
    whole = (tmp_path / "ema.safetensors").read_bytes()
    (tmp_path / "ema.safetensors").write_bytes(whole[:100])
    with pytest.raises(ValueError, match=r"ema\.safetensors: not a whole safetensors file \(.*\); `id3 run` redoes"):
        load_safetensors(tmp_path / "ema.safetensors", _small_model())


def test_checkpoint_for_another_input_size_names_the_wrong_shape(tmp_path) -> None:
    save_safetensors(tmp_path / "b.safetensors", _small_model(input_size=64))
    expected = r"b\.safetensors: .*wrong shapes: fc\.weight \(32, 256\) \(expected \(32, 64\)\)"
    with pytest.raises(ValueError, match=expected):
        load_safetensors(tmp_path / "b.safetensors", _small_model(input_size=32))
