"""`diffusion.conditioning.identity`: y of a training image is f(x0) itself [paper] or its identity's centre [ours]."""
import json

import pytest
import torch
from safetensors.torch import load_file

from diffusion_helpers import training_args, write_encoder, write_faces
from id3_torch.bridge.jobs import Progress
from id3_torch.diffusion.conditioning import identity_conditions
from id3_torch.diffusion.model import load_diffusion_model
from id3_torch.jobs.diffusion import train_diffusion


def test_the_centre_is_the_unit_mean_of_the_identitys_embeddings_and_image_is_f_itself():
    e = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [1.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([0, 0, 1, 2, 2])
    half = 2 ** -0.5
    expected = torch.tensor([[half, half], [half, half], [0.6, 0.8], [half, half], [half, half]])
    assert torch.allclose(identity_conditions(e, labels, "centre"), expected)
    assert torch.equal(identity_conditions(e, labels, "image"), e)
    with pytest.raises(ValueError, match=r"diffusion.conditioning.identity: expected one of image, centre, got 'mean'"):
        identity_conditions(e, labels, "mean")


@pytest.mark.parametrize("images", [1, 3])
def test_the_train_job_conditions_on_centres_and_its_card_says_so(tmp_path, images):
    """With one image an identity the centre is f(x0) itself: the same weights as the paper's y. With three, the
    centres change what the model is trained on."""
    torch.set_num_threads(1)
    encoder = write_encoder(tmp_path / "encoder")
    manifest = write_faces(tmp_path / "faces", identities=3, images=images, copies=4 // images)
    weights = {}
    for mode in ("image", "centre"):
        out = tmp_path / mode
        out.mkdir()
        train_diffusion(training_args(manifest, out, encoder, conditioning={"identity": mode},
                                      training={"steps": 2, "checkpointEvery": 10}), Progress())
        weights[mode] = load_file(str(out / "ema.safetensors"))
        assert json.loads((out / "model.json").read_text())["training"]["identityCondition"] == mode
        assert load_diffusion_model(str(out)).identity_condition == mode
    close = all(torch.allclose(weights["image"][k], weights["centre"][k], atol=1e-6) for k in weights["image"])
    assert close == (images == 1)
