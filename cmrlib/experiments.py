"""The book's experiments: cached training runs and the grids behind each table, as tidy DataFrames.

A training run is identified by its fully resolved config (``cmrlib.config.resolve``) and the code that
produced it: ``cmrlib.runs.run_key(config)`` hashes both, and the run lives in
``runs/<profile>/<benchmark>/<run-id>/`` (``cmrlib.runs.default_run_dir``). ``run()`` reuses a finished run
whose ``final.json`` carries the same key, continues an unfinished one from its last checkpoint, and trains
only what is missing. ``force=True`` (or ``retrain_before``, a UNIX time) retrains. Multi-view evaluations are
cached beside the run as ``eval_<clips>x<crops>.json``, FLOPs in ``runs/<profile>/flops.json`` and speed
measurements in ``runs/<profile>/speed/``, so a clean clone with committed runs rebuilds the book without
data, checkpoints or training.

Every grid function returns one row per run (label, method, seed, frames, top-1, top-5, multi-view top-1,
FLOPs, wall time, run folder, provenance); ``summarise`` turns that into mean ± std over seeds. Accuracies are
in percent, like the paper's.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import datetime
import hashlib
import io
import json
import math
import multiprocessing
import platform
import shutil
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cmrlib import config as configlib
from cmrlib import runs

# --------------------------------------------------------------------------------------------- names
DISPLAY = {"tsn": "TSN", "tsm": "TSM", "tim": "TIM", "teinet": "TEINet", "stm": "STM", "tea": "TEA",
           "pem": "PEM (stand-in)", "cmr": "CMR"}
TABLE1_METHODS = ("tsn", "tsm", "teinet", "stm", "tea", "pem", "cmr")
SOMETHING, KINETICS, LONGRANGE = "synth-something", "synth-kinetics", "synth-longrange"


@dataclass(frozen=True)
class Plan:
    """How much of each grid a profile runs (the notebooks take these as defaults). The smoke plan is the
    smallest grid that still executes every code path: one seed, fewer rows on the secondary pages."""

    comparison_seeds: tuple      # Tables 1 and 2
    ablation_seeds: tuple        # Tables 3-6 (and the long-range test unless longrange_seeds is set)
    frames: tuple                # Table 1 frame counts
    kinetics_frames: tuple       # Table 2 frame counts
    kinetics_methods: tuple = TABLE1_METHODS
    long_methods: tuple = TABLE1_METHODS           # Table 1 methods also run at its frame counts above 8
    ratios: tuple = (1, 4, 8, 16)                  # Table 3
    longrange_labels: tuple | None = None          # None: every row of longrange_specs()
    longrange_seeds: tuple | None = None           # None: ablation_seeds
    multiview: tuple = (2, 3)    # clips x crops of the multi-view protocol ("8f×2" = 2 clips x 3 crops)
    speed_repeats: int = 5       # timed repeats per model in the speed measurements
    sweep_frames: tuple = (8, 16, 32)  # frame counts of the serial-PEM against parallel-CME timing
    speed_shape: dict = field(default_factory=dict)  # overrides of the profile's model for timing (e.g. R50 at 224)


PLANS = {
    "smoke": Plan(comparison_seeds=(0,), ablation_seeds=(0,), frames=(8,), kinetics_frames=(8,),
                  kinetics_methods=("tsn", "cmr"), ratios=(1, 8), longrange_labels=("TSN", "TIM+MEM (TEINet)", "TIM+CME"),
                  multiview=(2, 1), speed_repeats=3, sweep_frames=(8, 16)),
    # 98 runs, 119 minutes of a 2-core machine, two runs at a time (runs/logs/cpu-train*.log). Table 1 at 16
    # frames only for the two rows claim 8 compares (a 16-frame run costs twice an 8-frame one); Table 2 with TSN
    # and three temporal methods; Table 3 without r = 4 (claim 4 compares 8 with 1 and 16); synth-longrange with
    # the rows claim 2 compares, TSN and TIM. Tables 3-6 with 5 seeds: at 3 the Welch intervals were ±15-40 points.
    "cpu": Plan(comparison_seeds=(0, 1), ablation_seeds=(0, 1, 2, 3, 4), frames=(8, 16), kinetics_frames=(8,),
                long_methods=("pem", "cmr"), kinetics_methods=("tsn", "tsm", "stm", "cmr"), ratios=(1, 8, 16),
                longrange_labels=("TSN", "TIM", "TIM+MEM (TEINet)", "TEA (ME+MTA)", "TIM+CME"),
                longrange_seeds=(0, 1, 2)),
    "gpu": Plan(comparison_seeds=(0, 1), ablation_seeds=(0, 1, 2), frames=(8, 16), kinetics_frames=(8, 16),
                speed_shape={"depth": 50, "width": 1.0, "small_input": False, "size": 224}),
}


def glue(name: str, value, display: bool = False) -> None:
    """``myst_nb.glue`` for numbers in prose: numpy scalars become Python numbers first (their repr,
    ``np.float64(1.0)``, is not something ``{glue:text}`` can format)."""
    from myst_nb import glue as myst_glue

    myst_glue(name, value.item() if isinstance(value, np.generic) else value, display=display)


def root() -> Path:
    """The repository root that holds runs/ and data/ ($CMR_ROOT, else where cmrlib is installed from)."""
    return runs.project_root()


def check_profile(profile: str) -> str:
    """Fail at once, with the choices, on an unknown profile."""
    if profile not in configlib.PROFILES or profile not in PLANS:
        raise ValueError(f"unknown profile {profile!r}; choose from {sorted(PLANS)}")
    return profile


def check_methods(methods) -> list:
    """Fail at once, with the choices, on an unknown method name. Takes a list or "tsn,cmr"."""
    methods = [m for m in methods.replace(" ", "").split(",") if m] if isinstance(methods, str) else list(methods)
    known = configlib.methods()
    unknown = [m for m in methods if m not in known]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {sorted(known)}")
    return methods


def plan(profile: str) -> Plan:
    return PLANS[check_profile(profile)]


def _int_list(values, name: str, minimum: int) -> list:
    """Distinct integers >= minimum from a list, an int, or a string like "0,1,2" (what ``papermill -p``
    passes), else a ValueError naming the parameter."""
    given = values
    if isinstance(values, str):
        values = [part for part in values.replace(" ", "").split(",") if part]
    elif isinstance(values, int):
        values = [values]
    try:
        parsed = [int(value) for value in values]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a list of integers or a string like '0,1,2' (got {given!r})") from None
    if not parsed or any(value < minimum for value in parsed) or len(set(parsed)) != len(parsed):
        raise ValueError(f"{name} must be distinct integers >= {minimum} (got {given!r})")
    return parsed


def parse_seeds(seeds) -> list:
    """Seeds from a list, an int, or a string like "0,1,2" (what ``papermill -p seeds 0,1,2`` passes)."""
    return _int_list(seeds, "seeds", 0)


def seeds_for(profile: str, kind: str, seeds=None) -> list:
    """The seeds a notebook uses: ``seeds`` if given, else the profile's plan for "comparison", "ablation"
    or "longrange"."""
    if kind not in ("comparison", "ablation", "longrange"):
        raise ValueError(f"kind must be 'comparison', 'ablation' or 'longrange' (got {kind!r})")
    if seeds is not None:
        return parse_seeds(seeds)
    chosen = plan(profile)
    if kind == "longrange" and chosen.longrange_seeds is not None:
        return list(chosen.longrange_seeds)
    return list(chosen.comparison_seeds if kind == "comparison" else chosen.ablation_seeds)


def frames_for(profile: str, frames=None, benchmark: str = SOMETHING) -> list:
    """Frame counts of Tables 1/2: ``frames`` if given (list, int or "8,16"), else the profile's plan."""
    if frames is None:
        chosen = plan(profile)
        return list(chosen.kinetics_frames if benchmark == KINETICS else chosen.frames)
    return _int_list(frames, "frames", 2)


