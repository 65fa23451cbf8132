"""Verdict logic of cmrlib.claims on constructed per-seed results whose verdict is known."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from cmrlib import claims, precision, review
from cmrlib import stats
from cmrlib.stats import HELD, INCONCLUSIVE, NO_LARGER_GAIN, NOT_HELD, compare


def test_t_quantiles_come_from_scipy_and_floor_the_degrees_of_freedom():
    # the printed table, to its 3 decimals
    for df, quantile in ((1, 12.706), (2, 4.303), (4, 2.776), (10, 2.228), (30, 2.042), (120, 1.980)):
        assert stats.t_quantile_975(df) == pytest.approx(quantile, abs=5e-4)
    assert stats.t_quantile_975(2.9) == stats.t_quantile_975(2)  # floor: conservative
    assert stats.t_quantile_975(35.7) == pytest.approx(scipy_stats.t.ppf(0.975, 35))
    assert stats.t_quantile_975(math.inf) == pytest.approx(1.95996, abs=1e-5)
    with pytest.raises(ValueError):
        stats.t_quantile_975(0.5)


def test_intervals_agree_with_scipy():
    a, b = np.array([60.0, 61.5, 62.0, 58.0]), np.array([50.0, 51.0, 55.0])
    # paired (df = n - 1, a whole number): scipy's paired t interval exactly
    x, y = a[:3], b
    paired = compare(pd.Series(x), pd.Series(y), paired=True)
    low, high = scipy_stats.ttest_rel(x, y).confidence_interval(0.95)
    assert (paired.ci_low, paired.ci_high) == pytest.approx((low, high), abs=1e-9)
    # against a constant: scipy's one-sample interval, shifted by the constant
    constant = compare(a, 50.0)
    low, high = scipy_stats.ttest_1samp(a, 50.0).confidence_interval(0.95)
    assert (constant.ci_low, constant.ci_high) == pytest.approx((low - 50.0, high - 50.0), abs=1e-9)
    # Welch: scipy's interval at the fractional df sits inside ours at the floor of df (conservative) ...
    welch = compare(a, b)
    low, high = scipy_stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert welch.ci_low <= low < high <= welch.ci_high
    # ... and is ours when the Welch-Satterthwaite df is whole (equal sizes and spreads: df = 2n - 2)
    even = compare(a, a - 10.0)
    low, high = scipy_stats.ttest_ind(a, a - 10.0, equal_var=False).confidence_interval(0.95)
    assert (even.ci_low, even.ci_high) == pytest.approx((low, high), abs=1e-9)


def test_clear_improvement_is_held_with_the_welch_interval():
    a, b = [60.0, 61.0, 62.0], [50.0, 51.0, 52.0]
    effect = compare(a, b)
    assert effect.verdict == HELD
    assert effect.diff == pytest.approx(10.0)
    # Welch: se = sqrt(1/3 + 1/3), df = 4 -> t = 2.776
    half = 2.776 * math.sqrt(2 / 3)
    assert effect.ci_low == pytest.approx(10 - half, abs=1e-3)
    assert effect.ci_high == pytest.approx(10 + half, abs=1e-3)
    assert effect.std_a == pytest.approx(1.0)


def test_clear_loss_is_not_held_and_overlap_is_inconclusive():
    assert compare([40.0, 41.0, 42.0], [50.0, 51.0, 52.0]).verdict == NOT_HELD
    assert compare([50.0, 55.0, 45.0], [49.0, 54.0, 46.0]).verdict == INCONCLUSIVE


def test_identical_results_do_not_support_a_greater_claim():
    assert compare([50.0, 50.0, 50.0], [50.0, 50.0, 50.0]).verdict == NOT_HELD


def test_one_seed_is_always_inconclusive_whatever_the_means():
    effect = compare([90.0], [10.0])
    assert effect.verdict == INCONCLUSIVE
    assert "2 seeds" in effect.reason
    assert math.isnan(effect.ci_low)


def test_paired_comparison_uses_per_seed_differences():
    # a large spread across seeds but a constant +1 within each seed: only pairing resolves it
    a = pd.Series([31.0, 51.0, 71.0], index=[0, 1, 2])
    b = pd.Series([30.0, 50.0, 70.0], index=[0, 1, 2])
    assert compare(a, b).verdict == INCONCLUSIVE
    paired = compare(a, b, paired=True)
    assert paired.verdict == HELD
    assert paired.ci_low == pytest.approx(1.0) and paired.ci_high == pytest.approx(1.0)


def test_paired_comparison_aligns_seeds():
    a = pd.Series([2.0, 3.0, 4.0], index=[2, 0, 1])
    b = pd.Series([1.0, 2.0, 3.0, 99.0], index=[0, 1, 2, 7])
    effect = compare(a, b, paired=True)  # seed 0: 3-1, seed 1: 4-2, seed 2: 2-3
    assert effect.n_a == 3 and effect.diff == pytest.approx(1.0)


def test_equivalence_within_and_outside_the_margin():
    assert compare([50.0, 50.2, 49.8], [50.1, 49.9, 50.0], "equivalent", margin=2.0).verdict == HELD
    assert compare([60.0, 60.2, 59.8], [50.1, 49.9, 50.0], "equivalent", margin=2.0).verdict == NOT_HELD
    assert compare([50.0, 56.0, 44.0], [50.0, 50.0, 50.0], "equivalent", margin=2.0).verdict == INCONCLUSIVE


def test_non_inferiority():
    assert compare([49.5, 49.7, 49.6], [50.0, 50.1, 49.9], "not_worse", margin=2.0).verdict == HELD
    assert compare([40.0, 40.2, 39.8], [50.0, 50.1, 49.9], "not_worse", margin=2.0).verdict == NOT_HELD


def test_comparison_with_a_constant_reference():
    effect = compare([50.0, 52.0, 48.0], 50.0, "equivalent", margin=10.0)
    assert effect.verdict == HELD and effect.n_b == 0
    assert compare([75.0, 76.0, 74.0], 50.0).verdict == HELD


def test_bad_arguments_fail_with_a_message():
    with pytest.raises(ValueError, match="kind"):
        compare([1.0, 2.0], [1.0, 2.0], kind="bigger")
    with pytest.raises(ValueError, match="margin"):
        compare([1.0, 2.0], [1.0, 2.0], "equivalent", margin=-1)
    with pytest.raises(ValueError, match="non-finite"):
        compare([1.0, float("nan")], [1.0, 2.0])


def test_combine():
    assert stats.combine([HELD, HELD]) == HELD
    assert stats.combine([HELD, INCONCLUSIVE]) == INCONCLUSIVE
    assert stats.combine([HELD, NOT_HELD, INCONCLUSIVE]) == NOT_HELD
    assert stats.combine([]) == INCONCLUSIVE


def _grid(values: dict, frames: int = 8, metric: str = "top1") -> pd.DataFrame:
    return pd.DataFrame([{"label": label, "seed": seed, "frames": frames, metric: value}
                         for label, per_seed in values.items() for seed, value in enumerate(per_seed)])


def test_assess_claim_1_held_when_both_modules_help_and_combine():
    t6 = _grid({"baseline": [40, 41, 42], "+MEM": [44, 45, 46], "+PEM": [45, 46, 47],
                "+CME": [50, 51, 52], "+SME": [50, 51.5, 51], "+CME&SME": [52, 53, 54]})
    assessed = {c.key: c for c in claims.assess({"table6": t6})}
    assert assessed["1"].verdict == HELD
    assert assessed["2"].verdict == INCONCLUSIVE  # the long-range checks were not run
    assert "not run" in assessed["2"].note


def test_claim_2_reports_whether_synth_longrange_can_tell_without_letting_it_decide():
    t6 = _grid({"+CME": [50, 51, 52], "+MEM": [44, 45, 46], "+PEM": [45, 46, 47]})
    lr = _grid({"TSN": [49, 51, 50], "TIM+CME": [80, 85, 90], "TIM+MEM (TEINet)": [50, 52, 51],
                "TEA (ME+MTA)": [55, 50, 52]})
    checks = lambda lr_: {c.statement: c.effect.verdict  # noqa: E731
                          for c in {c.key: c for c in claims.assess({"table6": t6, "longrange": lr_})}["2"].checks}
    seen = checks(lr)
    assert seen["synth-longrange: TSN ≈ chance (50 % ±10)"] == HELD
    assert seen["synth-longrange: TIM+CME > chance (50 %)"] == HELD
    assert seen["synth-longrange: TIM+CME > TIM+MEM"] == HELD
    memorised = checks(lr.assign(top1=lr["top1"].where(lr["label"] != "TSN", 80.0 + lr["seed"])))
    assert memorised["synth-longrange: TSN ≈ chance (50 % ±10)"] == NOT_HELD
    assert {c.key: c for c in claims.assess({"table6": t6, "longrange": lr})}["2"].verdict == HELD


def test_checks_on_the_same_seeds_use_the_paired_interval_and_others_welch():
    # seeds that move both rows together: the blocked (paired) interval resolves a gain that Welch cannot
    t6 = _grid({"baseline": [70, 80, 90], "+CME": [71, 81, 91.5], "+SME": [72, 81, 90.5]})
    checks = {c.statement: c for c in {c.key: c for c in claims.assess({"table6": t6})}["1"].checks}
    row = checks["+CME > baseline"].row()
    assert checks["+CME > baseline"].effect.paired and row["interval"] == "paired"
    assert checks["+CME > baseline"].effect.verdict == HELD
    assert compare(t6[t6.label == "+CME"]["top1"], t6[t6.label == "baseline"]["top1"]).verdict == INCONCLUSIVE
    fewer = t6[~((t6.label == "+CME") & (t6.seed == 2))]
    checks = {c.statement: c for c in {c.key: c for c in claims.assess({"table6": fewer})}["1"].checks}
    assert not checks["+CME > baseline"].effect.paired and checks["+CME > baseline"].row()["interval"] == "Welch"


def test_assess_claim_1_not_held_when_cme_hurts():
    t6 = _grid({"baseline": [50, 51, 52], "+MEM": [44, 45, 46], "+PEM": [45, 46, 47],
                "+CME": [40, 41, 42], "+SME": [55, 56, 57], "+CME&SME": [55, 56, 57]})
    assessed = {c.key: c for c in claims.assess({"table6": t6})}
    assert assessed["1"].verdict == NOT_HELD


def test_assess_claim_3_ordering_and_claim_12_paired_multiview():
    t4 = _grid({"TSN": [10, 11, 12], "TSN+CME&SME": [30, 31, 32], "TIM": [40, 41, 42], "TIM+CME&SME": [50, 51, 52]})
    t1 = pd.concat([_grid({"CMR": [50, 60, 70]}, 8).assign(top1_multiview=[51, 61, 71]),
                    _grid({"CMR": [55, 65, 75]}, 16).assign(top1_multiview=[54, 64, 74])])
    assessed = {c.key: c for c in claims.assess({"table4": t4, "table1": t1})}
    assert assessed["3"].verdict == HELD
    checks = {check.statement: check.effect.verdict for check in assessed["12"].checks}
    assert checks["CMR 8f: 2 clips × 3 crops > 1 view"] == HELD
    assert checks["CMR 16f: 2 clips × 3 crops > 1 view"] == NOT_HELD
    assert assessed["12"].verdict == NOT_HELD


def test_every_claim_is_present_and_empty_inputs_give_inconclusive():
    assessed = claims.assess({})
    assert [c.key for c in assessed] == [str(k) for k in range(1, 13)]
    assert all(c.verdict == INCONCLUSIVE for c in assessed)
    summary = claims.summary_frame(assessed)
    assert list(summary["claim"]) == [str(k) for k in range(1, 13)]
    headline = claims.headline(assessed)
    assert headline["n_claims"] == 12 and headline["n_inconclusive"] == 12
    assert headline["held_list"] == "none" and headline["cme_gain_interval"] == "n/a"
    assert headline["cme_gain"] == "n/a"


def test_checks_frame_reports_effect_interval_and_paper():
    t6 = _grid({"baseline": [40, 41, 42], "+CME": [50, 51, 52]})
    frame = claims.checks_frame(claims.assess({"table6": t6}))
    row = frame[frame["check"] == "+CME > baseline"].iloc[0]
    assert row["effect"] == pytest.approx(10.0)
    assert row["verdict"] == HELD
    assert row["paper"] == "50.6 vs 46.1 (+4.5)"
    assert row["ours_a"] == "51.0 ± 1.0"


def test_paper_tables_match_the_deltas_the_paper_states_in_its_text():
    """Transcription check of cmrlib.paper against the differences CMR's text quotes (paper-spec §B.1)."""
    from cmrlib import paper

    t1 = paper.table1().set_index(["paper_method", "frames", "views"])
    assert len(t1) == 23
    for frames, v1, v2 in ((8, 1.5, 1.1), (16, 2.3, 1.9)):
        assert t1.loc[("CMR", frames, "1"), "val1"] - t1.loc[("TDRL", frames, "1"), "val1"] == pytest.approx(v1)
        assert t1.loc[("CMR", frames, "1"), "val2"] - t1.loc[("TDRL", frames, "1"), "val2"] == pytest.approx(v2)
    assert t1.loc[("CMR", 8, "2x3"), "gflops"] == 6 * t1.loc[("CMR", 8, "1"), "gflops"]
    t2 = paper.table2().set_index(["paper_method", "frames"])["top1"]
    assert t2["CMR", 8] - t2["TDRL", 8] == pytest.approx(0.2) and t2["CMR", 16] - t2["TDRL", 16] == pytest.approx(0.1)
    t4 = paper.table4().set_index("ours")["top1"]
    assert t4["TSN+CME&SME"] - t4["TSN"] == pytest.approx(25.4)
    t6 = paper.table6().set_index("paper_model")["top1"]
    assert t6["+CME"] - t6["+MEM"] == pytest.approx(3.2) and t6["+CME"] - t6["+PEM"] == pytest.approx(1.9)
    t5 = paper.table5().set_index("ours")["latency_ms"]
    assert t5["CMEall+SMEall"] - t5["CMEall+SMEpart"] == pytest.approx(9.0)
    t7 = paper.table7().set_index("ours")
    assert t7.loc["PEM (stand-in)", "latency_ms"] / t7.loc["CMR", "latency_ms"] == pytest.approx(2.98, abs=0.01)
    assert t7.loc["CMR", "top1"] - t7.loc["TEINet", "top1"] == pytest.approx(3.9)


