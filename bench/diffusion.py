"""ID³ diffusion benchmarks; prints JSON. argv[1]: bench/diffusion.ts's `diffusionBenchArgs()` (the CPU config's
"model", "conditioning", "batchSize"; the GPU configs' "gpuModel", "gpuBatchSize", "gpuModel112").

- training: the median step time of our `train` job's loop vs a bare PyTorch loop of the same model,
  batches, loss (with the identity term), AdamW, clipping and EMA, in alternating rounds (timing.py);
- sampling: our sampler (γ = 0) vs a bare DDIM loop over the same model and steps;
- guidance: the sampler with γ > 0, gradient modes full and detached, against none;
- CPU levers: the U-Net's training step with channels-last, torch.compile or bf16 autocast, each against eager
  float32 (`cpu_levers`);
- on a GPU (when torch sees one; `gpu_measurements`): images/s and model FLOP utilisation of the U-Net's
  training steps alone at 64 and 112 px, bf16, channels-last, with and without torch.compile (peak
  FLOP/s from ID3_PEAK_TFLOPS); our train job against the bare loop on CUDA; the sampler at 112 px.
  Each GPU section is also written to stderr as it ends, so that a run cut short keeps what it measured.
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python", "tests"))

import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from diffusion_helpers import training_args, write_encoder, write_faces  # noqa: E402
from id3_torch.data.labelled_images import LabelledImages, attribute_columns  # noqa: E402
from id3_torch.diffusion.conditioning import ATTRIBUTE_NAMES  # noqa: E402
from id3_torch.diffusion.ema import EMA  # noqa: E402
from id3_torch.diffusion.loss import identity_weight  # noqa: E402
from id3_torch.diffusion.sampler import SamplerOptions, sample_images  # noqa: E402
from id3_torch.diffusion.schedule import DiffusionSchedule  # noqa: E402
from id3_torch.diffusion.train import DiffusionTrainingOptions  # noqa: E402
from id3_torch.encoders import embed_images, load_identity_encoder  # noqa: E402
from id3_torch.jobs.diffusion import train_diffusion, training_options  # noqa: E402
from id3_torch.recognition.iresnet import normalize_face_images  # noqa: E402
from id3_torch.training.order import rank_batches  # noqa: E402
from timing import StepClock, clock, compare, seconds_of, step_times  # noqa: E402

TRAIN_ROUNDS, ROUND_STEPS, SAMPLE_ROUNDS, SAMPLE_STEPS, SAMPLES = 10, 16, 4, 25, 32
GPU_ROUNDS, GPU_ROUND_STEPS, GPU_SAMPLES = 6, 40, 64


def job_args(measured: dict, manifest: str, out_dir: str, encoder: dict, *, device: str = "cpu",
             model: dict | None = None, batch_size: int | None = None, steps: int = ROUND_STEPS) -> dict:
    """The `train` job's arguments for the measured config's model (or `model`) and batch size."""
    return training_args(manifest, out_dir, encoder, device=device, model=model or measured["model"],
                         conditioning=measured["conditioning"],
                         training={"steps": steps, "batchSize": batch_size or measured["batchSize"], "warmupSteps": 0,
                                   "emaDecay": 0.999, "checkpointEvery": 10**9})


def options_for(measured: dict, model: dict | None = None) -> DiffusionTrainingOptions:
    """The measured config's options with `model` for its U-Net: what builds a denoiser outside a job."""
    # The paths and the encoder are not read: placeholders that pass the job's contract.
    return training_options(job_args(measured, "-", "-", {"kind": "folder", "path": "-"}, model=model))


