"""How costs grow: the serial PEM stand-in against the parallel CME as the frame count T grows
(``pem_scaling``), and the data loader's clips/s against what training consumes (``data_benchmark``)."""
from __future__ import annotations

import contextlib
import math
import sys
from pathlib import Path

import torch

from cmrlib import config as configlib
from cmrlib.bench.profiling import count_ops
from cmrlib.bench.timing import (CLOCKS, Clock, _clip, _iterations, _median, hardware, heap_cache, profile_shape, threads_set,
                                 train_clips_per_s)


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
