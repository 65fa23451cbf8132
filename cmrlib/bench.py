"""Speed benchmarks: ``python -m cmrlib bench model | pem-scaling | data``.

bench model        CMR Table 7's protocol: latency (ms) at batch 1 and throughput (videos/s) at batch 8, in
                   inference mode, after a warm-up, as the median of repeated timings, with the ratio to TSM
                   beside each model. ``--train-step`` times one training step (forward, backward, SGD) instead.
bench pem-scaling  the PEM stand-in (serial over T) against CME (parallel over T) as T grows, module and model.
bench data         decoded + transformed clips/s of the data loader per worker count, against the clips/s that
                   training the ``cpu`` profile's model consumes.

Shared machines are noisy, so every figure that matters is a ratio of timings taken in one run: the models
are timed round-robin (one timing of each model per round, in a rotating order) and the median over rounds
is kept. On the CPU each timing also records the process CPU time; with ``--threads 1`` on a busy machine the
CPU-time ratios (``--clock cpu``) are far steadier than the wall-clock ones. On the CPU, freed memory is
kept for reuse while timing (``heap_cache``), as PyTorch's CUDA allocator does on a GPU.

    >>> rows = model_benchmark(["tsm", "cmr"], device="cpu", repeats=3)        # R50, 8 x 224
    >>> [(r["label"], r["latency_ms"], r["latency_vs_tsm"]) for r in rows]
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import json
import math
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from cmrlib import config as configlib


@dataclass(frozen=True)
class BenchConfig:
    """One timed model: a row label, a cmrlib method, its model options, and the shape fields (frames, size,
    depth, width, small_input) in which it differs from the benchmark's shape."""

    label: str
    method: str
    options: dict = field(default_factory=dict)
    shape: dict = field(default_factory=dict)

    @property
    def key(self) -> tuple:
        return self.label, tuple(sorted(self.shape.items()))


# name -> (label, method, options). Labels match the book's tables (cmrlib.experiments).
NAMED = {
    "tsn": ("TSN", "tsn", {}),
    "tsm": ("TSM", "tsm", {}),
    "tim": ("TIM", "tim", {}),
    "teinet": ("TEINet", "teinet", {}),
    "stm": ("STM", "stm", {}),
    "tea": ("TEA", "tea", {}),
    "pem": ("PEM (stand-in)", "pem", {}),
    "tim+cme": ("TIM+CME", "cmr", {"sme": "none"}),
    "tim+sme": ("TIM+SME", "cmr", {"cme": "none"}),
    "cmr": ("CMR", "cmr", {}),
    "cmr-released": ("CMR (released)", "cmr", {"variant": "released"}),
    # Table 5: CME / SME in every block ("all") or in the first block of each stage ("part")
    "cme-all+sme-all": ("CMEall+SMEall", "cmr", {"cme": "all", "sme": "all"}),
    "cme-all+sme-part": ("CMEall+SMEpart", "cmr", {"cme": "all", "sme": "part"}),
    "cme-part+sme-all": ("CMEpart+SMEall", "cmr", {"cme": "part", "sme": "all"}),
    "cme-part+sme-part": ("CMEpart+SMEpart", "cmr", {"cme": "part", "sme": "part"}),
}
TABLE7 = ("tsm", "tsn", "tim", "teinet", "stm", "tea", "pem", "tim+cme", "tim+sme", "cmr", "cmr-released")
TABLE5 = ("cme-all+sme-all", "cme-all+sme-part", "cme-part+sme-all", "cme-part+sme-part")
REFERENCES = ("TSM", "TSN")  # ratios are reported against these labels when they were timed
CLOCKS = ("wall", "cpu")
SHAPE_FIELDS = ("depth", "width", "small_input", "size", "frames")
R50_224 = {"depth": 50, "width": 1.0, "small_input": False, "size": 224, "frames": 8}


# ------------------------------------------------------------------------------------------ configs
def parse_config(item) -> BenchConfig:
    """A BenchConfig from a name of NAMED ("cmr-released"), a method with options ("cmr:cme=part:frames=16"),
    a dict (label, method, options; shape fields at the top level or among the options) or any object with
    .label, .method and .options (cmrlib.experiments.Spec: its shape fields are kept, other config
    overrides such as the benchmark do not change the network and are ignored)."""
    from cmrlib.models import METHODS, OPTIONS

    if isinstance(item, BenchConfig):
        return _checked(item)
    if isinstance(item, dict):
        options = {**item.get("options", {}), **{k: v for k, v in item.items() if k in SHAPE_FIELDS}}
        return _split(item.get("label") or item["method"], item["method"], options)
    if hasattr(item, "method") and hasattr(item, "label"):
        options = dict(getattr(item, "options", ()) or ())
        known = set(OPTIONS.get(item.method, {})) | set(SHAPE_FIELDS)
        return _split(item.label, item.method, {k: v for k, v in options.items() if k in known})
    if not isinstance(item, str):
        raise ValueError(f"benchmark config {item!r}: expected a name, 'method:key=value', a dict or a Spec")
    name = item.strip().lower()
    if name in NAMED:
        label, method, options = NAMED[name]
        return BenchConfig(label, method, dict(options))
    method, *pairs = name.split(":")
    if method not in METHODS or not pairs:
        raise ValueError(f"unknown method or benchmark config {item!r}; choose from {', '.join(NAMED)}, "
                         f"or write method:key=value[:key=value] with a method of {', '.join(METHODS)}")
    return _split(item.strip(), method, configlib.parse_overrides(pairs))