def frozen_denoiser(options: DiffusionTrainingOptions, resolution: int, embedding_size: int,
                    schedule: DiffusionSchedule, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(0)
    return options.denoiser(resolution, embedding_size=embedding_size, schedule=schedule).to(device).eval().requires_grad_(False)


def conditions(n: int, embedding_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """n random unit identities y, neutral attributes s, seeds 0..n-1."""
    y = torch.nn.functional.normalize(torch.randn(n, embedding_size, generator=torch.Generator().manual_seed(0)), dim=-1)
    return y.to(device), torch.zeros(n, 4, device=device), list(range(n))


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def our_training(args: dict) -> dict:
    """Our train job from step 0: median step times (its setup and final checkpoint are not steps)."""
    for name in os.listdir(args["outDir"]):  # no checkpoint to resume from
        os.unlink(os.path.join(args["outDir"], name))
    progress = StepClock()
    train_diffusion(args, progress)
    return step_times(progress.stamps)


def bare_training(args: dict) -> dict:
    """The same model, batches, loss, optimiser, clipping, EMA and (on CUDA) bf16 autocast, with nothing
    around them; its random numbers drawn where the model runs: median step times."""
    options = training_options(args)
    device = torch.device(options.device)
    data = LabelledImages.from_manifest(args["manifest"], splits=("train",))
    s_all = attribute_columns(data, ATTRIBUTE_NAMES, manifest=args["manifest"]).to(device)
    f = load_identity_encoder(args["encoder"], device=device)
    y_all = embed_images(f, data.images, device=device).to(device)
    schedule = options.schedule().to(device)
    torch.manual_seed(0)
    model = options.denoiser(data.images.shape[-1], embedding_size=f.embedding_size, schedule=schedule).to(device)
    ema = EMA(model, decay=options.ema_decay)
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    batches = rank_batches(len(data), batch_size=options.batch_size, seed=0, epoch=0)
    mixed = device.type == "cuda"
    stamps = [clock()]
    for step in range(options.steps):
        batch = batches[step % len(batches)]
        x0, y, s = normalize_face_images(data.images[batch]).to(device), y_all[batch], s_all[batch]
        t = torch.randint(0, options.timesteps, (len(batch),), device=device)
        noise = torch.randn_like(x0)
        drop = torch.rand(len(batch), device=device) < options.condition_dropout
        x_t = schedule.q_sample(x0, t, noise)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=mixed):
            eps = model(x_t, t, y, s, drop).float()
        x0_hat = schedule.predict_x0(x_t, t, eps, clip=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=mixed):
            identity = 1 - (y * f(x0_hat)).sum(-1)
        weight = identity_weight(t, timesteps=options.timesteps, w=options.w)
        loss = ((noise - eps).square().mean(dim=(1, 2, 3)) + weight * (~drop) * identity).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), options.grad_clip)
        optimizer.step()
        ema.update(model, updates=step)
        loss.item()  # our loop logs the loss every step: the same sync here (and the step is done on CUDA)
        stamps.append(clock())
    return step_times(stamps)


def bare_ddim(model, schedule, y, s, seeds, steps) -> None:
    """Plain conditional DDIM (η = 0) written out."""
    x = torch.stack([torch.randn(3, model.resolution, model.resolution, generator=torch.Generator().manual_seed(k)) for k in seeds])
    stride = schedule.timesteps // steps
    with torch.no_grad():
        for t in [k * stride for k in reversed(range(steps))]:
            x = schedule.ddim_step(x, t, t - stride, model(x, torch.full((len(x),), t), y, s), None, eta=0.0, clip=True)


