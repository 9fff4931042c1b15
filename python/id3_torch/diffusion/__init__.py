"""The ID³ diffusion model: schedule, U-Net, conditioning, the ID-preserving loss, EMA, trainer and sampler.

`load_diffusion_model(train_dir)` gives what a later stage samples with (`.sample(...)`: decoded images in either
space); `sample_images` is the sampler itself.
"""
from .model import Denoiser, TrainedDiffusion, load_diffusion_model
from .sampler import SamplerOptions, sample_images, to_uint8
from .schedule import DiffusionSchedule

__all__ = ["Denoiser", "TrainedDiffusion", "load_diffusion_model", "SamplerOptions", "sample_images", "to_uint8",
           "DiffusionSchedule"]