def _split(label: str, method: str, options: dict) -> BenchConfig:
    """Model options and shape fields apart."""
    shape = {k: v for k, v in options.items() if k in SHAPE_FIELDS}
    return _checked(BenchConfig(label, method, {k: v for k, v in options.items() if k not in SHAPE_FIELDS}, shape))


def _checked(config: BenchConfig) -> BenchConfig:
    from cmrlib.models import METHODS, OPTIONS

    if config.method not in METHODS:
        raise ValueError(f"method={config.method!r}: expected one of {', '.join(METHODS)}")
    unknown = sorted(set(config.options) - set(OPTIONS[config.method]))
    if unknown:
        raise ValueError(f"option(s) {', '.join(unknown)} do not apply to method {config.method!r} "
                         f"(it takes {sorted(OPTIONS[config.method]) or 'none'} and the shape fields "
                         f"{', '.join(SHAPE_FIELDS)})")
    return config


def parse_configs(items) -> list[BenchConfig]:
    """parse_config for each item (a comma-separated string is split); repeats of a (label, shape) are dropped."""
    if isinstance(items, str):
        items = [part for part in items.split(",") if part.strip()]
    configs, seen = [], set()
    for item in items:
        config = parse_config(item)
        if config.key not in seen:
            configs.append(config)
            seen.add(config.key)
    if not configs:
        raise ValueError("methods: no model to benchmark")
    return configs


def profile_shape(profile: str | None, **given) -> dict:
    """depth/width/small_input/size/frames: R50 at 8 x 224, or a training profile's backbone; then ``given``
    (values that are None are ignored)."""
    if profile is None:
        shape = dict(R50_224)
    else:
        resolved = configlib.resolve("tsn", profile, validate=False)
        shape = {name: resolved[name] for name in SHAPE_FIELDS}
    shape.update({k: v for k, v in given.items() if v is not None})
    return shape


def build(config: BenchConfig, shape: dict, num_classes: int = 174, seed: int = 0) -> torch.nn.Module:
    from cmrlib.models import build_model

    torch.manual_seed(seed)
    return build_model(config.method, num_classes, shape["frames"], depth=shape["depth"], width=shape["width"],
                       small_input=shape["small_input"], **config.options)


def gflops(config: BenchConfig, shape: dict, num_classes: int = 174) -> float:
    """Multiply-adds (G) of one clip, counted on the meta device (free)."""
    from cmrlib.flops import count

    with torch.device("meta"):
        model = build(config, shape, num_classes)
    macs, _ = count(model, (1, shape["frames"], 3, shape["size"], shape["size"]))
    return macs / 1e9


# ------------------------------------------------------------------------------------------- timing
class Clock:
    """Wall and process-CPU seconds of a call, with the device synchronised before and after."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def time(self, fn, iterations: int = 1) -> tuple[float, float]:
        """(wall, cpu) seconds per call, averaged over ``iterations`` calls."""
        self.sync()
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(iterations):
            fn()
        self.sync()
        return (time.perf_counter() - wall) / iterations, (time.process_time() - cpu) / iterations


def _iterations(seconds: float, min_time: float) -> int:
    """Calls per timing so that one timing lasts at least ``min_time`` (small models are fast)."""
    return max(1, min(1000, math.ceil(min_time / max(seconds, 1e-6))))


def _median(values) -> float:
    return float(statistics.median(values))


@contextlib.contextmanager
def threads_set(threads: int | None):
    """torch.set_num_threads(threads) inside the block (None or 0: leave torch's default)."""
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


# glibc mallopt parameters and their defaults
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
DEFAULT_TRIM_THRESHOLD, DEFAULT_MMAP_MAX = 128 * 1024, 65536


@contextlib.contextmanager
def heap_cache(enabled: bool = True):
    """Inside the block, glibc keeps freed memory for reuse instead of returning it to the OS.

    By default glibc serves every block above 32 MiB with a fresh mmap and unmaps it when freed, so each
    large activation is page-faulted (and zeroed by the kernel) again on every forward pass: at R50 8x224
    batch 8 that is a third of the CPU time, and more for models that make more temporaries. PyTorch's CUDA
    allocator caches its blocks; this gives the CPU the same footing. Yields whether it is on (glibc only)."""
    libc = None
    if enabled:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c"))
            libc.mallopt  # noqa: B018 (absent outside glibc)
        except (OSError, AttributeError, TypeError):
            libc = None
    if libc is None:
        yield False
        return
    libc.mallopt(M_MMAP_MAX, 0)  # large blocks come from the heap ...
    libc.mallopt(M_TRIM_THRESHOLD, 2 ** 31 - 1)  # ... which is never trimmed back
    try:
        yield True
    finally:
        libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
        libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)


def _prepare(model, device, channels_last: bool, compile_: bool):
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return torch.compile(model) if compile_ else model


def _clip(batch: int, shape: dict, device, channels_last: bool, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    clip = torch.randn(batch, shape["frames"], 3, shape["size"], shape["size"], generator=generator)
    if channels_last:
        clip = clip.flatten(0, 1).contiguous(memory_format=torch.channels_last).unflatten(0, (batch, shape["frames"]))
    return clip.to(device)


def _autocast(device, amp: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16) if amp else contextlib.nullcontext()


class TrainStep:
    """One step of the trainer (cmrlib.train.train_epoch): forward, cross-entropy, backward, grad-norm
    clipping, SGD with Nesterov momentum and weight decay."""

    def __init__(self, model, clip, num_classes: int, device, amp: bool, clip_norm: float = 20.0):
        self.model, self.clip, self.amp, self.device, self.clip_norm = model, clip, amp, device, clip_norm
        generator = torch.Generator().manual_seed(1)
        self.labels = torch.randint(0, num_classes, (clip.shape[0],), generator=generator).to(device)
        self.optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, nesterov=True, weight_decay=1e-4)

    def __call__(self) -> None:
        self.model.train()
        with _autocast(self.device, self.amp):
            logits = self.model(self.clip)
        loss = F.cross_entropy(logits.float(), self.labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_norm)
        self.optimizer.step()


