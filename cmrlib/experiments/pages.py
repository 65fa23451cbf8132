"""The tables' pages: our runs summarised over seeds (mean ± std) beside the paper's numbers, with the
provenance of every page and the recipe and dataset tables."""
from __future__ import annotations

import math
import statistics
from pathlib import Path

import numpy as np
import pandas as pd

from cmrlib import config as configlib
from cmrlib import runs
from cmrlib.experiments.cache import root
from cmrlib.experiments.cost import model_cost, speed_summary
from cmrlib.experiments.plan import KINETICS, R50_SHAPE, SOMETHING, check_profile, spec


def glue(name: str, value, display: bool = False) -> None:
    """``myst_nb.glue`` for numbers in prose: numpy scalars become Python numbers first (their repr,
    ``np.float64(1.0)``, is not something ``{glue:text}`` can format)."""
    from myst_nb import glue as myst_glue

    myst_glue(name, value.item() if isinstance(value, np.generic) else value, display=display)


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
    if "learned" in frame:  # run health (cmrlib.stats.learned): failed runs are in the means, and marked here
        out["failed to train"] = groups["learned"].apply(lambda learned: int((learned == False).sum())).to_numpy()  # noqa: E712
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
            "ours_top5": "top-5", "paper top-5": "paper top-5", "failed to train": "failed to train"})
    p1 = paper.table1()
    single = _beside_paper(ours, p1[p1["views"] == "1"], ["label", "frames"],
                           {"gflops": "paper GFLOPs", "val1": "paper top-1 (1 view)"})
    table = _beside_paper(single, p1[p1["views"] == "2x3"], ["label", "frames"], {"val1": "paper top-1 (2×3)"})
    views = runs["views"].iloc[0].replace("x", "×") if "views" in runs and len(runs) else "multi-view"
    return _page(table, {
        "profile": "profile", "label": "method", "frames": "frames", "seeds": "seeds", "gflops": "GFLOPs",
        "paper GFLOPs": "paper GFLOPs", "top1": "top-1 (1 view)", "paper top-1 (1 view)": "paper top-1 (1 view)",
        "top1_multiview": f"top-1 ({views})", "paper top-1 (2×3)": "paper top-1 (2×3)",
        "direction_acc": "direction acc. in reversal pairs", "failed to train": "failed to train"})


def two_benchmarks_page(something: pd.DataFrame, physics: pd.DataFrame, frames: int = 8) -> pd.DataFrame:
    """Table 1 with two columns, as the paper has SthV1 and SthV2: per method at ``frames`` frames, top-1 (one
    view) and direction accuracy on synth-something and on synth-physics (mean ± std over seeds), beside the
    paper's SthV1 and SthV2 top-1. Rows: the methods of ``something`` in order, then rows found only in
    ``physics`` (its single-frame and Table 4 rows)."""
    from cmrlib import paper

    p1 = paper.table1()
    p1 = p1[(p1["views"] == "1") & (p1["frames"] == frames)]
    parts = []
    for name, runs in (("synth-something", something), ("synth-physics", physics)):
        if runs is None or runs.empty:
            continue
        at = runs[runs["frames"] == frames] if name == "synth-something" else runs
        ours = summarise(at, by=("label", "frames"), metrics=("top1", "direction_acc"))
        ours = ours.rename(columns={"seeds": f"{name} seeds", "top1": f"{name} top-1",
                                    "direction_acc": f"{name} direction acc."})
        parts.append(ours[["label", "frames", *[c for c in ours if c.startswith(name)]]])
    if not parts:
        return pd.DataFrame()
    table = parts[0]
    for part in parts[1:]:
        order = list(dict.fromkeys([*zip(table["label"], table["frames"]), *zip(part["label"], part["frames"])]))
        table = table.merge(part, on=["label", "frames"], how="outer")
        table = table.set_index(["label", "frames"]).loc[order].reset_index()  # first-seen order
    for seeds in [c for c in table if c.endswith(" seeds")]:
        table[seeds] = table[seeds].astype("Int64")  # a method missing on one benchmark: <NA>, not 1.0
    table = _beside_paper(table, p1, ["label", "frames"], {"val1": "paper SthV1 top-1", "val2": "paper SthV2 top-1"})
    order = ["label", "frames", "synth-something seeds", "synth-something top-1", "paper SthV1 top-1",
             "synth-something direction acc.", "synth-physics seeds", "synth-physics top-1", "paper SthV2 top-1",
             "synth-physics direction acc."]
    return _page(table, {c: ("method" if c == "label" else c) for c in order})


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


def generation_record(benchmark: str, profile: str) -> dict | None:
    """How fast a benchmark's set rendered (the ``generation`` entry of its manifest), kept under
    runs/<profile>/generation/<benchmark>.json so that a clean clone's book shows it without the data. None when
    neither the record nor the generated set of the current generator version is here."""
    from cmrlib import runs
    from cmrlib.data import synth

    current = synth.fingerprint(benchmark, profile)
    stored = root() / "runs" / profile / "generation" / f"{benchmark}.json"
    if stored.exists() and runs.read_json(stored).get("fingerprint") == current:
        return runs.read_json(stored)
    manifest_path = synth.default_root(benchmark, profile) / "manifest.json"
    manifest = runs.read_json(manifest_path) if manifest_path.exists() else {}
    if manifest.get("fingerprint") != current or not manifest.get("generation"):
        return None
    record = {"benchmark": benchmark, "profile": profile, "fingerprint": current, **manifest["generation"]}
    runs.atomic_write_json(stored, record)
    return record


