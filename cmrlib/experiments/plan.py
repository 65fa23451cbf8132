"""Which runs each table needs: the rows (``Spec``) of every table, the profiles' grids (``Plan``) and the
resolved config of one (spec, profile, seed)."""
from __future__ import annotations

from dataclasses import dataclass, field

from cmrlib import config as configlib


# --------------------------------------------------------------------------------------------- names


DISPLAY = {"tsn": "TSN", "tsm": "TSM", "tim": "TIM", "teinet": "TEINet", "stm": "STM", "tea": "TEA",
           "pem": "PEM (stand-in)", "cmr": "CMR"}

TABLE1_METHODS = ("tsn", "tsm", "teinet", "stm", "tea", "pem", "cmr")

SOMETHING, KINETICS, LONGRANGE, PHYSICS = "synth-something", "synth-kinetics", "synth-longrange", "synth-physics"

R50_SHAPE = {"depth": 50, "width": 1.0, "small_input": False, "size": 224, "frames": 8}


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
    variants: bool = False       # also train the released CMR and TEA against the papers' (ablation seeds)
    multiview: tuple = (2, 3)    # clips x crops of the multi-view protocol ("8f×2" = 2 clips x 3 crops)
    speed_repeats: int = 5       # timed repeats per model in the speed measurements
    speed_shape: dict = field(default_factory=dict)  # overrides of the profile's model for timing (e.g. R50 at 224)
    physics_methods: tuple = ()  # Table 1's synth-physics column (physics_specs); () = not in this profile's plan
    long_controls: tuple = ()    # baselines also run at Table 1's frame counts above 8 (TIM: CMR's baseline)
    long_protocol: str = "scratch"  # runs above 8 frames: "scratch", or "finetune" from the 8-frame run (FINETUNE)
    sequential: bool = False     # Tables 3-6 follow the sequential seed rule of cmrlib.stats (looks at 10 and 20)
    variant_seeds: tuple | None = None  # the paper-against-released grid; None: ablation_seeds
    longrange_data: str | None = None   # the synth profile of the synth-longrange clips; None: the profile's data

