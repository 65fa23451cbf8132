"""How precise and how healthy a profile's runs are: the seed-to-seed spread (counted under every label a run
has), how much of it validation sampling explains, the seeds a difference of d needs, the precision targets,
and run health (``cmrlib.stats.learned``: which runs failed to train, per method)."""
from __future__ import annotations

import pandas as pd

from cmrlib import stats
from cmrlib.claims import BEST_TEMPORAL, GAIN_MARGIN, PHYSICS_TEMPORAL_MARGIN, SEQUENTIAL_GRIDS, compare
from cmrlib.experiments.plan import DISPLAY, MIDDLE_FRAME
from cmrlib.stats import INCONCLUSIVE


def _runs(results: dict) -> pd.DataFrame:
    """Every run of the training grids once per label (a run that two tables share counts under both labels)."""
    frames = [f for f in results.values() if isinstance(f, pd.DataFrame) and "run_dir" in f and len(f)]
    return pd.concat(frames).drop_duplicates(["run_dir", "label"]) if frames else pd.DataFrame()


def without_failed(results: dict) -> dict:
    """``results`` with the runs that failed to train (``learned`` False, cmrlib.stats.learned) left out."""
    return {name: frame[frame["learned"] != False] if isinstance(frame, pd.DataFrame) and "learned" in frame  # noqa: E712
            else frame for name, frame in results.items()}


def health(results: dict) -> pd.DataFrame:
    """Per method and benchmark: runs, how many failed to train (the declared rule, ``cmrlib.stats.learned``)
    and the failure rate, with the failed runs named."""
    runs = _runs(results)
    if runs.empty or "learned" not in runs:
        return pd.DataFrame()
    runs = runs.drop_duplicates("run_dir")
    rows = []
    for (benchmark, method), group in runs.groupby(["benchmark", "method"], sort=False):
        failed = group[group["learned"] == False]  # noqa: E712
        rows.append({"benchmark": benchmark, "method": DISPLAY.get(method, method), "runs": len(group),
                     "failed to train": len(failed), "failure rate": f"{len(failed) / len(group):.0%}",
                     "failed runs": ", ".join(f"{r.label} {r.frames}f s{r.seed} ({r.top1:.1f} %)"
                                              for r in failed.itertuples()) or "-"})
    return pd.DataFrame(rows)


def seed_spread(results: dict, metric: str = "top1") -> pd.DataFrame:
    """How much the seeds disagree: per benchmark, label and frame count of every training grid in
    ``results`` (each run once), the number of seeds, mean, standard deviation and range of ``metric``,
    largest spread first."""
    runs = _runs(results)
    if runs.empty:
        return runs
    groups = runs.groupby(["benchmark", "label", "frames"], sort=False)[metric]
    table = groups.agg(seeds="count", mean="mean", std="std", low="min", high="max").reset_index()
    return table.sort_values("std", ascending=False, na_position="last").round(2).reset_index(drop=True)


def spread_sources(results: dict, profile: str) -> pd.DataFrame:
    """``cmrlib.stats.spread_components`` of every training grid: how much of the seed-to-seed spread the
    profile's validation set size (``SYNTH_PROFILES[profile]["val_clips"]``) explains by sampling alone."""
    from cmrlib.data.synth import SYNTH_PROFILES

    runs = _runs(results)
    if runs.empty:
        return runs
    return stats.spread_components(runs, SYNTH_PROFILES[profile]["val_clips"])


