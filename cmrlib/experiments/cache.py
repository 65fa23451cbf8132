"""The run cache: train a config once, reuse the finished run, and read runs back as table rows.

A run lives in ``runs/<profile>/<benchmark>/<run-id>/`` (``cmrlib.runs.default_run_dir``); ``run()`` reuses a
finished run whose ``final.json`` carries the config's key (``cmrlib.runs.run_key``), continues an unfinished
one from its last checkpoint and trains only what is missing. ``force=True`` (or ``retrain_before``, a UNIX
time) retrains. Multi-view evaluations are cached beside the run as ``eval_<clips>x<crops>.json`` and the
direction accuracy as ``direction.json``, so a clean clone with committed runs rebuilds the book without data,
checkpoints or training.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import datetime
import io
import multiprocessing
import shutil
import signal
import sys
import threading
import time
import warnings
from pathlib import Path

import pandas as pd

from cmrlib import config as configlib
from cmrlib import runs, stats
from cmrlib.evaluate import direction_accuracy, reversal_pairs
from cmrlib.experiments.cost import model_cost
from cmrlib.experiments.plan import (DISPLAY, PLANS, SOMETHING, Spec, check_profile, page_grids, parse_seeds,
                                     resolve, seeds_for, spec)


def root() -> Path:
    """The repository root that holds runs/ and data/ ($CMR_ROOT, else where cmrlib is installed from)."""
    return runs.project_root()


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
    from its last checkpoint (or the previous one when the last is damaged; from scratch when none loads)."""
    from cmrlib.checkpoint import CheckpointError
    from cmrlib.train import train

    run_dir = Path(run_dir or runs.default_run_dir(config))
    with runs.locked(_relative(run_dir)):
        if not force and _cached(config, run_dir, retrain_before):
            return run_dir, True
        if (run_dir / "final.json").exists():
            shutil.rmtree(run_dir)
        with quietly():
            try:  # continue a killed run (from previous.pt if last.pt is damaged), else start it
                train(config, run_dir, resume=True)
            except CheckpointError as error:  # no checkpoint loads: its epochs are lost anyway
                warnings.warn(f"{run_dir}: {error}; training it again from the start")
                train(config, run_dir, restart=True)
        return run_dir, False


def _cached(config: dict, run_dir: Path, retrain_before: float | None) -> bool:
    """A finished run of this config and code, not older than ``retrain_before``. A run whose recorded data
    digest differs from the generated dataset on this machine is refused (ValueError): it saw other clips."""
    final = run_dir / "final.json"
    if not final.exists() or (retrain_before and _finished_before(run_dir, retrain_before)):
        return False
    if runs.read_json(final).get("run_key") != runs.run_key(config):
        return False
    check_data(run_dir)
    return True


def check_data(run_dir: Path) -> None:
    """Refuse a run trained on other clips than the generated dataset here (when both are known)."""
    from cmrlib.loaders import default_data_root

    record = runs.read_json(run_dir / "config.json")
    recorded = record.get("data_digest")
    if recorded is None or record.get("data") is not None:
        return
    root = default_data_root(record)
    here = runs.data_digest(root)
    if here is not None and here != recorded:
        raise ValueError(f"{_relative(run_dir)} was trained on other clips (data digest {recorded[:12]}) than "
                         f"{root} holds ({here[:12]}); regenerate the data or retrain the run")


def rebuild_weights(run_dir: Path) -> Path:
    """Weights of a committed run whose checkpoint is not in the repository: train its config again (same
    seed) into _build/weights/<profile>/<run name>, once. The run folder itself is not touched. On the same
    kind of CPU the result is the same run (training is deterministic there); the caller can compare
    final.json of both."""
    from cmrlib.runs import load_run_config

    config = load_run_config(Path(run_dir))
    return train_cached(config, run_dir=root() / "_build" / "weights" / config["profile"] / Path(run_dir).name)[0]


