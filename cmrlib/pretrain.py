"""The ImageNet stand-in: the 2D backbone pretrained once per backbone shape on fractal classes
(``cmrlib.data.fractals``), then loaded into every method through the ordinary ``pretrained=`` path.

A run config with ``pretrained="fractals"`` starts from ``backbone(config)``: a torchvision ResNet state dict
(fc left out) of the run's depth, width and stem, trained here at the run's crop size. The pretraining is a
cached, deterministic run like any other: ``runs/pretrain/fractals-R<depth>-<key>/`` holds config.json,
metrics.jsonl (the curves), final.json and backbone.pt. Its config is ``cmrlib.config.pretraining(config)`` (the
recipe ``cmrlib.config.PRETRAINING`` and the backbone shape) and its key hashes that config with
``cmrlib.runs.TRAINING_VERSION`` (tests/test_golden.py guards its numbers); every run that starts from it has
that key in its own. The weights are stored in float16
(1.4 MB at the cpu profile, small enough to commit); the rounded weights are the result, so a rebuild on another
machine loads the same numbers up to float noise.

``python -m cmrlib pretrain --profile cpu`` makes (or reuses) the profile's backbone.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cmrlib import config as configlib
from cmrlib import runs
from cmrlib.data.transforms import normalise

NAME = "fractals"


def key(pretraining: dict) -> str:
    """The pretraining's key (``cmrlib.runs.pretraining_key``): its config and the training version."""
    return runs.pretraining_key(pretraining)


def run_dir(pretraining: dict) -> Path:
    return runs.project_root() / "runs" / "pretrain" / f"{NAME}-R{pretraining['depth']}-{key(pretraining)[:8]}"


def _batches(images: torch.Tensor, labels: torch.Tensor, batch_size: int, size: int, rng: np.random.Generator,
             train: bool):
    """(N, 1, 3, size, size) normalised clips of one frame: random crop and flip (train) or centre crop."""
    order = rng.permutation(len(images)) if train else np.arange(len(images))
    full = images.shape[-1]
    for start in range(0, len(order) - (batch_size - 1 if train else 0), batch_size):
        index = order[start:start + batch_size]
        crops = []
        for i in index:
            top, left = (rng.integers(0, full - size + 1, 2) if train else ((full - size) // 2,) * 2)
            crop = images[i, :, top:top + size, left:left + size]
            crops.append(crop.flip(-1) if train and rng.random() < 0.5 else crop)
        clip = normalise(torch.stack(crops).float() / 255.0)
        yield clip[:, None], labels[index]


def train_backbone(pretraining: dict, out: Path, log=print) -> dict:
    """Pretrain a TSN network of one frame (the plain 2D ResNet) on fractal classes; write the run to ``out``."""
    from cmrlib.data import fractals
    from cmrlib.models import build_model

    p = pretraining
    tic = time.perf_counter()
    images, labels = fractals.make_dataset(p["classes"], p["instances"], p["image_size"], p["seed"])
    images = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()  # (N, 3, H, W) uint8
    labels = torch.from_numpy(labels)
    held = (np.arange(len(labels)) % p["instances"]) < p["holdout"]
    train_set, val_set = (images[~held], labels[~held]), (images[held], labels[held])
    render_s = time.perf_counter() - tic

    torch.manual_seed(p["seed"])
    model = build_model("tsn", p["classes"], 1, depth=p["depth"], width=p["width"], small_input=p["small_input"],
                        dropout=0.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=p["lr"], momentum=p["momentum"], nesterov=True,
                                weight_decay=p["weight_decay"])
    steps = len(train_set[1]) // p["batch_size"]
    history = []
    runs.atomic_write_json(out / "config.json", {**p, "key": key(p), "provenance": runs.provenance("cpu")})
    for epoch in range(p["epochs"]):
        rng = np.random.default_rng([p["seed"], epoch])
        model.train()
        loss_sum = correct = seen = 0
        for step, (clip, target) in enumerate(_batches(*train_set, p["batch_size"], p["size"], rng, True)):
            lr = p["lr"] * 0.5 * (1 + math.cos(math.pi * (epoch + step / steps) / p["epochs"]))
            for group in optimizer.param_groups:
                group["lr"] = lr
            logits = model(clip)
            loss = F.cross_entropy(logits, target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(target)
            correct += int((logits.argmax(1) == target).sum())
            seen += len(target)
        model.eval()
        with torch.no_grad():
            hits = sum(int((model(clip).argmax(1) == target).sum())
                       for clip, target in _batches(*val_set, 256, p["size"], rng, False))
        row = {"epoch": epoch + 1, "loss": loss_sum / seen, "train_top1": correct / seen,
               "val_top1": hits / len(val_set[1]), "wall_time_s": time.perf_counter() - tic}
        history.append(row)
        runs.atomic_write_jsonl(out / "metrics.jsonl", history)
        log(f"pretrain epoch {row['epoch']}/{p['epochs']}  loss {row['loss']:.3f}  train {row['train_top1']:.3f}  "
            f"held-out {row['val_top1']:.3f}  {row['wall_time_s']:.0f} s")
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()
             if not k.startswith("fc.")}
    runs.atomic_save(state, out / "backbone.pt")
    final = {"key": key(p), "val_top1": history[-1]["val_top1"], "train_top1": history[-1]["train_top1"],
             "render_s": render_s, "wall_time_s": time.perf_counter() - tic}
    runs.atomic_write_json(out / "final.json", final)
    return final


def backbone(config: dict, log=print) -> Path:
    """The pretrained backbone file for a run config, made now if it is not cached."""
    pretraining = configlib.pretraining(config)
    out = run_dir(pretraining)
    with runs.locked(f"pretrain-{out.name}"):
        if not (out / "final.json").exists() or not (out / "backbone.pt").exists():
            threads = torch.get_num_threads()
            try:
                if config.get("threads"):
                    torch.set_num_threads(config["threads"])
                train_backbone(pretraining, out, log)
            finally:
                torch.set_num_threads(threads)
    return out / "backbone.pt"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m cmrlib pretrain", description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="cpu", help="the profile whose backbone shape is pretrained")
    p.add_argument("--method", default="cmr", help="any method: the backbone shape is the profile's")
    args = p.parse_args(argv)
    try:
        config = configlib.resolve(args.method, args.profile)
    except ValueError as error:
        print(f"cmrlib pretrain: error: {error}", file=sys.stderr)
        return 2
    print(backbone(config))
    return 0


def curves():
    """Every pretraining run under runs/pretrain/: one row per (run, epoch) with loss, train and held-out top-1."""
    import pandas as pd

    rows = [{"run": path.parent.name, **row} for path in sorted((runs.project_root() / "runs" / "pretrain").glob(
        "*/metrics.jsonl")) for row in runs.read_jsonl(path)]
    return pd.DataFrame(rows, columns=["run", "epoch", "loss", "train_top1", "val_top1", "wall_time_s"])
