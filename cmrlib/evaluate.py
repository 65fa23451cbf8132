"""Evaluation of a trained run: top-1/top-5, per-class accuracy and the confusion matrix.

``python -m cmrlib eval RUN_DIR [--clips N] [--crops 1|3] [--batch-size B] [--checkpoint last|best]``

Views (paper-spec §C.1): ``--clips 1 --crops 1`` is CMR's single-view protocol ("8f": one clip, centre
crop); ``--clips 2 --crops 3`` is "8f×2" (2 uniformly placed clips x left/centre/right crops). The softmax
scores of the views of a video are averaged (STM's wording; TSM's and CMR's test scripts average too).
The model runs in eval mode (BN on running statistics), every view is a full clip of T frames (no padding),
and the views of one video are regrouped by shape, never by position in the batch, so the scores do not
depend on the batch size (the failure of TSM issue #134).
Results go to ``RUN_DIR/eval_<clips>x<crops>.json``, which records the data it scored (``data``: path and
fingerprint of the validation list). With ``--data`` other than the run's own, they go to
``eval_<clips>x<crops>-data-<fingerprint>.json`` instead (the run's own evaluation is never overwritten), and the
data must have the run's class names in the run's order (same count, other names or order: refused, not mapped).
A checkpoint whose own config names another method than the run's, and ``--checkpoint best`` of a run trained
with ``keep_best`` off, are refused with one line.

Bad input: evaluation never scores a clip other than the one listed. A validation clip that cannot be loaded
(missing, truncated, zero frames, not a video, unreadable) is excluded: top-1, top-5, the per-class accuracy
and the confusion matrix are over the scored clips only; the count is printed ("N excluded") and saved as
``excluded`` (with ``excluded_clips``: path and reason of each) next to ``listed`` (all clips of the split) and
``videos`` (the scored ones). The validation of a training run follows the same policy (``val_excluded`` in
its metrics row). A short clip is scored (its frames sampled with repetition) and counted in ``bad_inputs``.
If no clip can be scored, evaluation fails with a message instead of reporting a number.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from cmrlib import distributed as dist
from cmrlib import runs
from cmrlib.checkpoint import build_model, check_method, load_checkpoint, load_weights
from cmrlib.loaders import FirstItems, dataset_root, select_device, to_device
from cmrlib.runs import load_run_config


def predict(model, loader, device, channels_last: bool = False, amp: bool = False, excluded: list | None = None):
    """Average softmax over the views of each video. Returns (scores (N, K), labels (N,), issues (N,)) of the
    scored videos: a clip that could not be loaded (its issue one of the dataset's FAILURES) is left out, and
    its position in the loader's order is appended to ``excluded`` when given. Raises ValueError when no
    clip could be scored."""
    from cmrlib.data.dataset import FAILURES

    model.eval()
    scores, labels, issues = [], [], []
    position = 0
    failures = torch.tensor(sorted(FAILURES))
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if amp else contextlib.nullcontext()
    with torch.no_grad():
        for clip, label, issue in loader:
            broken = torch.isin(issue, failures)
            if excluded is not None:
                excluded.extend(position + i for i in broken.nonzero().flatten().tolist())
            position += len(issue)
            if broken.all():
                continue
            if broken.any():
                clip, label, issue = clip[~broken], label[~broken], issue[~broken]
            views = clip.shape[1] if clip.dim() == 6 else 1  # (B, V, T, 3, H, W) or (B, T, 3, H, W)
            batch = clip.shape[0]
            frames = clip.reshape(batch * views, *clip.shape[-4:])  # video-major: views of a video adjacent
            with autocast:
                logits = model(to_device(frames, device, channels_last))
            probabilities = logits.float().softmax(dim=1).reshape(batch, views, -1).mean(dim=1)
            scores.append(probabilities.cpu())
            labels.append(label.cpu())
            issues.append(issue.cpu())
    if not scores:
        raise ValueError(f"not one of the {position} validation clips could be loaded, so nothing was scored; "
                         f"run `python -m cmrlib check-data` on the dataset")
    return torch.cat(scores), torch.cat(labels), torch.cat(issues)


def topk_accuracy(scores: torch.Tensor, labels: torch.Tensor, ks=(1, 5)) -> list[float]:
    """Fraction of videos whose label is among the k highest scores (k capped at the number of classes)."""
    ranked = scores.argsort(dim=1, descending=True, stable=True)
    hits = ranked == labels[:, None]
    return [float(hits[:, : min(k, scores.shape[1])].any(dim=1).float().mean()) for k in ks]


def confusion_matrix(predictions: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(K, K) counts: row = true class, column = predicted class."""
    flat = labels * num_classes + predictions
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def evaluate(run_dir, clips: int = 1, crops: int = 1, batch_size: int | None = None, checkpoint: str = "last",
             data=None, device: str | None = None, save: bool = True, keep_scores: bool = False) -> dict:
    """Evaluate a run's checkpoint on its validation split with ``clips`` x ``crops`` views per video.

    Returns dict(top1, top5, per_class, confusion, predictions, labels, ...) and writes it to
    eval_<clips>x<crops>.json; ``keep_scores`` adds the (videos, classes) averaged softmax as "scores"
    (a tensor, not saved).
    """
    from cmrlib.data import build_dataset

    run_dir = Path(run_dir)
    config = load_run_config(run_dir)
    if crops not in (1, 3):
        raise ValueError(f"crops must be 1 (centre) or 3 (left, centre, right) (got {crops})")
    if clips < 1:
        raise ValueError(f"clips must be >= 1 (got {clips})")
    # "f16": the committed float16 copy of the final weights (cmrlib.verify.export_half)
    weights = run_dir / "weights.f16.pt" if checkpoint == "f16" else run_dir / "checkpoints" / f"{checkpoint}.pt"
    if not os.path.lexists(weights):
        if checkpoint == "best" and not config.get("keep_best"):
            raise ValueError(f"no checkpoint {weights}: the run was trained with keep_best off (keep_best=true "
                             f"keeps it); evaluate --checkpoint last")
        raise ValueError(f"no checkpoint {weights}; train the run first")
    own_root = own_data_root(config)
    run_classes = None
    if data is not None:
        run_classes = classes_of_run(config)
        config["data"] = str(Path(data).expanduser().resolve())
    if device is not None:
        config["device"] = device
    device = select_device(config, dist.Context())
    root = dataset_root(config)
    dataset = build_dataset(root, "validation", num_segments=config["frames"], size=config["size"], train=False,
                            sampling=config["sampling"], clips=clips, crops=crops, seed=config["seed"],
                            crop_scale=config.get("test_crop_scale", "full-height"))
    if config["val_subset"] is not None and config["val_subset"] < len(dataset):
        dataset = FirstItems(dataset, config["val_subset"])
    state = load_checkpoint(weights)
    check_method(state, config["method"], weights, asked=f"the run's config.json")
    model = build_model(config, dataset.num_classes, pretrained=False).to(device)
    load_weights(model, state["model"], weights, dataset.num_classes)
    other_data = Path(root).resolve() != own_root.resolve()
    if other_data:
        check_classes(state.get("classes") or run_classes, list(dataset.classes), root)
    fingerprint = data_fingerprint(dataset, root)

    batch_size = batch_size or config["eval_batch_size"] or config["batch_size"]
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=config["num_workers"])
    tic = time.perf_counter()
    excluded = []
    scores, labels, issues = predict(model, loader, device, excluded=excluded)
    from cmrlib.data.dataset import ISSUE_CODES
    pyav = issues == ISSUE_CODES["pyav"]
    entries = getattr(dataset, "entries", [])
    issue_of = getattr(getattr(dataset, "dataset", dataset), "_bad", {})
    seconds = time.perf_counter() - tic
    top1, top5 = topk_accuracy(scores, labels, (1, 5))
    num_classes = scores.shape[1]
    confusion = confusion_matrix(scores.argmax(dim=1), labels, num_classes)
    support = confusion.sum(dim=1)
    names = [str(name) for name in getattr(dataset, "classes", range(num_classes))]
    result = {
        "run": str(run_dir), "checkpoint": checkpoint, "epoch": int(state["epoch"]),
        "clips": clips, "crops": crops, "crop_scale": config.get("test_crop_scale", "full-height"),
        "views": clips * crops, "frames": config["frames"],
        "videos": len(labels), "listed": len(dataset), "excluded": len(excluded),
        "excluded_clips": [{"path": entries[i].path, "issue": issue_of.get(i, "?")} for i in excluded],
        "batch_size": batch_size, "score_average": "softmax",
        "top1": top1, "top5": top5,
        "per_class": {names[k]: (float(confusion[k, k] / support[k]) if support[k] else None)
                      for k in range(num_classes)},
        "classes": names, "confusion": confusion.tolist(),
        "predictions": scores.argmax(dim=1).tolist(), "labels": labels.tolist(),
        "bad_inputs": int(((issues != 0) & ~pyav).sum()) + len(excluded), "seconds": seconds,
        "decoded_with_pyav": int(pyav.sum()),
        "data": {"path": str(root), "fingerprint": fingerprint, "own": not other_data},
    }
    name = f"eval_{clips}x{crops}" + (f"-data-{fingerprint[:8]}" if other_data else "")
    result["file"] = str(run_dir / f"{name}.json")
    if save:
        runs.atomic_write_json(run_dir / f"{name}.json", result)
    if keep_scores:
        result["scores"] = scores
    return result


