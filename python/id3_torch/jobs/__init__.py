"""Every long job, by kind: what `job.start` in the bridge and `python -m id3_torch <kind>` (torchrun) run.

One module per contract file of src/jobs/ (jobs/<area>.py), each job thin: it reads its camelCase
arguments, turns them into the library's typed values and calls the library, which never sees a job's dict.
Each job's arguments are declared once, in TypeScript (src/jobs/, zod), and exported as JSON Schema to
contracts.json beside this file (`npm run contracts`); `check_args` (jobs/contracts.py) checks them against it
before the job starts, so a mismatch between the two sides fails at once, naming the field.
"""
from __future__ import annotations

from ..bridge.jobs import JobFunction


def job_kinds() -> dict[str, JobFunction]:
    """The job functions by kind; each takes (args, progress) and returns JSON."""
    # A job module imports the library it calls: loaded when jobs are first used, not with the bridge.
    from . import anchors, data, diffusion, evaluate, generate, prepare, report, train_fr

    return {
        "prepare.parametric": prepare.parametric_faces,
        "prepare.real": prepare.prepare_real,
        "train-fr": train_fr.train_face_recognition,
        "evaluate": evaluate.evaluate,
        "verify.ijb": evaluate.verify_ijb,
        "report.plots": report.draw_plots,
        "data.convert": data.convert_dataset,
        "anchors.identity-centres": anchors.identity_centres,
        "generate": generate.generate,
        "generate.preview": generate.preview,
        "train": diffusion.train_diffusion,
        "diffusion.measure": diffusion.measure,
        "attributes.train": diffusion.train_attribute_regressor,
    }