def model_benchmark(configs=TABLE7, device: str = "cpu", profile: str | None = None, depth: int | None = None,
                    width: float | None = None, small_input: bool | None = None, size: int | None = None,
                    frames: int | None = None, repeats: int = 3, warmup: int = 1, latency_batch: int = 1,
                    throughput_batch: int = 8, train_step: bool = False, train_batch: int | None = None,
                    threads: int | None = None, amp: bool = False, channels_last: bool = False,
                    compile: bool = False, min_time: float = 0.2, num_classes: int = 174, clock: str = "wall",
                    keep_freed_memory: bool = True, progress=None) -> list[dict]:
    """Time each config (names of NAMED, "method:key=value", dicts or Specs) on R50 8 x 224, or on
    ``profile``'s backbone, with the shape fields given here and then those of the config overridden. TSM is
    added as the reference for every shape that lacks it.

    Inference (default): per round, one latency timing at ``latency_batch`` and one throughput timing at
    ``throughput_batch`` of every model, in a rotating order; ``warmup`` untimed rounds first.
    ``train_step=True``: per round, one training step at ``train_batch`` (default: the profile's batch size,
    else 2) instead. Returns one dict per config: medians over the ``repeats`` rounds, the per-round values
    (``*_repeats``), the CPU-time medians (``*_cpu``), and ``latency_vs_tsm``, ``throughput_vs_tsm``
    (or ``train_step_vs_tsm``, ``train_step_vs_tsn``, ...): medians of the per-round ratios (add_ratios)
    from the ``clock`` timings ("wall" or "cpu"). ``keep_freed_memory``: see heap_cache (CPU only)."""
    if clock not in CLOCKS:
        raise ValueError(f"clock={clock!r}: expected one of {CLOCKS}")
    for name, value in (("repeats", repeats), ("latency_batch", latency_batch), ("throughput_batch", throughput_batch)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value!r}: expected a positive integer")
    if not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup={warmup!r}: expected an integer >= 0")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda': CUDA is not available on this machine")
    if device.type != "cuda" and (amp or compile or channels_last):
        raise ValueError("amp, channels_last and compile are CUDA options; leave them off with device='cpu'")
    if clock == "cpu" and device.type == "cuda":
        raise ValueError("clock='cpu' measures CPU time and only makes sense with device='cpu'")
    base = profile_shape(profile, depth=depth, width=width, small_input=small_input, size=size, frames=frames)
    given = [BenchConfig(c.label, c.method, c.options, {**base, **c.shape}) for c in parse_configs(configs)]
    references = [BenchConfig("TSM", "tsm", {}, c.shape) for c in given]  # one per shape, after the dedup
    unique = {c.key: c for c in references + given}  # a (label, shape) given twice is timed once
    configs = sorted(unique.values(), key=lambda c: c.label != "TSM")  # the references first, else in order
    shapes = [c.shape for c in configs]
    if train_batch is None:
        train_batch = configlib.resolve("tsn", profile, validate=False)["batch_size"] if profile else 2
    say = progress or (lambda message: None)

    with threads_set(threads) as used_threads, heap_cache(keep_freed_memory and device.type == "cpu") as cached:
        clock_ = Clock(device)
        jobs = []  # per config: {kind: fn}
        for config, shape in zip(configs, shapes):
            say(f"building {config.label}")
            model = _prepare(build(config, shape, num_classes), device, channels_last, compile)
            if train_step:
                step = TrainStep(model, _clip(train_batch, shape, device, channels_last), num_classes, device, amp)
                jobs.append({"train_step": step})
            else:
                model.eval()
                jobs.append({
                    "latency": _forward(model, _clip(latency_batch, shape, device, channels_last), device, amp),
                    "throughput": _forward(model, _clip(throughput_batch, shape, device, channels_last), device, amp)})
        iterations = {}
        for round_ in range(warmup + 1):  # warm-up rounds, then one calibration round (also untimed)
            for index, job in enumerate(jobs):
                say(f"warm-up {round_ + 1}/{warmup + 1}: {configs[index].label}")
                for kind, fn in job.items():
                    wall, _ = clock_.time(fn)
                    iterations[index, kind] = _iterations(wall, min_time)
        timings = {(index, kind): [] for index, job in enumerate(jobs) for kind in job}
        order = list(range(len(jobs)))
        for round_ in range(repeats):
            shift = round_ % len(order)
            for index in order[shift:] + order[:shift]:
                say(f"round {round_ + 1}/{repeats}: {configs[index].label}")
                for kind, fn in jobs[index].items():
                    timings[index, kind].append(clock_.time(fn, iterations[index, kind]))

    setup = {"device": str(device), "hardware": hardware(device, used_threads), "threads": used_threads,
             "repeats": repeats, "warmup": warmup, "amp": amp, "channels_last": channels_last, "compile": compile,
             "mode": "train_step" if train_step else "inference", "heap_cache": cached}
    rows = []
    for index, (config, shape) in enumerate(zip(configs, shapes)):
        row = {"label": config.label, "method": config.method, "options": config.options, **setup, **shape,
               "gflops": round(gflops(config, shape, num_classes), 6)}
        if train_step:
            row.update(_summary(timings[index, "train_step"], train_batch, "train_step_ms", "train_clips_per_s"))
            row["train_batch"] = train_batch
        else:
            row.update(_summary(timings[index, "latency"], latency_batch, "latency_ms", None))
            row.update(_summary(timings[index, "throughput"], throughput_batch, None, "throughput"))
            row.update(latency_batch=latency_batch, throughput_batch=throughput_batch)
        rows.append(row)
    add_ratios(rows, clock if device.type == "cpu" else "wall")
    return rows