def own_data_root(config: dict) -> Path:
    """The dataset folder a run was trained on (without generating it)."""
    if config.get("data") is not None:
        return Path(config["data"]).expanduser()
    return runs.project_root() / "data" / (config.get("data_profile") or config["profile"]) / config["benchmark"]


def classes_of_run(config: dict) -> list | None:
    """The class names a run was trained with, from its own data (None when that cannot be read)."""
    if config.get("data") is None:
        from cmrlib.data.synth import BENCHMARKS

        return list(BENCHMARKS[config["benchmark"]].classes)
    try:
        from cmrlib.data.formats import load_annotations

        return list(load_annotations(config["data"], "validation").classes)
    except (ValueError, OSError):
        return None


def check_classes(trained: list | None, found: list, root) -> None:
    """Refuse data whose class names or order differ from the run's: its scores would be read against the
    wrong names (a 75 % run scores 25 % on its own classes reversed)."""
    if trained is None:
        raise ValueError(f"cannot tell the run's class names (its own data cannot be read), so data {root} "
                         f"cannot be vouched for; evaluate on the run's own data")
    if [str(c) for c in trained] != [str(c) for c in found]:
        k = next(i for i, (a, b) in enumerate(zip(trained, found)) if str(a) != str(b))
        how = "in another order" if sorted(map(str, trained)) == sorted(map(str, found)) else "with other names"
        raise ValueError(f"data {root} has the run's {len(found)} classes {how} (class {k}: {str(found[k])[:40]!r}, "
                         f"the run's is {str(trained[k])[:40]!r}); refused, not mapped")