def test_differences_frame_resolves_clear_gaps_and_not_overlaps():
    runs = pd.DataFrame({"label": ["base"] * 3 + ["up"] * 3 + ["down"] * 3 + ["same"] * 3 + ["one"],
                         "top1": [50, 51, 52, 60, 61, 62, 40, 41, 42, 47, 51, 55, 70]})
    frame = claims.differences_frame(runs, "base").set_index("label")
    assert list(frame.index) == ["up", "down", "same", "one"]
    assert frame.loc["up", "resolved"] == "higher" and frame.loc["up", "difference"] == 10.0
    assert frame.loc["down", "resolved"] == "lower"
    assert frame.loc["same", "resolved"] == "unresolved"
    assert frame.loc["one", "resolved"] == "unresolved" and frame.loc["one", "interval_95"] == "n/a"
    assert claims.differences_frame(runs, "missing").empty


def test_seed_spread_counts_each_run_once_and_sorts_by_spread():
    grid = pd.DataFrame({"benchmark": ["b"] * 5, "label": ["x", "x", "y", "y", "y"], "frames": [8] * 5,
                         "top1": [10.0, 30.0, 50.0, 51.0, 52.0], "run_dir": list("abcde")})
    spread = precision.seed_spread({"t1": grid, "t2": grid.iloc[2:], "speed": pd.DataFrame({"latency_ms": [1.0]})})
    assert list(spread["label"]) == ["x", "y"]
    assert list(spread["seeds"]) == [2, 3]
    assert spread.loc[0, "std"] == pytest.approx(14.14, abs=0.01) and spread.loc[1, "low"] == 50.0
    assert precision.seed_spread({}).empty