def find_run(config: dict) -> tuple[Path | None, bool]:
    """A finished run of ``config`` without training: (folder, made by the current code?) or (None, False).

    Falls back to the newest finished run with the same config made by other code (its key differs only in
    the versions), so that a page can still show, and label, results of an older commit."""
    from cmrlib.checkpoint import same_config

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
    """``cmrlib.evaluate.evaluate`` once per run and view protocol (eval_<clips>x<crops>.json). A committed run
    whose checkpoint is not in the clone is evaluated on its re-made weights (``rebuild_weights``)."""
    from cmrlib.evaluate import evaluate

    run_dir = Path(run_dir)
    path = run_dir / f"eval_{clips}x{crops}.json"
    with runs.locked(f"eval-{run_dir.name}-{clips}x{crops}"):
        if path.exists():
            return runs.read_json(path)
        if (run_dir / "checkpoints" / "last.pt").exists():
            with quietly():
                return evaluate(run_dir, clips=clips, crops=crops)
        weights = rebuild_weights(run_dir)
        with quietly():
            result = {**evaluate(weights, clips=clips, crops=crops, save=False), "weights": _relative(weights)}
        runs.atomic_write_json(path, result)
        return result


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
    row["learned"] = _learned(run_dir, config)
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


def _learned(run_dir: Path, config: dict) -> bool:
    """The declared run-health rule (``cmrlib.stats.learned``) on the run's last training loss; True where the
    number of classes is unknown (a dataset of the user's without an evaluation file)."""
    from cmrlib.data.synth import BENCHMARKS

    history = runs.read_jsonl(run_dir / "metrics.jsonl")
    if config.get("data") is None and config["benchmark"] in BENCHMARKS:
        classes = len(BENCHMARKS[config["benchmark"]].classes)
    elif (run_dir / "eval_1x1.json").exists():
        classes = len(runs.read_json(run_dir / "eval_1x1.json")["classes"])
    else:
        return True
    return stats.learned(history[-1]["loss"], classes) if history else False


def _options_text(config: dict) -> str:
    defaults = configlib.default_model_options(config["method"])
    changed = {k: v for k, v in config["model_options"].items() if defaults.get(k) != v}
    return ", ".join(f"{k}={v}" for k, v in sorted(changed.items()))


def grid(specs, profile: str, seeds, multiview: tuple | None = None, direction: bool = False,
         flops: bool = True, force: bool = False, retrain_before: float | None = None,
         cached_only: bool = False, extra_seeds: dict | None = None) -> pd.DataFrame:
    """One row per (spec, seed), in the order of ``specs``; trains what is not cached (unless ``cached_only``,
    which returns only the runs that exist). ``extra_seeds``: {label: seeds} some rows also run (look 2 of the
    sequential seed rule, ``look_two_seeds``)."""
    check_profile(profile)
    seeds = parse_seeds(seeds)
    rows = []
    for spec_ in specs:
        for seed in _spec_seeds(spec_, seeds, extra_seeds):
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


def available_profiles() -> list:
    """Profiles that have training runs under runs/<profile>/."""
    return [p for p in PLANS if any((root() / "runs" / p).glob("*/*/final.json"))]


def _train_one(config: dict, retrain_before: float | None) -> tuple[str, bool, float]:
    tic = time.perf_counter()
    run_dir, reused = train_cached(config, retrain_before=retrain_before)
    return _relative(run_dir), reused, time.perf_counter() - tic


def _spec_seeds(spec_: Spec, seeds: list, extra_seeds: dict | None) -> list:
    """A row's seeds: the grid's, then its look-2 seeds."""
    return seeds + [s for s in (extra_seeds or {}).get(spec_.label, []) if s not in seeds]


def planned_configs(profile: str, grids=None) -> dict:
    """{run folder: config} of every run the results pages need (or only those of ``grids``)."""
    chosen = page_grids(profile)
    unknown = set(grids or ()) - set(chosen)
    if unknown:
        raise ValueError(f"unknown grid(s) {sorted(unknown)}; choose from {sorted(chosen)}")
    configs = {}
    for name, (specs, seeds, options) in chosen.items():
        if grids and name not in grids:
            continue
        for spec_ in specs:
            for seed in _spec_seeds(spec_, parse_seeds(seeds), options.get("extra_seeds")):
                config = resolve(spec_, profile, seed)
                configs.setdefault(runs.default_run_dir(config), config)
    return configs


def missing_runs(profile: str, grids=None, retrain_before: float | None = None) -> list:
    """The planned runs (of ``grids``) that are not finished by the current code: their configs."""
    return [config for run_dir, config in planned_configs(profile, grids).items()
            if not _cached(config, run_dir, retrain_before)]


