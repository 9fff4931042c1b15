"""Every long job, by kind: what `job.start` in the bridge and `python -m id3_torch <kind>` (torchrun) run.

Each job's arguments are declared once, in TypeScript (src/jobs/, zod), and exported as JSON Schema to
contracts.json beside this file (`npm run contracts`); `check_args` (jobs/contracts.py) checks them against it
before the job starts, so a mismatch between the two sides fails at once, naming the field.
"""
from __future__ import annotations

from ..bridge.jobs import JobFunction


def job_kinds() -> dict[str, JobFunction]:
    """The job functions by kind; each takes (args, progress) and returns JSON."""
    # Stage modules import heavier code: loaded when jobs are first used, not with the bridge.
    from ..data.convert import convert_dataset
    from ..diffusion import jobs as diffusion_jobs
    from ..diffusion.train import train_diffusion
    from ..encoders.attribute_regressor import train_attribute_regressor
    from ..evaluation.evaluate import evaluate
    from ..evaluation.ops import verify_ijb_job
    from ..recognition.train import train_face_recognition
    from ..report.plots import draw_plots
    from ..stages import anchors, generate, prepare, prepare_real

    kinds: dict[str, JobFunction] = {
        "prepare.parametric": prepare.parametric_faces,
        "prepare.real": prepare_real.prepare_real,
        "train-fr": train_face_recognition,
        "evaluate": evaluate,
        "verify.ijb": verify_ijb_job,
        "report.plots": draw_plots,
        "data.convert": convert_dataset,
        "anchors.identity-centres": anchors.identity_centres,
        "generate": generate.generate,
        "generate.preview": generate.preview,
        "train": train_diffusion,
        "diffusion.measure": diffusion_jobs.measure_job,
        "attributes.train": train_attribute_regressor,
    }
    return kinds
