"""What a table's models cost: FLOPs and parameters (cached in runs/<profile>/flops.json) and latency and
throughput (cached in runs/<profile>/speed/). Each record stores the training version it was measured with
(``cmrlib.runs.TRAINING_VERSION``) and is measured again when that changes."""
from __future__ import annotations

import datetime
import hashlib
import json
import platform

import pandas as pd

from cmrlib import config as configlib
from cmrlib import runs
from cmrlib.experiments.plan import Spec, check_profile, plan


def _memo_key(payload) -> str:
    """A short key of what is measured (not of the code: the cached record stores the training version it
    was measured with and is replaced, not kept beside, when that changes)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _model_for(spec_: Spec, profile: str, shape: dict | None = None, num_classes: int = 174):
    from cmrlib.models import build_model

    config = configlib.resolve(spec_.method, profile, {**spec_.overrides, **(shape or {}), "benchmark": spec_.benchmark},
                               validate=False)
    return build_model(**configlib.model_kwargs(config, num_classes)), config


def model_cost(spec_: Spec, profile: str, shape: dict | None = None, num_classes: int = 174) -> dict:
    """FLOPs (G multiply-adds, one view) and parameters (M) of a spec's model at the profile's input size
    (or ``shape`` overrides such as ``{"depth": 50, "width": 1.0, "size": 224, "small_input": False}``),
    counted by ``cmrlib.flops.count`` and cached in runs/<profile>/flops.json."""
    import torch

    from cmrlib.flops import count

    path = runs.project_root() / "runs" / check_profile(profile) / "flops.json"
    key = _memo_key({"spec": [spec_.method, spec_.options], "shape": shape or {}, "classes": num_classes,
                     "profile": configlib.PROFILES[profile]})
    table = runs.read_json(path) if path.exists() else {}
    version = runs.TRAINING_VERSION
    if table.get(key, {}).get("training_version") == version:
        return table[key]
    with runs.locked(f"flops-{profile}"):
        with torch.device("meta"):  # counting needs shapes only: no memory, no compute
            model, config = _model_for(spec_, profile, shape, num_classes)
        macs, params = count(model, (1, config["frames"], 3, config["size"], config["size"]))
        table = runs.read_json(path) if path.exists() else {}  # re-read under the lock
        table[key] = {"label": spec_.label, "method": spec_.method, "options": dict(spec_.options),
                      "frames": config["frames"], "size": config["size"], "depth": config["depth"],
                      "width": config["width"], "gflops": macs / 1e9, "params_m": params / 1e6,
                      "training_version": version}
        runs.atomic_write_json(path, table)
    return table[key]


def cost_table(specs, profile: str, shape: dict | None = None, num_classes: int = 174) -> pd.DataFrame:
    return pd.DataFrame([{**model_cost(s, profile, shape, num_classes), "label": s.label} for s in specs])


def speed(specs, profile: str, device: str = "cpu", shape: dict | None = None, repeats: int | None = None,
          force: bool = False, cached_only: bool = False, retrain_before: float | None = None,
          **options) -> pd.DataFrame:
    """Latency and throughput of each spec, one row per timed repeat, cached in
    runs/<profile>/speed/<device>-<key>.json. The key covers the specs and the shape, not the machine (the
    record says on which hardware it was measured); a record of another training version is measured again, unless
    ``cached_only``, which never measures and returns what is stored (flagged by ``code_current``).
    ``retrain_before`` (a UNIX time, as for training runs) measures again what was measured before it."""
    import torch

    check_profile(profile)
    plan_ = plan(profile)
    shape = plan_.speed_shape if shape is None else shape
    repeats = repeats or plan_.speed_repeats
    kind = "cuda" if str(device).startswith("cuda") else "cpu"
    key = _memo_key({"specs": [(s.label, s.method, s.options) for s in specs], "shape": shape,
                     "repeats": repeats, "options": options, "profile": configlib.PROFILES[profile]})
    path = runs.project_root() / "runs" / profile / "speed" / f"{kind}-{key}.json"
    record = runs.read_json(path) if path.exists() else None
    current = record is not None and record.get("training_version") == runs.TRAINING_VERSION
    if current and retrain_before:
        force = force or datetime.datetime.fromisoformat(record["measured_utc"]).timestamp() < retrain_before
    if cached_only and record is None:
        return pd.DataFrame()
    if not cached_only and (force or not current):
        if kind == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' asked for, but CUDA is not available")
        rows = _benchmark(specs, profile, device, shape, repeats, **options)
        record = {"rows": rows, "hardware": _hardware(device),
                  "measured_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                  "commit": (runs.provenance(kind).get("git_commit") or "uncommitted")[:10],
                  "training_version": runs.TRAINING_VERSION}
        runs.atomic_write_json(path, record)
        current = True
    frame = pd.DataFrame(record["rows"])
    frame["code_current"] = current
    frame["profile"], frame["device"], frame["hardware"] = profile, kind, record["hardware"]
    frame["measured_utc"], frame["commit"] = record["measured_utc"], record["commit"]
    return frame

CPU_TIMING_THREADS = 1  # the speed pages time CPU models on one thread (the README's protocol)


def _benchmark(specs, profile, device, shape, repeats, **options) -> list:
    """The speed rows, by ``cmrlib.bench.model_benchmark`` (the README's protocol: warm-up, models timed
    round-robin). On the CPU with one thread, and latency/throughput in CPU time, which a busy machine
    disturbs less than wall time."""
    from cmrlib import bench

    cpu = not str(device).startswith("cuda")
    rows = bench.repeat_rows(bench.model_benchmark(specs, device=device, profile=profile, repeats=repeats,
                                                   threads=CPU_TIMING_THREADS if cpu else None,
                                                   clock="cpu" if cpu else "wall",
                                                   **shape, **options))
    if cpu:
        for row in rows:
            row["latency_ms"], row["throughput"] = row["latency_cpu_ms"], row["throughput_cpu"]
    return rows


def _hardware(device: str) -> str:
    import torch

    if str(device).startswith("cuda"):
        return torch.cuda.get_device_name(0)
    return f"{platform.processor() or platform.machine()} CPU, {CPU_TIMING_THREADS} thread, CPU time"


def speed_device(profile: str) -> str:
    """Where a profile's timings are taken: the GPU for the gpu profile when there is one, else the CPU."""
    import torch

    return "cuda" if check_profile(profile) == "gpu" and torch.cuda.is_available() else "cpu"