# ---------------------------------------------------------------------------------------------- specs
@dataclass(frozen=True)
class Spec:
    """One row of a table: a label and the method and options that train it."""

    label: str
    method: str
    options: tuple = ()              # sorted (name, value) pairs: config overrides and model options
    benchmark: str = SOMETHING

    @property
    def overrides(self) -> dict:
        return dict(self.options)


def spec(label: str, method: str, benchmark: str = SOMETHING, **overrides) -> Spec:
    check_methods([method])
    if benchmark not in configlib.BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}; choose from {list(configlib.BENCHMARKS)}")
    return Spec(label, method, tuple(sorted(overrides.items())), benchmark)


def table1_specs(methods=TABLE1_METHODS, frames=(8,), benchmark: str = SOMETHING) -> list:
    """Tables 1 and 2: each method at each frame count."""
    return [spec(DISPLAY[m], m, benchmark, frames=int(f)) for f in frames for m in check_methods(methods)]


def table1_plan_specs(profile: str, methods=TABLE1_METHODS, frames=None, benchmark: str = SOMETHING) -> list:
    """Table 1's (or with KINETICS, Table 2's) specs: the profile's plan when ``frames`` is None (frame counts
    above 8 only for its ``long_methods``), else every method at the given frame counts."""
    methods = check_methods(methods)
    specs = table1_specs(methods, frames_for(profile, frames, benchmark), benchmark)
    if frames is None and benchmark == SOMETHING:
        specs = [s for s in specs if s.overrides["frames"] == 8 or s.method in plan(profile).long_methods]
    return specs


def table3_specs(ratios=(1, 4, 8, 16)) -> list:
    """Table 3: CMR with CME's reduction ratio r (r1 = r2 = r)."""
    return [spec(f"r={r}", "cmr", r=int(r)) for r in ratios]


def table4_specs() -> list:
    """Table 4: the baseline design (TSN or TIM, with or without CME&SME)."""
    return [spec("TSN", "tsn"), spec("TSN+CME&SME", "cmr", tim=False), spec("TIM", "tim"), spec("TIM+CME&SME", "cmr")]


def table5_specs() -> list:
    """Table 5: CME and SME in all blocks or in the first block of each stage ("part")."""
    return [spec(f"CME{c}+SME{s}", "cmr", cme=c, sme=s) for c, s in
            (("all", "all"), ("all", "part"), ("part", "all"), ("part", "part"))]


def table6_specs() -> list:
    """Table 6: each enhancement module on the TIM baseline."""
    return [spec("baseline", "tim"), spec("+MEM", "teinet"), spec("+PEM", "pem"),
            spec("+CME", "cmr", sme="none"), spec("+SME", "cmr", cme="none"), spec("+CME&SME", "cmr")]


def longrange_specs(labels=None) -> list:
    """synth-longrange: CME's global temporal view against the adjacent-frame enhancers (MEM, ME, PEM);
    ``labels`` keeps only those rows."""
    b = LONGRANGE
    rows = [spec("TSN", "tsn", b), spec("TIM", "tim", b), spec("TIM+MEM (TEINet)", "teinet", b),
            spec("TEA (ME+MTA)", "tea", b), spec("TIM+PEM", "pem", b), spec("TIM+CME", "cmr", b, sme="none"),
            spec("CMR", "cmr", b)]
    if labels is None:
        return rows
    unknown = set(labels) - {r.label for r in rows}
    if unknown:
        raise ValueError(f"unknown long-range row(s) {sorted(unknown)}; choose from {[r.label for r in rows]}")
    return [r for r in rows if r.label in labels]