def test_a_narrow_interval_around_zero_is_no_gain_larger_than_d():
    same = [80.0, 80.5, 79.5, 80.2, 79.8]
    close = [80.3, 80.6, 79.6, 80.1, 80.2]
    effect = compare(close, same, gain=2.0)
    assert effect.ci_low < 0 < effect.ci_high < 2.0 and effect.verdict == NO_LARGER_GAIN
    assert compare(close, same).verdict == INCONCLUSIVE, "without d the rule is the old one"
    wide = compare([70.0, 90.0, 75.0], [80.0, 81.0, 79.0], gain=2.0)
    assert wide.ci_high > 2.0 and wide.verdict == INCONCLUSIVE
    assert stats.combine([HELD, NO_LARGER_GAIN]) == NO_LARGER_GAIN
    assert stats.combine([NOT_HELD, NO_LARGER_GAIN]) == NOT_HELD
    assert stats.combine([INCONCLUSIVE, NO_LARGER_GAIN]) == INCONCLUSIVE


def test_seeds_needed_follows_the_noncentral_t_power():
    n = stats.seeds_needed(sd_difference=2.0, d=2.0)
    assert 9 <= n <= 11  # paired t, power 0.8 at effect size 1: n = 10
    assert stats.seeds_needed(1.0, 2.0) < n < stats.seeds_needed(4.0, 2.0)
    with pytest.raises(ValueError):
        stats.seeds_needed(0.0, 2.0)


