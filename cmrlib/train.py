"""The training loop: the papers' recipe (paper-spec §C) as resumable, deterministic runs.

``python -m cmrlib train --method cmr --profile cpu [--data DIR] [--out DIR] [--seed S] [--resume] k=v ...``
also works under ``torchrun --nproc_per_node=K -m cmrlib train ...`` (DDP; ``batch_size`` is the global batch).

Reproducibility: the data order and augmentation of epoch e depend on (seed, e) only (``cmrlib.loaders``); the
global RNG (dropout) is reseeded from (seed, e, rank) at every epoch start and
saved in every checkpoint. A checkpoint is written atomically at each epoch end (and every
``checkpoint_every`` steps), so a run killed at any point continues with ``--resume`` to the same final
metrics on CPU.

Faults: the trained epoch is checkpointed before it is validated, the checkpoint it replaces stays as
``previous.pt`` (``--resume`` falls back to it when ``last.pt`` is damaged), a split with no usable clip is
refused before training starts, and rerunning an unfinished run needs ``--resume`` or ``--restart``. Entries
dropped when the datasets are built are counted in every metrics row and in final.json (``dropped``). The run
folder is locked (``train.lock``) while a process trains in it: a second ``train`` on it is refused. A file that
cannot be written (disk full) is one line naming it (exit 2; what was written before is kept, ``--resume``
continues). Ctrl-C exits 130 and SIGTERM 143, each with one line; the last checkpoint is kept for ``--resume``.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import signal
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cmrlib import config as configlib
from cmrlib import distributed as dist
from cmrlib import runs
from cmrlib.checkpoint import (CHECKPOINT_FORMAT, build_model, gather_rng_states, load_parent,
                               load_for_resume, load_weights, same_config, save_keeping_previous, set_rng_state)
from cmrlib.evaluate import predict, topk_accuracy
from cmrlib.loaders import (build_datasets, check_splits, configure_determinism, dataset_root, derived_seed,
                            epoch_loader, eval_loader, runtime_flags, select_device, to_device)


class TrainingDiverged(RuntimeError):
    """The loss or the gradient became NaN or infinite; the last good checkpoint is kept."""


class Terminated(BaseException):
    """SIGTERM arrived (raised by ``main``'s handler, like KeyboardInterrupt for Ctrl-C)."""


# ----------------------------------------------------------------------------------------------- set-up
def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def set_train_mode(model: torch.nn.Module, bn_mode: str) -> None:
    """model.train(), then BN per the config: 'partial' (TSN) keeps only the first BN layer training and
    freezes the others' statistics and affine parameters; 'frozen' keeps every BN on its running statistics
    (affine parameters still learn), which makes a step independent of how the batch is split."""
    model.train()
    if bn_mode == "train":
        return
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for index, norm in enumerate(norms):
        if bn_mode == "frozen" or index > 0:
            norm.eval()
            if bn_mode == "partial":
                for parameter in norm.parameters():
                    parameter.requires_grad_(False)


def make_optimizer(model: torch.nn.Module, config: dict) -> torch.optim.SGD:
    """SGD with momentum (Nesterov option), weight decay on every parameter, lr scaled by batch/64."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.SGD(parameters, lr=configlib.base_lr(config), momentum=config["momentum"],
                           nesterov=config["nesterov"] and config["momentum"] > 0,
                           weight_decay=config["weight_decay"])


def set_lr(optimizer, config: dict, progress: float) -> float:
    lr = configlib.base_lr(config) * configlib.lr_factor(config, progress)
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on the segment-averaged logits (CMR code)."""
    return F.cross_entropy(logits.float(), labels)


def quiet() -> bool:
    return os.environ.get("CMR_QUIET", "") not in ("", "0")


def show_progress(context: dist.Context) -> bool:
    return context.is_main and not quiet() and sys.stderr.isatty()


def log(message: str, context: dist.Context) -> None:
    if context.is_main and not quiet():
        print(message, flush=True)


# ------------------------------------------------------------------------------------------- one epoch
class EpochTotals:
    """Running sums of one training epoch, summed over processes at the end (or at a step checkpoint)."""

    def __init__(self, issue_codes: int, saved: dict | None = None):
        self.values = torch.zeros(4 + issue_codes, dtype=torch.float64)  # loss_sum, correct, clips, steps, issues
        if saved is not None:  # (a checkpoint from before issue codes were added holds fewer)
            self.values[: len(saved["values"])] = saved["values"]
        self.train_time = 0.0 if saved is None else float(saved["train_time"])

    def add(self, loss_sum: float, correct: int, clips: int, issues: torch.Tensor) -> None:
        self.values[:4] += torch.tensor([loss_sum, correct, clips, 1], dtype=torch.float64)
        self.values[4:] += torch.bincount(issues, minlength=len(self.values) - 4)[: len(self.values) - 4].double()

    def reduced(self, context: dist.Context, device: torch.device) -> torch.Tensor:
        return dist.all_reduce_sum(self.values.to(device), context).cpu()


def train_epoch(model, loader, optimizer, config, flags, device, context, epoch, start_step, steps_per_epoch,
                totals, on_step) -> None:
    """Train over the loader (which starts at ``start_step``); ``on_step(step)`` runs after every step."""
    from tqdm.auto import tqdm

    clip_norm = config["clip_grad_norm"] or math.inf
    # bfloat16 autocast on the run's device (runtime_flags allows it on CUDA only; gpu-check also runs it on the CPU)
    autocast = (torch.autocast(device.type, dtype=torch.bfloat16) if flags["amp"] else contextlib.nullcontext())
    bar = tqdm(loader, total=steps_per_epoch, initial=start_step, desc=f"epoch {epoch + 1}/{config['epochs']}",
               disable=not show_progress(context), leave=False, dynamic_ncols=True)
    step = start_step
    last = time.perf_counter()
    for clip, labels, issues in bar:
        lr = set_lr(optimizer, config, epoch + step / steps_per_epoch)
        clip, labels = to_device(clip, device, flags["channels_last"]), labels.to(device, non_blocking=True)
        with autocast:
            logits = model(clip)
        loss = classification_loss(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        # DDP has averaged the gradients, so every process sees the same norm and stops together.
        if not (torch.isfinite(grad_norm) and torch.isfinite(loss)):
            raise TrainingDiverged(f"the loss became {loss.item()} (gradient norm {grad_norm.item()}) at epoch "
                                   f"{epoch + 1}, step {step + 1}, lr {lr:.4g}")
        optimizer.step()
        step += 1
        loss_value = loss.item()
        correct = int((logits.detach().argmax(1) == labels).sum())
        totals.add(loss_value * len(labels), correct, len(labels), issues.long().cpu())
        totals.train_time += time.perf_counter() - last  # includes loading the batch
        if not bar.disable:
            clips_per_s = totals.values[2] * context.world_size / max(totals.train_time, 1e-9)
            bar.set_postfix(loss=f"{loss_value:.3f}", clips_s=f"{clips_per_s:.1f}")
        on_step(step)
        last = time.perf_counter()
    bar.close()


# ------------------------------------------------------------------------------------------------ train
def train(config: dict, out_dir, resume: bool = False, restart: bool = False, allow_dirty: bool = False) -> dict:
    """Train one run into ``out_dir`` and return its final metrics (also in final.json).

    A finished run with the same config returns its final.json at once. ``resume=True`` continues from
    checkpoints/last.pt (or previous.pt when last.pt is damaged); ``restart=True`` discards an unfinished run
    and starts again; with neither, an unfinished run (a checkpoint or metrics rows) is refused.
    A run of a book profile (``config.BOOK_PROFILES``) is refused from a git tree with uncommitted changes to
    tracked files unless ``allow_dirty`` (or $CMR_ALLOW_DIRTY=1); then the diff is kept as uncommitted.diff.
    """
    out_dir = Path(out_dir)
    context = dist.init(device_type="cuda" if config["device"] != "cpu" and torch.cuda.is_available() else "cpu")
    threads = torch.get_num_threads()
    try:
        if config["threads"]:
            torch.set_num_threads(config["threads"])
        runs.check_tree(config, out_dir, allow_dirty or os.environ.get("CMR_ALLOW_DIRTY") == "1", context.is_main)
        with runs.run_lock(out_dir) if context.is_main else contextlib.nullcontext():
            return _train(config, out_dir, resume, restart, context)
    finally:
        torch.set_num_threads(threads)
        dist.shutdown()


def unfinished_work(out_dir: Path) -> str | None:
    """What an unfinished run in ``out_dir`` would lose if started again (None when nothing)."""
    checkpoints = [p.name for p in (out_dir / "checkpoints").glob("*.pt")] if (out_dir / "checkpoints").is_dir() else []
    try:
        epochs = len(runs.read_jsonl(out_dir / "metrics.jsonl")) if (out_dir / "metrics.jsonl").exists() else 0
    except (OSError, ValueError):
        epochs = 0
    if not checkpoints and not epochs:
        return None
    return f"{epochs} epoch(s) in metrics.jsonl" + (f", checkpoints {', '.join(sorted(checkpoints))}" if checkpoints else "")


def _train(config: dict, out_dir: Path, resume: bool, restart: bool, context: dist.Context) -> dict:
    from cmrlib.data import ISSUE_NAMES

    final_path, config_path = out_dir / "final.json", out_dir / "config.json"
    checkpoint_path = out_dir / "checkpoints" / "last.pt"
    if final_path.exists() and config_path.exists():
        if not same_config(runs.read_json(config_path), config):
            raise ValueError(f"{out_dir} holds a finished run with a different config; choose another --out")
        log(f"{out_dir}: finished run, nothing to do", context)
        return runs.read_json(final_path)
    if resume and restart:
        raise ValueError("--resume and --restart exclude each other")
    work = None if resume or restart else unfinished_work(out_dir)
    if work:
        raise ValueError(f"{out_dir} holds an unfinished run ({work}); continue it with --resume, or discard it "
                         f"and start again with --restart")

    device = select_device(config, context)
    flags = runtime_flags(config, device)
    if config["batch_size"] % context.world_size:
        raise ValueError(f"config field 'batch_size': {config['batch_size']} does not split over "
                         f"{context.world_size} processes")
    if config["sync_bn"] and context.distributed and device.type != "cuda":
        raise ValueError("config field 'sync_bn': torch's SyncBatchNorm runs only on CUDA; use bn=frozen for a "
                         "batch-split-independent CPU run")
    configure_determinism(flags["deterministic"], device)
    seed_everything(derived_seed(config["seed"], "init"))

    root = dataset_root(config, context)
    train_set, val_set = build_datasets(config, root)
    dropped = check_splits(root, train=train_set, val=val_set)
    num_classes = train_set.num_classes
    issue_codes = len(ISSUE_NAMES)
    data_digest = runs.data_digest(root)
    model = build_model(config, num_classes, pretrained=config.get("init_from_frames") is None).to(device)
    if flags["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    if config["sync_bn"] and context.distributed:
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    set_train_mode(model, config["bn"])
    optimizer = make_optimizer(model, config)

    state = load_for_resume(checkpoint_path, say=lambda text: log(text, context)) if resume else None
    if state is not None:
        if not same_config(json.loads(state["config_json"]), config):
            raise ValueError(f"{checkpoint_path} was written with a different config; cannot --resume it")
        recorded = runs.read_json(config_path).get("data_digest") if config_path.exists() else None
        if recorded is not None and recorded != data_digest:
            raise ValueError(f"{out_dir} was trained on other data (data digest {recorded[:12]}, {root} has "
                             f"{str(data_digest)[:12]}); cannot --resume it on these clips")
        load_weights(model, state["model"], checkpoint_path, num_classes)
        optimizer.load_state_dict(state["optimizer"])
        log(f"{out_dir}: resuming at epoch {state['epoch'] + 1}, step {state['step']}", context)
    else:
        init_from = load_parent(model, config, num_classes)
        if init_from is not None:
            log(f"starting from the weights of {init_from['run']}", context)
    if state is None and context.is_main:
        provenance = runs.provenance(str(device))
        provenance["world_size"] = context.world_size
        record = {**config, "run_key": runs.run_key(config), "data_digest": data_digest, "provenance": provenance}
        if init_from is not None:
            record["init_from"] = init_from
        runs.atomic_write_json(config_path, record)
        for old in ("last.pt", "previous.pt", "best.pt", "last.pt.damaged"):
            if (checkpoint_path.parent / old).exists():
                (checkpoint_path.parent / old).unlink()
        runs.atomic_write_jsonl(out_dir / "metrics.jsonl", [])

    trained = model
    if context.distributed:
        # 1x1 conv gradients come back channels_last-strided; for a 1x1 kernel that is the same layout
        warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
        trained = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    if flags["compile"]:
        trained = torch.compile(trained)

    history = list(state["history"]) if state else []
    start_epoch, start_step = (state["epoch"], state["step"]) if state else (0, 0)
    elapsed_before = float(state["elapsed"]) if state else 0.0
    best_top1 = float(state["best_top1"]) if state else -1.0
    started = time.perf_counter()

    def elapsed() -> float:
        return elapsed_before + time.perf_counter() - started

    def save_checkpoint(epoch: int, step: int, totals: EpochTotals | None, pending: dict | None = None) -> None:
        """Every process joins (the RNG states and running sums are gathered); rank 0 writes."""
        rng_states = gather_rng_states(context)
        partial = None if totals is None else {"values": totals.reduced(context, device),
                                                 "train_time": totals.train_time}
        if not context.is_main:
            return
        checkpoint = {"format": CHECKPOINT_FORMAT, "config_json": json.dumps(config, sort_keys=True),
                      "classes": [str(name) for name in train_set.classes],
                      "epoch": epoch, "step": step, "model": model.state_dict(),
                      "optimizer": optimizer.state_dict(), "rng": rng_states, "history": history,
                      "partial": partial, "elapsed": elapsed(), "best_top1": best_top1}
        if pending is not None:  # the epoch's training row, saved before its validation
            checkpoint["pending"] = pending
        save_keeping_previous(checkpoint, checkpoint_path)

    def finish_epoch(epoch: int, row: dict, saved: bool = False) -> None:
        """Validate (after checkpointing the trained epoch, unless ``saved``), record and checkpoint."""
        nonlocal best_top1
        if (epoch + 1) % config["val_every"] == 0 or epoch + 1 == config["epochs"]:
            if not saved:
                save_checkpoint(epoch + 1, 0, None, pending=row)
            tic = time.perf_counter()
            if context.is_main:
                row.update(validate(model, val_set, config, device, flags, epoch))
            row["val_time_s"] = time.perf_counter() - tic
        row["wall_time_s"] = elapsed()
        row = dist.broadcast_object(row, context)  # every process keeps rank 0's record
        history.append(row)
        improved = row.get("val_top1", -1.0) > best_top1
        best_top1 = max(best_top1, row.get("val_top1", -1.0))
        save_checkpoint(epoch + 1, 0, None)
        if context.is_main:
            runs.atomic_write_jsonl(out_dir / "metrics.jsonl", history)
            if config["keep_best"] and improved:
                runs.atomic_save({"epoch": epoch + 1, "model": model.state_dict(), "config_json": json.dumps(
                    config, sort_keys=True), "classes": [str(name) for name in train_set.classes]},
                                 out_dir / "checkpoints" / "best.pt")
        log(epoch_summary(row, config), context)

    if state is not None and state.get("pending") is not None:  # killed while validating: validate again
        finish_epoch(start_epoch - 1, dict(state["pending"]), saved=True)

    for epoch in range(start_epoch, config["epochs"]):
        resuming_inside = state is not None and epoch == start_epoch and start_step > 0
        if resuming_inside:
            set_rng_state(state["rng"][min(context.rank, len(state["rng"]) - 1)])
            totals = EpochTotals(issue_codes, state["partial"] if context.is_main else None)
        else:
            seed = derived_seed(config["seed"], "epoch", epoch, context.rank)
            seed_everything(seed)
            totals = EpochTotals(issue_codes)
        first_step = start_step if resuming_inside else 0
        loader, steps_per_epoch = epoch_loader(train_set, config, context, epoch, first_step, device)

        def on_step(step: int) -> None:
            every = config["checkpoint_every"]
            if every and step % every == 0 and step < steps_per_epoch:
                save_checkpoint(epoch, step, totals)

        set_train_mode(model, config["bn"])
        train_epoch(trained, loader, optimizer, config, flags, device, context, epoch, first_step,
                    steps_per_epoch, totals, on_step)
        sums = totals.reduced(context, device)
        row = {"epoch": epoch + 1, "lr": optimizer.param_groups[0]["lr"],
               "loss": float(sums[0] / sums[2]), "train_top1": float(sums[1] / sums[2]),
               "train_clips": int(sums[2]), "steps": int(sums[3]) // context.world_size,
               "clips_per_s": float(sums[2]) / max(totals.train_time, 1e-9),
               "train_time_s": totals.train_time,
               "bad_inputs": {ISSUE_NAMES[code]: int(count) for code, count in enumerate(sums[4:].tolist())
                              if code > 0 and count > 0 and ISSUE_NAMES[code] != "pyav"}}
        pyav = int(sums[4 + ISSUE_NAMES.index("pyav")])
        if pyav:  # valid videos that decord cannot decode (rotated portrait videos): decoded with PyAV
            row["decoded_with_pyav"] = pyav
        if dropped:
            row["dropped"] = dropped
        finish_epoch(epoch, row)
        state = None

    final = final_metrics(history, config, model)
    if context.is_main:
        runs.atomic_write_jsonl(out_dir / "metrics.jsonl", history)
        record = runs.read_json(config_path)
        record["provenance"].update(wall_time_s=elapsed(), finished_utc=runs.provenance(str(device))["utc_time"])
        runs.atomic_write_json(config_path, record)
        runs.atomic_write_json(final_path, final)
    dist.barrier(context)
    return final


def validate(model, val_set, config, device, flags, epoch: int) -> dict:
    """Validation metrics of one epoch; clips that cannot be loaded are excluded (``val_excluded``)."""
    excluded = []
    try:
        scores, labels, _ = predict(model, eval_loader(val_set, config, device), device,
                                    channels_last=flags["channels_last"], amp=flags["amp"], excluded=excluded)
    except ValueError as error:
        raise ValueError(f"validation after epoch {epoch + 1}: {error}. The trained epoch is saved: fix the data, "
                         f"then continue with --resume") from None
    top1, top5 = topk_accuracy(scores, labels, (1, 5))
    row = {"val_top1": top1, "val_top5": top5,
           "val_loss": float(-scores[torch.arange(len(labels)), labels].clamp_min(1e-12).log().mean())}
    if excluded:
        row["val_excluded"] = len(excluded)
    return row


def final_metrics(history: list, config: dict, model) -> dict:
    last = history[-1]
    validated = [row for row in history if "val_top1" in row]
    best = max(validated, key=lambda row: row["val_top1"])
    train_clips = sum(row["train_clips"] for row in history)
    train_time = sum(row["train_time_s"] for row in history)
    return {"method": config["method"], "epochs": len(history), "run_key": runs.run_key(config),
            "val_top1": last["val_top1"], "val_top5": last["val_top5"], "val_loss": last["val_loss"],
            "best_val_top1": best["val_top1"], "best_epoch": best["epoch"],
            "train_top1": last["train_top1"], "loss": last["loss"],
            "clips_per_s": train_clips / max(train_time, 1e-9) if train_time else None,
            "wall_time_s": last["wall_time_s"],
            "bad_inputs": {name: sum(row["bad_inputs"].get(name, 0) for row in history)
                           for name in sorted({n for row in history for n in row["bad_inputs"]})},
            "params": sum(p.numel() for p in model.parameters()),
            **({"decoded_with_pyav": sum(row.get("decoded_with_pyav", 0) for row in history)}
               if any(row.get("decoded_with_pyav") for row in history) else {}),
            **({"dropped": last["dropped"]} if last.get("dropped") else {}),
            **({"val_excluded": last["val_excluded"]} if last.get("val_excluded") else {})}


def epoch_summary(row: dict, config: dict) -> str:
    text = (f"epoch {row['epoch']}/{config['epochs']}  loss {row['loss']:.4f}  train top1 {row['train_top1']:.3f}")
    if "val_top1" in row:
        text += f"  val top1 {row['val_top1']:.3f} top5 {row['val_top5']:.3f}"
    text += f"  lr {row['lr']:.3g}  {row['clips_per_s']:.1f} clips/s  {row['wall_time_s']:.0f}s"
    if row["bad_inputs"]:
        text += f"  bad inputs {row['bad_inputs']}"
    if row.get("decoded_with_pyav"):
        text += f"  decoded with PyAV: {row['decoded_with_pyav']}"
    if row.get("dropped"):
        text += f"  dropped at start {row['dropped']}"
    if row.get("val_excluded"):
        text += f"  {row['val_excluded']} validation clip(s) excluded"
    return text


# ---------------------------------------------------------------------------------------------- the CLI
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m cmrlib train", description=__doc__.split("\n\n")[0],
                                epilog="Any config field can be overridden as key=value, e.g. epochs=3 lr=0.05 r=4.")
    p.add_argument("--method", required=True, help="tsn, tsm, tim, teinet, stm, tea, pem or cmr")
    p.add_argument("--profile", default=os.environ.get("CMR_PROFILE", "cpu"),
                   help="smoke, cpu or gpu (default: $CMR_PROFILE or cpu)")
    p.add_argument("--data", help="dataset root (default: data/<profile>/<benchmark>, generated on demand)")
    p.add_argument("--out", help="run folder (default: runs/<profile>/<benchmark>/<run-id>)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoints/last.pt")
    p.add_argument("--restart", action="store_true", help="discard an unfinished run in <out> and start again")
    p.add_argument("--allow-dirty", action="store_true",
                   help="train a book profile's run from uncommitted code (the diff is kept in the run folder)")
    p.add_argument("--json", action="store_true", help="print final.json")
    p.add_argument("overrides", nargs="*", metavar="key=value")
    return p


def config_from_args(args) -> dict:
    overrides = configlib.parse_overrides(args.overrides)
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.data is not None:
        root = Path(args.data).expanduser()
        if root.is_file():
            raise ValueError(f"--data {args.data!r} is a file; training needs a dataset folder with both splits "
                             f"(for TSM lists: train_videofolder.txt and val_videofolder.txt beside each other)")
        if not root.is_dir():
            raise ValueError(f"data folder {args.data!r} does not exist (--data)")
        overrides["data"] = str(root.resolve())
    return configlib.resolve(args.method, args.profile, overrides)


def _saved(out) -> str:
    last = None if out is None else Path(out) / "checkpoints" / "last.pt"
    return (f"the last checkpoint is kept in {last}: continue with --resume" if last and last.exists()
            else "no checkpoint was written yet")


def raise_terminated(signum, frame):
    """A SIGTERM handler: raise ``Terminated`` in the main thread (``train`` and the ``runs``/``book`` pools)."""
    raise Terminated()


def main(argv=None) -> int:
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, raise_terminated) if main_thread else None
    try:
        return _main(argv)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _main(argv) -> int:
    from cmrlib.data.dataset import UnusableData

    args = parser().parse_intermixed_args(argv)  # key=value overrides may sit between the options
    speaks = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 prints
    out = None
    try:
        config = config_from_args(args)
        out = Path(args.out) if args.out else runs.default_run_dir(config)
        if speaks and not quiet():
            print(f"run folder: {out}", flush=True)
        final = train(config, out, resume=args.resume, restart=args.restart, allow_dirty=args.allow_dirty)
    except ValueError as error:
        print(f"cmrlib train: error: {error}", file=sys.stderr)
        return 2
    except UnusableData as error:  # (from a DataLoader worker the message carries its traceback: keep the end)
        print(f"cmrlib train: bad data: {str(error).strip().splitlines()[-1]}", file=sys.stderr)
        return 2
    except TrainingDiverged as error:
        print(f"cmrlib train: stopped: {error}. The last good checkpoint is kept in {out / 'checkpoints'}.",
              file=sys.stderr)
        return 3
    except OSError as error:  # runs.WriteFailed (disk full, no permission) names its file; others get theirs
        text = str(error) if isinstance(error, runs.WriteFailed) or not error.filename else \
            f"{error.filename}: {error.strerror}"
        print(f"cmrlib train: error: {text}; {_saved(out)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cmrlib train: interrupted (Ctrl-C); {_saved(out)}", file=sys.stderr)
        return 130
    except Terminated:
        print(f"cmrlib train: terminated (SIGTERM); {_saved(out)}", file=sys.stderr)
        return 143
    if not speaks:
        return 0
    if args.json:
        print(json.dumps(final, indent=2, sort_keys=True))
    elif not quiet():
        print(f"val top1 {final['val_top1']:.4f}  top5 {final['val_top5']:.4f}  ({final['wall_time_s']:.0f} s)")
    return 0