def sweep_specs(frames) -> list:
    """The serial PEM stand-in against the parallel CME (both on TIM) at each frame count (claim 6)."""
    return [spec(label, method, frames=int(f), **options) for f in frames
            for label, method, options in (("PEM (stand-in)", "pem", {}), ("TIM+CME", "cmr", {"sme": "none"}))]


def table7_specs() -> list:
    """Table 7's models, labelled as cmrlib.paper.TABLE7_ROWS maps them, plus the TIM baseline."""
    return [spec("TSM", "tsm"), spec("TEINet", "teinet"), spec("STM", "stm"), spec("PEM (stand-in)", "pem"),
            spec("TIM", "tim"), spec("TIM+CME", "cmr", sme="none"), spec("TIM+SME", "cmr", cme="none"),
            spec("CMR", "cmr")]


# ------------------------------------------------------------------------------------------------ runs
def resolve(spec_: Spec, profile: str, seed: int) -> dict:
    check_profile(profile)
    return configlib.resolve(spec_.method, profile, {**spec_.overrides, "benchmark": spec_.benchmark, "seed": int(seed)})


def _finished_before(run_dir: Path, moment: float) -> bool:
    try:
        finished = runs.read_json(run_dir / "config.json")["provenance"]["finished_utc"]
        return datetime.datetime.fromisoformat(finished).timestamp() < moment
    except (OSError, KeyError, ValueError, TypeError):
        return True


def _relative(path: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root()).as_posix()
    except ValueError:
        return str(path)


@contextlib.contextmanager
def locked(name: str):
    """An exclusive lock across processes (the book executes notebooks side by side): two notebooks that
    need the same missing run train it once; the second waits and then reuses it."""
    import fcntl

    path = root() / "_build" / "locks" / f"{name.replace('/', '_')}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def quietly():
    """Keep the trainer's and the data generator's progress lines and warnings out of the book's pages;
    they are printed after all if the call fails."""
    buffer = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            warnings.simplefilter("ignore")
            yield
    except BaseException:
        sys.stderr.write(buffer.getvalue()[-5000:])
        raise


def train_cached(config: dict, force: bool = False, retrain_before: float | None = None,
                 run_dir: Path | None = None) -> tuple[Path, bool]:
    """Train ``config`` into ``run_dir`` (default: its runs/ folder) unless a finished run with the same key
    is there. Returns (run folder, reused?). A folder without final.json (a run that was killed) continues
    from its last checkpoint."""
    from cmrlib.train import train

    run_dir = Path(run_dir or runs.default_run_dir(config))
    with locked(_relative(run_dir)):
        if not force and _cached(config, run_dir, retrain_before):
            return run_dir, True
        if (run_dir / "final.json").exists():
            shutil.rmtree(run_dir)
        with quietly():
            train(config, run_dir, resume=(run_dir / "checkpoints" / "last.pt").exists())
        return run_dir, False


def _cached(config: dict, run_dir: Path, retrain_before: float | None) -> bool:
    """A finished run of this config and code, not older than ``retrain_before``."""
    final = run_dir / "final.json"
    if not final.exists() or (retrain_before and _finished_before(run_dir, retrain_before)):
        return False
    return runs.read_json(final).get("run_key") == runs.run_key(config)


def rebuild_weights(run_dir: Path) -> Path:
    """Weights of a committed run whose checkpoint is not in the repository: train its config again (same
    seed) into _build/weights/<profile>/<run name>, once. The run folder itself is not touched. On the same
    kind of CPU the result is the same run (training is deterministic there); the caller can compare
    final.json of both."""
    from cmrlib.evaluate import load_run_config

    config = load_run_config(Path(run_dir))
    return train_cached(config, run_dir=root() / "_build" / "weights" / config["profile"] / Path(run_dir).name)[0]


def find_run(config: dict) -> tuple[Path | None, bool]:
    """A finished run of ``config`` without training: (folder, made by the current code?) or (None, False).

    Falls back to the newest finished run with the same config made by other code (its key differs only in
    the code hash), so that a page can still show, and label, results of an older commit."""
    from cmrlib.train import same_config

    run_dir = runs.default_run_dir(config)
    if (run_dir / "final.json").exists():
        return run_dir, True
    prefix = run_dir.name.rsplit("-", 1)[0]
    found = []
    for other in run_dir.parent.glob(f"{prefix}-*"):
        if other.name.rsplit("-", 1)[0] == prefix and (other / "final.json").exists() and (other / "config.json").exists():
            record = runs.read_json(other / "config.json")
            if same_config(record, config):
                found.append((record.get("provenance", {}).get("finished_utc") or "", other))
    return (max(found)[1], False) if found else (None, False)


def evaluate_cached(run_dir: Path, clips: int, crops: int) -> dict:
    """``cmrlib.evaluate.evaluate`` once per run and view protocol (eval_<clips>x<crops>.json)."""
    from cmrlib.evaluate import evaluate

    path = Path(run_dir) / f"eval_{clips}x{crops}.json"
    with locked(f"eval-{Path(run_dir).name}-{clips}x{crops}"):
        if path.exists():
            return runs.read_json(path)
        with quietly():
            return evaluate(run_dir, clips=clips, crops=crops)


def direction_accuracy(confusion, pairs) -> float:
    """Accuracy of telling a class from its time reversal: over the videos of the paired classes whose
    prediction is one of the two classes of their pair, the fraction predicted as the right one (in %).
    A model blind to frame order scores about 50 %."""
    right = wrong = 0
    for forward, backward in pairs:
        right += confusion[forward][forward] + confusion[backward][backward]
        wrong += confusion[forward][backward] + confusion[backward][forward]
    return 100.0 * right / (right + wrong) if right + wrong else float("nan")


