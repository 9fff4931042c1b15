"""Jobs `train`, `diffusion.measure` and `attributes.train` (contracts: src/jobs/diffusion.ts)."""
from __future__ import annotations

from ..bridge.jobs import Progress
from ..diffusion.autoencoder import AutoencoderOptions
from ..diffusion.measure import measure_model
from ..diffusion.pose_map import PoseMapSpec
from ..diffusion.sampler import SamplerOptions
from ..diffusion.train import DiffusionTrainingOptions, ModelOptions, train_denoiser
from ..encoders.attribute_regressor import fit_attribute_regressor


def sampler_options(d: dict) -> SamplerOptions:
    """The contract's `SamplerArgs` (camelCase) as the sampler's options."""
    return SamplerOptions(method=d["method"], steps=d["steps"], eta=d["eta"], guidance_scale=d["guidanceScale"],
                          gradient_mode=d["gradientMode"], cfg_scale=d["cfgScale"], cfg_guides=d["cfgGuides"], clip=d["clip"])


def model_options(d: dict) -> ModelOptions:
    """The contract's `model` section (camelCase) as the denoiser's options."""
    return ModelOptions(patch_size=d["patchSize"], channels=d["channels"], channel_mults=tuple(d["channelMults"]),
                        res_blocks=d["resBlocks"], attention_resolutions=tuple(d["attentionResolutions"]),
                        head_channels=d["headChannels"], dropout=d["dropout"], condition_tokens=d["conditionTokens"],
                        preconditioning=d["preconditioning"], sigma_data=d["sigmaData"])


def latent_options(d: dict | None) -> AutoencoderOptions | None:
    """The contract's `model.latent`: the autoencoder of latent diffusion, or None (pixel space)."""
    return None if d is None else AutoencoderOptions.from_json(d)


def training_options(args: dict) -> DiffusionTrainingOptions:
    """The `train` job's arguments as the training's options: all but manifest, outDir and encoder."""
    c, sch, loss, t = args["conditioning"], args["schedule"], args["loss"], args["training"]
    return DiffusionTrainingOptions(
        model=model_options(args["model"]), condition_hidden=tuple(c["hidden"]), condition_size=c["size"],
        condition_dropout=c["dropout"], attribute_dropout=c["attributeDropout"], identity_condition=c["identity"],
        pose_map=PoseMapSpec.from_json(c["poseMap"]),
        latent=latent_options(args["model"]["latent"]), timesteps=sch["timesteps"],
        beta_start=sch["betaStart"], beta_end=sch["betaEnd"], w=loss["w"], weighting=loss["weighting"],
        log_sigma_mean=loss["logSigmaMean"], log_sigma_std=loss["logSigmaStd"], steps=t["steps"],
        batch_size=t["batchSize"], lr=t["lr"], weight_decay=t["weightDecay"], warmup_steps=t["warmupSteps"],
        grad_clip=t["gradClip"], autocast=t["autocast"], ema_decay=t["emaDecay"],
        checkpoint_every=t["checkpointEvery"], grid_images=t["gridImages"], seed=t["seed"], device=args["device"])


def train_diffusion(args: dict, progress: Progress) -> dict:
    return train_denoiser(training_options(args), manifest=args["manifest"], out_dir=args["outDir"],
                          encoder_spec=args["encoder"], progress=progress)


def measure(args: dict, progress: Progress) -> dict:
    return measure_model(args["trainDir"], manifest=args["manifest"], split=args["split"],
                         per_identity=args["perIdentity"], sampler=sampler_options(args["sampler"]),
                         sampler_settings=args["sampler"], seed=args["seed"], batch_size=args["batchSize"],
                         attribute_regressor=args["attributeRegressor"], judges=args["judges"],
                         out_dir=args["outDir"], device=args["device"], progress=progress)


def train_attribute_regressor(args: dict, progress: Progress) -> dict:
    return fit_attribute_regressor(
        manifest=args["manifest"], out_dir=args["outDir"], splits=tuple(args["splits"]),
        eval_split=args["evalSplit"], epochs=args["epochs"], batch_size=args["batchSize"], lr=args["lr"],
        widths=tuple(args["widths"]), seed=args["seed"], input_size=args["inputSize"], device=args["device"],
        progress=progress)