def test_resolvable_difference_inverts_seeds_needed():
    for sd in (1.0, 2.5, 4.0):
        n = stats.seeds_needed(sd, 2.0)
        assert stats.resolvable_difference(sd, n) <= 2.0 < stats.resolvable_difference(sd, n - 1)
    assert stats.resolvable_difference(2.0, 5) > stats.resolvable_difference(2.0, 20)
    with pytest.raises(ValueError):
        stats.resolvable_difference(2.0, 1)


def test_spread_components_split_sampling_from_seed_noise():
    import pandas as pd

    runs = pd.DataFrame({"benchmark": "b", "label": ["A"] * 4 + ["B"] * 4, "frames": 8,
                         "run_dir": [f"r{i}" for i in range(8)],
                         "top1": [80.0, 80.0, 80.0, 80.0, 70.0, 90.0, 75.0, 85.0]})
    table = stats.spread_components(runs, clips=1536).set_index("label")
    assert table.loc["A", "std"] == 0 and table.loc["A", "seed std"] == 0
    assert table.loc["A", "sampling std"] == pytest.approx(100 * (0.8 * 0.2 / 1536) ** 0.5, abs=0.01)
    assert table.loc["B", "seed std"] == pytest.approx((table.loc["B", "std"] ** 2 - table.loc["B", "sampling std"] ** 2) ** 0.5, abs=0.02)


def _runs_of(grid: pd.DataFrame, name: str, benchmark: str = "synth-something") -> pd.DataFrame:
    return grid.assign(benchmark=benchmark, run_dir=[f"{name}/{r.label}/{r.seed}" for r in grid.itertuples()])


def test_seeds_for_d_reports_the_paired_half_width():
    t6 = _runs_of(_grid({"baseline": [40, 41, 42, 43], "+CME": [42, 42, 45, 45]}), "t6")
    row = precision.seeds_for_d({"table6": t6}).iloc[0]
    differences = pd.Series([2.0, 1.0, 3.0, 2.0])
    assert row["sd of differences"] == pytest.approx(differences.std(), abs=0.01)
    assert row["95 % half-width"] == pytest.approx(stats.t_quantile_975(3) * differences.std() / 2, abs=0.01)


def test_targets_measure_the_issue_table_on_the_runs():
    t6 = _runs_of(_grid({"baseline": [40, 41, 42], "+CME": [41, 42, 43.5]}), "t6")
    t1 = _runs_of(_grid({"TSN": [30, 31, 32], "CMR": [60, 61, 62]}), "t1").assign(direction_acc=[48, 50, 52, 90, 91, 92])
    t2 = _runs_of(_grid({"TSN": [59, 60, 64]}), "t2", "synth-kinetics")
    results = {"table6": t6, "table1": t1, "table2": t2}
    table = precision.targets(results, claims.assess(results)).set_index("measure")
    assert table.loc["synth-kinetics TSN top-1 (%)", "measured"] == 61.0
    assert table.loc["synth-kinetics TSN top-1 (%)", "met"]
    assert table.loc["synth-something TSN direction accuracy (%)", "measured"] == 50.0
    largest = "largest std of top-1 over seeds, failed runs left out (points)"
    assert table.loc[largest, "measured"] == round(pd.Series([59, 60, 64]).std(), 1)
    assert table.loc[largest, "met"]  # 2.65 <= 4
    # a failed run (learned False) is left out of the spread
    failed = t2.assign(top1=[59, 60, 20], learned=[True, True, False])
    without = precision.targets({**results, "table2": failed}, []).set_index("measure").loc[largest]
    assert without["measured"] == round(pd.Series([41, 42, 43.5]).std(), 1) and without["met"]  # not 23.4
    # synth-longrange: the best temporal row against 75 %, TSN within 40-60 %; the grid's hours against 16
    lr = _runs_of(_grid({"TSN": [50, 52, 48], "TIM+CME": [100, 100, 50], "TIM+MEM (TEINet)": [50, 51, 49]}), "lr",
                  "synth-longrange").assign(wall_s=3600.0)
    table = precision.targets({**results, "longrange": lr}, []).set_index("measure")
    assert table.loc["synth-longrange: best temporal method top-1 (%)", "measured"] == pytest.approx(83.3, abs=0.05)
    assert table.loc["synth-longrange: best temporal method top-1 (%)", "met"]
    assert table.loc["synth-longrange: TSN top-1 (%)", "met"]
    assert table.loc["training time of the grid (h, sum of run wall times)", "measured"] == 9.0
    assert table.loc["training time of the grid (h, sum of run wall times)", "met"]
    decisive = table.loc["claims with a decisive verdict", "measured"]
    assert isinstance(decisive, int) and not table.loc["claims with a decisive verdict", "met"]
    t2_bad = t2.assign(top1=[20, 25, 30])
    assert not precision.targets({**results, "table2": t2_bad}, []).set_index("measure").loc[
        "synth-kinetics TSN top-1 (%)", "met"]