def reversal_pairs(run_dir: Path) -> list:
    """(forward, backward) class indices of the time-reversal pairs, from the run's dataset meta.json."""
    from cmrlib.train import dataset_root

    config = {k: v for k, v in runs.read_json(Path(run_dir) / "config.json").items() if k not in ("provenance", "run_key")}
    meta = runs.read_json(dataset_root(config) / "meta.json")
    classes = meta.get("classes", [])
    pairs = []
    for pair in meta.get("reversal_pairs", meta.get("pairs", [])):
        forward, backward = pair[0], pair[1]
        if forward is None or backward is None or forward == backward:
            continue
        index = (lambda c: classes.index(c) if isinstance(c, str) else int(c))
        pairs.append((index(forward), index(backward)))
    return pairs


def direction_cached(run_dir: Path) -> float:
    """``direction_accuracy`` of a run's 1-view evaluation, cached in direction.json (so that a clone with
    committed runs needs neither the data nor the checkpoint)."""
    path = Path(run_dir) / "direction.json"
    if path.exists():
        return runs.read_json(path)["direction_acc"]
    with quietly():
        pairs = reversal_pairs(run_dir)
    value = direction_accuracy(evaluate_cached(run_dir, 1, 1)["confusion"], pairs)
    runs.atomic_write_json(path, {"direction_acc": value, "pairs": pairs})
    return value


def run(method: str, profile: str, seed: int = 0, benchmark: str = SOMETHING, label: str | None = None,
        multiview: tuple | None = None, direction: bool = False, force: bool = False,
        retrain_before: float | None = None, **overrides) -> dict:
    """Train (or reuse) one run and return its row: accuracies in %, FLOPs, wall time and provenance.

    ``multiview=(clips, crops)`` also evaluates that protocol; ``direction=True`` adds the accuracy within
    the time-reversal pairs (synth-something). Unknown methods, profiles or options raise ValueError at once.
    """
    spec_ = spec(label or DISPLAY.get(method, method), method, benchmark, **overrides)
    return run_spec(spec_, profile, seed, multiview=multiview, direction=direction, force=force,
                    retrain_before=retrain_before)


def run_spec(spec_: Spec, profile: str, seed: int, multiview: tuple | None = None, direction: bool = False,
             force: bool = False, retrain_before: float | None = None, cached_only: bool = False) -> dict | None:
    """The row of one run (see ``run``). ``cached_only=True`` never trains or evaluates: it returns None when
    the run does not exist, and leaves out evaluations that were not cached."""
    config = resolve(spec_, profile, seed)
    if cached_only:
        run_dir, current = find_run(config)
        if run_dir is None:
            return None
        reused = True
    else:
        (run_dir, reused), current = train_cached(config, force=force, retrain_before=retrain_before), True
    final = runs.read_json(run_dir / "final.json")
    prov = runs.read_json(run_dir / "config.json").get("provenance", {})
    row = {
        "label": spec_.label, "method": spec_.method, "benchmark": spec_.benchmark, "profile": profile,
        "seed": int(seed), "frames": config["frames"], "options": _options_text(config),
        "top1": 100.0 * final["val_top1"], "top5": 100.0 * final["val_top5"],
        "params_m": final.get("params", float("nan")) / 1e6,
        "wall_s": final.get("wall_time_s", prov.get("wall_time_s")), "epochs": final.get("epochs"),
        "reused": reused, "code_current": current, "run_dir": _relative(run_dir), "run_key": final.get("run_key"),
        "commit": (prov.get("git_commit") or "uncommitted")[:10] + ("+dirty" if prov.get("git_dirty") else ""),
        "hardware": f"{prov.get('device', '?')} ({prov.get('device_name', '?')}, {prov.get('cpu_threads', '?')} threads)",
        "finished_utc": prov.get("finished_utc"),
    }
    if multiview:
        clips, crops = multiview
        cached = (run_dir / f"eval_{clips}x{crops}.json").exists()
        result = evaluate_cached(run_dir, clips, crops) if cached or not cached_only else None
        row["views"] = f"{clips}x{crops}"
        row["top1_multiview"] = 100.0 * result["top1"] if result else float("nan")
        row["top5_multiview"] = 100.0 * result["top5"] if result else float("nan")
    if direction:
        cached = (run_dir / "direction.json").exists()
        row["direction_acc"] = direction_cached(run_dir) if cached or not cached_only else float("nan")
    return row


def _options_text(config: dict) -> str:
    defaults = configlib.default_model_options(config["method"])
    changed = {k: v for k, v in config["model_options"].items() if defaults.get(k) != v}
    return ", ".join(f"{k}={v}" for k, v in sorted(changed.items()))


def grid(specs, profile: str, seeds, multiview: tuple | None = None, direction: bool = False,
         flops: bool = True, force: bool = False, retrain_before: float | None = None,
         cached_only: bool = False) -> pd.DataFrame:
    """One row per (spec, seed), in the order of ``specs``; trains what is not cached (unless ``cached_only``,
    which returns only the runs that exist)."""
    check_profile(profile)
    seeds = parse_seeds(seeds)
    rows = []
    for spec_ in specs:
        for seed in seeds:
            row = run_spec(spec_, profile, seed, multiview=multiview, direction=direction, force=force,
                           retrain_before=retrain_before, cached_only=cached_only)
            if row is not None:
                rows.append({**row, "_spec": spec_})
    frame = pd.DataFrame(rows)
    if len(frame):
        if flops:
            counts = {s: model_cost(s, profile)["gflops"] for s in specs}
            frame["gflops"] = frame["_spec"].map(counts)
        frame = frame.drop(columns="_spec")
    return frame