def seeds_for_d(results: dict, grids=("table3", "table4", "table5", "table6", "table1")) -> pd.DataFrame:
    """A power calculation from the measured spread: per grid, each row against the grid's first row over the
    seeds both have (the blocked design), the standard deviation of the per-seed differences, the seeds a
    paired comparison needs to resolve a true difference of d = GAIN_MARGIN points (power 0.8, 95 %), and the
    smallest difference that the seeds we ran resolve at that power; "95 % half-width" is half the width of the
    paired 95 % interval of the difference at those seeds."""
    rows = []
    for name in grids:
        frame = results.get(name)
        if frame is None or frame.empty:
            continue
        frame = frame[frame["frames"] == 8] if "frames" in frame else frame
        per_seed = frame.pivot_table(index="seed", columns="label", values="top1", sort=False)
        reference = per_seed.columns[0]
        for label in per_seed.columns[1:]:
            differences = (per_seed[label] - per_seed[reference]).dropna()
            sd = float(differences.std(ddof=1)) if len(differences) > 1 else float("nan")
            needed = stats.seeds_needed(sd, GAIN_MARGIN, most=100) if sd > 0 else float("nan")
            needed = ">100" if needed == 101 else needed
            resolved = stats.resolvable_difference(sd, len(differences)) if sd > 0 else float("nan")
            pair = per_seed[[label, reference]].dropna()
            effect = compare(pair[label], pair[reference], paired=True) if len(pair) else None
            half_width = (effect.ci_high - effect.ci_low) / 2 if effect else float("nan")
            rows.append({"grid": name, "row": label, "against": reference, "seeds": len(differences),
                         "sd of differences": round(sd, 2), "95 % half-width": round(half_width, 2),
                         f"seeds for d={GAIN_MARGIN:g}": needed, "resolved at these seeds": round(resolved, 1)})
    return pd.DataFrame(rows)


ABLATION_GRIDS = SEQUENTIAL_GRIDS  # Tables 3-6


def record_first_look(profile: str) -> dict:
    """Take the sequential seed rule's look-1 decision once, on the committed runs of the profile's Tables 3-6 at
    look 1's seeds, and record it in runs/<profile>/sequential-look1.json (``experiments.look_two_seeds`` reads
    it). Refuses a profile without the rule, an incomplete look 1 and a second decision."""
    from cmrlib import claims as claimslib
    from cmrlib import experiments as ex
    from cmrlib import runs

    chosen = ex.plan(profile)
    first, second = stats.SEQUENTIAL_LOOKS
    if not chosen.sequential:
        raise ValueError(f"profile {profile!r} does not follow the sequential seed rule")
    path = runs.project_root() / "runs" / profile / ex.SEQUENTIAL_RECORD
    if path.exists():
        raise ValueError(f"{path} exists: the look-1 decision is taken once")
    seeds = ex.seeds_for(profile, "ablation")[:first]
    results, missing, grids = {"sequential": True}, 0, ex.page_grids(profile)
    for name in ABLATION_GRIDS:
        specs = grids[name][0]
        results[name] = ex.grid(specs, profile, seeds, cached_only=True, flops=False)
        missing += len(specs) * len(seeds) - len(results[name])
    if missing:
        raise ValueError(f"look 1 of {profile!r} is incomplete: {missing} Tables 3-6 results (row and seed) at seeds "
                         f"{seeds[0]}-{seeds[-1]} missing (python -m cmrlib runs --profile {profile})")
    record = {"rule": {"looks": list(stats.SEQUENTIAL_LOOKS), "alphas": list(stats.SEQUENTIAL_ALPHAS)},
              "extend": second_look(claimslib.assess(results)), "seeds": list(range(first, second)),
              "provenance": {key: value for key, value in runs.provenance("cpu").items()
                             if key in ("git_commit", "git_dirty", "utc", "host")}}
    runs.atomic_write_json(path, record)
    return record


def second_look(claims) -> dict:
    """The sequential seed rule's decision at look 1 (cmrlib.stats): {grid: sorted labels} of the configs that get
    seeds 10-19, i.e. both sides of every sequential core check that is still inconclusive with at least look 1's
    seeds and fewer than look 2's. Empty while look 1 is incomplete or when every check is decided."""
    first, second = stats.SEQUENTIAL_LOOKS
    extend: dict = {}
    for claim in claims:
        for check in claim.checks:
            effect = check.effect
            seeds = min(effect.n_a, effect.n_b)
            if check.core and check.sources and effect.verdict == INCONCLUSIVE and first <= seeds < second:
                for grid, label in check.sources:
                    extend.setdefault(grid, set()).add(label)
    return {grid: sorted(labels) for grid, labels in sorted(extend.items())}


LONGRANGE_BEST_TARGET = 75.0  # issue 26: the best temporal method on synth-longrange, top-1 %
TRAINING_HOURS_TARGET = 16.0  # issue 26: the grid's training time, sum of run wall times (two processes)


def training_hours(results: dict) -> float:
    """The sum of the wall times of every run of the training grids (each run once), in hours."""
    runs = _runs(results)
    return float(runs.drop_duplicates("run_dir")["wall_s"].sum()) / 3600 if len(runs) and "wall_s" in runs else float("nan")