def speed_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Median latency and throughput per label over repeats, with the ratio to TSM where TSM was measured."""
    if frame.empty:
        return frame
    out = frame.groupby("label", sort=False).agg(latency_ms=("latency_ms", "median"),
                                                 throughput=("throughput", "median")).reset_index()
    if "TSM" in set(out["label"]):
        tsm = out.set_index("label").loc["TSM"]
        out["latency_vs_tsm"] = out["latency_ms"] / tsm["latency_ms"]
        out["throughput_vs_tsm"] = out["throughput"] / tsm["throughput"]
    return out


ADOPT_SPEEDUP = 1.25  # the powered-verdicts issue: adopt a training speed-up only at >= 1.25x and deterministic


def training_speedups(path=None) -> pd.DataFrame:
    """The measured speed-ups of a cpu-profile training step over eager fp32 (runs/explore/2026-11-30-compile,
    written by its measure.py): one row per (method, variant) with the step's CPU time, the ratio, whether two
    runs from one seed were identical, and whether that meets the adoption rule (ratio >= ADOPT_SPEEDUP and
    deterministic)."""
    path = path or runs.project_root() / "runs" / "explore" / "2026-11-30-compile" / "result.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no training-speed measurement; run the measure.py beside it")
    record = runs.read_json(path)
    rows = []
    for method, result in record["methods"].items():
        for variant, ratio in result["speedup_vs_eager"].items():
            identical = True if variant == "eager" else bool(result.get(f"{variant}_runs_identical", False))
            rows.append({"method": method, "variant": variant, "step cpu s": round(result["step_cpu_s"][variant], 4),
                         "speed-up": round(ratio, 2), "deterministic": identical,
                         "adopt": variant != "eager" and ratio >= ADOPT_SPEEDUP and identical})
    return pd.DataFrame(rows)