def _physics(tsn_direction=(50, 48, 52), middle_direction=(50, 50, 51)) -> pd.DataFrame:
    grid = _grid({"TSN": [40, 41, 42], "TSN+CME&SME": [60, 61, 62], "TIM": [70, 71, 72], "CMR": [75, 76, 77],
                  "TSM": [68, 69, 70]})
    grid["direction_acc"] = 90.0
    grid.loc[grid["label"] == "TSN", "direction_acc"] = list(tsn_direction)
    middle = _grid({"single middle frame (TSN, 1 frame)": [30, 31, 32]}, frames=1).assign(
        direction_acc=list(middle_direction))
    return pd.concat([grid, middle], ignore_index=True)


def test_claims_3_and_9_are_also_checked_on_synth_physics():
    t4 = _grid({"TSN": [10, 11, 12], "TSN+CME&SME": [30, 31, 32], "TIM": [40, 41, 42], "TIM+CME&SME": [50, 51, 52]})
    t2 = _grid({"TSN": [60, 61, 62], "CMR": [61, 62, 63], "TSM": [60, 62, 61]})
    without = {c.key: c for c in claims.assess({"table4": t4, "table2": t2})}
    assert not any("synth-physics" in check.statement for claim in without.values() for check in claim.checks)
    assessed = {c.key: c for c in claims.assess({"table4": t4, "table2": t2, "physics": _physics()})}
    three = {check.statement: check.effect.verdict for check in assessed["3"].checks}
    assert three["synth-physics: TIM+CME&SME > TIM"] == HELD  # TIM+CME&SME is the physics grid's CMR
    assert three["synth-physics: TSN+CME&SME > TSN"] == HELD and assessed["3"].verdict == HELD
    nine = {check.statement: check for check in assessed["9"].checks}
    assert nine["CMR − TSN on synth-physics > on synth-kinetics (8 frames)"].effect.verdict == HELD
    best = [s for s in nine if s.startswith("synth-physics: CMR > TSN")]
    assert best == ["synth-physics: CMR > TSN + 25 points (benchmark check)"]  # named in advance, not TIM
    static = next(c for s, c in nine.items() if "middle frame" in s)
    assert static.effect.verdict == HELD and not static.core
    # TSN telling the direction on synth-physics breaks the claim's premise there: the core check fails
    leaky = {c.key: c for c in claims.assess({"table4": t4, "table2": t2, "physics": _physics((90, 91, 92))})}
    direction = next(c for c in leaky["9"].checks if c.statement.startswith("synth-physics: TSN's direction"))
    assert direction.core and direction.effect.verdict == NOT_HELD and leaky["9"].verdict == NOT_HELD
    checks = claims.benchmark_checks(list(assessed.values()), "synth-physics")
    assert len(checks) == 7 and checks["check"].str.contains("synth-physics").all()
    table = precision.targets({"physics": _physics()}, []).set_index("measure")
    assert table.loc["synth-physics CMR − TSN (points)", "measured"] == 35.0
    assert table.loc["synth-physics TSN direction accuracy (%)", "met"]
    assert table.loc["synth-physics one middle frame: direction accuracy (%)", "measured"] == round(151 / 3, 1)
    assert "synth-physics TSN direction accuracy (%)" not in set(precision.targets({}, [])["measure"])


def test_an_undefined_direction_accuracy_leaves_its_check_out_instead_of_failing():
    physics = _physics(middle_direction=(float("nan"),) * 3)  # the middle frame never predicted a pair's class
    nine = {c.statement for c in {c.key: c for c in claims.assess({"physics": physics})}["9"].checks}
    assert not any("middle frame" in statement for statement in nine)
    assert "synth-physics: TSN's direction accuracy within the reversal pairs ≈ 50 % (±10)" in nine


# ----------------------------------------------------------------------------- issue 24: reviewed verdicts
def test_holm_adjusts_step_down_and_keeps_the_order():
    assert stats.holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert stats.holm([0.2]) == [0.2]
    adjusted = stats.holm([0.001, float("nan"), 0.02])
    assert adjusted[0] == pytest.approx(0.002) and np.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.02)


