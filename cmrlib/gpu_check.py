"""GPU readiness: ``python -m cmrlib gpu-check [--out runs/benchmarks/<date>-<gpu>] [--dry-run]``.

One prepared script that exercises every CUDA path of the project and measures CMR's Table 7 on a GPU, in
under 6 minutes on one H100/H200-class GPU, and writes ``gpu-check.json`` (with provenance: GPU, driver,
torch, CUDA, commit) into the output folder after every section, so that a run cut short keeps what it did:

steps    every method (tsn ... cmr, and CMR as released): a few steps of the real train step
         (cmrlib.train.train_epoch) at the gpu profile's shapes with bfloat16 autocast and channels_last;
         the losses must be finite and every trainable parameter must get a gradient (names of those that
         get none are listed)
table7   CMR Table 7's protocol (cmrlib.bench.model_benchmark): batch-1 latency and batch-8 throughput at
         R50 8x224, warm-up, models timed round-robin, ratios to TSM, in fp32 and in bf16 autocast with
         channels_last; with Table 5's placements
pem      the PEM stand-in against CME at T = 8, 16, 32 (cmrlib.bench.pem_scaling)
run      one short gpu-profile training run (cmrlib.train.train on the generated data): clips/s
targets  CMR latency <= 1.30x TSM, CMR throughput >= 0.75x TSM, TEINet latency <= 1.15x TSM, PEM's latency
         grows with T faster than CME's; a missed target gets a torch.profiler table of its models
         (``profile-<target>.txt``)
compile  last (the slowest to start and the least sure to finish): the steps of CMR under torch.compile

``--dry-run`` runs the same script on the CPU at tiny sizes (bf16 autocast on the CPU, torch.compile with the
aot_eager backend) in well under a minute; ``make test`` runs it (tests/test_gpu_check.py). The book's Table 7
and PEM pages show a committed result (``runs/benchmarks/*/gpu-check.json``) beside the CPU figures
(cmrlib.gpu_results.page).
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import re
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from cmrlib import config as configlib
from cmrlib import runs
from cmrlib.bench.cli import format_models, format_scaling
from cmrlib.bench.profiling import trace
from cmrlib.bench.scaling import pem_scaling
from cmrlib.bench.timing import (R50_224, SHAPE_FIELDS, TABLE5, TABLE7, model_benchmark, parse_config, profile_shape,
                                 threads_set, train_clips_per_s)
from cmrlib.gpu_results import FILE, page, show, stored_results

__all__ = ["make_plan", "run_check", "training_check", "check_method", "evaluate_targets", "summary", "main",
           "page", "show", "stored_results"]  # page, show, stored_results: the book's, from cmrlib.gpu_results

FORMAT = 1
METHODS = ("tsn", "tsm", "tim", "teinet", "stm", "tea", "pem", "cmr", "cmr-released")  # names of bench.NAMED
SECTIONS = ("steps", "table7", "pem", "run", "compile")
TINY = {"depth": 18, "width": 0.125, "small_input": True, "size": 16, "frames": 4}
PRECISIONS = {"fp32": {"amp": False, "channels_last": False}, "amp": {"amp": True, "channels_last": True}}

# (name, text, table7 label, row field, comparison, bound, bench names traced on a miss, batch traced)
TABLE7_TARGETS = (
    ("cmr_latency", "CMR latency / TSM at batch 1", "CMR", "latency_vs_tsm", "<=", 1.30, ("cmr", "tsm"), "latency"),
    ("cmr_throughput", "CMR throughput / TSM at batch 8", "CMR", "throughput_vs_tsm", ">=", 0.75, ("cmr", "tsm"),
     "throughput"),
    ("teinet_latency", "TEINet latency / TSM at batch 1", "TEINet", "latency_vs_tsm", "<=", 1.15, ("teinet", "tsm"),
     "latency"),
)


@dataclass(frozen=True)
class Plan:
    """What one gpu-check runs: the full plan on CUDA, or the dry run's tiny one on the CPU."""

    dry_run: bool
    device: str
    train_profile: str        # the profile whose shapes the training steps and the short run use
    train_shape: dict
    train_batch: int
    train_steps: int
    amp: bool
    channels_last: bool
    compile_backend: str
    bench_shape: dict
    precisions: tuple
    bench: dict               # repeats, warmup, min_time of model_benchmark
    pem_frames: tuple
    pem: dict
    run_overrides: dict       # the short training run: config overrides of train_profile
    threads: int | None = None  # torch threads for the whole check (None: torch's default)
    num_classes: int = 174
    skip: tuple = field(default=())


