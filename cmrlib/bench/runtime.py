"""The runtime claims (5, 6, 7) at the paper's shape: ResNet-50, width 1, 8 x 224, timed in interleaved rounds.

``python -m cmrlib bench runtime`` writes one keyed file, ``runs/benchmarks/r50-rounds/runtime.json``:

* timings: Table 7's models (batch-1 latency and batch-8 throughput), Table 5's four CME/SME placements
  (batch-1 latency) and the PEM stand-in, TIM+CME and TSM at 16 and 32 frames (batch-1 latency, claim 6);
  each by ``torch.utils.benchmark.Timer``, on the process CPU clock with one thread by default (a shared
  machine deschedules the process, which wall time counts and CPU time does not);
* rounds: after a warm-up round, every timing once per round, the order rotated from round to round (round r
  starts at position r n / rounds of the n timings, so every pair is timed in both orders); at least 15 rounds;
* ratios: per round, each model's time over TSM's (or another reference) from the same round, and the 95 %
  interval of the ratio over rounds: the t interval of the mean log ratio, exponentiated
  (``cmrlib.stats.compare_ratio``). Load that drifts from round to round cancels in the ratio.

The file keeps the raw per-round times, the order of every round, the summary ratios and its provenance; the
readers below rebuild the summaries from the raw times for Table 7's page and for claims 5-7.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import time

import numpy as np
import pandas as pd
import torch

from cmrlib.bench.timing import NAMED, R50_224, TABLE5, build, gflops, hardware, heap_cache, parse_config

RUNTIME_FILE = "runs/benchmarks/r50-rounds/runtime.json"
QUICK_FILE = "runs/benchmarks/r50-rounds/runtime-quick.json"  # --quick (not committed)
SCHEMA = 1
MIN_ROUNDS = 15
DEFAULT_ROUNDS = 16

TABLE7_MODELS = ("tsm", "tsn", "tim", "teinet", "stm", "tea", "pem", "tim+cme", "tim+sme", "cmr")  # names of NAMED
SWEEP_MODELS = ("pem", "tim+cme", "tsm")  # claim 6: the serial PEM stand-in against the parallel CME, TSM beside
SWEEP_FRAMES = (8, 16, 32)
REFERENCE = "TSM"
PEM, CME = NAMED["pem"][0], NAMED["tim+cme"][0]

QUICK_SHAPE = {"depth": 18, "width": 0.125, "small_input": True, "size": 16, "frames": 4}
QUICK_SWEEP = (4, 8)


# ------------------------------------------------------------------------------------------------ the plan
def plan(shape: dict, sweep_frames=SWEEP_FRAMES, latency_batch: int = 1, throughput_batch: int = 8) -> list[dict]:
    """The timings of one round, in the base order: Table 7's models (latency, throughput), Table 5's placements
    (latency), the claim-6 models at every sweep frame count (latency). A network timed at the same batch
    under two labels (CMR is CMEall+SMEpart; the sweep's models at the base frame count are Table 7's) is
    timed once and carries both labels."""
    from cmrlib.models import OPTIONS

    wanted = [(name, shape["frames"], latency_batch, "latency") for name in TABLE7_MODELS]
    wanted += [(name, shape["frames"], throughput_batch, "throughput") for name in TABLE7_MODELS]
    wanted += [(name, shape["frames"], latency_batch, "latency") for name in TABLE5]
    wanted += [(name, t, latency_batch, "latency") for t in sweep_frames for name in SWEEP_MODELS]
    timings, by_network = [], {}
    for name, frames, batch, metric in wanted:
        config = parse_config(name)
        options = {**OPTIONS[config.method], **config.options}
        network = (config.method, json.dumps(options, sort_keys=True), frames, batch)
        if network in by_network:
            if config.label not in by_network[network]["labels"]:
                by_network[network]["labels"].append(config.label)
            continue
        timing = {"id": f"{config.label} T={frames} b={batch}", "method": config.method, "options": options,
                  "frames": frames, "batch": batch, "metric": metric, "labels": [config.label]}
        by_network[network] = timing
        timings.append(timing)
    return timings


def rotation(n: int, rounds: int) -> list[list[int]]:
    """The order of each round: the base order 0..n-1 rotated to start at position r n / rounds in round r."""
    return [[(start + i) % n for i in range(n)] for start in ((r * n) // rounds % n for r in range(rounds))]


def run_config(rounds: int = DEFAULT_ROUNDS, warmup: int = 1, threads: int = 1, clock: str | None = None,
               quick: bool = False, min_time: float | None = None) -> dict:
    """What a run measures (the key's contents): shape, timings, rounds, batches, threads, clock."""
    from cmrlib import runs

    clock = clock or ("cpu" if threads == 1 else "wall")
    if clock not in ("cpu", "wall"):
        raise ValueError(f"clock={clock!r}: expected cpu or wall")
    if clock == "cpu" and threads != 1:
        raise ValueError("clock=cpu needs threads=1: process CPU time adds up the time of every thread")
    if rounds < (2 if quick else MIN_ROUNDS):
        raise ValueError(f"rounds={rounds}: the runtime benchmark takes at least {MIN_ROUNDS} rounds "
                         "(at least 2 with --quick)")
    if warmup < 1:
        raise ValueError(f"warmup={warmup}: at least one untimed warm-up round")
    shape = dict(QUICK_SHAPE if quick else R50_224)
    sweep = QUICK_SWEEP if quick else SWEEP_FRAMES
    latency_batch, throughput_batch = 1, 2 if quick else 8
    timings = plan(shape, sweep, latency_batch, throughput_batch)
    return {"schema": SCHEMA, "quick": quick, "shape": shape, "sweep_frames": list(sweep),
            "latency_batch": latency_batch, "throughput_batch": throughput_batch, "rounds": rounds,
            "warmup": warmup, "threads": threads, "clock": clock,
            "min_time": (0.01 if quick else 0.0) if min_time is None else min_time, "heap_cache": True,
            "training_version": runs.TRAINING_VERSION,
            "models": {"table7": [NAMED[n][0] for n in TABLE7_MODELS], "table5": [NAMED[n][0] for n in TABLE5],
                       "sweep": [NAMED[n][0] for n in SWEEP_MODELS]},
            "timings": [{k: t[k] for k in ("id", "method", "options", "frames", "batch", "metric", "labels")}
                        for t in timings]}


def key_of(config: dict) -> str:
    """16 hex digits over everything that decides what the numbers mean (the run config, which holds the
    shape, models, rounds, batch sizes, threads, clock and TRAINING_VERSION); not the machine or the commit."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


# ------------------------------------------------------------------------------------------------ the run
def _cpu_model() -> str:
    return hardware(torch.device("cpu"), 1).removesuffix(" CPU, 1 thread(s)")


def _utc() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def measure(config: dict, progress=None) -> dict:
    """Time ``config``'s plan (``run_config``) in interleaved rounds; the record without its summary."""
    from torch.utils.benchmark import Timer

    from cmrlib import runs

    say = progress or (lambda message: None)
    shape, timings = config["shape"], [dict(t) for t in config["timings"]]
    threads = config["threads"]
    primary = time.process_time if config["clock"] == "cpu" else time.perf_counter
    other = time.perf_counter if config["clock"] == "cpu" else time.process_time
    provenance = {**runs.provenance("cpu"), "cpu_model": _cpu_model(), "cpu_count": os.cpu_count(),
                  "threads": threads}
    for name in ("utc_time", "cpu_threads"):  # utc_start / utc_end and threads below
        provenance.pop(name, None)
    provenance.pop("device_name", None)  # platform.processor(): empty on Linux; cpu_model says it
    started, wall_start, load_before = _utc(), time.perf_counter(), os.getloadavg()
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with heap_cache(config["heap_cache"]) as cached, torch.inference_mode():
            models, timers = {}, []
            for timing in timings:
                network = (timing["method"], json.dumps(timing["options"], sort_keys=True), timing["frames"])
                if network not in models:
                    say(f"building {timing['labels'][0]} at {timing['frames']} frames")
                    bench_config = parse_config({"label": timing["labels"][0], "method": timing["method"],
                                                 "options": _non_default(timing)})
                    model_shape = {**shape, "frames": timing["frames"]}
                    models[network] = (build(bench_config, model_shape).eval(),
                                       round(gflops(bench_config, model_shape), 4))
                model, macs = models[network]
                timing["gflops"] = macs
                generator = torch.Generator().manual_seed(0)
                clip = torch.randn(timing["batch"], timing["frames"], 3, shape["size"], shape["size"],
                                   generator=generator)
                timers.append(Timer("model(clip)", globals={"model": model, "clip": clip}, num_threads=threads,
                                    timer=primary, label="runtime", description=timing["id"]))
            numbers = [1] * len(timers)
            for round_ in range(config["warmup"]):
                start = time.perf_counter()
                for index, timer in enumerate(timers):
                    seconds = timer.timeit(1).median
                    numbers[index] = max(1, min(1000, math.ceil(config["min_time"] / max(seconds, 1e-6))))
                say(f"warm-up round {round_ + 1}/{config['warmup']}: {time.perf_counter() - start:.0f} s wall")
            primary_s = [[] for _ in timers]
            other_s = [[] for _ in timers]
            orders = rotation(len(timers), config["rounds"])
            round_load = []
            for round_, order in enumerate(orders):
                start = time.perf_counter()
                for index in order:
                    before_other = other()
                    measurement = timers[index].timeit(numbers[index])
                    other_s[index].append((other() - before_other) / numbers[index])
                    primary_s[index].append(measurement.median)
                round_load.append(round(os.getloadavg()[0], 2))
                say(f"round {round_ + 1}/{config['rounds']}: {time.perf_counter() - start:.0f} s wall, "
                    f"load {round_load[-1]}")
    finally:
        torch.set_num_threads(before)
    clocks = ("cpu_s", "wall_s") if config["clock"] == "cpu" else ("wall_s", "cpu_s")
    provenance.update(utc_start=started, utc_end=_utc(), wall_s=round(time.perf_counter() - wall_start, 1),
                      load_before=[round(x, 2) for x in load_before],
                      load_after=[round(x, 2) for x in os.getloadavg()], heap_cache_on=cached,
                      timer="torch.utils.benchmark.Timer.timeit, timer=" + ("time.process_time" if config["clock"] == "cpu"
                                                                            else "time.perf_counter"))
    raw = [{**timing, "number": numbers[i], clocks[0]: primary_s[i], clocks[1]: other_s[i]}
           for i, timing in enumerate(timings)]
    return {"key": key_of(config), "config": config, "provenance": provenance, "timings": raw,
            "order": [[timings[i]["id"] for i in order] for order in orders], "round_load": round_load}


def _non_default(timing: dict) -> dict:
    from cmrlib.models import OPTIONS

    return {k: v for k, v in timing["options"].items() if OPTIONS[timing["method"]].get(k) != v}


def runtime_benchmark(out=None, rounds: int = DEFAULT_ROUNDS, warmup: int = 1, threads: int = 1,
                      clock: str | None = None, quick: bool = False, min_time: float | None = None,
                      progress=None) -> dict:
    """Measure, summarise and write the file (atomically) to ``out`` (default RUNTIME_FILE, or QUICK_FILE with
    ``quick``; relative to the project root). Returns the record."""
    from pathlib import Path

    from cmrlib import runs

    config = run_config(rounds, warmup, threads, clock, quick, min_time)
    record = measure(config, progress)
    record["summary"] = summary(record)
    path = Path(out) if out is not None else runs.project_root() / (QUICK_FILE if quick else RUNTIME_FILE)
    runs.atomic_write_json(path, {"schema": SCHEMA, **record})
    record["path"] = str(path)
    return record


# ------------------------------------------------------------------------------------------------ readers
def load(path=None) -> dict | None:
    """The committed runtime file (default RUNTIME_FILE, relative to the project root), or None if absent.
    ``current`` says whether its key is the one this code would write for its run config (a changed
    TRAINING_VERSION or plan makes it stale)."""
    from pathlib import Path

    from cmrlib import runs

    path = Path(path) if path is not None else runs.project_root() / RUNTIME_FILE
    if not path.is_absolute() and not path.exists():
        path = runs.project_root() / path
    if not path.exists():
        return None
    data = runs.read_json(path)
    config = data["config"]
    expected = run_config(config["rounds"], config["warmup"], config["threads"], config["clock"], config["quick"],
                          config["min_time"])
    data["current"] = data["key"] == key_of(config) == key_of(expected)
    root = runs.project_root()
    data["path"] = str(path.relative_to(root)) if path.resolve().is_relative_to(root) else str(path)
    return data


def series(data: dict | None, label: str, frames: int | None = None, metric: str = "latency") -> np.ndarray | None:
    """Per-round values of ``label``: batch-1 latency in ms (``metric="latency"``) or batch-8 throughput in
    videos/s (``"throughput"``), at ``frames`` (default the shape's), on the run's clock; None if not timed."""
    if data is None:
        return None
    config = data["config"]
    frames = config["shape"]["frames"] if frames is None else frames
    batch = config["latency_batch"] if metric == "latency" else config["throughput_batch"]
    clock = f"{config['clock']}_s"
    for timing in data["timings"]:
        if label in timing["labels"] and timing["frames"] == frames and timing["batch"] == batch:
            seconds = np.asarray(timing[clock], dtype=float)
            return 1000.0 * seconds if metric == "latency" else batch / seconds
    return None


def ratio(a, b, paired: bool = True) -> dict:
    """The ratio a / b of two per-round series (geometric means) and its 95 % interval
    (``cmrlib.stats.compare_ratio``); paired: per-round ratios (same rounds), else two independent series."""
    from cmrlib.stats import compare_ratio

    effect = compare_ratio(a, b, paired=paired)
    return {"ratio": round(1 + effect.diff / 100, 4), "low": round(1 + effect.ci_low / 100, 4),
            "high": round(1 + effect.ci_high / 100, 4), "n": effect.n_a}


def growth(data: dict) -> dict | None:
    """Claim 6: the per-round ratio PEM / TIM+CME at the largest sweep frame count over that at the shape's
    frame count, with Welch's interval on the log ratios (two independent series of within-round ratios)."""
    config = data["config"]
    low_t, high_t = config["shape"]["frames"], max(config["sweep_frames"])
    at = {t: _over(data, PEM, CME, t) for t in (low_t, high_t)}
    if any(v is None for v in at.values()) or low_t == high_t:
        return None
    return {"from_frames": low_t, "to_frames": high_t, **ratio(at[high_t], at[low_t], paired=False)}


def _over(data, a: str, b: str, frames=None, metric="latency"):
    x, y = series(data, a, frames, metric), series(data, b, frames, metric)
    return None if x is None or y is None else x / y


def summary(data: dict) -> dict:
    """Medians and ratios with intervals: Table 7 (latency and throughput against TSM), Table 5 (latency
    against TSM), claim 6 (PEM / TIM+CME, PEM / TSM, TIM+CME / TSM at every sweep frame count, and the growth
    from the smallest to the largest)."""
    config = data["config"]
    tsm_latency, tsm_rate = series(data, REFERENCE), series(data, REFERENCE, metric="throughput")
    table7 = []
    for label in config["models"]["table7"]:
        latency, rate = series(data, label), series(data, label, metric="throughput")
        table7.append({"label": label, "gflops": _gflops(data, label), "latency_ms": round(float(np.median(latency)), 2),
                       "latency_vs_tsm": ratio(latency, tsm_latency),
                       "throughput": round(float(np.median(rate)), 3), "throughput_vs_tsm": ratio(rate, tsm_rate)})
    table5 = [{"label": label, "latency_ms": round(float(np.median(series(data, label))), 2),
               "latency_vs_tsm": ratio(series(data, label), tsm_latency)} for label in config["models"]["table5"]]
    sweep = []
    for t in config["sweep_frames"]:
        pem, cme, tsm = (series(data, label, t) for label in (PEM, CME, REFERENCE))
        sweep.append({"frames": t, **{f"{name}_ms": round(float(np.median(v)), 2)
                                      for name, v in (("pem", pem), ("cme", cme), ("tsm", tsm))},
                      "pem_vs_cme": ratio(pem, cme), "pem_vs_tsm": ratio(pem, tsm), "cme_vs_tsm": ratio(cme, tsm)})
    return {"table7": table7, "table5": table5, "frames": sweep, "growth": growth(data)}


def _gflops(data, label):
    frames = data["config"]["shape"]["frames"]
    return next((t.get("gflops") for t in data["timings"] if label in t["labels"] and t["frames"] == frames), None)


def _interval(r: dict) -> str:
    return f"[{r['low']:.3f}, {r['high']:.3f}]"


def _missing_frame(path=None) -> pd.DataFrame:
    return pd.DataFrame({"note": [f"no runtime benchmark at {path or RUNTIME_FILE}: "
                                  "write it with python -m cmrlib bench runtime"]})


def table7_frame(data: dict | None) -> pd.DataFrame:
    """Table 7's page: per model, median latency (ms) and throughput (videos/s), their ratios to TSM with 95 %
    intervals over rounds, beside the paper's ratios (cmrlib.paper.table7, V100). A one-row note if no file."""
    from cmrlib import paper

    if data is None:
        return _missing_frame()
    p7 = paper.table7().set_index("ours")
    rows = []
    for row in summary(data)["table7"]:
        label, lat, thr = row["label"], row["latency_vs_tsm"], row["throughput_vs_tsm"]
        known = label in p7.index
        rows.append({"model": label, "GFLOPs": round(row["gflops"], 1), "latency (ms)": round(row["latency_ms"], 1),
                     "latency / TSM": lat["ratio"], "latency 95 % interval": _interval(lat),
                     "paper latency / TSM": round(p7.loc[label, "latency_ms"] / p7.loc[REFERENCE, "latency_ms"], 2)
                     if known else float("nan"),
                     "throughput (videos/s)": row["throughput"], "throughput / TSM": thr["ratio"],
                     "throughput 95 % interval": _interval(thr),
                     "paper throughput / TSM": round(p7.loc[label, "throughput"] / p7.loc[REFERENCE, "throughput"], 2)
                     if known else float("nan")})
    return pd.DataFrame(rows)


def table5_frame(data: dict | None) -> pd.DataFrame:
    """Table 5's placements: median latency, the ratio to TSM with its interval, beside the paper's (Table 5's
    latency over Table 7's TSM, both on the V100)."""
    from cmrlib import paper

    if data is None:
        return _missing_frame()
    p5 = paper.table5().set_index("ours")["latency_ms"]
    tsm = paper.table7().set_index("ours").loc[REFERENCE, "latency_ms"]
    return pd.DataFrame([{"placement": row["label"], "latency (ms)": round(row["latency_ms"], 1),
                          "latency / TSM": row["latency_vs_tsm"]["ratio"],
                          "95 % interval": _interval(row["latency_vs_tsm"]),
                          "paper latency / TSM": round(p5[row["label"]] / tsm, 2)} for row in summary(data)["table5"]])


def frames_frame(data: dict | None) -> pd.DataFrame:
    """Claim 6: batch-1 latencies of the PEM stand-in, TIM+CME and TSM per frame count, and PEM / TIM+CME with its
    interval; the last row is the growth of PEM / TIM+CME from the smallest to the largest frame count."""
    if data is None:
        return _missing_frame()
    result = summary(data)
    rows = [{"frames": str(row["frames"]), "PEM (stand-in) ms": round(row["pem_ms"], 1),
             "TIM+CME ms": round(row["cme_ms"], 1), "TSM ms": round(row["tsm_ms"], 1), "PEM / TIM+CME": row["pem_vs_cme"]["ratio"],
             "95 % interval": _interval(row["pem_vs_cme"]), "PEM / TSM": row["pem_vs_tsm"]["ratio"],
             "TIM+CME / TSM": row["cme_vs_tsm"]["ratio"]} for row in result["frames"]]
    grown = result["growth"]
    if grown:
        rows.append({"frames": f"{grown['to_frames']} over {grown['from_frames']}", "PEM / TIM+CME": grown["ratio"],
                     "95 % interval": _interval(grown)})
    return pd.DataFrame(rows)


def provenance_frame(data: dict | None) -> pd.DataFrame:
    """Where, when and how the file was measured: one row per field."""
    if data is None:
        return _missing_frame()
    config, prov = data["config"], data["provenance"]
    shape = config["shape"]
    fields = {"file": data.get("path", RUNTIME_FILE), "key": data["key"],
              "key current": data.get("current"),
              "network": f"R{shape['depth']} x{shape['width']:g}, {shape['frames']} x {shape['size']}"
                         f" (sweep: {', '.join(map(str, config['sweep_frames']))} frames)",
              "rounds": f"{config['rounds']} after {config['warmup']} warm-up", "threads": config["threads"],
              "clock": config["clock"], "batches": f"latency {config['latency_batch']}, throughput "
                                                   f"{config['throughput_batch']}",
              **{name: prov.get(name) for name in ("cpu_model", "cpu_count", "torch_version", "git_commit",
                                                  "git_dirty", "utc_start", "utc_end", "wall_s", "load_before",
                                                  "load_after", "timer")}}
    return pd.DataFrame({"field": list(fields), "value": [str(v) for v in fields.values()]})


def format_summary(record: dict) -> str:
    """The summary as text (the command's output)."""
    result = record.get("summary") or summary(record)
    config = record["config"]
    lines = [f"{config['rounds']} rounds, clock {config['clock']}, {config['threads']} thread(s); ratio [95 % interval]",
             f"{'model':<17}{'latency ms':>11}{'x TSM':>8}{'interval':>18}{'videos/s':>10}{'x TSM':>8}{'interval':>18}"]
    for row in result["table7"]:
        lat, thr = row["latency_vs_tsm"], row["throughput_vs_tsm"]
        lines.append(f"{row['label']:<17}{row['latency_ms']:>11.1f}{lat['ratio']:>8.3f}{_interval(lat):>18}"
                     f"{row['throughput']:>10.3f}{thr['ratio']:>8.3f}{_interval(thr):>18}")
    for row in result["table5"]:
        lat = row["latency_vs_tsm"]
        lines.append(f"{row['label']:<17}{row['latency_ms']:>11.1f}{lat['ratio']:>8.3f}{_interval(lat):>18}")
    for row in result["frames"]:
        r = row["pem_vs_cme"]
        lines.append(f"T={row['frames']:<3} PEM / TIM+CME {r['ratio']:.3f} {_interval(r)}  "
                     f"(PEM {row['pem_ms']:.1f} ms, TIM+CME {row['cme_ms']:.1f} ms, TSM {row['tsm_ms']:.1f} ms)")
    if result["growth"]:
        g = result["growth"]
        lines.append(f"PEM / TIM+CME at T={g['to_frames']} over T={g['from_frames']}: {g['ratio']:.3f} {_interval(g)}")
    return "\n".join(lines)


def headline(data: dict | None) -> dict:
    """Text for the page's sentences ("n/a" without a file): ratios with their intervals, as "1.23 [1.20, 1.26]"."""
    keys = ("rounds", "clock", "cpu_model", "cmr_latency", "cmr_throughput", "teinet_latency", "stm_latency",
            "pem_latency", "pem_over_cme", "pem_over_cme_most", "growth")
    if data is None:
        return dict.fromkeys(keys, "n/a")
    result, config = summary(data), data["config"]
    table7 = {row["label"]: row for row in result["table7"]}

    def text(r):
        return f"{r['ratio']:.2f} [{r['low']:.2f}, {r['high']:.2f}]"

    frames = {row["frames"]: row for row in result["frames"]}
    most = max(config["sweep_frames"])
    return {"rounds": str(config["rounds"]), "clock": "CPU" if config["clock"] == "cpu" else "wall",
            "cpu_model": str(data["provenance"].get("cpu_model")),
            "cmr_latency": text(table7["CMR"]["latency_vs_tsm"]),
            "cmr_throughput": text(table7["CMR"]["throughput_vs_tsm"]),
            "teinet_latency": text(table7["TEINet"]["latency_vs_tsm"]),
            "stm_latency": text(table7["STM"]["latency_vs_tsm"]),
            "pem_latency": text(table7[PEM]["latency_vs_tsm"]),
            "pem_over_cme": text(frames[config["shape"]["frames"]]["pem_vs_cme"]),
            "pem_over_cme_most": f"{text(frames[most]['pem_vs_cme'])} at {most} frames",
            "growth": text(result["growth"]) if result["growth"] else "n/a"}


def plot_ratios(data: dict | None):
    """Latency and throughput over TSM per model: our ratio and its 95 % interval, the paper's ratio marked.
    None without a file."""
    import matplotlib.pyplot as plt

    table = table7_frame(data)
    if data is None:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.35 * len(table) + 1.2), sharey=True)
    y = np.arange(len(table))[::-1]
    for ax, metric, interval in ((axes[0], "latency", "latency 95 % interval"),
                                 (axes[1], "throughput", "throughput 95 % interval")):
        bounds = table[interval].str.strip("[]").str.split(", ", expand=True).astype(float)
        ratio_ = table[f"{metric} / TSM"]
        ax.errorbar(ratio_, y, xerr=[ratio_ - bounds[0], bounds[1] - ratio_], fmt="o", color="tab:blue",
                    capsize=3, label="ours (95 % interval)")
        ax.scatter(table[f"paper {metric} / TSM"], y, marker="x", color="tab:red", label="paper (V100)", zorder=3)
        ax.axvline(1.0, color="grey", lw=0.8)
        ax.set(xscale="log", xlabel=f"{metric} / TSM")
    axes[0].set_yticks(y, table["model"])
    axes[1].legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig
