"""Latent diffusion [ours] (diffusion.model.latent): the autoencoder, a train job in its latent space, the samples
decoded, the guidance read through the decoder, and a killed run resumed to the same bytes."""
import json

import pytest
import torch
from safetensors.torch import load_file

from diffusion_helpers import training_args, write_encoder, write_faces
from id3_torch.bridge.jobs import Cancelled, Progress
from id3_torch.data.labelled_images import LabelledImages
from id3_torch.diffusion.autoencoder import AutoencoderOptions, encode_all, train_autoencoder
from id3_torch.diffusion.model import load_diffusion_model
from id3_torch.diffusion.sampler import SamplerOptions
from id3_torch.encoders import load_identity_encoder
from id3_torch.jobs.diffusion import train_diffusion
from id3_torch.recognition.iresnet import normalize_face_images

LATENT = {"width": 8, "channels": 4, "downscale": 4, "steps": 12, "batchSize": 8, "lr": 2e-3}  # C = 4: not an image's 3


class CancelAfterCalls(Progress):
    """Asks for cancellation after `calls` advances in all, across the autoencoder's and the denoiser's steps."""

    def __init__(self, calls):
        super().__init__()
        self.calls = calls

    def advance(self, n=1, **metrics):
        self.calls -= 1
        if self.calls < 0:
            self.cancel_requested.set()
        super().advance(n, **metrics)


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("latent")
    return write_faces(root / "faces", identities=6, images=4), write_encoder(root / "encoder")


@pytest.mark.parametrize("downscale", [4, 2])
def test_the_autoencoder_learns_the_faces_in_bounded_latents_from_its_seed_alone(faces, downscale):
    manifest, _ = faces
    images = LabelledImages.from_manifest(manifest, splits=("train",)).images
    options = AutoencoderOptions(width=8, channels=3, downscale=downscale, steps=400, batch_size=8, lr=3e-3)
    assert AutoencoderOptions.from_json({**options.to_json(), "weights": "autoencoder.safetensors"}) == options  # a card's
    trained = train_autoencoder(images, options, seed=0, device=torch.device("cpu"))
    z = encode_all(trained, images, device=torch.device("cpu"))
    side = 32 // downscale
    assert z.shape == (len(images), 3, side, side) and z.abs().max() < 1.0  # tanh-bounded: x̂0's clip keeps its meaning
    x = normalize_face_images(images)
    with torch.no_grad():
        error = (trained.decode(z) - x).abs().mean()
    mean_image = (x - x.mean(dim=0, keepdim=True)).abs().mean()  # what a constant output would score
    assert error < 0.65 * mean_image, (float(error), float(mean_image))
    again = train_autoencoder(images, options, seed=0, device=torch.device("cpu")).state_dict()
    other = train_autoencoder(images, options, seed=1, device=torch.device("cpu")).state_dict()
    assert all(torch.equal(v, again[k]) for k, v in trained.state_dict().items())
    assert not all(torch.equal(v, other[k]) for k, v in trained.state_dict().items())


def _latent_args(manifest, out, encoder, steps=6, latent=LATENT):
    # The U-Net sees 8 × 8 latents of the 32-px faces (16 × 16 at downscale 2, on 2 × 2 patches): levels 8 and 4.
    return training_args(manifest, out, encoder, model={"patchSize": 4 // latent["downscale"], "latent": latent},
                         training={"steps": steps, "checkpointEvery": 3, "gridImages": 2})


@pytest.mark.parametrize("downscale", [4, 2])
def test_a_latent_model_trains_in_its_latents_and_samples_images(faces, tmp_path, downscale):
    manifest, encoder = faces
    latent = {**LATENT, "downscale": downscale}
    summary = train_diffusion(_latent_args(manifest, tmp_path, encoder, latent=latent), Progress())
    assert summary["resolution"] == 32 and summary["identity"] is not None
    card = json.loads((tmp_path / "model.json").read_text())
    assert card["resolution"] == 32 and card["unet"]["resolution"] == 32 // downscale and card["unet"]["image_channels"] == 4
    assert card["latent"] == {**latent, "weights": "autoencoder.safetensors"}
    model = load_diffusion_model(str(tmp_path))
    f = load_identity_encoder(encoder)
    y, s = torch.nn.functional.normalize(torch.randn(2, f.embedding_size), dim=-1), torch.zeros(2, 4)
    plain = model.sample(y=y, s=s, seeds=[0, 1], options=SamplerOptions(steps=4))
    assert plain.shape == (2, 3, 32, 32) and plain.abs().max() <= 1.0  # decoded images
    guided = model.sample(y=y, s=s, seeds=[0, 1], options=SamplerOptions(steps=4, guidance_scale=50.0), encoder=f)
    assert (guided - plain).abs().mean() > 1e-4  # the guidance reaches the latents through f ∘ D


@pytest.mark.parametrize("calls", [5, 12 + 5], ids=["killed-in-the-autoencoder", "killed-in-the-denoiser"])
def test_a_killed_latent_run_resumes_to_the_same_bytes(faces, tmp_path, calls):
    manifest, encoder = faces
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    straight.mkdir(), resumed.mkdir()
    train_diffusion(_latent_args(manifest, straight, encoder, steps=7), Progress())
    with pytest.raises(Cancelled):
        train_diffusion(_latent_args(manifest, resumed, encoder, steps=7), CancelAfterCalls(calls))
    assert (resumed / "autoencoder.safetensors").exists() == (calls > LATENT["steps"])
    train_diffusion(_latent_args(manifest, resumed, encoder, steps=7), Progress())
    for name in ("autoencoder.safetensors", "ema.safetensors", "checkpoint.safetensors"):
        a, b = load_file(str(straight / name)), load_file(str(resumed / name))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
