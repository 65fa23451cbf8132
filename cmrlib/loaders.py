"""Where a run's clips come from and where they go: the device, the dataset folder, the datasets and the
epoch-seeded loaders.

The sample order of epoch e is torch's DistributedSampler permutation for (seed, e), also for one process; the
dataset's augmentation depends on (seed, e, index) only (``dataset.set_epoch``).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from cmrlib import distributed as dist
from cmrlib import runs


def derived_seed(*parts) -> int:
    """A 63-bit seed from any parts (e.g. seed, "epoch", 3, rank), stable across processes and runs."""
    digest = hashlib.sha256(json.dumps(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def select_device(config: dict, context: dist.Context) -> torch.device:
    wanted = config["device"]
    if wanted == "auto":
        wanted = "cuda" if torch.cuda.is_available() else "cpu"
    if wanted.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"config field 'device': {config['device']!r} asked for CUDA, which is not available")
        if context.distributed:
            wanted = f"cuda:{context.local_rank}"
            torch.cuda.set_device(context.local_rank)  # NCCL collectives use the current device
    elif wanted != "cpu":
        raise ValueError(f"config field 'device' must be auto, cpu or cuda[:i] (got {wanted!r})")
    return torch.device(wanted)


def runtime_flags(config: dict, device: torch.device) -> dict:
    """Resolve the 'auto' switches: AMP (bfloat16), channels_last and compile on CUDA; determinism on CPU."""
    cuda = device.type == "cuda"
    flags = {name: (cuda if config[name] == "auto" else bool(config[name])) for name in ("amp", "channels_last")}
    flags["deterministic"] = (not cuda) if config["deterministic"] == "auto" else bool(config["deterministic"])
    flags["compile"] = bool(config["compile"])
    if flags["amp"] and not cuda:
        raise ValueError("config field 'amp': mixed precision is only used on CUDA; set amp=false on CPU")
    return flags


def configure_determinism(enabled: bool, device: torch.device) -> None:
    if device.type == "cuda":
        if enabled:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.deterministic = enabled
        torch.backends.cudnn.benchmark = not enabled
    torch.use_deterministic_algorithms(enabled, warn_only=True)


def default_data_root(config: dict) -> Path:
    """Where a config's generated dataset lives: data/<data_profile>/<benchmark> under the project root."""
    return runs.project_root() / "data" / (config.get("data_profile") or config["profile"]) / config["benchmark"]


def dataset_root(config: dict, context: dist.Context = dist.Context()) -> Path:
    """The dataset folder: ``config['data']`` (must exist), else data/<data_profile>/<benchmark>, generated
    once (by rank 0) with cmrlib.data.synth.generate."""
    if config["data"] is not None:
        root = Path(config["data"]).expanduser()
        if root.is_file():
            raise ValueError(f"data {str(root)!r} is a file; training and evaluation need a dataset folder with "
                             f"both splits (for TSM lists: train_videofolder.txt and val_videofolder.txt) "
                             f"(config field 'data' / --data)")
        if not root.is_dir():
            raise ValueError(f"data folder {str(root)!r} does not exist (config field 'data' / --data)")
        return root
    from cmrlib.data import synth

    root = default_data_root(config)
    if context.is_main:
        root = Path(synth.generate(config["benchmark"], config["data_profile"], root, seed=config["data_seed"]))
    dist.barrier(context)
    return Path(dist.broadcast_object(str(root), context))


def first(dataset, count):
    """The first ``count`` items of a dataset (all of them when count is None), keeping set_epoch."""
    return dataset if count is None or count >= len(dataset) else FirstItems(dataset, count)


class FirstItems(torch.utils.data.Dataset):
    def __init__(self, dataset, count: int):
        self.dataset, self.count = dataset, count
        self.num_classes, self.classes = dataset.num_classes, dataset.classes
        self.entries, self.dropped = dataset.entries[:count], dataset.dropped
        self.format = dataset.format

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        if not 0 <= index < self.count:
            raise IndexError(index)
        return self.dataset[index]

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)


def build_datasets(config: dict, root: Path):
    from cmrlib.data import build_dataset

    common = dict(num_segments=config["frames"], size=config["size"], sampling=config["sampling"], seed=config["seed"],
                  cache_frames=config["cache_frames"])
    train_set = build_dataset(root, "train", train=True, **common)
    val_set = build_dataset(root, "validation", train=False, **common)
    return first(train_set, config["train_subset"]), first(val_set, config["val_subset"])


def check_splits(root: Path, **splits) -> dict:
    """Refuse, before any training, a split with no usable entry or none whose first frame decodes (the error
    names the root, the split and what was dropped). Returns the entries dropped at construction per split
    ({"train": {"missing": 3}, ...}, only the non-zero ones)."""
    from cmrlib.data.dataset import first_usable

    dropped = {}
    for name, dataset in splits.items():
        counts = {reason: int(count) for reason, count in sorted(dataset.dropped.items()) if count}
        if counts:
            dropped[name] = counts
        what = f"{name} split of {root} ({dataset.format} format"
        what += f"; dropped: {', '.join(f'{n} {r}' for r, n in counts.items())})" if counts else ")"
        hint = f"run `python -m cmrlib check-data {root}`"
        if len(dataset) == 0:
            raise ValueError(f"the {what} has no usable clips; {hint}")
        if first_usable(dataset) is None:
            raise ValueError(f"not one of the {len(dataset)} clips of the {what} can be decoded; {hint}")
    return dropped


def to_device(clip: torch.Tensor, device: torch.device, channels_last: bool) -> torch.Tensor:
    """(N, T, 3, H, W) to the device; with channels_last the frames are laid out NHWC."""
    clip = clip.to(device, non_blocking=True)
    if channels_last:
        n, t = clip.shape[:2]
        clip = clip.flatten(0, 1).contiguous(memory_format=torch.channels_last).unflatten(0, (n, t))
    return clip


def epoch_loader(dataset, config, context, epoch: int, start_step: int, device) -> tuple[DataLoader, int]:
    """This process's batches of an epoch: torch's DistributedSampler order for (seed, epoch), also for one
    process, without the first ``start_step`` batches. Returns the loader and the steps in a full epoch."""
    per_process = config["batch_size"] // context.world_size
    sampler = DistributedSampler(range(len(dataset)), num_replicas=context.world_size, rank=context.rank,
                                 shuffle=True, seed=config["seed"], drop_last=False)
    sampler.set_epoch(epoch)
    indices = list(sampler)
    steps = len(indices) // per_process
    if steps == 0:
        raise ValueError(f"config field 'batch_size': {config['batch_size']} is more than the "
                         f"{len(dataset)} training clips")
    dataset.set_epoch(epoch)
    loader = DataLoader(dataset, batch_size=per_process, sampler=indices[start_step * per_process:],
                        drop_last=True, num_workers=config["num_workers"], pin_memory=device.type == "cuda",
                        generator=torch.Generator().manual_seed(derived_seed(config["seed"], "loader", epoch)))
    return loader, steps


def eval_loader(dataset, config, device) -> DataLoader:
    return DataLoader(dataset, batch_size=config["eval_batch_size"] or config["batch_size"], shuffle=False,
                      num_workers=config["num_workers"], pin_memory=device.type == "cuda")