def make_plan(dry_run: bool = False, skip=()) -> Plan:
    if dry_run:
        once = {"repeats": 1, "warmup": 0, "min_time": 0.0}
        return Plan(True, "cpu", "smoke", dict(TINY), 2, 2, True, True, "aot_eager", dict(TINY), ("fp32",), once,
                    (8, 16, 32), once, {**TINY, "epochs": 2, "batch_size": 2, "train_subset": 4, "val_subset": 2,
                                        "val_every": 2, "device": "cpu", "threads": 1}, threads=1, skip=tuple(skip))
    gpu = configlib.resolve("cmr", "gpu", validate=False)
    batch = gpu["batch_size"]
    return Plan(False, "cuda", "gpu", profile_shape("gpu"), batch, 3, True, True, "inductor", dict(R50_224),
                ("fp32", "amp"), {"repeats": 5, "warmup": 1, "min_time": 0.1}, (8, 16, 32),
                {"repeats": 5, "warmup": 1, "min_time": 0.05},
                {"epochs": 2, "train_subset": 6 * batch, "val_subset": batch, "val_every": 2, "device": "cuda"},
                skip=tuple(skip))


# ------------------------------------------------------------------------------------------ provenance
def provenance(device: str) -> dict:
    """runs.provenance (commit, torch, host, time) with the GPU, its driver and the CUDA and cuDNN versions."""
    info = runs.provenance(device)
    info.update(cuda_version=torch.version.cuda, driver=None, gpu_capability=None, gpu_memory_gb=None,
                cudnn_version=torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
                cudnn_allow_tf32=torch.backends.cudnn.allow_tf32,
                matmul_allow_tf32=torch.backends.cuda.matmul.allow_tf32)
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(0)
        info.update(gpu_capability=f"{props.major}.{props.minor}", gpu_memory_gb=round(props.total_memory / 2**30, 1))
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20)
            info["driver"] = out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
        except (OSError, subprocess.SubprocessError):
            pass
    return info