@pytest.mark.parametrize("kind,margin", [("greater", 0.0), ("not_worse", 2.0), ("equivalent", 2.0)])
def test_not_held_is_exactly_p_against_at_most_alpha(kind, margin):
    rng = np.random.default_rng(3)
    for _ in range(200):
        a, b = rng.normal(0, 1.5, 4) + rng.normal(0, 3), rng.normal(0, 1.5, 4)
        for paired in (False, True):
            effect = compare(a, b, kind, margin, paired=paired)
            assert (effect.verdict == NOT_HELD) == (effect.p_against <= stats.ALPHA + 1e-12), (a, b, paired)


def test_one_check_against_among_many_is_not_a_not_held_claim_after_holm():
    """Claim 1 at cpu-powered: +SME below the baseline at p ~ 0.02, raw 'not held', among the claim's 4 core checks."""
    base = [40.0, 41.0, 42.0, 43.0, 44.0]
    t6 = _grid({"baseline": base, "+CME": [b + d for b, d in zip(base, (3, -1, 2, 0, 1))],
                "+SME": [b + d for b, d in zip(base, (-2.1, -1.0, -3.3, -1.9, -0.6))],
                "+CME&SME": [b + d for b, d in zip(base, (2, 1, 3, 0, 2))]})
    claim = {c.key: c for c in claims.assess({"table6": t6})}["1"]
    sme = next(check for check in claim.checks if check.statement == "+SME > baseline")
    assert sme.effect.verdict == NOT_HELD and 0.01 < sme.effect.p_against <= 0.05
    assert sme.p_holm > 0.05 and claim.verdict == INCONCLUSIVE
    row = claims.checks_frame([claim]).set_index("check").loc["+SME > baseline"]
    assert row["p against"] != "n/a" and float(row["p against (Holm)"]) > 0.05


def test_claim_8_compares_frame_counts_unpaired_with_the_16_frame_controls():
    t1 = pd.concat([_grid({"CMR": [80, 82, 84], "PEM (stand-in)": [78, 79, 80], "TIM": [75, 76, 77],
                           "TSM": [74, 75, 76]}, frames=8),
                    _grid({"CMR": [85, 86, 88], "PEM (stand-in)": [80, 80, 81], "TIM": [77, 78, 78],
                           "TSM": [76, 77, 77]}, frames=16)], ignore_index=True)
    eight = {c.key: c for c in claims.assess({"table1": t1})}["8"]
    margin = next(check for check in eight.checks if check.core)
    assert not margin.effect.paired, "seed s at 16 frames is no block of seed s at 8 frames"
    controls = [check for check in eight.checks if "protocol check" in check.statement]
    assert len(controls) == 2 and not any(check.core for check in controls)


def test_claim_12_covers_every_table_1_method():
    rows = []
    for label in ["TSN", "TSM", "TEINet", "STM", "TEA", "PEM (stand-in)", "CMR"]:
        for seed in range(3):
            rows.append({"label": label, "seed": seed, "frames": 8, "top1": 70.0 + seed, "top1_multiview": 71.0 + seed})
    twelve = {c.key: c for c in claims.assess({"table1": pd.DataFrame(rows)})}["12"]
    labels = [check.statement.split(" 8f")[0] for check in twelve.checks if "8f" in check.statement]
    assert len(labels) == 7 and all(check.effect.paired for check in twelve.checks)
    assert [check.statement for check in twelve.checks if check.core] == ["CMR 8f: 2 clips × 3 crops > 1 view"]


def test_claims_10_and_11_need_the_declared_margins_not_just_above_chance():
    figure5 = pd.DataFrame({"seed": range(5), "cme_top_overlap": [0.30, 0.31, 0.29, 0.30, 0.32],
                            "cme_bottom_overlap": [0.27, 0.28, 0.26, 0.27, 0.28],
                            "sme_auroc": [0.61, 0.63, 0.62, 0.60, 0.64]})
    assessed = {c.key: c for c in claims.assess({"figure5": figure5})}
    assert assessed["11"].verdict == NOT_HELD, "an AUROC of 0.62 does not show 'only the moving object'"
    assert any(not c.core and c.effect.verdict == HELD for c in assessed["11"].checks)  # above chance, reported
    assert assessed["10"].verdict == NOT_HELD  # 3 points more mass on the object is no focus on it


def test_run_health_flags_runs_that_did_not_learn_and_verdicts_can_leave_them_out():
    assert stats.learned(1.2, 16) and not stats.learned(2.37, 15) and not stats.learned(0.68, 2)
    grid = _grid({"TEA": [59.5, 15.8, 27.5], "TSN": [36.0, 37.0, 36.5]})
    grid["benchmark"], grid["method"], grid["run_dir"] = "synth-physics", grid["label"].str.lower(), range(6)
    grid["learned"] = [True, False, True, True, True, True]
    table = precision.health({"physics": grid}).set_index("method")
    assert table.loc["TEA", "failed to train"] == 1 and table.loc["TEA", "failure rate"] == "33%"
    assert "TEA 8f s1 (15.8 %)" in table.loc["TEA", "failed runs"] and table.loc["TSN", "failed to train"] == 0
    kept = precision.without_failed({"physics": grid})["physics"]
    assert len(kept) == 5 and 15.8 not in set(kept["top1"])


def test_seed_spread_counts_a_run_under_every_label_it_has():
    shared = pd.DataFrame([{"label": label, "seed": seed, "frames": 8, "top1": 80.0 + seed, "benchmark": "synth-something",
                            "run_dir": f"cmr-s{seed}"} for seed in range(5) for label in ("CMR",)])
    other = shared.assign(label="+CME&SME")
    spread = precision.seed_spread({"table1": shared, "table6": other}).set_index("label")
    assert spread.loc["CMR", "seeds"] == 5 and spread.loc["+CME&SME", "seeds"] == 5


