"""The bridge surface: every call from TypeScript is `dispatch(op, args_json) -> result_json`.

One entry point keeps the contract small and typed on the TypeScript side: arguments and
results are JSON text, so no Python object ever lives in the JavaScript heap, and an
exception comes back as a value ({"error": ...}) with its clean traceback, instead of
through pythonia's exception path.
"""
import os

from .bridge import jobs, jsonio, lifeline, system, tensors
from .bridge.compute import on_compute_thread
from .data import ops as data_ops
from .evaluation import ops as evaluation_ops
from .jobs import job_kinds
from .jobs.contracts import check_args
from .stages import anchors as anchors_stage

_testing = os.environ.get("ID3_BRIDGE_TESTING") == "1"
if _testing:
    from .bridge import testing


_runner: jobs.JobRunner | None = None


def _jobs() -> jobs.JobRunner:
    global _runner
    if _runner is None:
        if _testing:  # the bridge's own test jobs, which have no contract
            _runner = jobs.JobRunner({**job_kinds(), **testing.JOB_KINDS},
                                     lambda kind, args: None if kind in testing.JOB_KINDS else check_args(kind, args))
        else:
            _runner = jobs.JobRunner(job_kinds(), check_args)
    return _runner


def _encoder_ops():
    # The face networks' modules (OpenCV among them) load on first use, not with the bridge.
    from .encoders import ops
    return ops


OPS = {
    "system.attach": lambda parentPid: lifeline.attach(parentPid),
    "system.ping": system.ping,
    "system.info": system.info,
    "job.start": lambda kind, args, eventsPath=None: _jobs().start(kind, args, eventsPath),
    "job.poll": lambda id: _jobs().poll(id),
    "job.cancel": lambda id: _jobs().cancel(id),
    # Ops that compute with torch run on the compute thread, as jobs do (bridge/compute.py says why).
    **{name: (op if name == "tensor.free" else on_compute_thread(op)) for name, op in tensors.OPS.items()},
    **{name: on_compute_thread(op) for name, op in evaluation_ops.OPS.items()},
    "encoders.encode": on_compute_thread(lambda **args: _encoder_ops().encode_images(**args)),
    **{name: on_compute_thread(op) for name, op in data_ops.OPS.items()},
    **{name: on_compute_thread(op) for name, op in anchors_stage.OPS.items()},
    **(testing.OPS if _testing else {}),
}


def dispatch(op: str, args_json: str) -> str:
    try:
        fn = OPS.get(op)
        if fn is None:
            raise KeyError(f"unknown bridge op {op!r}")
        return jsonio.dumps({"ok": fn(**jsonio.loads(args_json))})
    except Exception as exc:
        return jsonio.dumps({"error": jobs.describe_exception(exc)})
