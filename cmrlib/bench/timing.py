"""Timing models by CMR Table 7's protocol: which models (``BenchConfig``), at which shape, timed round-robin
with a warm-up, the median over rounds and the ratios to the reference model (TSM)."""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import math
import platform
import statistics
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

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