def _forward(model, clip, device, amp):
    def run():
        with torch.inference_mode(), _autocast(device, amp):
            model(clip)
    return run


def _summary(timings: list, batch: int, time_name: str | None, rate_name: str | None) -> dict:
    """Medians of one model's timings: ``time_name`` in ms per call, ``rate_name`` in clips/s (wall and CPU)."""
    out = {}
    for suffix, values in (("", [wall for wall, _ in timings]), ("_cpu", [cpu for _, cpu in timings])):
        if time_name:
            out[time_name + suffix] = round(1000 * _median(values), 3)
            out[time_name + suffix + "_repeats"] = [round(1000 * v, 3) for v in values]
        if rate_name:
            out[rate_name + suffix] = round(batch / _median(values), 5)
            out[rate_name + suffix + "_repeats"] = [round(batch / v, 5) for v in values]
    return out


# metric -> the name of its ratio: <name>_vs_tsm, <name>_vs_tsn
RATIO_METRICS = {"latency_ms": "latency", "throughput": "throughput", "train_step_ms": "train_step",
                 "train_clips_per_s": "train_throughput"}


def add_ratios(rows: list[dict], clock: str = "wall") -> list[dict]:
    """<name>_vs_tsm and <name>_vs_tsn (names in RATIO_METRICS) for every row whose reference was timed in
    the same shape:
    the median over rounds of the ratio within each round (the two models were timed minutes apart at most,
    so a machine whose load drifts between rounds does not bias the ratio), from the ``clock`` timings
    ("cpu": the *_cpu ones). The clock is recorded in ``ratio_clock``."""
    suffix = "_cpu" if clock == "cpu" else ""

    def same_shape(row: dict, label: str) -> tuple:
        return (label, *(row[name] for name in SHAPE_FIELDS))

    by_key = {same_shape(row, row["label"]): row for row in rows}
    for row in rows:
        row["ratio_clock"] = clock
        for reference in REFERENCES:
            ref = by_key.get(same_shape(row, reference))  # the reference timed in the same shape
            for metric, name in RATIO_METRICS.items():
                key = metric + suffix + "_repeats"
                if ref is not None and key in row and key in ref:
                    ratios = [a / b for a, b in zip(row[key], ref[key]) if b > 0]
                    if ratios:
                        row[f"{name}_vs_{reference.lower()}"] = round(_median(ratios), 3)
    return rows


def repeat_rows(rows: list[dict]) -> list[dict]:
    """One dict per (model, round): label, method, repeat, latency_ms, throughput (and their CPU-time
    counterparts latency_cpu_ms, throughput_cpu) and the shape: the row format of cmrlib.experiments' speed
    tables."""
    columns = {"latency_ms": "latency_ms_repeats", "throughput": "throughput_repeats",
               "latency_cpu_ms": "latency_ms_cpu_repeats", "throughput_cpu": "throughput_cpu_repeats"}
    return [{"label": row["label"], "method": row["method"], "repeat": repeat,
             **{name: row[source][repeat] for name, source in columns.items()},
             **{name: row[name] for name in SHAPE_FIELDS}}
            for row in rows for repeat in range(len(row["latency_ms_repeats"]))]


# ------------------------------------------------------------------------ where the time goes (CPU)
def _parts() -> dict:
    """module class -> the part of the network it is reported as."""
    from torch import nn

    from cmrlib import modules

    parts = {getattr(modules, name): name for name in modules.__all__ if name not in ("STMBottleneck", "TEABottleneck")}
    parts.update({nn.Conv2d: "Conv2d (backbone)", nn.BatchNorm2d: "BatchNorm2d (backbone)"})
    return parts


def breakdown(config, shape: dict | None = None, batch: int = 1, repeats: int = 3, warmup: int = 1,
              threads: int | None = None, num_classes: int = 174, keep_freed_memory: bool = True) -> list[dict]:
    """Process-CPU milliseconds of one inference forward pass spent in each kind of module, median over
    ``repeats`` passes. Each temporal module counts with everything inside it (SME's conv is SME's); the
    backbone's own convs and BNs are listed apart and "other" is the remainder (ReLU, adds, pooling, head).
    CPU time, unlike the profiler's wall clock, does not grow when a shared machine deschedules the process."""
    config = parse_config(config)
    shape = {**profile_shape(None, **(shape or {})), **config.shape}
    parts, spent, stack = _parts(), {}, []
    model = build(config, shape, num_classes).eval()

    def outermost(module) -> bool:
        return not any(type(m) in parts and parts[type(m)] not in ("Conv2d (backbone)", "BatchNorm2d (backbone)")
                       for m in stack)

    def before(module, args):
        stack.append(module)
        module._bench_start = time.process_time()

    def after(module, args, output):
        stack.pop()
        if outermost(module):
            name = parts[type(module)]
            spent[name] = spent.get(name, 0.0) + time.process_time() - module._bench_start

    handles = []
    for module in model.modules():
        if type(module) in parts:
            handles += [module.register_forward_pre_hook(before), module.register_forward_hook(after)]
    clip = _clip(batch, shape, torch.device("cpu"), False)
    runs = []
    with threads_set(threads), heap_cache(keep_freed_memory), torch.inference_mode():
        for index in range(warmup + repeats):
            spent.clear()
            start = time.process_time()
            model(clip)
            total = time.process_time() - start
            if index >= warmup:
                runs.append({**spent, "other": total - sum(spent.values()), "total": total})
    for handle in handles:
        handle.remove()
    names = [name for name in runs[0] if name != "total"] + ["total"]
    total = _median([run["total"] for run in runs])
    return [{"label": config.label, "part": name, "cpu_ms": round(1000 * _median([run[name] for run in runs]), 2),
             "share": round(_median([run[name] for run in runs]) / total, 4)} for name in names]


