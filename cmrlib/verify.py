"""Re-make a committed run and compare it with its files; export a run's weights in float16.

``python -m cmrlib verify RUN [RUN ...]`` trains each run's config again in a scratch project folder
(_build/verify/, sharing data/ and the pretrained backbones, with a fresh runs/), a fine-tuned run after its
parent, and compares every epoch of ``metrics.jsonl`` and ``final.json`` field by field, timings aside:
"identical", or the first epoch and field that differ. A run trained on other clips than the dataset here (its
recorded data digest) is reported as such instead of re-made; a run trained on another CPU signature
(``cmrlib.runs.cpu_signature``: CPU, vector extensions, kernel paths) is re-made, and the result says that its
gated methods are only expected to match on the same signature. The result is written to
``runs/verify/<profile>--<run>.json`` with the machine, the date and the versions; exit status 0 only when
every run is identical.

``python -m cmrlib export-weights RUN`` writes ``RUN/weights.f16.pt`` (the final weights in float16, small enough
to commit) and ``RUN/weights.json`` (their sha1 and the 1-view top-1 they give), so that a clone without the
checkpoint can run ``predict --run RUN`` and the Figure 5 page.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

from cmrlib import config as configlib
from cmrlib import runs

#: metrics.jsonl and final.json fields that time the run: they differ between any two re-makes.
TIMING_FIELDS = ("clips_per_s", "train_time_s", "val_time_s", "wall_time_s")
HALF_WEIGHTS, HALF_RECORD = "weights.f16.pt", "weights.json"


@contextlib.contextmanager
def scratch_root(keep: bool = False):
    """A project folder for re-makes: fresh runs/, the project's data/ and runs/pretrain/ linked in."""
    project = runs.project_root()
    (project / "_build" / "verify").mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="remake-", dir=project / "_build" / "verify"))
    (scratch / "runs").mkdir()
    (project / "data").mkdir(exist_ok=True)
    os.symlink(project / "data", scratch / "data")
    if (project / "runs" / "pretrain").is_dir():
        os.symlink(project / "runs" / "pretrain", scratch / "runs" / "pretrain")
    before = os.environ.get("CMR_ROOT")
    os.environ["CMR_ROOT"] = str(scratch)
    try:
        yield scratch
    finally:
        if before is None:
            os.environ.pop("CMR_ROOT", None)
        else:
            os.environ["CMR_ROOT"] = before
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)


def first_difference(committed: list, remade: list) -> dict | None:
    """The first (epoch, field) where two metrics.jsonl histories differ, timings aside; None if identical."""
    for index in range(max(len(committed), len(remade))):
        a = committed[index] if index < len(committed) else {}
        b = remade[index] if index < len(remade) else {}
        for field in sorted(set(a) | set(b)):
            if field not in TIMING_FIELDS and a.get(field) != b.get(field):
                return {"epoch": index + 1, "field": field, "committed": a.get(field), "remade": b.get(field)}
    return None


def _remake(config: dict, data_digest: str | None) -> tuple[Path | None, str | None]:
    """Train ``config`` in the current (scratch) root; its parent first. (run folder, None) or (None, why not)."""
    from cmrlib.loaders import dataset_root
    from cmrlib.train import train

    here = runs.data_digest(dataset_root(config))
    if data_digest is not None and here != data_digest:
        return None, f"other clips: the run saw data digest {data_digest[:12]}, this machine's data has {str(here)[:12]}"
    parent = configlib.parent_config(config)
    if parent is not None:
        _, why = _remake(parent, None)
        if why:
            return None, f"its parent: {why}"
    out = runs.default_run_dir(config)
    train(config, out, allow_dirty=True)
    return out, None