# ---------------------------------------------------------------------------------- 1. training steps
def training_check(model, config: dict, flags: dict, device, batches, compile_backend: str | None = None) -> dict:
    """Train ``model`` on ``batches`` [(clip, labels)] with the real train step (cmrlib.train.train_epoch:
    autocast per ``flags``, channels_last input, clipping, SGD). Returns the per-step losses, whether all are
    finite, and the trainable parameters that got no gradient at some step (``no_grad``)."""
    from cmrlib import distributed as dist
    from cmrlib.data import ISSUE_NAMES
    from cmrlib.train import EpochTotals, TrainingDiverged, make_optimizer, set_train_mode, train_epoch

    device = torch.device(device)
    model = model.to(device)
    if flags["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    set_train_mode(model, config["bn"])
    optimizer = make_optimizer(model, config)
    trained = torch.compile(model, backend=compile_backend) if compile_backend else model
    loader = [(clip, labels, torch.zeros(len(labels), dtype=torch.long)) for clip, labels in batches]
    totals, losses, no_grad, times, seen = EpochTotals(len(ISSUE_NAMES)), [], set(), [], [0.0]
    trainable = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def on_step(step: int) -> None:
        sync()
        times.append(time.perf_counter())
        summed = float(totals.values[0])  # the running sum of loss x clips
        losses.append((summed - seen[0]) / len(batches[step - 1][1]))
        seen[0] = summed
        no_grad.update(name for name, p in trainable if p.grad is None)

    error = None
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    sync()
    start = time.perf_counter()
    try:
        train_epoch(trained, loader, optimizer, config, flags, device, dist.Context(), 0, 0, len(loader), totals,
                    on_step)
    except TrainingDiverged as diverged:
        error = str(diverged)
    steps = [b - a for a, b in zip([start] + times, times)]
    return {"losses": [round(v, 5) for v in losses], "finite": error is None and len(losses) == len(loader),
            "error": error, "no_grad": sorted(no_grad), "trainable": len(trainable),
            "first_step_ms": round(1000 * steps[0], 2) if steps else None,
            "step_ms": round(1000 * min(steps[1:]), 2) if len(steps) > 1 else None,
            "peak_memory_gb": (round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
                               if device.type == "cuda" else None)}


def check_method(name: str, plan: Plan, compile_backend: str | None = None, seed: int = 0) -> dict:
    """training_check of one bench name (``cmr-released``) at the plan's training shape, batch and flags."""
    from cmrlib.checkpoint import build_model

    bench = parse_config(name)
    overrides = {**plan.train_shape, "model_options": dict(bench.options), "batch_size": plan.train_batch,
                 "device": plan.device, "amp": plan.amp, "channels_last": plan.channels_last,
                 "compile": bool(compile_backend)}
    config = configlib.resolve(bench.method, plan.train_profile, overrides, validate=False)
    flags = {"amp": plan.amp, "channels_last": plan.channels_last, "compile": bool(compile_backend),
             "deterministic": False}
    generator = torch.Generator().manual_seed(seed)
    shape = (plan.train_batch, config["frames"], 3, config["size"], config["size"])
    batches = [(torch.randn(shape, generator=generator),
                torch.randint(0, plan.num_classes, shape[:1], generator=generator))
               for _ in range(plan.train_steps)]
    row = {"label": bench.label + (f" compiled ({compile_backend})" if compile_backend else ""), "method": bench.method,
           "options": bench.options, "batch": plan.train_batch, "amp": plan.amp, "channels_last": plan.channels_last,
           "compile": compile_backend, **{k: config[k] for k in SHAPE_FIELDS}}
    started = time.perf_counter()
    try:
        torch.manual_seed(seed)
        model = build_model(config, plan.num_classes)
        row.update(training_check(model, config, flags, plan.device, batches, compile_backend))
    except Exception as error:  # noqa: BLE001 (one method's failure must not end the check)
        row.update(finite=False, no_grad=[], error=f"{type(error).__name__}: {error}")
    row["seconds"] = round(time.perf_counter() - started, 2)
    row["ok"] = bool(row["finite"] and not row["no_grad"] and not row["error"])
    return row


# ------------------------------------------------------------------------------------- 3. training run
@contextlib.contextmanager
def _global_flags_kept():
    """train() sets the global determinism switches of its device; put them back afterwards."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn = torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn


def training_run(plan: Plan, say=None) -> dict:
    """A short CMR run of the plan's profile (cmrlib.train.train on the config's default, generated data) in a
    temporary folder: clips/s of each epoch (the last is warm), the compute-only clips/s of the train step
    (bench.train_clips_per_s) and the estimated wall time of a full run of the profile at the warm rate."""
    from cmrlib.data import synth
    from cmrlib.train import train

    config = configlib.resolve("cmr", plan.train_profile, dict(plan.run_overrides))
    with tempfile.TemporaryDirectory(prefix="gpu-check-run-") as out, _global_flags_kept(), \
            contextlib.redirect_stdout(sys.stderr):
        final = train(config, out)
        history = runs.read_jsonl(Path(out) / "metrics.jsonl")
    full = configlib.resolve("cmr", plan.train_profile, validate=False)
    clips = synth.SYNTH_PROFILES[full["data_profile"]]["train_clips"]
    warm = history[-1]["clips_per_s"]
    step = train_clips_per_s(plan.train_profile, "cmr", device=plan.device, repeats=plan.bench["repeats"],
                             warmup=plan.bench["warmup"],
                             train_batch=config["batch_size"], **{k: config[k] for k in SHAPE_FIELDS},
                             **({"amp": True, "channels_last": True} if plan.device == "cuda" else {}))
    return {"method": "cmr", "profile": plan.train_profile, "overrides": plan.run_overrides,
            "epochs": [{k: row[k] for k in ("epoch", "loss", "clips_per_s", "train_time_s", "wall_time_s")}
                       for row in history],
            "clips_per_s": warm, "val_top1": final["val_top1"], "loss_finite": all(
                torch.isfinite(torch.tensor(row["loss"])).item() for row in history),
            "step_clips_per_s": step["train_clips_per_s"], "data_bound": warm < 0.8 * step["train_clips_per_s"],
            "full_run": {"epochs": full["epochs"], "train_clips": clips,
                         "estimated_train_s": round(full["epochs"] * clips / warm, 1)}}


# ------------------------------------------------------------------------------------------- 4. targets
def evaluate_targets(result: dict) -> list[dict]:
    """Each target per precision of the Table 7 timings, and the PEM growth; ``passed`` is None when the
    figures are missing (a section failed or was skipped)."""
    targets = []
    for precision, rows in (result.get("table7") or {}).items():
        by_label = {row["label"]: row for row in rows}
        for name, text, label, metric, op, bound, traced, batch in TABLE7_TARGETS:
            value = by_label.get(label, {}).get(metric)
            passed = None if value is None else (value <= bound if op == "<=" else value >= bound)
            targets.append({"name": f"{name}_{precision}", "text": f"{text} ({precision})", "value": value,
                            "op": op, "bound": bound, "passed": passed, "precision": precision,
                            "traced": list(traced), "batch": batch})
    rows = [r for r in result.get("pem") or [] if r["kind"] == "model"]
    growth = {}
    if rows:
        last = max(r["frames"] for r in rows)
        growth = {r["label"]: r["vs_first_t"] for r in rows if r["frames"] == last}
    pem, cme = growth.get("TIM+PEM (stand-in)"), growth.get("TIM+CME")
    targets.append({"name": "pem_growth", "text": "PEM (stand-in) latency grows with T faster than CME's "
                    "(whole model, latency at the largest T / at the smallest)", "value": pem, "op": ">",
                    "bound": cme, "passed": None if pem is None or cme is None else pem > cme, "precision": "fp32",
                    "traced": ["pem", "tim+cme"], "batch": "latency"})
    return targets


def profile_misses(targets: list[dict], plan: Plan, out_dir: Path) -> dict:
    """torch.profiler tables (bench.trace) of the models behind each missed target, one text file per target."""
    written = {}
    for target in targets:
        if target["passed"] is not False:
            continue
        precision = PRECISIONS[target["precision"]] if plan.device == "cuda" else PRECISIONS["fp32"]
        shape = dict(plan.bench_shape)
        if target["name"] == "pem_growth":
            shape["frames"] = max(plan.pem_frames)
        batch = 8 if target["batch"] == "throughput" else 1
        text = "\n\n".join(trace(name, shape=shape, batch=batch, repeats=3, warmup=1, top=25, device=plan.device,
                                 **precision) for name in target["traced"])
        path = out_dir / f"profile-{target['name']}.txt"
        runs.atomic_write_text(path, text + "\n")
        target["profile"] = written[target["name"]] = path.name
    return written


# ------------------------------------------------------------------------------------------ the check
def run_check(plan: Plan, out_dir, profile_on_miss: bool = True, say=None) -> dict:
    """Every section of the plan in turn (a failing section is recorded under ``errors`` and the others still
    run); ``gpu-check.json`` is rewritten after each. Returns the result."""
    say = say or (lambda message: print(message, file=sys.stderr, flush=True))
    out_dir = Path(out_dir)
    result = {"format": FORMAT, "dry_run": plan.dry_run, "plan": asdict(plan), "provenance": provenance(plan.device),
              "seconds": {}, "errors": {}}
    started = time.perf_counter()

    def section(name: str, fn) -> None:
        if name in plan.skip:
            result["seconds"][name] = "skipped"
            return
        say(f"gpu-check: {name} ...")
        tic = time.perf_counter()
        try:
            result[name] = fn()
        except Exception as error:  # noqa: BLE001 (record it, go on with the next section)
            result["errors"][name] = "".join(traceback.format_exception_only(error)).strip()
            say(f"gpu-check: {name} failed: {result['errors'][name]}\n{traceback.format_exc(limit=-4)}")
        result["seconds"][name] = round(time.perf_counter() - tic, 1)
        result["total_s"] = round(time.perf_counter() - started, 1)
        runs.atomic_write_json(out_dir / FILE, result)

    bench = {"device": plan.device, **plan.bench_shape, **plan.bench}
    pem = {"device": plan.device, **{k: v for k, v in plan.bench_shape.items() if k != "frames"}, **plan.pem}
    with threads_set(plan.threads), _global_flags_kept():
        if plan.device == "cuda":
            torch.backends.cudnn.benchmark = True  # as the gpu profile trains (loaders.configure_determinism)
        result["cudnn_benchmark"] = torch.backends.cudnn.benchmark
        section("steps", lambda: [check_method(name, plan) for name in METHODS])
        section("table7", lambda: {p: model_benchmark(TABLE7 + TABLE5, **bench, **PRECISIONS[p])
                                   for p in plan.precisions})
        section("pem", lambda: pem_scaling(plan.pem_frames, **pem))
        section("run", lambda: training_run(plan, say))
        result["targets"] = evaluate_targets(result)
        if profile_on_miss:
            section("profiles", lambda: profile_misses(result["targets"], plan, out_dir))
        # last: compiling takes the longest and is the least sure to finish; everything else is written by then
        section("compile", lambda: [check_method("cmr", plan, plan.compile_backend)])
    checks = result.get("steps", []) + result.get("compile", [])
    result["ok"] = bool(checks) and all(row["ok"] for row in checks) and not result["errors"]
    result["total_s"] = round(time.perf_counter() - started, 1)
    runs.atomic_write_json(out_dir / FILE, result)
    return result


def summary(result: dict) -> str:
    """The result as short, readable text."""
    p = result["provenance"]
    head = "DRY RUN on the CPU at tiny sizes (no GPU verdict)" if result["dry_run"] else p["device_name"]
    lines = [f"gpu-check: {head}; driver {p['driver']}, torch {p['torch_version']}, CUDA {p['cuda_version']}, "
             f"commit {(p['git_commit'] or '?')[:10]}{' (dirty)' if p['git_dirty'] else ''}; {result['total_s']} s"]
    checks = result.get("steps", []) + result.get("compile", [])
    if checks:
        first = checks[0]
        lines.append(f"1. training steps: R{first['depth']} x{first['width']:g}, {first['frames']}x{first['size']}, "
                     f"batch {first['batch']}, amp={first['amp']}, channels_last={first['channels_last']}")
        for row in checks:
            status = "ok  " if row["ok"] else "FAIL"
            losses = " ".join(f"{v:.3f}" for v in row.get("losses", []))
            extra = f"no gradient: {', '.join(row['no_grad'])}" if row["no_grad"] else (row["error"] or "")
            lines.append(f"   {status} {row['label']:<34} loss {losses:<24} step {row.get('step_ms')} ms "
                         f"{extra}".rstrip())
    for precision, rows in (result.get("table7") or {}).items():
        lines += [f"2. Table 7 protocol, {precision}:", format_models(rows)]
    if result.get("pem"):
        lines += ["   PEM (stand-in) against CME as T grows:", format_scaling(result["pem"])]
    run = result.get("run")
    if run:
        lines.append(f"3. training run ({run['profile']} profile, CMR): {run['clips_per_s']:.1f} clips/s warm "
                     f"(train step alone {run['step_clips_per_s']:.1f}{', data-bound' if run['data_bound'] else ''}); "
                     f"a full run ({run['full_run']['epochs']} epochs x {run['full_run']['train_clips']} clips) "
                     f"~{run['full_run']['estimated_train_s']:.0f} s of training")
    lines.append("4. targets:")
    for t in result.get("targets", []):
        verdict = {True: "PASS", False: "MISS", None: "n/a "}[t["passed"]]
        value = "-" if t["value"] is None else f"{t['value']:.3f}"
        bound = "-" if t["bound"] is None else f"{t['bound']:.3f}"
        lines.append(f"   {verdict} {t['text']}: {value} {t['op']} {bound}"
                     + (f"  (profile: {t['profile']})" if t.get("profile") else ""))
    for name, error in result["errors"].items():
        lines.append(f"   ERROR in {name}: {error}")
    return "\n".join(lines)


def default_out(dry_run: bool) -> Path:
    if dry_run:
        return runs.project_root() / "_build" / "gpu-check-dry-run"
    slug = re.sub(r"[^a-z0-9]+", "-", torch.cuda.get_device_name(0).lower()).strip("-")
    return runs.project_root() / "runs" / "benchmarks" / f"{datetime.date.today().isoformat()}-{slug}"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m cmrlib gpu-check", description=__doc__.split("\n\n")[1])
    p.add_argument("--out", help="output folder (default: runs/benchmarks/<date>-<gpu>; with --dry-run: "
                                 "_build/gpu-check-dry-run)")
    p.add_argument("--dry-run", action="store_true", help="the same script on the CPU at tiny sizes (< 1 minute)")
    p.add_argument("--skip", default="", help=f"comma-separated sections to leave out: {', '.join(SECTIONS)}")
    p.add_argument("--no-profile-on-miss", action="store_true", help="no torch.profiler table for a missed target")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    skip = tuple(s.strip() for s in args.skip.split(",") if s.strip())
    unknown = sorted(set(skip) - set(SECTIONS))
    if unknown:
        print(f"gpu-check: unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    if not args.dry_run and not torch.cuda.is_available():
        print("gpu-check: CUDA is not available on this machine; use --dry-run for the CPU rehearsal", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else default_out(args.dry_run)
    result = run_check(make_plan(args.dry_run, skip), out, profile_on_miss=not args.no_profile_on_miss)
    print(summary(result))
    print(f"wrote {out / FILE}")
    return 0 if result["ok"] else 1