def trace(config, shape: dict | None = None, batch: int = 1, repeats: int = 3, warmup: int = 1,
          threads: int | None = None, top: int = 15, num_classes: int = 174, keep_freed_memory: bool = True) -> str:
    """torch.profiler over ``repeats`` inference forward passes (after ``warmup``), with record_shapes: the
    ``top`` operators by self CPU time, grouped by input shapes; the header names the input's dtype, in
    which every operator runs (float32)."""
    from torch.profiler import ProfilerActivity, profile

    config = parse_config(config)
    shape = {**profile_shape(None, **(shape or {})), **config.shape}
    model = build(config, shape, num_classes).eval()
    clip = _clip(batch, shape, torch.device("cpu"), False)
    with threads_set(threads), heap_cache(keep_freed_memory), torch.inference_mode():
        for _ in range(warmup):
            model(clip)
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as profiler:
            for _ in range(repeats):
                model(clip)
    table = profiler.key_averages(group_by_input_shape=True).table(
        sort_by="self_cpu_time_total", row_limit=top, max_name_column_width=32, max_shapes_column_width=60)
    return f"== {config.label}: {repeats} forward passes at batch {batch}, input {tuple(clip.shape)} {clip.dtype}\n{table}"


def format_breakdown(rows: list[dict]) -> str:
    lines = [f"{'model':<17}{'part':<30}{'cpu ms':>10}{'share':>8}"]
    for r in rows:
        lines.append(f"{r['label']:<17}{r['part']:<30}{r['cpu_ms']:>10.1f}{r['share']:>8.1%}")
    return "\n".join(lines)


def hardware(device: torch.device, threads: int) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            name = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{name} CPU, {threads} thread(s)"