PLANS = {
    "smoke": Plan(comparison_seeds=(0,), ablation_seeds=(0,), frames=(8,), kinetics_frames=(8,),
                  kinetics_methods=("tsn", "cmr"), ratios=(1, 8), longrange_labels=("TSN", "TIM+MEM (TEINet)", "TIM+CME"),
                  multiview=(2, 1), speed_repeats=3, physics_methods=("tsn", "cmr")),
    # 98 runs, 119 minutes of a 2-core machine, two runs at a time (runs/logs/cpu-train*.log). Table 1 at 16
    # frames only for the two rows claim 8 compares (a 16-frame run costs twice an 8-frame one); Table 2 with TSN
    # and three temporal methods; Table 3 without r = 4 (claim 4 compares 8 with 1 and 16); synth-longrange with
    # the rows claim 2 compares, TSN and TIM. Tables 3-6 with 5 seeds: at 3 the Welch intervals were ±15-40 points.
    "cpu": Plan(comparison_seeds=(0, 1), ablation_seeds=(0, 1, 2, 3, 4), frames=(8, 16), kinetics_frames=(8,),
                long_methods=("pem", "cmr"), kinetics_methods=("tsn", "tsm", "stm", "cmr"), ratios=(1, 8, 16),
                longrange_labels=("TSN", "TIM", "TIM+MEM (TEINet)", "TEA (ME+MTA)", "TIM+CME"),
                longrange_seeds=(0, 1, 2)),
    # The powered protocol (config.PROFILES["cpu-powered"]): the cpu grid from the pretrained backbone, 1,536
    # validation clips per benchmark; seeds to be set from the power calculation of the claims chapter.
    "cpu-powered": Plan(comparison_seeds=(0, 1, 2), ablation_seeds=(0, 1, 2, 3, 4), frames=(8, 16),
                        kinetics_frames=(8,), long_methods=("pem", "cmr"), kinetics_methods=("tsn", "tsm", "stm", "cmr"),
                        ratios=(1, 8, 16), longrange_labels=("TSN", "TIM", "TIM+MEM (TEINet)", "TEA (ME+MTA)", "TIM+CME"),
                        longrange_seeds=(0, 1, 2), variants=True, physics_methods=TABLE1_METHODS),
    # The reviewed protocol (issues 24-26): cpu-powered's grid, 16-frame runs fine-tuned from the same-seed
    # 8-frame run with TSM and TIM as 16-frame controls, 3 crops at the single-view scale. Seeds (issue 26):
    # Tables 3-6 by the sequential rule (10 seeds at look 1, up to 20 where a core check is undecided), 5 for
    # Tables 1-2, synth-physics and synth-longrange.
    "cpu-final": Plan(comparison_seeds=tuple(range(5)), ablation_seeds=tuple(range(10)), frames=(8, 16),
                      kinetics_frames=(8,), long_methods=("tsm", "pem", "cmr"), long_controls=("tim",),
                      long_protocol="finetune", kinetics_methods=("tsn", "tsm", "stm", "cmr"), ratios=(1, 8, 16),
                      longrange_labels=("TSN", "TIM", "TIM+MEM (TEINet)", "TEA (ME+MTA)", "TIM+CME"),
                      longrange_seeds=tuple(range(5)), variants=True, variant_seeds=tuple(range(5)),
                      physics_methods=TABLE1_METHODS, sequential=True, longrange_data="cpu-final"),
    "gpu": Plan(comparison_seeds=(0, 1), ablation_seeds=(0, 1, 2), frames=(8, 16), kinetics_frames=(8, 16),
                speed_shape={"depth": 50, "width": 1.0, "small_input": False, "size": 224},
                physics_methods=TABLE1_METHODS),
}


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
    methods, chosen = check_methods(methods), plan(profile)
    counts = frames_for(profile, frames, benchmark)
    specs = table1_specs(methods, counts, benchmark)
    if frames is None and benchmark == SOMETHING:
        specs = [s for s in specs if s.overrides["frames"] == 8 or s.method in chosen.long_methods]
        specs += [spec(DISPLAY[m], m, benchmark, frames=int(f)) for f in counts for m in chosen.long_controls]
    if chosen.long_protocol == "finetune":
        specs = [spec(s.label, s.method, s.benchmark, **s.overrides, **configlib.FINETUNE)
                 if s.overrides["frames"] > configlib.FINETUNE["init_from_frames"] else s for s in specs]
    return specs


MIDDLE_FRAME = "single middle frame (TSN, 1 frame)"


def physics_specs(methods=TABLE1_METHODS) -> list:
    """Table 1's synth-physics column (issue 18): each method at 8 frames; with TSN and CMR also Table 4's two
    other rows (claim 3 on synth-physics: TIM+CME&SME is CMR) and a TSN that sees one frame, the middle one at
    test time (a static-cue check: it must be near chance within the reversal pairs)."""
    methods = check_methods(methods)
    specs = table1_specs(methods, (8,), PHYSICS)
    if {"tsn", "cmr"} <= set(methods):
        specs += [spec("TIM", "tim", PHYSICS, frames=8), spec("TSN+CME&SME", "cmr", PHYSICS, frames=8, tim=False),
                  spec(MIDDLE_FRAME, "tsn", PHYSICS, frames=1)]
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


