"""Where the time goes: CPU time per kind of module (``breakdown``), a torch.profiler table (``trace``), and
how many aten operators a call dispatches (``count_ops``)."""
from __future__ import annotations

import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from cmrlib.bench.timing import (Clock, _autocast, _clip, _median, _prepare, build, hardware, heap_cache, parse_config,
                                 profile_shape, threads_set)


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
          threads: int | None = None, top: int = 15, num_classes: int = 174, keep_freed_memory: bool = True,
          device: str = "cpu", amp: bool = False, channels_last: bool = False) -> str:
    """torch.profiler over ``repeats`` inference forward passes (after ``warmup``), with record_shapes: the
    ``top`` operators by self CPU time (on CUDA: by self device time, with CUDA activity recorded), grouped
    by input shapes; the header names the device, the input's dtype and whether bfloat16 autocast was on."""
    from torch.profiler import ProfilerActivity, profile

    device = torch.device(device)
    cuda = device.type == "cuda"
    config = parse_config(config)
    shape = {**profile_shape(None, **(shape or {})), **config.shape}
    model = _prepare(build(config, shape, num_classes), device, channels_last, False).eval()
    clip = _clip(batch, shape, device, channels_last)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    clock = Clock(device)
    with threads_set(threads) as used, heap_cache(keep_freed_memory and not cuda), torch.inference_mode(), \
            _autocast(device, amp):
        for _ in range(warmup):
            model(clip)
        clock.sync()
        with profile(activities=activities, record_shapes=True) as profiler:
            for _ in range(repeats):
                model(clip)
            clock.sync()
    table = profiler.key_averages(group_by_input_shape=True).table(
        sort_by="self_device_time_total" if cuda else "self_cpu_time_total", row_limit=top,
        max_name_column_width=32, max_shapes_column_width=60)
    flags = "".join([", bfloat16 autocast" if amp else "", ", channels_last" if channels_last else ""])
    return (f"== {config.label}: {repeats} forward passes at batch {batch} on {hardware(device, used)}"
            f", input {tuple(clip.shape)} {clip.dtype}{flags}\n{table}")


def format_breakdown(rows: list[dict]) -> str:
    lines = [f"{'model':<17}{'part':<30}{'cpu ms':>10}{'share':>8}"]
    for r in rows:
        lines.append(f"{r['label']:<17}{r['part']:<30}{r['cpu_ms']:>10.1f}{r['share']:>8.1%}")
    return "\n".join(lines)


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