# ------------------------------------------------------------------------------------ PEM vs CME over T
class OpCounter(TorchDispatchMode):
    """Counts the aten operators a call dispatches: a hardware-free measure of how many kernels it launches."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def count_ops(fn) -> int:
    with OpCounter() as counter:
        fn()
    return counter.count


def pem_scaling(frames=(8, 16, 32), device: str = "cpu", profile: str | None = None, depth: int | None = None,
                width: float | None = None, small_input: bool | None = None, size: int | None = None,
                repeats: int = 3, warmup: int = 1, models: bool = True, threads: int | None = None,
                min_time: float = 0.2, clock: str = "wall", keep_freed_memory: bool = True, progress=None) -> list[dict]:
    """Batch-1 latency of the PEM stand-in (a loop over T) and CME (batched products over T) as T grows.

    Modules alone, at two positions of the backbone (the input of layer1's second block: many pixels, few
    channels; and of layer4's second block: few pixels, many channels) and on 1x1 maps with layer4's channels
    ("gate only": what is left is the gate's own computation, where PEM's loop over T shows), with the
    number of aten operators each dispatches (a GPU launches one kernel per operator); and, with
    ``models=True``, the whole TIM+PEM, TIM+CME and TIM networks.
    One row per (kind, position, T, label); ``vs_first_t`` is the ratio to the same row at the smallest T."""
    from cmrlib.models import build_model
    from cmrlib.modules import ChannelMotionEnhancement, ProgressiveEnhancement

    if clock not in CLOCKS:
        raise ValueError(f"clock={clock!r}: expected one of {CLOCKS}")
    frames = sorted({int(t) for t in frames})
    if not frames or frames[0] < 2:
        raise ValueError(f"frames={frames!r}: expected frame counts >= 2")
    device = torch.device(device)
    shape = profile_shape(profile, depth=depth, width=width, small_input=small_input, size=size)
    say = progress or (lambda message: None)
    pick = 1 if clock == "cpu" else 0

    # the feature shapes at the two positions, read off a meta-device model
    with torch.device("meta"):
        probe = build_model("tim", 10, 2, depth=shape["depth"], width=shape["width"], small_input=shape["small_input"])
    stem = shape["size"] // (1 if shape["small_input"] else 4)
    positions = {"layer1.1": (probe.layer1[1].conv1.in_channels, stem),
                 "layer4.1": (probe.layer4[1].conv1.in_channels, max(1, math.ceil(stem / 8))),
                 "gate only": (probe.layer4[1].conv1.in_channels, 1)}  # 1x1 maps: GAP and gating are free

    jobs = {}  # (kind, position, T, label) -> (fn, ops)
    with threads_set(threads) as used_threads, heap_cache(keep_freed_memory and device.type == "cpu"), \
            torch.inference_mode():
        for t in frames:
            for position, (channels, side) in positions.items():
                x = torch.randn(t, channels, side, side, generator=torch.Generator().manual_seed(t)).to(device)
                for label, module in (("PEM (stand-in)", ProgressiveEnhancement(channels, t, 8)),
                                      ("CME", ChannelMotionEnhancement(channels, t, 8))):
                    module = module.eval().to(device)
                    fn = (lambda m, v: lambda: m(v))(module, x)
                    jobs["module", position, t, label] = (fn, count_ops(fn))
            if models:
                clip = _clip(1, {**shape, "frames": t}, device, False)
                for label, method, options in (("TIM+PEM (stand-in)", "pem", {}), ("TIM+CME", "cmr", {"sme": "none"}),
                                               ("TIM", "tim", {})):
                    torch.manual_seed(0)
                    model = build_model(method, 174, t, depth=shape["depth"], width=shape["width"],
                                        small_input=shape["small_input"], **options).eval().to(device)
                    fn = (lambda m, v: lambda: m(v))(model, clip)
                    jobs["model", "whole", t, label] = (fn, count_ops(fn))
        clock_ = Clock(device)
        iterations = {}
        for round_ in range(warmup + 1):
            for key, (fn, _) in jobs.items():
                say(f"warm-up {round_ + 1}/{warmup + 1}: {key}")
                iterations[key] = _iterations(clock_.time(fn)[0], min_time)
        timings = {key: [] for key in jobs}
        keys = list(jobs)
        for round_ in range(repeats):
            shift = round_ % len(keys)
            for key in keys[shift:] + keys[:shift]:
                say(f"round {round_ + 1}/{repeats}: {key}")
                timings[key].append(clock_.time(jobs[key][0], iterations[key]))

    rows = []
    for key, (_, ops) in jobs.items():
        kind, position, t, label = key
        walls, cpus = [w for w, _ in timings[key]], [c for _, c in timings[key]]
        rows.append({"kind": kind, "position": position, "frames": t, "label": label, "aten_ops": ops,
                     "channels": positions[position][0] if kind == "module" else None,
                     "side": positions[position][1] if kind == "module" else shape["size"],
                     "latency_ms": round(1000 * _median(walls), 4), "latency_cpu_ms": round(1000 * _median(cpus), 4),
                     "latency_ms_repeats": [round(1000 * w, 4) for w in walls], "device": str(device),
                     "hardware": hardware(device, used_threads), "threads": used_threads, "ratio_clock": clock,
                     **{name: shape[name] for name in ("depth", "width", "small_input")}})
    metric = ("latency_ms", "latency_cpu_ms")[pick]
    first = {(r["kind"], r["position"], r["label"]): r for r in rows if r["frames"] == frames[0]}
    for row in rows:
        row["vs_first_t"] = round(row[metric] / first[row["kind"], row["position"], row["label"]][metric], 3)
    return rows


# ------------------------------------------------------------------------------------------- data
def train_clips_per_s(profile: str = "cpu", method: str = "cmr", repeats: int = 3, warmup: int = 1,
                      threads: int | None = None, device: str = "cpu", **overrides) -> dict:
    """Clips/s that training ``method`` at ``profile`` consumes: median of timed training steps (forward,
    backward, clipping, SGD) at the profile's batch size, frames and crop size."""
    rows = model_benchmark([method], device=device, profile=profile, repeats=repeats, warmup=warmup,
                           train_step=True, threads=threads, **overrides)
    row = next(r for r in rows if r["method"] == method and r["label"] == parse_config(method).label)
    return {"method": method, "profile": profile, "train_batch": row["train_batch"],
            "train_step_ms": row["train_step_ms"], "train_clips_per_s": row["train_clips_per_s"],
            "threads": row["threads"], "hardware": row["hardware"]}


def data_benchmark(root=None, profile: str = "cpu", benchmark: str = "synth-something", workers=(0, 1, 2),
                   batches: int = 20, method: str = "cmr", train_repeats: int = 3, threads: int | None = None,
                   progress=None) -> dict:
    """cmrlib.data.loader_benchmark at the profile's frames, crop and batch size (root: data/<profile>/<benchmark>,
    generated when missing), and each worker count's clips/s as a ratio to train_clips_per_s."""
    from cmrlib import data
    from cmrlib.data import synth

    say = progress or (lambda message: None)
    resolved = configlib.resolve(method, profile, {"benchmark": benchmark}, validate=False)
    if root is None:
        say(f"dataset data/{profile}/{benchmark} (generated when missing)")
        with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the result (--json)
            root = synth.generate(benchmark, profile)
    say("reading every video once, so that the first worker count does not pay for a cold disk cache")
    for path in sorted(Path(root).rglob("*")):
        if path.is_file():
            path.read_bytes()
    say("timing the data loader")
    with threads_set(threads):  # the main process's share (workers=0); DataLoader workers use one thread each
        loader = data.loader_benchmark(root, workers=tuple(workers), num_segments=resolved["frames"],
                                       size=resolved["size"], batches=batches, batch_size=resolved["batch_size"])
    say(f"timing training steps of {method} at the {profile} profile")
    training = train_clips_per_s(profile, method, repeats=train_repeats, threads=threads)
    for row in loader:
        row["vs_training"] = round(row["clips_per_s"] / training["train_clips_per_s"], 3)
    return {"root": str(root), "loader": loader, "training": training}


# -------------------------------------------------------------------------------------------- CLI
def _shape_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--profile", choices=sorted(configlib.PROFILES),
                   help="use this training profile's backbone (depth, width, stem, size, frames) instead of R50 8x224")
    p.add_argument("--depth", type=int, choices=(18, 34, 50))
    p.add_argument("--width", type=float)
    p.add_argument("--small-input", action="store_const", const=True, default=None)
    p.add_argument("--size", type=int)
    p.add_argument("--threads", type=int, help="torch threads (default: torch's default)")
    p.add_argument("--repeats", type=int, default=3, help="timed rounds (median); default 3")
    p.add_argument("--warmup", type=int, default=1, help="untimed warm-up rounds; default 1")
    p.add_argument("--min-time", type=float, default=0.2, help="repeat fast calls within a timing up to this many s")
    p.add_argument("--clock", choices=CLOCKS, default="wall",
                   help="ratios from wall time (default) or process CPU time (steadier on a shared CPU with --threads 1)")
    p.add_argument("--release-freed-memory", action="store_true",
                   help="leave glibc's default of unmapping freed large blocks (page faults on every pass)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m cmrlib bench", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    m = sub.add_parser("model", help="CMR Table 7 protocol: batch-1 latency and batch-8 throughput, ratios to TSM")
    m.add_argument("--methods", default=",".join(TABLE7),
                   help=f"comma-separated: {', '.join(NAMED)}, or method:key=value[:key=value] "
                        f"(default: {','.join(TABLE7)})")
    m.add_argument("--table5", action="store_true", help="add Table 5's four CME/SME insertion settings")
    m.add_argument("--frames", type=int)
    m.add_argument("--latency-batch", type=int, default=1)
    m.add_argument("--throughput-batch", type=int, default=8)
    m.add_argument("--train-step", action="store_true", help="time a training step (forward+backward+SGD) instead")
    m.add_argument("--train-batch", type=int, help="batch of --train-step (default: the profile's, else 2)")
    m.add_argument("--amp", action="store_true", help="bfloat16 autocast (CUDA)")
    m.add_argument("--channels-last", action="store_true", help="NHWC memory format (CUDA)")
    m.add_argument("--compile", action="store_true", help="torch.compile the models (CUDA)")
    m.add_argument("--breakdown", action="store_true",
                   help="instead of timing: CPU ms of a batch-1 forward pass per kind of module (CPU)")
    m.add_argument("--trace", type=int, metavar="N",
                   help="instead of timing: torch.profiler's top N operators by input shape (CPU)")
    _shape_arguments(m)

    s = sub.add_parser("pem-scaling", help="PEM stand-in (serial) vs CME (parallel) latency as T grows")
    s.add_argument("--frames", default="8,16,32", help="comma-separated frame counts (default 8,16,32)")
    s.add_argument("--modules-only", action="store_true", help="skip the whole-model timings")
    _shape_arguments(s)

    d = sub.add_parser("data", help="data-loader clips/s per worker count against training clips/s")
    d.add_argument("--root", help="dataset root (default: data/<profile>/<benchmark>, generated when missing)")
    d.add_argument("--profile", default="cpu", choices=sorted(configlib.PROFILES))
    d.add_argument("--benchmark", default="synth-something", choices=configlib.BENCHMARKS)
    d.add_argument("--workers", default="0,1,2", help="comma-separated worker counts (default 0,1,2)")
    d.add_argument("--batches", type=int, default=20, help="timed batches per worker count")
    d.add_argument("--method", default="cmr", help="model whose training speed is the reference (default cmr)")
    d.add_argument("--threads", type=int)
    d.add_argument("--json", action="store_true")
    return p


def _shape_options(args) -> dict:
    return {"device": args.device, "profile": args.profile, "depth": args.depth, "width": args.width,
            "small_input": args.small_input, "size": args.size, "repeats": args.repeats, "warmup": args.warmup,
            "threads": args.threads, "min_time": args.min_time, "clock": args.clock,
            "keep_freed_memory": not args.release_freed_memory}


def _progress(enabled: bool):
    return (lambda message: print(f"  {message}", file=sys.stderr, flush=True)) if enabled else None


def _int_list(text: str, name: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"{name}={text!r}: expected comma-separated integers") from None


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    verbose = not args.json and sys.stderr.isatty()
    try:
        if args.command == "model" and (args.breakdown or args.trace):
            methods = parse_configs(args.methods.split(",") + (list(TABLE5) if args.table5 else []))
            shape = profile_shape(args.profile, depth=args.depth, width=args.width, small_input=args.small_input,
                                  size=args.size, frames=args.frames)
            options = {"shape": shape, "batch": args.latency_batch, "repeats": args.repeats, "warmup": args.warmup,
                       "threads": args.threads, "keep_freed_memory": not args.release_freed_memory}
            if args.breakdown:
                print(format_breakdown([row for config in methods for row in breakdown(config, **options)]))
            else:
                print("\n".join(trace(config, top=args.trace, **options) for config in methods))
        elif args.command == "model":
            methods = args.methods.split(",") + (list(TABLE5) if args.table5 else [])
            rows = model_benchmark(methods, frames=args.frames, latency_batch=args.latency_batch,
                                   throughput_batch=args.throughput_batch, train_step=args.train_step,
                                   train_batch=args.train_batch, amp=args.amp, channels_last=args.channels_last,
                                   compile=args.compile, progress=_progress(verbose), **_shape_options(args))
            print(json.dumps(rows, indent=1) if args.json else format_models(rows))
        elif args.command == "pem-scaling":
            rows = pem_scaling(_int_list(args.frames, "frames"), models=not args.modules_only,
                               progress=_progress(verbose), **_shape_options(args))
            print(json.dumps(rows, indent=1) if args.json else format_scaling(rows))
        else:
            result = data_benchmark(args.root, args.profile, args.benchmark, _int_list(args.workers, "workers"),
                                    args.batches, args.method, threads=args.threads, progress=_progress(verbose))
            print(json.dumps(result, indent=1) if args.json else format_data(result))
    except ValueError as error:
        print(f"bench {args.command}: {error}", file=sys.stderr)
        return 2
    return 0


# ------------------------------------------------------------------------------------- text tables
def _header(row: dict) -> str:
    shape = f"R{row['depth']} x{row['width']:g}{' small-input' if row['small_input'] else ''}, {row['frames']}x{row['size']}"
    flags = [name for name in ("amp", "channels_last", "compile", "heap_cache") if row.get(name)]
    return (f"{shape} on {row['device']} ({row['hardware']}){', ' + '+'.join(flags) if flags else ''}; "
            f"{row['repeats']} round-robin rounds after {row['warmup']} warm-up; times: medians; xTSM: median "
            f"of the per-round ratios of {row['ratio_clock']} times")


def format_models(rows: list[dict]) -> str:
    """The rows as a text table. The times beside each xTSM / xTSN column are those the ratios come from
    (the ``ratio_clock``: CPU or wall time), the other clock follows at the right. A ratio is the median of
    the per-round ratios, which is steadier than the ratio of two medians."""
    first = rows[0]
    varying = [name for name in SHAPE_FIELDS if len({r[name] for r in rows}) > 1]  # shown beside the label
    rows = [{**r, "label": " ".join([r["label"], *(f"{name}={r[name]}" for name in varying)])} for r in rows]
    lines = [_header(first) + (f" (except {', '.join(varying)})" if varying else "")]
    main, other = ("_cpu", "") if first["ratio_clock"] == "cpu" else ("", "_cpu")
    main_name, other_name = ("cpu", "wall") if main else ("wall", "cpu")
    both = first["device"] == "cpu"  # CPU time is only recorded on the CPU
    w = max(17, *(len(r["label"]) + 2 for r in rows))
    if first["mode"] == "train_step":
        lines.append(f"training step (forward + backward + SGD) at batch {first['train_batch']}")
        lines.append(f"{'model':<{w}}{'GFLOPs':>8}{main_name + ' ms':>11}{'clips/s':>9}{'xTSM':>7}{'xTSN':>7}"
                     + (f"{other_name + ' ms':>11}" if both else ""))
        for r in rows:
            lines.append(f"{r['label']:<{w}}{r['gflops']:>8.3g}{r['train_step_ms' + main]:>11.1f}"
                         f"{r['train_clips_per_s' + main]:>9.2f}{_ratio(r, 'train_step_vs_tsm')}"
                         f"{_ratio(r, 'train_step_vs_tsn')}" + (f"{r['train_step_ms' + other]:>11.1f}" if both else ""))
        return "\n".join(lines)
    lines.append(f"latency at batch {first['latency_batch']}, throughput at batch {first['throughput_batch']}")
    lines.append(f"{'model':<{w}}{'GFLOPs':>8}{main_name + ' ms':>11}{'xTSM':>7}{'videos/s':>10}{'xTSM':>7}"
                 + (f"{other_name + ' ms':>11}{other_name + ' v/s':>10}" if both else ""))
    for r in rows:
        lines.append(f"{r['label']:<{w}}{r['gflops']:>8.3g}{r['latency_ms' + main]:>11.1f}{_ratio(r, 'latency_vs_tsm')}"
                     f"{r['throughput' + main]:>10.2f}{_ratio(r, 'throughput_vs_tsm')}"
                     + (f"{r['latency_ms' + other]:>11.1f}{r['throughput' + other]:>10.2f}" if both else ""))
    return "\n".join(lines)


def _ratio(row: dict, name: str) -> str:
    return f"{row[name]:>7.3f}" if name in row else f"{'-':>7}"


def format_scaling(rows: list[dict]) -> str:
    frames = sorted({r["frames"] for r in rows})
    clock = rows[0]["ratio_clock"]
    metric = "latency_cpu_ms" if clock == "cpu" else "latency_ms"
    lines = [f"batch-1 {metric} ({rows[0]['hardware']}); x{frames[0]}: ratio to T={frames[0]}; ops: aten operators per call"]
    groups = {}
    for r in rows:
        groups.setdefault((r["kind"], r["position"], r["label"]), {})[r["frames"]] = r
    lines.append(f"{'where':<22}{'model':<21}" + "".join(f"{f'T={t} ms':>12}{f'x{frames[0]}':>7}{'ops':>6}" for t in frames))
    for (kind, position, label), by_t in groups.items():
        where = f"{position} {by_t[frames[0]]['channels']}x{by_t[frames[0]]['side']}^2" if kind == "module" else "whole model"
        lines.append(f"{where:<22}{label:<21}" + "".join(
            f"{by_t[t][metric]:>12.3f}{by_t[t]['vs_first_t']:>7.2f}{by_t[t]['aten_ops']:>6}" for t in frames))
    return "\n".join(lines)


def format_data(result: dict) -> str:
    training = result["training"]
    lines = [f"data: {result['root']}",
             f"training {training['method']} at the {training['profile']} profile: {training['train_clips_per_s']:.1f} "
             f"clips/s (batch {training['train_batch']}, {training['train_step_ms']:.0f} ms per step, "
             f"{training['hardware']})",
             f"{'workers':>8}{'clips/s':>10}{'x training':>12}{'start-up s':>12}"]
    for row in result["loader"]:
        lines.append(f"{row['workers']:>8}{row['clips_per_s']:>10.1f}{row['vs_training']:>12.2f}{row['startup_s']:>12.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