def learning_curves(frame: pd.DataFrame) -> pd.DataFrame:
    """Validation top-1 (%) after each epoch of every run in a grid frame (its ``metrics.jsonl``): one row per
    (label, seed, epoch). Shows whether a seed learned late, early or never."""
    rows = [{"label": row.label, "seed": row.seed, "epoch": record["epoch"], "val_top1": 100.0 * record["val_top1"]}
            for row in frame.itertuples()
            for record in runs.read_jsonl(root() / row.run_dir / "metrics.jsonl") if "val_top1" in record]
    return pd.DataFrame(rows, columns=["label", "seed", "epoch", "val_top1"])


def elsewhere(specs, profile: str, kind: str = "ablation", **options) -> pd.DataFrame:
    """The same grid at the other profiles (not smoke), from runs that already exist there: a page shows a
    profile's results only when its runs exist."""
    frames = [grid(specs, other, seeds_for(other, kind), cached_only=True, **options)
              for other in available_profiles() if other not in (profile, "smoke")]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# --------------------------------------------------------------------------------------------- summaries
def mean_std(values) -> str:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.fmean(values):.1f} ± {statistics.stdev(values):.1f}"


def summarise(frame: pd.DataFrame, by=("label",), metrics=("top1",)) -> pd.DataFrame:
    """Mean, std and "mean ± std" text of each metric over seeds, one row per group (in first-seen order)."""
    by = list(by)
    groups = frame.groupby(by, sort=False)
    out = groups.size().rename("seeds").reset_index()
    for metric in metrics:
        if metric not in frame:
            continue
        stats = groups[metric].agg(["mean", "std"]).reset_index(drop=True)
        out[f"{metric}_mean"] = stats["mean"].to_numpy()
        out[f"{metric}_std"] = stats["std"].to_numpy()
        out[metric] = [mean_std(values) for _, values in groups[metric]]
    for extra in ("gflops", "params_m"):
        if extra in frame:
            out[extra] = groups[extra].first().to_numpy()
    return out


def provenance(frames) -> dict:
    """Where the numbers of a page come from: profiles, seeds, commits, hardware, runs and total wall time."""
    frames = [frames] if isinstance(frames, pd.DataFrame) else list(frames)
    frame = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else pd.DataFrame()
    if frame.empty:
        return {"runs": 0}
    unique = frame.drop_duplicates("run_dir")
    return {
        "profile": ", ".join(sorted(frame["profile"].unique())),
        "seeds": ", ".join(str(s) for s in sorted(frame["seed"].unique())),
        "runs": int(len(unique)),
        "reused": int(unique["reused"].sum()),
        "commit": ", ".join(sorted(unique["commit"].unique())),
        "hardware": "; ".join(sorted(unique["hardware"].unique())),
        "train_wall_time": _duration(float(unique["wall_s"].fillna(0).sum())),
        "finished": f"{min(unique['finished_utc'].dropna(), default='?')} .. {max(unique['finished_utc'].dropna(), default='?')}",
        "run_folders": ", ".join(sorted({str(Path(p).parent) for p in unique["run_dir"]})),
    }


def provenance_frame(frames) -> pd.DataFrame:
    return pd.DataFrame(list(provenance(frames).items()), columns=["", "value"]).set_index("")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {secs} s"


def available_profiles() -> list:
    """Profiles that have training runs under runs/<profile>/."""
    return [p for p in PLANS if any((root() / "runs" / p).glob("*/*/final.json"))]


# ---------------------------------------------------------------------------------------- FLOPs / speed
def _memo_key(payload) -> str:
    """A short key of what is measured (not of the code: the cached record stores the code hash it was
    measured with and is replaced, not kept beside, when the code changes)."""
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

    path = root() / "runs" / check_profile(profile) / "flops.json"
    key = _memo_key({"spec": [spec_.method, spec_.options], "shape": shape or {}, "classes": num_classes,
                     "profile": configlib.PROFILES[profile]})
    table = runs.read_json(path) if path.exists() else {}
    code = runs.code_hash()
    if table.get(key, {}).get("code_hash") == code:
        return table[key]
    with locked(f"flops-{profile}"):
        with torch.device("meta"):  # counting needs shapes only: no memory, no compute
            model, config = _model_for(spec_, profile, shape, num_classes)
        macs, params = count(model, (1, config["frames"], 3, config["size"], config["size"]))
        table = runs.read_json(path) if path.exists() else {}  # re-read under the lock
        table[key] = {"label": spec_.label, "method": spec_.method, "options": dict(spec_.options),
                      "frames": config["frames"], "size": config["size"], "depth": config["depth"],
                      "width": config["width"], "gflops": macs / 1e9, "params_m": params / 1e6, "code_hash": code}
        runs.atomic_write_json(path, table)
    return table[key]


def zoo_page(profile: str, shape: dict | None = None) -> pd.DataFrame:
    """Every row of ``cmrlib.flops.ROWS`` (methods and CMR variants) counted through the FLOPs cache, with the
    numbers the papers print (``cmrlib.flops.PAPER``) when ``shape`` is the paper's R50, 8 × 224 setting."""
    from cmrlib import flops

    paper_setting = shape == R50_SHAPE
    rows = []
    for label, method, options in flops.ROWS:
        cost = model_cost(spec(label, method, **options), profile, shape)
        g8, _, paper_params, source = flops.PAPER.get(label, (None, None, None, ""))
        rows.append({"model": label, "GFLOPs": cost["gflops"], "paper GFLOPs": g8 if paper_setting else None,
                     "params (M)": cost["params_m"], "paper params (M)": paper_params if paper_setting else None,
                     "paper source": source if paper_setting else ""})
    return pd.DataFrame(rows)


def cost_table(specs, profile: str, shape: dict | None = None, num_classes: int = 174) -> pd.DataFrame:
    return pd.DataFrame([{**model_cost(s, profile, shape, num_classes), "label": s.label} for s in specs])