def longrange_specs(labels=None, data_profile: str | None = None) -> list:
    """synth-longrange: CME's global temporal view against the adjacent-frame enhancers (MEM, ME, PEM);
    ``labels`` keeps only those rows; ``data_profile``: every row on that synth profile's clips."""
    b, data = LONGRANGE, {"data_profile": data_profile} if data_profile else {}
    rows = [spec("TSN", "tsn", b, **data), spec("TIM", "tim", b, **data), spec("TIM+MEM (TEINet)", "teinet", b, **data),
            spec("TEA (ME+MTA)", "tea", b, **data), spec("TIM+PEM", "pem", b, **data),
            spec("TIM+CME", "cmr", b, sme="none", **data), spec("CMR", "cmr", b, **data)]
    if labels is None:
        return rows
    unknown = set(labels) - {r.label for r in rows}
    if unknown:
        raise ValueError(f"unknown long-range row(s) {sorted(unknown)}; choose from {[r.label for r in rows]}")
    return [r for r in rows if r.label in labels]


def longrange_plan_specs(profile: str) -> list:
    """The synth-longrange rows a profile's plan runs, on its plan's clips."""
    chosen = plan(profile)
    return longrange_specs(chosen.longrange_labels, chosen.longrange_data)


def variant_specs() -> list:
    """The papers' CMR and TEA against the authors' released code (their differences: paper-spec [CODE])."""
    return [spec("CMR (paper)", "cmr"), spec("CMR (released)", "cmr", variant="released"),
            spec("TEA (paper)", "tea"), spec("TEA (released)", "tea", variant="released")]


def table7_specs() -> list:
    """Table 7's models, labelled as cmrlib.paper.TABLE7_ROWS maps them, plus the TIM baseline."""
    return [spec("TSM", "tsm"), spec("TEINet", "teinet"), spec("STM", "stm"), spec("PEM (stand-in)", "pem"),
            spec("TIM", "tim"), spec("TIM+CME", "cmr", sme="none"), spec("TIM+SME", "cmr", cme="none"),
            spec("CMR", "cmr")]


def resolve(spec_: Spec, profile: str, seed: int) -> dict:
    check_profile(profile)
    return configlib.resolve(spec_.method, profile, {**spec_.overrides, "benchmark": spec_.benchmark, "seed": int(seed)})


SEQUENTIAL_RECORD = "sequential-look1.json"


def first_look_record(profile: str) -> dict | None:
    """The sequential seed rule's decision at look 1 (cmrlib.precision.record_first_look), recorded once in
    runs/<profile>/sequential-look1.json; None before it is taken."""
    import json

    from cmrlib import runs

    path = runs.project_root() / "runs" / profile / SEQUENTIAL_RECORD
    return json.loads(path.read_text()) if path.exists() else None


def look_two_seeds(profile: str, grid_name: str) -> dict:
    """{label: seeds} that look 2 adds to a sequential grid's rows (empty before the look-1 decision, for the
    rows it decided and for profiles without the rule)."""
    record = first_look_record(profile) if plan(profile).sequential else None
    if record is None:
        return {}
    return {label: list(record["seeds"]) for label in record["extend"].get(grid_name, [])}


def page_grids(profile: str) -> dict:
    """The training grids of the results pages: {name: (specs, seeds, grid options)}. ``cmrlib.claims.inputs``
    reads exactly these, and ``train_all`` trains their union."""
    comparison, ablation, chosen = seeds_for(profile, "comparison"), seeds_for(profile, "ablation"), plan(profile)
    return {
        "table1": (table1_plan_specs(profile), comparison, {"multiview": chosen.multiview, "direction": True}),
        "table2": (table1_plan_specs(profile, chosen.kinetics_methods, benchmark=KINETICS), comparison, {}),
        **{name: (specs, ablation, {"extra_seeds": look_two_seeds(profile, name)})
           for name, specs in (("table3", table3_specs(chosen.ratios)), ("table4", table4_specs()),
                               ("table5", table5_specs()), ("table6", table6_specs()))},
        "longrange": (longrange_plan_specs(profile), seeds_for(profile, "longrange"), {}),
        **({"variants": (variant_specs(), list(chosen.variant_seeds or ablation), {})} if chosen.variants else {}),
        **({"physics": (physics_specs(chosen.physics_methods), comparison, {"direction": True})}
           if chosen.physics_methods else {}),
    }