def verify(run_dir, keep: bool = False, record: bool = True) -> dict:
    """Re-make a finished run and compare (see the module docstring); the result dict."""
    run_dir = Path(run_dir).resolve()
    if not (run_dir / "final.json").is_file():
        raise ValueError(f"{run_dir} is not a finished run folder (no final.json)")
    config, stored = runs.load_run_config(run_dir), runs.read_json(run_dir / "config.json")
    committed = runs.read_jsonl(run_dir / "metrics.jsonl")
    tic = time.perf_counter()
    with scratch_root(keep) as scratch:
        remade_dir, why = _remake(config, stored.get("data_digest"))
        remade = runs.read_jsonl(remade_dir / "metrics.jsonl") if remade_dir else []
        difference = first_difference(committed, remade) if remade_dir else None
        if remade_dir and difference is None:
            finals = [runs.read_json(path / "final.json") for path in (run_dir, remade_dir)]
            difference = first_difference([finals[0]], [finals[1]])
            if difference:
                difference["epoch"] = "final.json"
    provenance = runs.provenance()
    recorded_signature = stored.get("provenance", {}).get("cpu_signature")
    result = {
        "cpu_signature_match": None if recorded_signature is None else recorded_signature == provenance["cpu_signature"],
        "cpu_signature": provenance["cpu_signature"],
        "run": str(run_dir.relative_to(runs.project_root())) if run_dir.is_relative_to(runs.project_root()) else str(run_dir),
        "outcome": "not re-made" if why else "identical" if difference is None else "different",
        "why_not": why, "first_difference": difference, "epochs": len(committed),
        "scratch": str(scratch) if keep else None, "seconds": round(time.perf_counter() - tic, 1),
        "run_provenance": {k: stored.get("provenance", {}).get(k) for k in ("git_commit", "git_dirty", "torch_version")},
        "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                    "hostname": provenance["hostname"]},
        **{k: provenance[k] for k in ("git_commit", "git_dirty", "torch_version", "python_version", "utc_time")},
    }
    if record:
        runs.atomic_write_json(runs.project_root() / "runs" / "verify" / f"{config['profile']}--{run_dir.name}.json", result)
    return result


def export_half(run_dir) -> dict:
    """``weights.f16.pt`` and ``weights.json`` of a trained run (see the module docstring); the record."""
    from cmrlib.checkpoint import load_checkpoint
    from cmrlib.evaluate import evaluate

    run_dir = Path(run_dir)
    checkpoint = run_dir / "checkpoints" / "last.pt"
    if not checkpoint.is_file():
        raise ValueError(f"no checkpoint {checkpoint}: export-weights needs the trained run's last.pt")
    state = load_checkpoint(checkpoint)
    half = {name: tensor.half() if tensor.is_floating_point() else tensor for name, tensor in state["model"].items()}
    kept = {name: state[name] for name in ("config_json", "classes") if name in state}  # what predict checks
    runs.atomic_save({"model": half, "epoch": state["epoch"], **kept}, run_dir / HALF_WEIGHTS)
    result = evaluate(run_dir, checkpoint="f16", save=False)
    record = {"file": HALF_WEIGHTS, "sha1": runs.file_sha1(run_dir / HALF_WEIGHTS), "epoch": state["epoch"],
              "val_top1_f16": result["top1"], "val_top1_f32": runs.read_json(run_dir / "final.json")["val_top1"],
              "bytes": (run_dir / HALF_WEIGHTS).stat().st_size}
    runs.atomic_write_json(run_dir / HALF_RECORD, record)
    return record


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cmrlib verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", metavar="RUN", help="finished run folders")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder of the re-make")
    args = parser.parse_args(argv)
    status = 0
    for run in args.runs:
        try:
            result = verify(run, keep=args.keep)
        except ValueError as error:
            print(f"cmrlib verify: error: {error}", file=sys.stderr)
            return 2
        text = result["outcome"]
        if result["first_difference"]:
            d = result["first_difference"]
            text += f": first at epoch {d['epoch']}, field {d['field']!r}: committed {d['committed']!r}, re-made {d['remade']!r}"
        elif result["why_not"]:
            text += f": {result['why_not']}"
        if result["cpu_signature_match"] is False and result["outcome"] != "identical":
            text += " (the run was trained on another CPU signature: the gated methods differ in the last bits there)"
        print(f"{result['run']}: {text} ({result['epochs']} epochs, {result['seconds']:.0f} s)", flush=True)
        status = status or int(result["outcome"] != "identical")
    return status


def export_main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cmrlib export-weights", description=__doc__.split("\n\n")[-1])
    parser.add_argument("runs", nargs="+", metavar="RUN", help="trained run folders (with checkpoints/last.pt)")
    args = parser.parse_args(argv)
    for run in args.runs:
        try:
            record = export_half(run)
        except ValueError as error:
            print(f"cmrlib export-weights: error: {error}", file=sys.stderr)
            return 2
        print(f"{run}: {record['file']} ({record['bytes'] / 1e6:.1f} MB), top-1 {100 * record['val_top1_f16']:.2f} % "
              f"in float16 against {100 * record['val_top1_f32']:.2f} % in float32")
    return 0


if __name__ == "__main__":
    sys.exit(main())
