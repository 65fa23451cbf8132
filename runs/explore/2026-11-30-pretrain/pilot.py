"""Pilot for the powered-verdicts issue: does the fractal-pretrained backbone (cmrlib.pretrain) cut the seed
spread? Same cpu-profile recipe, synth-something and synth-kinetics with 1,536 validation clips (the train clips
are the cpu profile's own), pretrained="fractals" against None, 3 seeds of TIM and CMR, 2 of TSN on kinetics.
Runs land in runs/explore/2026-11-30-pretrain/<benchmark>/<run-id>/; summary.json has every final top-1.

    .venv/bin/python runs/explore/2026-11-30-pretrain/pilot.py [--jobs 2]
"""
import argparse
import concurrent.futures
import json
import multiprocessing
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VAL_CLIPS = 1536


def dataset(benchmark: str) -> str:
    from cmrlib.data import synth
    from cmrlib.runs import project_root

    synth.SYNTH_PROFILES["cpu"] = {**synth.SYNTH_PROFILES["cpu"], "val_clips": VAL_CLIPS}
    out = project_root() / "data" / "explore" / f"cpu-val{VAL_CLIPS}" / benchmark
    return str(synth.generate(benchmark, "cpu", out, workers=2))


def one(job):
    from cmrlib import config as configlib, runs
    from cmrlib.train import train

    method, benchmark, seed, pretrained, data = job
    config = configlib.resolve(method, "cpu", {"benchmark": benchmark, "seed": seed, "pretrained": pretrained,
                                               "data": data, "val_every": 5})
    out = HERE / benchmark / f"{method}-{pretrained or 'scratch'}-s{seed}"
    tic = time.perf_counter()
    final = train(config, out, resume=(out / "checkpoints" / "last.pt").exists())
    return {"method": method, "benchmark": benchmark, "seed": seed, "pretrained": pretrained,
            "val_top1": final["val_top1"], "wall_s": time.perf_counter() - tic, "run": str(out.relative_to(HERE))}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args()
    from cmrlib import config as configlib, pretrain

    data = {b: dataset(b) for b in ("synth-something", "synth-kinetics")}
    pretrain.backbone(configlib.resolve("cmr", "cpu"))  # once, before the runs share it
    something = [(m, "synth-something", s, pre, data["synth-something"]) for s in (0, 1, 2) for m in ("cmr", "tim")
                 for pre in ("fractals", None)]
    kinetics = [("tsn", "synth-kinetics", s, pre, data["synth-kinetics"]) for s in (0, 1) for pre in ("fractals", None)]
    jobs = something[:2] + kinetics[:2] + something[2:6] + kinetics[2:] + something[6:]  # most telling first
    results = []
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(args.jobs, mp_context=context) as pool:
        for future in concurrent.futures.as_completed([pool.submit(one, job) for job in jobs]):
            results.append(future.result())
            print(json.dumps(results[-1]), flush=True)
            (HERE / "summary.json").write_text(json.dumps(sorted(results, key=lambda r: r["run"]), indent=1))


if __name__ == "__main__":
    main()