def _notebook(path, records):
    import json

    cells = [{"cell_type": "code", "source": [], "metadata": {}, "outputs": [
        {"output_type": "display_data", "data": {"text/plain": ""}, "metadata": {"text/html": {"cmr_records": records}}}]}]
    path.write_text(json.dumps({"cells": cells}))
    return path


def test_two_pages_that_give_one_comparison_different_intervals_are_found(tmp_path):
    rows = pd.DataFrame([{"label": label, "seed": seed, "frames": 8, "top1": value + spread}
                         for label, value, spread in (("baseline", 80, 0), ("+SME", 78, 0.5))
                         for seed in range(5) for spread in [(seed * 1.3) % 3 + (label == "+SME") * (seed % 2)]])
    page = claims.differences_frame(rows, "baseline")
    assert page.loc[0, "interval"] == "paired"
    chapter = claims.checks_frame(claims.assess({"table6": rows}))
    same = [_notebook(tmp_path / "table6.ipynb", page.to_dict("records")),
            _notebook(tmp_path / "claims.ipynb", chapter.to_dict("records"))]
    assert review.inconsistencies(same) == []
    welch = page.assign(interval_95="[-7.7, +3.2]")  # what the Table 6 page printed with Welch's interval
    found = review.inconsistencies([_notebook(tmp_path / "table6.ipynb", welch.to_dict("records")), same[1]])
    assert [pair for pair, _ in found] == ["+SME vs baseline"]


def test_the_default_books_pages_agree_on_every_comparison():
    from pathlib import Path

    from cmrlib.book import DEFAULT_PROFILE

    notebooks = sorted((Path(__file__).resolve().parents[1] / "runs" / DEFAULT_PROFILE).glob("*.ipynb"))
    assert notebooks, "the default profile's executed notebooks are committed"
    assert review.inconsistencies(notebooks) == []
    import json
    tables = sum("cmr_records" in json.dumps(json.loads(p.read_text())) for p in notebooks)
    assert tables >= 5, "the executed pages carry their tables' records (re-execute them with make book)"


@pytest.mark.parametrize("kind,margin", [("greater", 0.0), ("not_worse", 10.0), ("equivalent", 10.0)])
def test_a_ratio_check_is_not_held_exactly_when_p_against_is_at_most_alpha(kind, margin):
    rng = np.random.default_rng(5)
    for _ in range(100):
        a, b = np.exp(rng.normal(0, 0.05, 16) + rng.normal(0, 0.12)), np.exp(rng.normal(0, 0.05, 16))
        for paired in (True, False):
            effect = stats.compare_ratio(a, b, kind, margin, paired)
            assert (effect.verdict == NOT_HELD) == (effect.p_against <= stats.ALPHA + 1e-12)


# ------------------------------------------------------------------ the sequential seed rule (issue 26)
def test_sequential_levels_are_the_two_look_obrien_fleming_boundaries_at_overall_alpha_005():
    # two equally spaced looks: Z1 and Z2 correlate with sqrt(1/2); OBF boundaries c*sqrt(2) and c
    first, second = stats.SEQUENTIAL_ALPHAS
    z1, z2 = scipy_stats.norm.isf(first / 2), scipy_stats.norm.isf(second / 2)
    assert z1 / z2 == pytest.approx(math.sqrt(2), abs=2e-3)  # O'Brien-Fleming: z_k proportional to 1/sqrt(k)
    rho = math.sqrt(0.5)
    joint = scipy_stats.multivariate_normal(mean=[0, 0], cov=[[1, rho], [rho, 1]])
    inside = joint.cdf([z1, z2]) - joint.cdf([-z1, z2]) - joint.cdf([z1, -z2]) + joint.cdf([-z1, -z2])
    assert 1 - inside == pytest.approx(stats.ALPHA, abs=5e-4)  # the design's overall error rate
    assert stats.SEQUENTIAL_LOOKS == (10, 20)
    assert [stats.look_alpha(n) for n in (5, 10, 19, 20, 25)] == [first, first, first, second, second]


def test_a_lower_alpha_widens_the_interval_and_names_its_level():
    a, b = pd.Series([52.0, 55, 51, 54, 53, 56, 52, 54, 55, 53]), pd.Series([50.0, 52, 51, 52, 51, 53, 50, 52, 52, 51])
    wide, usual = compare(a, b, paired=True, alpha=0.0052), compare(a, b, paired=True)
    assert wide.ci_low < usual.ci_low and wide.ci_high > usual.ci_high and wide.diff == usual.diff
    assert usual.interval().startswith("[") and usual.interval().endswith("]")
    assert wide.interval().endswith("at 99.48 %")
    # "not held" <=> p_against <= alpha at any level
    loss = compare(b, a, paired=True, alpha=0.0052)
    assert (loss.verdict == NOT_HELD) == (loss.p_against <= 0.0052)
    with pytest.raises(ValueError, match="alpha"):
        compare(a, b, alpha=0.0)


