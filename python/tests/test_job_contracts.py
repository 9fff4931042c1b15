"""The job contracts Python checks (id3_torch/jobs/contracts.json, exported from src/jobs/ by `npm run contracts`):
what they refuse and how they say it, the defaults they fill, and that every job has one."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from id3_torch.jobs import job_kinds
from id3_torch.jobs.contracts import ContractError, check_args, contract_kinds, with_defaults

from diffusion_helpers import training_args

ENCODER = {"kind": "folder", "path": "/nowhere/encoder"}


def test_every_job_has_a_contract_and_every_contract_a_job():
    assert sorted(job_kinds()) == contract_kinds()
    assert len(contract_kinds()) == 13


def test_jobs_read_their_arguments_and_the_library_never_does():
    """Each job is a function of a module of id3_torch/jobs/ mirroring a contract file of src/jobs/, and no library
    module reads a job's camelCase dict: a new argument is read in exactly one place."""
    root = Path(__file__).parents[2]
    contract_files = {p.stem.replace("-", "_") for p in (root / "src" / "jobs").glob("*.ts")} - {"common", "index"}
    modules = {fn.__module__ for fn in job_kinds().values()}
    assert modules == {f"id3_torch.jobs.{name}" for name in contract_files}
    library = root / "python" / "id3_torch"
    readers = [str(p.relative_to(library)) for p in library.rglob("*.py")
               if p.parent.name not in ("jobs", "bridge") and re.search(r"args(\[|\.get\()[\"']", p.read_text())]
    assert readers == []


def test_defaults_are_the_configs():
    args = with_defaults("train", {"manifest": "/m.csv", "outDir": "/out", "encoder": ENCODER, "device": "cpu",
                                   "model": {}, "loss": {}})
    # src/config/diffusion.ts's defaults, as a config that says nothing gets them.
    assert args["training"]["steps"] == 500_000 and args["training"]["emaDecay"] == 0.9999
    assert args["model"]["channelMults"] == [1, 2, 2, 2] and args["loss"]["w"] == 0.5
    assert args["conditioning"]["poseMap"] is None and args["schedule"]["timesteps"] == 1000


def test_refusals_name_the_field():
    good = training_args("/m.csv", "/out", ENCODER)
    check_args("train", good)
    cases = [
        ({**good, "training": {**good["training"], "steps": 0}}, r"argument training\.steps: 0 is less than or equal to the minimum of 0"),
        ({**good, "loss": {**good["loss"], "weighting": "l1"}}, r"argument loss\.weighting: 'l1' is not one of \['epsilon', 'edm'\]"),
        ({**good, "model": {**good["model"], "channelMults": [1, "2"]}}, r"argument model\.channelMults\.1: '2' is not of type 'integer'"),
        ({k: v for k, v in good.items() if k != "encoder"}, r"argument \(the arguments\): 'encoder' is a required property"),
        ({**good, "encoder": {"kind": "folder"}}, r"argument encoder"),
        ({**good, "steps": 3}, r"Additional properties are not allowed \('steps' was unexpected\)"),
    ]
    for args, message in cases:
        with pytest.raises(ContractError, match=message):
            check_args("train", args)
    with pytest.raises(ContractError, match="job nope: no contract"):
        check_args("nope", {})


def test_nan_is_a_number_where_the_contract_says_float():
    spec = {"kind": "lines", "path": "/p.png", "title": "t", "xlabel": "x", "ylabel": "y",
            "series": [{"label": "loss", "x": [1.0, 2.0], "y": [float("nan"), 1.0]}]}
    check_args("report.plots", {"plots": [spec]})


def test_torchrun_entry_refuses_a_job_file_off_the_contract(tmp_path):
    job = tmp_path / "job.json"
    job.write_text(json.dumps({**training_args("/m.csv", str(tmp_path), ENCODER), "device": "tpu"}))
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
    done = subprocess.run([sys.executable, "-m", "id3_torch", "train", "--job", str(job)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode != 0
    assert "job train, argument device: 'tpu' is not one of ['auto', 'cpu', 'cuda']" in done.stderr