def evaluate_planned(profile: str, grids=None, methods=None, log=print, on_finished=None) -> int:
    """The multi-view and direction evaluations the pages ask of every finished planned run (of ``grids``, of
    ``methods``), cached in the run folders; returns how many were computed now."""
    done = 0
    for name, (specs, seeds, extra) in page_grids(profile).items():
        if (grids and name not in grids) or not (extra.get("multiview") or extra.get("direction")):
            continue
        for spec_ in specs:
            if methods and spec_.method not in methods:
                continue
            for seed in _spec_seeds(spec_, parse_seeds(seeds), extra.get("extra_seeds")):
                config = resolve(spec_, profile, seed)
                run_dir = runs.default_run_dir(config)
                if not _cached(config, run_dir, None):
                    continue
                clips, crops = extra.get("multiview") or (None, None)
                wanted = [f"eval_{clips}x{crops}.json"] * bool(clips) + ["direction.json"] * bool(extra.get("direction"))
                if all((run_dir / name_).exists() for name_ in wanted):
                    continue
                tic = time.perf_counter()
                if clips:
                    evaluate_cached(run_dir, clips, crops)
                if extra.get("direction"):
                    direction_cached(run_dir)
                done += 1
                log(f"  evaluated {_relative(run_dir)} in {time.perf_counter() - tic:.0f} s")
                if on_finished is not None:
                    on_finished(_relative(run_dir))
    return done


@contextlib.contextmanager
def worker_pool(jobs: int):
    """A pool of ``jobs`` spawned processes (no fork after torch has started its threads) that dies with its
    driver: Ctrl-C, SIGTERM (raised here as ``train.Terminated``) or an error terminates the workers instead of
    waiting for them, so no run goes on training unseen; a killed run resumes from its last checkpoint."""
    from cmrlib.train import raise_terminated as on_sigterm

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_sigterm) if main_thread else None
    others = set(multiprocessing.active_children())
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=max(1, jobs),
                                                  mp_context=multiprocessing.get_context("spawn"))
    try:
        yield pool
    except BaseException:
        workers = [p for p in multiprocessing.active_children() if p not in others]
        for worker in workers:
            worker.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        for worker in workers:
            worker.join(10)
        raise
    else:
        pool.shutdown()
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def train_all(profile: str, jobs: int = 1, retrain_before: float | None = None, log=print, grids=None,
              on_finished=None) -> int:
    """Train every run the results pages need (or those of ``grids``) that is not cached, ``jobs`` runs side by
    side (separate processes; the cpu profiles pin each run to one thread); ``on_finished(run folder)`` after
    each. Returns how many were trained."""
    from cmrlib.loaders import dataset_root

    missing = missing_runs(profile, grids, retrain_before)
    for benchmark in sorted({c["benchmark"] for c in missing}):  # generate each dataset once, here
        with quietly():
            dataset_root(next(c for c in missing if c["benchmark"] == benchmark))
    # three phases: the runs others start from (fine-tuning parents), then those that start from them, then the
    # rest; inside a phase longest first (more frames, then CMR-like methods), so that its runs finish together
    parents = {runs.default_run_dir(configlib.parent_config(c)) for c in missing if c.get("init_from_frames")}
    order = sorted(missing, key=lambda c: (-c["frames"], c["method"] != "cmr"))
    phases = [[c for c in order if runs.default_run_dir(c) in parents],
              [c for c in order if c.get("init_from_frames")],
              [c for c in order if runs.default_run_dir(c) not in parents and not c.get("init_from_frames")]]
    trained, done = 0, 0
    with worker_pool(jobs) as pool:
        for phase in phases:
            futures = [pool.submit(_train_one, config, retrain_before) for config in phase]
            for future in concurrent.futures.as_completed(futures):
                run_dir, reused, seconds = future.result()
                trained, done = trained + (not reused), done + 1
                log(f"  [{done}/{len(order)}] {'reused' if reused else 'trained'} {run_dir} in {seconds:.0f} s")
                if on_finished is not None:
                    on_finished(run_dir)
    return trained


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
                                                                      if k not in runs.RECORD_FIELDS}),
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
        config = {k: v for k, v in record.items() if k not in runs.RECORD_FIELDS}
        if runs.default_run_dir(config).name != run_dir.name:
            stale.append(run_dir)
    return stale