def _ten_seed_table6(cme_gain: float, seeds: int = 10) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    base = 50 + rng.normal(0, 1.0, seeds)
    rows = {"baseline": base, "+MEM": base + 0.5, "+PEM": base + 0.7, "+SME": base + 3 + rng.normal(0, 0.3, seeds),
            "+CME": base + cme_gain + rng.normal(0, 3.0, seeds), "+CME&SME": base + 3.5 + rng.normal(0, 0.3, seeds)}
    return _grid({label: list(values) for label, values in rows.items()})


def test_sequential_profiles_take_tables_3_to_6_checks_at_the_look_level_and_extend_the_undecided():
    t6 = _ten_seed_table6(cme_gain=1.5)
    plain = {c.statement: c for c in {c.key: c for c in claims.assess({"table6": t6})}["1"].checks}
    ruled = {c.key: c for c in claims.assess({"table6": t6, "sequential": True})}
    checks = {c.statement: c for c in ruled["1"].checks}
    cme = checks["+CME > baseline"]
    assert cme.effect.alpha == stats.SEQUENTIAL_ALPHAS[0] and plain["+CME > baseline"].effect.alpha == stats.ALPHA
    assert cme.sources == (("table6", "+CME"), ("table6", "baseline"))
    assert cme.effect.ci_high - cme.effect.ci_low > plain["+CME > baseline"].effect.ci_high - plain["+CME > baseline"].effect.ci_low
    assert claims.headline(ruled.values())["cme_gain_level"] == "99.48 %"  # the intro names the look's level
    assert claims.headline({c.key: c for c in claims.assess({"table6": t6})}.values())["cme_gain_level"] == "95 %"
    # look 1: the undecided core checks extend both their configs; decided ones (SME, a clear gain) do not
    assert checks["+SME > baseline"].effect.verdict == HELD
    extend = precision.second_look(ruled.values())
    assert cme.effect.verdict == INCONCLUSIVE and {"+CME", "baseline"} <= set(extend["table6"])
    assert "+SME" not in extend["table6"]
    # no extension before look 1 is complete (5 seeds) or after look 2 (20 seeds)
    for seeds in (5, 20):
        few = {c.key: c for c in claims.assess({"table6": _ten_seed_table6(1.5, seeds), "sequential": True})}
        assert precision.second_look(few.values()) == {}
    # a sequential profile's Table 1 checks keep the fixed design's 95 %
    t1 = _grid({"CMR": [80.0, 81, 82, 83, 84], "PEM (stand-in)": [79.0, 80, 81, 83, 82]})
    t1["top1_multiview"] = t1["top1"] + 0.5
    twelve = {c.key: c for c in claims.assess({"table1": t1, "sequential": True})}["12"]
    assert all(check.effect.alpha == stats.ALPHA and not check.sources for check in twelve.checks)


def test_holm_runs_at_the_smallest_level_of_a_claims_checks():
    strict = compare([48.0, 47.5, 48.2, 47.9], [50.0, 50.1, 49.8, 50.2], alpha=0.0052)
    usual = compare([50.0, 49.0, 51.0, 50.5], [50.0, 50.5, 50.0, 49.8])
    assert strict.verdict == NOT_HELD and strict.p_against <= 0.0052
    assert stats.combine_corrected([strict, usual]) == NOT_HELD
    borderline = compare([49.0, 48.0, 49.5, 48.2], [50.0, 49.9, 50.1, 50.0], alpha=0.0052)
    if borderline.verdict != NOT_HELD:  # its p is above 0.0052: the claim is not "not held" at the strict level
        assert stats.combine_corrected([borderline, usual]) != NOT_HELD


def test_differences_frame_takes_the_sequential_level_on_request():
    t6 = _ten_seed_table6(cme_gain=1.5)
    plain = claims.differences_frame(t6, "baseline").set_index("label")
    ruled = claims.differences_frame(t6, "baseline", sequential=True).set_index("label")
    assert ruled.loc["+CME", "interval_95"].endswith("at 99.48 %")
    assert not plain.loc["+CME", "interval_95"].endswith("%")


def test_the_reviewed_profile_shows_every_claims_verdict_before_and_after():
    """The claims chapter of the reviewed profile sets each verdict beside the earlier default's, from its committed
    runs (nothing trained); a verdict that moved is flagged."""
    import dataclasses

    before = claims.assess(claims.inputs(review.PREVIOUS_PROFILE, cached_only=True))
    held = next(i for i, claim in enumerate(before) if claim.verdict == HELD)  # claim 9 at cpu-powered
    after = list(before)
    after[held] = dataclasses.replace(before[held], missing=["a core check without data"])  # now inconclusive
    frame = review.before_after(after, review.REVIEWED_PROFILE)
    assert list(frame["claim"]) == [claim.key for claim in before]
    assert list(frame["changed"]) == [i == held for i in range(len(before))]
    assert frame.loc[held, f"verdict ({review.PREVIOUS_PROFILE})"] == HELD
    assert frame.loc[held, f"verdict ({review.REVIEWED_PROFILE})"] == INCONCLUSIVE


def test_the_forest_plot_names_the_level_of_a_sequential_check():
    import matplotlib

    matplotlib.use("Agg")
    ax = review.forest_plot(claims.assess({"table6": _ten_seed_table6(cme_gain=1.5), "sequential": True}))
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert "1: +CME > baseline (99.48 %)" in labels
    ax = review.forest_plot(claims.assess({"table6": _ten_seed_table6(cme_gain=1.5)}))
    assert "1: +CME > baseline" in [tick.get_text() for tick in ax.get_yticklabels()]