def speed(specs, profile: str, device: str = "cpu", shape: dict | None = None, repeats: int | None = None,
          force: bool = False, cached_only: bool = False, retrain_before: float | None = None,
          **options) -> pd.DataFrame:
    """Latency and throughput of each spec, one row per timed repeat, cached in
    runs/<profile>/speed/<device>-<key>.json. The key covers the specs and the shape, not the machine (the
    record says on which hardware it was measured); a record made by other code is measured again, unless
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
    path = root() / "runs" / profile / "speed" / f"{kind}-{key}.json"
    record = runs.read_json(path) if path.exists() else None
    current = record is not None and record.get("code_hash") == runs.code_hash()
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
                  "code_hash": runs.code_hash()}
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


def speed_elsewhere(specs, profile: str) -> pd.DataFrame:
    """Timings of ``specs`` stored by the other profiles' builds (never measured from here)."""
    frames = [speed(specs, other, device="cuda" if other == "gpu" else "cpu", cached_only=True)
              for other in PLANS if other not in (profile, "smoke")]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def page_grids(profile: str) -> dict:
    """The training grids of the results pages: {name: (specs, seeds, grid options)}. ``claims_inputs``
    reads exactly these, and ``train_all`` trains their union."""
    comparison, ablation, chosen = seeds_for(profile, "comparison"), seeds_for(profile, "ablation"), plan(profile)
    return {
        "table1": (table1_plan_specs(profile), comparison, {"multiview": chosen.multiview, "direction": True}),
        "table2": (table1_plan_specs(profile, chosen.kinetics_methods, benchmark=KINETICS), comparison, {}),
        "table3": (table3_specs(chosen.ratios), ablation, {}),
        "table4": (table4_specs(), ablation, {}),
        "table5": (table5_specs(), ablation, {}),
        "table6": (table6_specs(), ablation, {}),
        "longrange": (longrange_specs(chosen.longrange_labels), seeds_for(profile, "longrange"), {}),
    }


def _train_one(config: dict, retrain_before: float | None) -> tuple[str, bool, float]:
    tic = time.perf_counter()
    run_dir, reused = train_cached(config, retrain_before=retrain_before)
    return _relative(run_dir), reused, time.perf_counter() - tic


def train_all(profile: str, jobs: int = 1, retrain_before: float | None = None, log=print) -> int:
    """Train every run the results pages need that is not cached, ``jobs`` runs side by side (separate
    processes; the cpu profile pins each run to one thread). Returns how many were trained."""
    from cmrlib.train import dataset_root

    configs = {}
    for specs, seeds, _ in page_grids(profile).values():
        for spec_ in specs:
            for seed in parse_seeds(seeds):
                config = resolve(spec_, profile, seed)
                configs.setdefault(runs.default_run_dir(config), config)
    missing = [config for run_dir, config in configs.items() if not _cached(config, run_dir, retrain_before)]
    for benchmark in sorted({c["benchmark"] for c in missing}):  # generate each dataset once, here
        with quietly():
            dataset_root(next(c for c in missing if c["benchmark"] == benchmark))
    # longest first (more frames, then CMR-like methods), so that the last runs finish together
    order = sorted(missing, key=lambda c: (-c["frames"], c["method"] != "cmr"))
    trained = 0
    context = multiprocessing.get_context("spawn")  # no fork after torch has started its threads
    with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=context) as pool:
        futures = [pool.submit(_train_one, config, retrain_before) for config in order]
        for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
            run_dir, reused, seconds = future.result()
            trained += not reused
            log(f"  [{done}/{len(futures)}] {'reused' if reused else 'trained'} {run_dir} in {seconds:.0f} s")
    return trained


def claims_inputs(profile: str, retrain_before: float | None = None) -> dict:
    """Everything cmrlib.claims.assess needs, from the same (cached) grids and timings as the table pages."""
    chosen, device = plan(profile), speed_device(profile)
    options = {"retrain_before": retrain_before}
    results = {name: grid(specs, profile, seeds, **extra, **options)
               for name, (specs, seeds, extra) in page_grids(profile).items()}
    return {
        **results,
        "table5_speed": speed(table5_specs(), profile, device=device, **options),
        "table7_speed": speed(table7_specs(), profile, device=device, **options),
        "sweep_speed": speed(sweep_specs(chosen.sweep_frames), profile, device=device, **options),
        "figure5": figure5_scores(profile, seeds_for(profile, "ablation")),
    }


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


# ------------------------------------------------------------------------------------ the tables' pages
def _beside_paper(ours: pd.DataFrame, paper_frame: pd.DataFrame, keys: list, columns: dict) -> pd.DataFrame:
    """Merge the paper's columns (renamed by ``columns``) onto our summary; paper rows match on ``ours``→label."""
    right = paper_frame.rename(columns={"ours": "label"})
    right = right[right["label"].notna()][[*keys, *columns]].drop_duplicates(keys).rename(columns=columns)
    return ours.merge(right, on=keys, how="left")


def _page(frame: pd.DataFrame, columns: dict) -> pd.DataFrame:
    """Keep and rename the displayed columns, in order (missing ones are skipped); numbers rounded for
    reading (FLOPs to 3 decimals, everything else to 2)."""
    present = {k: v for k, v in columns.items() if k in frame}
    page = frame[list(present)].rename(columns=present).reset_index(drop=True)
    for column in page.select_dtypes("number").columns:
        page[column] = page[column].round(3 if "FLOPs" in column else 2)
    return page


