"""Identity and attributes of a finished run's diffusion model on held-out identities, beside the reference rows.

    .venv/bin/python scripts/measure-held-out.py runs/proof-id3 [--split test] [--gammas 0,8] [--mode detached]
        [--cfg 1,3] [--cfg-guides attributes]

For every γ and classifier-free guidance κ: one sample per condition (the first --per-identity images of every
identity of the split, conditioned on their (y, s); the run's sampler: DDIM at the config's steps), scored as the
stage `guidance` scores the validation identities (`diffusion.measure`): by the run's judge and by f (what the ID loss
and the guidance optimise: no evidence on its own), rank-1 against the condition photos' centres and person rank-1
against each identity's other photos; the attribute regressor's mean absolute errors. Beside them the references:
what the real condition photos score (person rank-1) and chance (1 / identities), and the regressor's own error on
the real photos. Writes nothing unless --out is given (then measure.json and samples.png per setting).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))

from id3_torch.bridge.jobs import Progress  # noqa: E402
from id3_torch.diffusion.measure import measure_model  # noqa: E402
from id3_torch.jobs.diffusion import sampler_options  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a run folder with prepare/, judge/, attributes/ and train/ (e.g. runs/proof-id3)")
    parser.add_argument("--split", default="test", choices=("val", "test"))
    parser.add_argument("--per-identity", type=int, default=2)
    parser.add_argument("--gammas", default="0", help="guidance scales, comma-separated")
    parser.add_argument("--mode", default="detached", choices=("detached", "full"))
    parser.add_argument("--cfg", help="classifier-free guidance κ, comma-separated (default: the run's sampler's)")
    parser.add_argument("--cfg-guides", choices=("condition", "attributes"),
                        help="what κ amplifies (default: the run's sampler's)")
    parser.add_argument("--out", help="write measure.json and samples.png per setting under this folder")
    options = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    config = json.load(open(os.path.join(options.run, "config.json"), encoding="utf-8"))
    sampler = config["diffusion"]["sampler"]
    kappas = [float(k) for k in options.cfg.split(",")] if options.cfg else [sampler["cfgScale"]]
    guides = options.cfg_guides or sampler.get("cfgGuides", "condition")  # runs older than the option: condition
    attributes = os.path.join(options.run, "attributes")
    print(f"{options.run}: {options.split} identities, {options.per_identity} conditions each, "
          f"{sampler['method']} {sampler['steps']} steps, classifier-free guidance of the {guides}")
    print("γ     κ     judge rank-1  judge person rank-1  f rank-1  f person rank-1  |error| age  yaw   pitch  roll")
    for gamma, kappa in ((float(g), k) for g in options.gammas.split(",") for k in kappas):
        settings = {"method": sampler["method"], "steps": sampler["steps"], "eta": sampler["eta"], "guidanceScale": gamma,
                    "gradientMode": options.mode, "cfgScale": kappa, "cfgGuides": guides, "clip": sampler["clip"]}
        result = measure_model(
            os.path.join(options.run, "train"), manifest=os.path.join(options.run, "prepare", "manifest.csv"),
            split=options.split, per_identity=options.per_identity,
            sampler=sampler_options(settings),
            sampler_settings=settings, seed=0, batch_size=sampler["batchSize"],
            attribute_regressor=attributes if os.path.isdir(attributes) else None,
            judges={"judge": {"kind": "folder", "path": os.path.join(options.run, "judge")}},
            out_dir=os.path.join(options.out, f"g{gamma:g}-k{kappa:g}") if options.out else None, device="cpu",
            progress=Progress(None))
        judge, f, errors = result["identity"]["judge"], result["identity"]["f"], result["attributeError"]
        e = errors["samples"] if errors else {}
        print(f"{gamma:<5g} {kappa:<5g} {judge['rank1']:<13.3f} {judge['personRank1']:<20.3f} {f['rank1']:<9.3f} "
              f"{f['personRank1']:<16.3f} | {e.get('age', float('nan')):5.1f} {e.get('yaw', float('nan')):5.1f} "
              f"{e.get('pitch', float('nan')):5.1f}  {e.get('roll', float('nan')):5.1f}", flush=True)
    r = errors["real"] if errors else {}
    print(f"real        {'–':<13} {judge['realPersonRank1']:<20.3f} {'–':<9} {f['realPersonRank1']:<16.3f} | "
          f"{r.get('age', float('nan')):5.1f} {r.get('yaw', float('nan')):5.1f} {r.get('pitch', float('nan')):5.1f}  "
          f"{r.get('roll', float('nan')):5.1f}   (the condition photos themselves; the regressor on them)")
    print(f"chance      {1 / result['identities']:<13.3f} {1 / result['identities']:<20.3f}")


if __name__ == "__main__":
    main()