def generation_page(profile: str, benchmark: str) -> pd.DataFrame:
    """A benchmark's set at a profile (clips, size, frames) and its measured rendering speed: clips per second
    and the minutes the whole set (train + validation) takes at that speed."""
    from cmrlib.data import synth

    sizes = synth.SYNTH_PROFILES[check_profile(profile)]
    clips = sizes["train_clips"] + sizes["val_clips"]
    row = {"benchmark": benchmark, "profile": profile, "train clips": sizes["train_clips"],
           "validation clips": sizes["val_clips"], "size (px)": sizes["size"],
           "frames per clip": f"{sizes['frames'][0]}-{sizes['frames'][1]}"}
    record = generation_record(benchmark, profile)
    if record is None:
        return pd.DataFrame([{**row, "clips/s": "not generated here yet"}])
    speed = record["clips_per_s"]
    return pd.DataFrame([{**row, "rendered": record["clips_rendered"], "processes": record["workers"],
                          "CPUs": record["cpus"], "seconds": record["seconds"], "clips/s": speed,
                          "minutes for the whole set": round(clips / speed / 60, 1), "measured": record["utc"]}])


def variants_page(runs: pd.DataFrame, margin: float) -> pd.DataFrame:
    """The released code against the paper, per model and profile: mean ± std over seeds and the paired 95 %
    interval of released − paper on the shared seeds, with the verdict of "the same within ``margin`` points" and
    whether the interval excludes zero (released lower or higher). A profile without both variants is left out."""
    from cmrlib.stats import compare

    runs = runs if "profile" in runs else runs.assign(profile="-")
    rows = []
    for model in ("CMR", "TEA"):
        for profile, group in runs.groupby("profile", sort=True):
            per_seed = {variant: group[group["label"] == f"{model} ({variant})"].set_index("seed")["top1"]
                        for variant in ("paper", "released")}
            if per_seed["paper"].empty or per_seed["released"].empty:
                continue
            effect = compare(per_seed["released"], per_seed["paper"], "equivalent", margin, paired=True)
            rows.append({"model": model, "profile": profile,
                         "paper": mean_std(per_seed["paper"]), "released": mean_std(per_seed["released"]),
                         "released − paper": round(effect.diff, 2), "interval_95 (paired)": effect.interval(),
                         "seeds": effect.n_a, f"same within ±{margin:g}": effect.verdict,
                         "released differs": ("lower" if effect.ci_high < 0 else "higher" if effect.ci_low > 0
                                              else "not shown")})
    return pd.DataFrame(rows)


KEY_PACKAGES = ("torch", "torchvision", "numpy", "av", "decord", "mujoco", "scipy", "pandas")


def versions_page(path: str = "constraints.txt") -> pd.DataFrame:
    """The pinned versions that trained the committed runs (constraints.txt) beside the ones running now."""
    from importlib import metadata

    pinned = {}
    for line in (root() / path).read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep and not line.startswith("#"):
            pinned[name.strip().lower()] = version.strip()
    rows = []
    for name in KEY_PACKAGES:
        try:
            running = metadata.version(name)
        except metadata.PackageNotFoundError:
            running = "not installed"
        rows.append({"package": name, "pinned (constraints.txt)": pinned.get(name, "-"), "running now": running,
                     "same": pinned.get(name) == running.split("+")[0]})
    return pd.DataFrame(rows)


def verify_page() -> pd.DataFrame:
    """The last ``python -m cmrlib verify`` result of every run it was asked about (runs/verify/*.json)."""
    rows = []
    for path in sorted((root() / "runs" / "verify").glob("*.json")):
        record = runs.read_json(path)
        difference = record.get("first_difference") or {}
        rows.append({"run": record["run"], "outcome": record["outcome"], "epochs": record.get("epochs"),
                     "first difference": (f"epoch {difference['epoch']}, {difference['field']}" if difference
                                          else record.get("why_not") or "-"),
                     "re-made on": f"{record['utc_time'][:10]}, {record['machine']['processor']}, "
                                   f"{record['machine']['cpus']} CPUs",
                     "torch": record["torch_version"], "code": (record["git_commit"] or "?")[:10]
                     + ("+dirty" if record.get("git_dirty") else ""), "seconds": record.get("seconds")})
    return pd.DataFrame(rows)


def tree_page(profile: str) -> pd.DataFrame:
    """How many of a profile's committed runs were trained from a committed tree, and from how many code states."""
    rows = []
    for path in sorted((root() / "runs" / profile).glob("*/*/config.json")):
        prov = runs.read_json(path).get("provenance", {})
        rows.append({"commit": prov.get("git_commit"), "dirty": bool(prov.get("git_dirty")),
                     "diff kept": (path.parent / "uncommitted.diff").exists()})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return pd.DataFrame([{"profile": profile, "runs": len(frame), "from a committed tree": int((~frame["dirty"]).sum()),
                          "dirty, diff kept": int((frame["dirty"] & frame["diff kept"]).sum()),
                          "dirty, code lost": int((frame["dirty"] & ~frame["diff kept"]).sum()),
                          "code states": int(frame[["commit", "dirty"]].drop_duplicates().shape[0])}])