def cpu_measurements(measured: dict, root: str) -> dict:
    """Our train loop and sampler against bare loops on the CPU, and the cost of guidance."""
    manifest = write_faces(os.path.join(root, "faces"), identities=16, images=8)
    encoder = write_encoder(os.path.join(root, "encoder"))
    out_dir = os.path.join(root, "out")
    os.makedirs(out_dir)
    args = job_args(measured, manifest, out_dir, encoder)
    training = compare(lambda: our_training(args), lambda: bare_training(args), TRAIN_ROUNDS)

    cpu = torch.device("cpu")
    f = load_identity_encoder(encoder)
    options = options_for(measured)
    schedule = options.schedule()
    model = frozen_denoiser(options, 32, f.embedding_size, schedule, cpu)
    y, s, seeds = conditions(SAMPLES, f.embedding_size, cpu)

    def our_sampler(**guidance):
        return lambda: seconds_of(lambda: sample_images(model, schedule, y=y, s=s, seeds=seeds, encoder=f,
                                                        options=SamplerOptions(steps=SAMPLE_STEPS, **guidance)))
    sampling = compare(our_sampler(), lambda: seconds_of(lambda: bare_ddim(model, schedule, y, s, seeds, SAMPLE_STEPS)),
                       SAMPLE_ROUNDS)
    guidance = {mode: compare(our_sampler(guidance_scale=1.0, gradient_mode=mode), our_sampler(), SAMPLE_ROUNDS // 2)
                for mode in ("full", "detached")}
    return {"batchSize": measured["batchSize"], "samples": SAMPLES, "training": training, "sampling": sampling,
            "guidance": guidance, **cpu_levers(measured)}


LEVER_ROUNDS, LEVER_STEPS = 6, 8


def cpu_levers(measured: dict) -> dict:
    """[ours] levers for the CPU training step, the proof's U-Net alone (plain ε loss, AdamW, 32 px), each against
    eager float32 in alternating rounds: channels-last memory, torch.compile (its one-off compile time apart), and
    bf16 autocast (native only with AMX or AVX-512 BF16; emulated elsewhere)."""
    options = options_for(measured)
    schedule = options.schedule()
    b = measured["batchSize"]

    def stepper(*, channels_last=False, compiled=False, bf16=False):
        torch.manual_seed(0)
        model = options.denoiser(32, embedding_size=128, schedule=schedule)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        step_model = torch.compile(model) if compiled else model
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        g = torch.Generator().manual_seed(1)
        x = torch.randn(b, 3, 32, 32, generator=g)
        x = x.contiguous(memory_format=torch.channels_last) if channels_last else x
        t, y, s = torch.randint(0, options.timesteps, (b,), generator=g), torch.randn(b, 128, generator=g), torch.zeros(b, 4)

        def steps():
            for _ in range(LEVER_STEPS):
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    loss = (step_model(x, t, y, s) - x).float().square().mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        return lambda: seconds_of(steps)

    eager = stepper()
    rows = {}
    for name, lever in (("channelsLast", {"channels_last": True}), ("compile", {"compiled": True}), ("bf16", {"bf16": True})):
        side = stepper(**lever)
        first = seconds_of(side)["wall"]  # for compile: the compilation
        rows[name] = {**compare(side, eager, LEVER_ROUNDS), "firstCallSeconds": first}
    return {"levers": rows, "leverSteps": LEVER_STEPS}


def model_rows(measured: dict, device: torch.device) -> list:
    """Training images/s and MFU of the U-Net alone (plain ε loss, no f) at 64 px (configs/diffusion-gpu.ts's
    model) and 112 px (configs/ffhq.ts's): bf16 autocast, channels-last, ± torch.compile."""
    peak = float(os.environ.get("ID3_PEAK_TFLOPS", "nan")) * 1e12
    rows = []
    for resolution, model_config in ((64, measured["gpuModel"]), (112, measured["gpuModel112"])):
        options = options_for(measured, model_config)
        schedule = options.schedule().to(device)
        for compiled in (False, True):
            torch.manual_seed(0)
            model = options.denoiser(resolution, embedding_size=512, schedule=schedule)
            model = model.to(device).to(memory_format=torch.channels_last)
            step_model = torch.compile(model) if compiled else model
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
            b = measured["gpuBatchSize"]
            x = torch.randn(b, 3, resolution, resolution, device=device).contiguous(memory_format=torch.channels_last)
            t = torch.randint(0, options.timesteps, (b,), device=device)
            y, s = torch.randn(b, 512, device=device), torch.zeros(b, 4, device=device)

            def step():
                with torch.autocast(device.type, dtype=torch.bfloat16):
                    loss = (step_model(x, t, y, s) - x).float().square().mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            with FlopCounterMode(display=False) as counter:
                step()
            for _ in range(5):
                step()
            synchronize(device)  # the warm-up's queued work is not the timed steps'
            n = 20

            def steps():
                for _ in range(n):
                    step()
                synchronize(device)
            seconds = seconds_of(steps)["wall"] / n
            rows.append({"resolution": resolution, "compiled": compiled, "imagesPerSecond": b / seconds,
                         "mfu": counter.get_total_flops() / seconds / peak})
    return rows


def gpu_measurements(measured: dict, root: str, device: torch.device) -> dict:
    """On the GPU: the U-Net alone (model_rows); our train job against the bare loop at 64 px with
    configs/diffusion-gpu.ts's model and batch (the host's per-step work weighs far more there than on
    a CPU); the sampler's images/s at 112 px with configs/ffhq.ts's model, DDIM 50, unguided and with
    detached guidance through an iResNet-50 at 112 px (random weights: what guidance costs, not what it does)."""
    def done(name: str, value):
        print(json.dumps({name: value}), file=sys.stderr, flush=True)
        return value

    model = done("model", model_rows(measured, device))
    manifest = write_faces(os.path.join(root, "faces-64"), identities=16, images=8, resolution=64)
    out_dir = os.path.join(root, "out-gpu")
    os.makedirs(out_dir)
    args = job_args(measured, manifest, out_dir, write_encoder(os.path.join(root, "encoder-small")),
                    device=device.type, model=measured["gpuModel"], batch_size=measured["gpuBatchSize"],
                    steps=GPU_ROUND_STEPS)
    loop = done("loop", compare(lambda: our_training(args), lambda: bare_training(args), GPU_ROUNDS))

    f = load_identity_encoder(write_encoder(os.path.join(root, "encoder-iresnet50"), backbone="iresnet50",
                                            input_size=112, embedding_size=512, widths=None, layers=None), device=device)
    options = options_for(measured, measured["gpuModel112"])
    schedule = options.schedule().to(device)
    denoiser = frozen_denoiser(options, 112, f.embedding_size, schedule, device)
    y, s, seeds = conditions(GPU_SAMPLES, f.embedding_size, device)

    def images_per_second(**guidance) -> float:
        def run():
            sample_images(denoiser, schedule, y=y, s=s, seeds=seeds, encoder=f, options=SamplerOptions(steps=50, **guidance))
            synchronize(device)
        run()  # warm-up
        return GPU_SAMPLES / seconds_of(run)["wall"]
    sampling = done("sampling112", {"unguided": images_per_second(),
                                    "detached": images_per_second(guidance_scale=1.0, gradient_mode="detached")})
    return {"model": model, "loop": loop, "sampling112": sampling, "samples": GPU_SAMPLES,
            "batchSize": measured["gpuBatchSize"]}


def main() -> None:
    """argv: the measured config's JSON, then `--gpu-only` to skip the CPU comparisons (scripts/gpu-check.sh)."""
    measured = json.loads(sys.argv[1])
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    with tempfile.TemporaryDirectory() as root:
        gpu = gpu_measurements(measured, root, torch.device("cuda")) if torch.cuda.is_available() else None
        if "--gpu-only" in sys.argv[2:]:
            print(json.dumps({"gpu": gpu}))
            return
        print(json.dumps({**cpu_measurements(measured, root), "gpu": gpu}))


if __name__ == "__main__":
    main()
