"""``python -m cmrlib bench model | runtime | pem-scaling | data``: the command line and its text tables."""
from __future__ import annotations

import argparse
import json
import sys

from cmrlib import config as configlib
from cmrlib.bench import runtime
from cmrlib.bench.profiling import breakdown, format_breakdown, trace
from cmrlib.bench.scaling import data_benchmark, pem_scaling
from cmrlib.bench.timing import (CLOCKS, NAMED, SHAPE_FIELDS, TABLE5, TABLE7, model_benchmark, parse_configs,
                                 profile_shape)


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
    p = argparse.ArgumentParser(prog="python -m cmrlib bench", description="Speed benchmarks: CMR Table 7 protocol, PEM scaling, data loading.")
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

    r = sub.add_parser("runtime", help="claims 5-7: R50 8x224 in interleaved rounds, ratios to TSM with 95 % "
                                       "intervals, written to one keyed file")
    r.add_argument("--out", help=f"file to write (default {runtime.RUNTIME_FILE}; with --quick {runtime.QUICK_FILE})")
    r.add_argument("--rounds", type=int, default=runtime.DEFAULT_ROUNDS,
                   help=f"timed rounds (at least {runtime.MIN_ROUNDS}; default {runtime.DEFAULT_ROUNDS})")
    r.add_argument("--warmup", type=int, default=1, help="untimed warm-up rounds (default 1)")
    r.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    r.add_argument("--clock", choices=("cpu", "wall"),
                   help="the Timer's clock: process CPU time (default with 1 thread) or wall time")
    r.add_argument("--quick", action="store_true", help="a tiny ResNet-18 at 4 x 16 px (tests), from 2 rounds")

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
    verbose = not getattr(args, "json", False) and sys.stderr.isatty()
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
        elif args.command == "runtime":
            say = lambda message: print(f"  {message}", file=sys.stderr, flush=True)  # noqa: E731 (the log)
            record = runtime.runtime_benchmark(args.out, args.rounds, args.warmup, args.threads, args.clock,
                                               args.quick, progress=say)
            print(runtime.format_summary(record))
            print(f"written: {record['path']} (key {record['key']})")
        elif args.command == "pem-scaling":
            rows = pem_scaling(_int_list(args.frames, "frames"), models=not args.modules_only,
                               progress=_progress(verbose), **_shape_options(args))
            print(json.dumps(rows, indent=1) if args.json else format_scaling(rows))
        else:
            from cmrlib.data.dataset import UnusableData

            try:
                result = data_benchmark(args.root, args.profile, args.benchmark, _int_list(args.workers, "workers"),
                                        args.batches, args.method, threads=args.threads, progress=_progress(verbose))
            except UnusableData as error:  # (from a DataLoader worker the message ends with the reason)
                raise ValueError(str(error).strip().splitlines()[-1]) from None
            print(json.dumps(result, indent=1) if args.json else format_data(result))
    except ValueError as error:
        print(f"bench {args.command}: {error}", file=sys.stderr)
        return 2
    return 0


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