def comparison_page(runs: pd.DataFrame, benchmark: str = SOMETHING) -> pd.DataFrame:
    """Tables 1 and 2: ours (mean ± std over seeds) beside the paper, per method and frame count."""
    from cmrlib import paper

    metrics = ("top1", "top5", "top1_multiview", "direction_acc")
    ours = summarise(runs, by=("profile", "label", "frames"), metrics=metrics)
    if benchmark == KINETICS:
        table = _beside_paper(ours, paper.table2(), ["label", "frames"],
                              {"gflops": "paper GFLOPs", "top1": "paper top-1 (30 views)", "top5": "paper top-5"})
        return _page(table.rename(columns={"top1": "ours_top1", "top5": "ours_top5"}), {
            "profile": "profile", "label": "method", "frames": "frames", "seeds": "seeds", "gflops": "GFLOPs",
            "paper GFLOPs": "paper GFLOPs", "ours_top1": "top-1 (1 view)", "paper top-1 (30 views)": "paper top-1 (30 views)",
            "ours_top5": "top-5", "paper top-5": "paper top-5"})
    p1 = paper.table1()
    single = _beside_paper(ours, p1[p1["views"] == "1"], ["label", "frames"],
                           {"gflops": "paper GFLOPs", "val1": "paper top-1 (1 view)"})
    table = _beside_paper(single, p1[p1["views"] == "2x3"], ["label", "frames"], {"val1": "paper top-1 (2×3)"})
    views = runs["views"].iloc[0].replace("x", "×") if "views" in runs and len(runs) else "multi-view"
    return _page(table, {
        "profile": "profile", "label": "method", "frames": "frames", "seeds": "seeds", "gflops": "GFLOPs",
        "paper GFLOPs": "paper GFLOPs", "top1": "top-1 (1 view)", "paper top-1 (1 view)": "paper top-1 (1 view)",
        "top1_multiview": f"top-1 ({views})", "paper top-1 (2×3)": "paper top-1 (2×3)",
        "direction_acc": "direction acc. in reversal pairs"})


def table3_page(runs: pd.DataFrame, profile: str, paper_scale: bool = True) -> pd.DataFrame:
    """Table 3: top-1 per r, with FLOPs of the paper's and the released CME at the profile's backbone and
    (``paper_scale``) at ResNet-50, 8 × 224, 174 classes."""
    from cmrlib import paper

    ours = summarise(runs, by=("profile", "label"), metrics=("top1",))
    ours["r"] = ours["label"].str.removeprefix("r=").astype(int)
    shapes = {"profile": None, "R50 8×224": R50_SHAPE} if paper_scale else {"profile": None}
    for where, shape in shapes.items():
        for variant in ("paper", "released"):
            ours[f"GFLOPs {variant} CME ({where})"] = [
                model_cost(spec(f"r={r}", "cmr", r=int(r), variant=variant), profile, shape)["gflops"] for r in ours["r"]]
    p3 = paper.table3().rename(columns={"gflops": "paper GFLOPs", "top1": "paper top-1"})
    table = ours.merge(p3, on="r", how="left")
    columns = {"profile": "profile", "r": "r", "seeds": "seeds", "top1": "top-1", "paper top-1": "paper top-1"}
    columns.update({c: c for c in table if c.startswith("GFLOPs")})
    columns["paper GFLOPs"] = "paper GFLOPs"
    return _page(table, columns)


R50_SHAPE = {"depth": 50, "width": 1.0, "small_input": False, "size": 224, "frames": 8}