def data_fingerprint(dataset, root) -> str:
    """16 hex digits of the class names and the (path relative to the root, label) of every scored entry."""
    entries = [(os.path.relpath(e.path, root), e.label) for e in getattr(dataset, "entries", [])]
    text = json.dumps([list(map(str, dataset.classes)), entries], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def direction_accuracy(confusion, pairs) -> float:
    """Accuracy of telling a class from its time reversal: over the videos of the paired classes whose
    prediction is one of the two classes of their pair, the fraction predicted as the right one (in %).
    A model blind to frame order scores about 50 %."""
    right = wrong = 0
    for forward, backward in pairs:
        right += confusion[forward][forward] + confusion[backward][backward]
        wrong += confusion[forward][backward] + confusion[backward][forward]
    return 100.0 * right / (right + wrong) if right + wrong else float("nan")


def reversal_pairs(run_dir: Path) -> list:
    """(forward, backward) class indices of the time-reversal pairs, from the run's dataset meta.json."""
    meta = runs.read_json(dataset_root(load_run_config(Path(run_dir))) / "meta.json")
    classes = meta.get("classes", [])
    pairs = []
    for pair in meta.get("reversal_pairs", meta.get("pairs", [])):
        forward, backward = pair[0], pair[1]
        if forward is None or backward is None or forward == backward:
            continue
        index = (lambda c: classes.index(c) if isinstance(c, str) else int(c))
        pairs.append((index(forward), index(backward)))
    return pairs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m cmrlib eval", description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", help="a run folder written by `python -m cmrlib train`")
    p.add_argument("--clips", type=int, default=1, help="temporal clips per video (CMR '8f×2': 2)")
    p.add_argument("--crops", type=int, default=1, choices=(1, 3), help="1 centre crop or 3 (left, centre, right)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--checkpoint", default="last", choices=("last", "best"))
    p.add_argument("--data", help="dataset root (default: the run's)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: the run's)")
    p.add_argument("--json", action="store_true", help="print the whole result as JSON")
    args = p.parse_args(argv)
    try:
        result = evaluate(args.run_dir, args.clips, args.crops, args.batch_size, args.checkpoint, args.data,
                          args.device)
    except ValueError as error:
        print(f"cmrlib eval: error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        excluded = (f", {result['excluded']} excluded (cannot be loaded; listed in the JSON as excluded_clips)"
                    if result["excluded"] else "")
        pyav = f", {result['decoded_with_pyav']} decoded with PyAV" if result["decoded_with_pyav"] else ""
        print(f"{result['run']}: {result['clips']} clip(s) x {result['crops']} crop(s), {result['videos']} videos "
              f"scored{excluded}{pyav}: top1 {result['top1']:.4f}  top5 {result['top5']:.4f}")
        if not result["data"]["own"]:
            print(f"  on other data ({result['data']['path']}): saved as {result['file']}")
    return 0