def targets(results: dict, claims) -> pd.DataFrame:
    """The precision issue's (26) targets measured on this profile's runs: the seed-to-seed spread of every config
    with the failed runs left out (``without_failed``), the precision of the ablation tables' differences, the
    decided claims, synth-longrange's benchmark targets and the grid's training time; and the two benchmark checks
    (synth-kinetics is learned; TSN cannot tell the direction of synth-something's reversal pairs); with
    synth-physics runs, also issue 18's three checks of that benchmark."""
    def value(x, digits=1):
        return round(float(x), digits) if pd.notna(x) else float("nan")

    healthy = without_failed(results)
    spread = seed_spread({name: frame for name, frame in healthy.items() if name != "physics"})  # as issue 14 set them
    stds = spread["std"].dropna() if len(spread) else pd.Series(dtype=float)
    powered = seeds_for_d(results, ABLATION_GRIDS)
    widths = powered["95 % half-width"].dropna() if len(powered) else pd.Series(dtype=float)
    decisive = sum(claim.verdict != INCONCLUSIVE for claim in claims)

    def tsn(name, metric, label="TSN", frames=8):
        frame = results.get(name)
        if frame is None or frame.empty:
            return float("nan")
        rows = frame[(frame["label"] == label) & (frame["frames"] == frames)]
        return rows[metric].mean() if metric in rows and len(rows) else float("nan")

    kinetics, direction = tsn("table2", "top1"), tsn("table1", "direction_acc")
    longrange = results.get("longrange")
    means = (longrange.groupby("label")["top1"].mean() if isinstance(longrange, pd.DataFrame) and len(longrange)
             else pd.Series(dtype=float))
    longrange_best = means.drop("TSN", errors="ignore").max() if len(means) else float("nan")
    hours = training_hours(results)
    rows = [("median std of top-1 over seeds (points)", value(stds.median()), "≤ 2.0", stds.median() <= 2.0),
            ("largest std of top-1 over seeds, failed runs left out (points)", value(stds.max()), "≤ 4.0",
             stds.max() <= 4.0),
            ("median paired 95 % half-width, Tables 3-6 differences (points)", value(widths.median()), "≤ 2.0",
             widths.median() <= 2.0),
            ("claims with a decisive verdict", decisive, f"≥ 9 of {len(claims)}", decisive >= 9),
            ("synth-longrange: best temporal method top-1 (%)", value(longrange_best),
             f"≥ {LONGRANGE_BEST_TARGET:g}", longrange_best >= LONGRANGE_BEST_TARGET),
            ("synth-longrange: TSN top-1 (%)", value(means.get("TSN", float("nan"))), "40-60",
             40 <= means.get("TSN", float("nan")) <= 60),
            ("training time of the grid (h, sum of run wall times)", value(hours), f"≤ {TRAINING_HOURS_TARGET:g}",
             hours <= TRAINING_HOURS_TARGET),
            ("synth-kinetics TSN top-1 (%)", value(kinetics), "≥ 60", kinetics >= 60),
            ("synth-something TSN direction accuracy (%)", value(direction), "40-60", 40 <= direction <= 60)]
    if results.get("physics") is not None and len(results["physics"]):  # issue 18's checks of synth-physics
        best = BEST_TEMPORAL
        direction, middle = tsn("physics", "direction_acc"), tsn("physics", "direction_acc", MIDDLE_FRAME, 1)
        margin = tsn("physics", "top1", best) - tsn("physics", "top1")
        rows += [("synth-physics TSN direction accuracy (%)", value(direction), "40-60", 40 <= direction <= 60),
                 (f"synth-physics {best} − TSN (points)", value(margin),
                  f"≥ {PHYSICS_TEMPORAL_MARGIN:g}", margin >= PHYSICS_TEMPORAL_MARGIN),
                 ("synth-physics one middle frame: direction accuracy (%)", value(middle), "40-60",
                  40 <= middle <= 60)]
    frame = pd.DataFrame([{"measure": m, "target": t, "met": bool(ok) if pd.notna(v) else False}
                          for m, v, t, ok in rows])
    frame.insert(1, "measured", pd.Series([v for _, v, _, _ in rows], dtype=object))  # the count stays an int
    return frame