def ablation_page(runs: pd.DataFrame, paper_frame: pd.DataFrame, speed_frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """Tables 4-6 (and the long-range test, ``paper_frame=None``): top-1/top-5 mean ± std beside the paper."""
    ours = summarise(runs, by=("profile", "label"), metrics=("top1", "top5"))
    columns = {"profile": "profile", "label": "model", "seeds": "seeds", "gflops": "GFLOPs", "top1": "top-1"}
    if paper_frame is not None:
        paper_columns = {c: f"paper {c.replace('top', 'top-').replace('latency_ms', 'latency (ms)')}"
                         for c in ("top1", "top5", "latency_ms") if c in paper_frame}
        ours = _beside_paper(ours.rename(columns={"top1": "ours_top1", "top5": "ours_top5"}), paper_frame, ["label"],
                             paper_columns).rename(columns={"ours_top1": "top1", "ours_top5": "top5"})
        columns = {**columns, "paper top-1": "paper top-1", "top5": "top-5", "paper top-5": "paper top-5"}
    else:
        columns["top5"] = "top-5"
    if speed_frame is not None and len(speed_frame):
        latency = speed_summary(speed_frame).set_index("label")["latency_ms"]
        ours["latency"] = ours["label"].map(latency)
        columns.update({"latency": f"latency (ms, {speed_frame['device'].iloc[0]})", "paper latency (ms)": "paper latency (ms, V100)"})
    return _page(ours, columns)


def runtime_page(speed_frame: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Table 7: median latency and throughput per model (with the ratio to TSM) and top-1, beside the paper."""
    from cmrlib import paper

    if speed_frame.empty:
        return speed_frame
    table = speed_summary(speed_frame)
    table["device"] = speed_frame["hardware"].iloc[0]
    table["profile"] = speed_frame["profile"].iloc[0]
    if len(runs):
        accuracy = summarise(runs, by=("label",), metrics=("top1",)).set_index("label")["top1"]
        table["top1"] = table["label"].map(accuracy)
    p7 = paper.table7().rename(columns={"latency_ms": "paper latency (ms)", "throughput": "paper throughput",
                                        "top1": "paper top-1"})
    table = _beside_paper(table, p7.drop(columns="paper_model"), ["label"],
                          {"paper latency (ms)": "paper latency (ms)", "paper throughput": "paper throughput",
                           "paper top-1": "paper top-1"})
    return _page(table, {"profile": "profile", "device": "device", "label": "model", "latency_ms": "latency (ms)",
                         "latency_vs_tsm": "latency / TSM", "paper latency (ms)": "paper latency (ms)",
                         "throughput": "throughput (videos/s)", "throughput_vs_tsm": "throughput / TSM",
                         "paper throughput": "paper throughput", "top1": "top-1", "paper top-1": "paper top-1"})


def stored_benchmark_page(path: str = "runs/benchmarks/2026-11-21-cpu/r50_final.json") -> pd.DataFrame:
    """A committed ``python -m cmrlib bench model --json`` output (R50, 8 x 224 by default) beside the paper's
    Table 7 ratios to TSM: latency and throughput medians and the medians of the per-round ratios."""
    from cmrlib import paper

    full = root() / path
    if not full.exists():
        raise ValueError(f"no stored benchmark at {path!r} (write one with python -m cmrlib bench model --json)")
    table = pd.DataFrame(json.loads(full.read_text()))
    p7 = paper.table7().set_index("ours")
    table["paper latency / TSM"] = table["label"].map(p7["latency_ms"] / p7.loc["TSM", "latency_ms"])
    table["paper throughput / TSM"] = table["label"].map(p7["throughput"] / p7.loc["TSM", "throughput"])
    table["shape"] = [f"R{r.depth} x{r.width:g}, {r.frames}x{r.size}" for r in table.itertuples()]
    return _page(table, {"label": "model", "shape": "network", "gflops": "GFLOPs", "hardware": "device",
                         "latency_ms_cpu": "latency (CPU ms)", "latency_vs_tsm": "latency / TSM",
                         "paper latency / TSM": "paper latency / TSM", "throughput_vs_tsm": "throughput / TSM",
                         "paper throughput / TSM": "paper throughput / TSM"})


# ----------------------------------------------------------------------------------------------- Figure 5
def figure5_scores(profile: str, seeds, clips: int = 8, force: bool = False) -> pd.DataFrame:
    """Claims 10-11 measured on the trained CMR runs (Table 6's "+CME&SME", one per seed): the mean over
    ``clips`` synth-something validation-style clips of ``cmrlib.visualize`` Figure 5 scores, cached per run
    in figure5.json (so that committed runs need no checkpoint)."""
    import torch

    from cmrlib import visualize
    from cmrlib.evaluate import load_run_config
    from cmrlib.train import build_model, load_checkpoint

    rows = []
    for seed in parse_seeds(seeds):
        row = run_spec(spec("CMR", "cmr"), profile, seed)
        run_dir = root() / row["run_dir"]
        path = run_dir / "figure5.json"
        if path.exists() and not force:
            scores = runs.read_json(path)
        else:
            config = load_run_config(run_dir)
            state = load_checkpoint(run_dir / "checkpoints" / "last.pt")["model"]
            model = build_model(config, num_classes=state["fc.weight"].shape[0])
            model.load_state_dict(state)
            num_classes = state["fc.weight"].shape[0]
            clip_list = visualize.figure5_clips(num_classes, config["frames"], config["size"], count=clips,
                                                profile=profile)
            with torch.no_grad():
                table = visualize.figure5_table(model, clip_list)
            scores = {"clips": clips, **table.drop(columns="clip").mean().to_dict()}
            runs.atomic_write_json(path, scores)
        rows.append({"label": "CMR", "seed": seed, "profile": profile, **scores})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------- reproducibility
def all_runs(profile: str) -> pd.DataFrame:
    """Every finished training run under runs/<profile>/ (current or not), one row each."""
    rows = []
    for final_path in sorted((root() / "runs" / check_profile(profile)).glob("*/*/final.json")):
        record = runs.read_json(final_path.parent / "config.json")
        final = runs.read_json(final_path)
        prov = record.get("provenance", {})
        rows.append({"run": final_path.parent.name, "benchmark": record["benchmark"], "method": record["method"],
                     "frames": record["frames"], "seed": record["seed"],
                     "current": final.get("run_key") == runs.run_key({k: v for k, v in record.items()
                                                                      if k not in ("provenance", "run_key")}),
                     "wall_s": final.get("wall_time_s", prov.get("wall_time_s", 0.0)),
                     "device": prov.get("device_name"), "commit": (prov.get("git_commit") or "uncommitted")[:10],
                     "top1": 100.0 * final["val_top1"]})
    return pd.DataFrame(rows)


def stale_runs(profile: str) -> list:
    """Run folders under runs/<profile>/ made by other code than the current one (their key no longer
    matches their config): no page uses them."""
    stale = []
    for run_dir in sorted((root() / "runs" / check_profile(profile)).glob("*/*/")):
        if not (run_dir / "config.json").exists():
            continue
        record = runs.read_json(run_dir / "config.json")
        config = {k: v for k, v in record.items() if k not in ("provenance", "run_key")}
        if runs.default_run_dir(config).name != run_dir.name:
            stale.append(run_dir)
    return stale


def recipe_page(profile: str) -> pd.DataFrame:
    """The paper's recipe (cmrlib.config.RECIPE) against what the profile trains with."""
    resolved = configlib.resolve("cmr", check_profile(profile), validate=False)
    fields = ["depth", "width", "small_input", "size", "frames", "epochs", "batch_size", "lr", "weight_decay",
              "momentum", "nesterov", "clip_grad_norm", "schedule", "lr_steps", "warmup_epochs", "dropout", "pretrained", "threads"]
    return pd.DataFrame([{"field": f, "paper recipe (CMR code)": str(configlib.RECIPE[f]),
                          f"profile {profile}": str(resolved[f]),
                          "differs": configlib.RECIPE[f] != resolved[f]} for f in fields])


def dataset_page(profile: str) -> pd.DataFrame:
    """Sizes of the synthetic benchmarks a profile generates (cmrlib.data.synth.SYNTH_PROFILES)."""
    from cmrlib.data import synth

    sizes = synth.SYNTH_PROFILES[check_profile(profile)]
    return pd.DataFrame([{"benchmark": b, **{k: (f"{v[0]}-{v[1]}" if isinstance(v, tuple) else v) for k, v in sizes.items()}}
                         for b in configlib.BENCHMARKS])
