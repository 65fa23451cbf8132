"""The runtime benchmark of claims 5-7 (cmrlib.bench.runtime) and its ratio statistic (cmrlib.stats.compare_ratio):
the interval math on a known input, the rotation of the order, the key and provenance, a --quick run end to end,
and claims 5-7 reading the file. Nothing here asserts a timing."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from cmrlib import bench, stats
from cmrlib.bench import runtime

T_975_2 = 4.302652729911275  # t quantile, 2 degrees of freedom


def test_ratio_interval_is_the_exponentiated_t_interval_of_the_mean_log_ratio():
    b = np.array([10.0, 20.0, 40.0])  # the reference's times drift from round to round ...
    a = b * np.exp([0.1, 0.2, 0.3])  # ... and the ratios do not
    effect = stats.compare_ratio(a, b)
    half = T_975_2 * 0.1 / math.sqrt(3)  # the log ratios have mean 0.2 and standard deviation 0.1
    assert effect.diff == pytest.approx(100 * (math.exp(0.2) - 1))
    assert effect.ci_low == pytest.approx(100 * (math.exp(0.2 - half) - 1))
    assert effect.ci_high == pytest.approx(100 * (math.exp(0.2 + half) - 1))
    assert effect.paired and effect.n_a == effect.n_b == 3
    assert effect.mean_a == pytest.approx(np.exp(np.log(a).mean()))  # geometric means
    assert effect.verdict == stats.INCONCLUSIVE  # the interval [0.953, 1.566] straddles 1
    r = runtime.ratio(a, b)
    assert (r["ratio"], r["low"], r["high"]) == pytest.approx((math.exp(0.2), math.exp(0.2 - half),
                                                             math.exp(0.2 + half)), abs=1e-4)


def test_ratio_verdicts_read_the_interval_against_one_and_the_margin():
    b = np.full(16, 100.0)
    noise = np.tile([-0.01, 0.01], 8)
    assert stats.compare_ratio(b * 1.2 * np.exp(noise), b).verdict == stats.HELD  # above 1
    assert stats.compare_ratio(b * 0.8 * np.exp(noise), b).verdict == stats.NOT_HELD  # below 1
    assert stats.compare_ratio(b * 1.03 * np.exp(noise), b, "equivalent", 10.0).verdict == stats.HELD  # in [0.9, 1.1]
    assert stats.compare_ratio(b * 1.2 * np.exp(noise), b, "equivalent", 10.0).verdict == stats.NOT_HELD
    assert stats.compare_ratio(b * 1.095 * np.exp(noise * 5), b, "equivalent", 10.0).verdict == stats.INCONCLUSIVE


def test_unpaired_ratio_is_welch_on_the_logs():
    a, b = np.array([1.5, 1.6, 1.55, 1.7]), np.array([1.2, 1.1, 1.25])
    effect, logs = stats.compare_ratio(a, b, paired=False), stats.compare(np.log(a), np.log(b))
    assert not effect.paired and (effect.n_a, effect.n_b) == (4, 3)
    assert effect.ci_low == pytest.approx(100 * math.expm1(logs.ci_low))
    assert effect.ci_high == pytest.approx(100 * math.expm1(logs.ci_high))


def test_ratio_refuses_non_positive_values_and_unknown_kinds():
    with pytest.raises(ValueError, match="positive"):
        stats.compare_ratio([1.0, 0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="kind"):
        stats.compare_ratio([1.0, 2.0], [1.0, 1.0], "smaller")


@pytest.mark.parametrize("n, rounds", [(27, 16), (5, 16), (4, 2)])
def test_every_round_is_a_rotation_of_the_base_order_with_spread_starts(n, rounds):
    orders = runtime.rotation(n, rounds)
    assert len(orders) == rounds
    for order in orders:
        start = order[0]
        assert order == [(start + i) % n for i in range(n)]  # every timing once, in the base order rotated
    starts = [order[0] for order in orders]
    assert starts[0] == 0 and len(set(starts)) == min(n, rounds)  # rounds start in as many places as they can
    if n > 2:  # TSM (position 0) and another model are timed in both orders
        before = {order.index(0) < order.index(n // 2) for order in orders}
        assert before == {True, False}


def test_plan_times_each_network_once_under_every_label():
    timings = runtime.plan(runtime.R50_224)
    ids = [t["id"] for t in timings]
    assert len(ids) == len(set(ids))
    labels = {label: t for t in timings for label in t["labels"] if t["batch"] == 1 and t["frames"] == 8}
    assert labels["CMEall+SMEpart"] is labels["CMR"]  # CMR's default placement is Table 5's chosen one
    assert {(t["frames"]) for t in timings if "PEM (stand-in)" in t["labels"]} == {8, 16, 32}
    assert {t["batch"] for t in timings if "TSM" in t["labels"]} == {1, 8}
    assert not [t for t in timings if t["batch"] == 8 and t["frames"] != 8]
    table7 = {label for t in timings if t["batch"] == 8 for label in t["labels"]}
    assert table7 == {"TSM", "TSN", "TIM", "TEINet", "STM", "TEA", "PEM (stand-in)", "TIM+CME", "TIM+SME", "CMR"}


def test_key_covers_what_is_measured():
    config = runtime.run_config()
    assert config["shape"] == runtime.R50_224 and config["rounds"] >= runtime.MIN_ROUNDS
    assert (config["latency_batch"], config["throughput_batch"], config["threads"], config["clock"]) == (1, 8, 1, "cpu")
    key = runtime.key_of(config)
    assert runtime.key_of(runtime.run_config()) == key
    for changed in (runtime.run_config(rounds=20), runtime.run_config(threads=2), runtime.run_config(clock="wall"),
                    {**config, "training_version": config["training_version"] + 1}):
        assert runtime.key_of(changed) != key
    with pytest.raises(ValueError, match="at least 15 rounds"):
        runtime.run_config(rounds=5)
    with pytest.raises(ValueError, match="threads=1"):
        runtime.run_config(threads=2, clock="cpu")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One --quick run through the command line (a tiny ResNet-18, 2 rounds)."""
    path = tmp_path_factory.mktemp("runtime") / "runtime.json"
    assert bench.main(["runtime", "--quick", "--rounds", "2", "--out", str(path)]) == 0
    return path


def test_quick_run_writes_the_keyed_file_with_provenance_and_raw_rounds(quick):
    data = json.loads(quick.read_text())
    assert data["schema"] == runtime.SCHEMA and data["key"] == runtime.key_of(data["config"])
    prov = data["provenance"]
    for field in ("git_commit", "git_dirty", "torch_version", "cpu_model", "threads", "utc_start", "utc_end",
                  "wall_s", "load_before", "load_after"):
        assert field in prov, field
    assert prov["threads"] == 1 and len(prov["load_before"]) == 3
    config = data["config"]
    assert config["quick"] and config["rounds"] == 2 and len(data["order"]) == 2
    ids = [t["id"] for t in data["timings"]]
    for order in data["order"]:
        assert sorted(order) == sorted(ids)  # every timing once per round
    assert data["order"][0] != data["order"][1]  # rotated
    for timing in data["timings"]:
        assert len(timing["cpu_s"]) == len(timing["wall_s"]) == 2 and min(timing["cpu_s"]) > 0
    assert len(data["round_load"]) == 2
    assert data["summary"] == json.loads(json.dumps(runtime.summary(data)))  # the readers rebuild it


def test_quick_file_feeds_the_page_frames(quick):
    data = runtime.load(quick)
    assert data["current"]
    table = runtime.table7_frame(data)
    assert list(table["model"])[0] == "TSM" and table["latency / TSM"].iloc[0] == 1.0
    assert table.set_index("model").loc["CMR", "paper latency / TSM"] == pytest.approx(21.4 / 12.3, abs=0.01)
    assert list(runtime.table5_frame(data)["placement"]) == ["CMEall+SMEall", "CMEall+SMEpart", "CMEpart+SMEall",
                                                            "CMEpart+SMEpart"]
    frames = runtime.frames_frame(data)
    assert list(frames["frames"]) == ["4", "8", "8 over 4"]
    assert "git_dirty" in set(runtime.provenance_frame(data)["field"])


def test_absent_file_gives_a_note_not_an_error(tmp_path):
    assert runtime.load(tmp_path / "none.json") is None
    for frame in (runtime.table7_frame, runtime.table5_frame, runtime.frames_frame, runtime.provenance_frame):
        assert "no runtime benchmark" in frame(None)["note"].iloc[0]


def _synthetic(data: dict, ms: dict, spread: float = 0.01) -> dict:
    """The quick file with its per-round CPU times replaced by ``ms`` (label -> ms at batch 1, the shape's frames;
    (label, frames) -> ms at other frame counts), other timings at 1 ms; batch-8 timings 8x; a small
    alternating noise per round, so that every interval has a width."""
    data = json.loads(json.dumps(data))
    rounds, base = data["config"]["rounds"], data["config"]["shape"]["frames"]
    noise = np.exp(spread * np.resize([1.0, -1.0], rounds))
    for timing in data["timings"]:
        value = next((ms[key] for label in timing["labels"]
                      for key in ((label, timing["frames"]), label) if key in ms
                      and (isinstance(key, tuple) or timing["frames"] == base)), 1.0)
        timing["cpu_s"] = list(value / 1000 * timing["batch"] * noise)
    return data


def _assessed(data):
    from cmrlib import claims

    return {c.key: c for c in claims.assess({"runtime": data})}


def test_claims_5_to_7_read_the_runtime_file(quick):
    from cmrlib import claims

    data = runtime.load(quick)
    assessed = _assessed(data)
    for key in ("5", "6", "7"):
        statements = [check.statement for check in assessed[key].checks]
        assert all("latency" in s or "throughput" in s for s in statements)
        assert not [m for m in assessed[key].missing if "latency" in m or "throughput" in m], key
        assert "interleaved rounds" in assessed[key].note
    assert len(assessed["7"].checks) == 7 and len(assessed["5"].checks) == 3  # Table 5's top-1 checks: no runs
    rows = claims.checks_frame(list(assessed.values())).set_index("check")
    assert rows.loc["latency CMR > TSM", "interval"] == "paired" and rows.loc["latency CMR > TSM", "n"] == "2/2"
    without = {c.key: c for c in claims.assess({})}
    assert all(without[key].verdict == stats.INCONCLUSIVE and without[key].missing for key in ("5", "6", "7"))


def test_claims_5_to_7_verdicts_follow_the_ratio_intervals(quick):
    base = runtime.load(quick)
    t0, t1 = base["config"]["shape"]["frames"], max(base["config"]["sweep_frames"])
    # the paper's ordering: PEM slowest and growing with T, CMR about TEINet, every model slower than TSM
    paper_like = _synthetic(base, {"TSM": 10.0, "TEINet": 14.0, "STM": 12.0, "PEM (stand-in)": 40.0, "CMR": 14.5,
                                   "TIM+CME": 13.0, "CMEall+SMEall": 20.0, "CMEpart+SMEall": 17.0,
                                   "CMEpart+SMEpart": 12.0, ("PEM (stand-in)", t1): 160.0, ("TIM+CME", t1): 26.0})
    assessed = _assessed(paper_like)
    assert assessed["7"].verdict == stats.HELD and assessed["6"].verdict == stats.HELD
    five = {check.statement: check.effect.verdict for check in assessed["5"].checks}
    assert all(five[f"latency {a} > {b}"] == stats.HELD for a, b in
               (("CMEall+SMEall", "CMEpart+SMEall"), ("CMEpart+SMEall", "CMEall+SMEpart"),
                ("CMEall+SMEpart", "CMEpart+SMEpart")))
    # a CPU-like result: PEM no slower than TIM+CME, the same ratio at every T, CMR 30 % slower than TEINet
    cpu_like = _synthetic(base, {"TSM": 10.0, "TEINet": 10.5, "STM": 11.0, "PEM (stand-in)": 9.0, "CMR": 13.7,
                                 "TIM+CME": 11.0, ("PEM (stand-in)", t1): 36.0, ("TIM+CME", t1): 44.0})
    assessed = _assessed(cpu_like)
    six = {check.statement: check.effect.verdict for check in assessed["6"].checks}
    assert six["latency PEM (stand-in) > TIM+CME"] == stats.NOT_HELD
    assert six[f"latency ratio PEM (stand-in) / TIM+CME grows from {t0} to {t1} frames"] == stats.NOT_HELD
    seven = {check.statement: check.effect for check in assessed["7"].checks}
    equal = seven["latency CMR ≈ TEINet (ratio within [0.9, 1.1])"]
    assert equal.verdict == stats.NOT_HELD and equal.diff == pytest.approx(100 * (13.7 / 10.5 - 1))
    assert seven["latency CMR > TSM"].verdict == stats.HELD and assessed["7"].verdict == stats.NOT_HELD


def test_claims_inputs_load_the_committed_file(quick, tmp_path, monkeypatch):
    from cmrlib import claims, figure5
    from cmrlib import experiments as ex

    target = tmp_path / runtime.RUNTIME_FILE
    target.parent.mkdir(parents=True)
    target.write_text(quick.read_text())
    monkeypatch.setenv("CMR_ROOT", str(tmp_path))
    monkeypatch.setattr(ex, "grid", lambda *args, **kwargs: pd.DataFrame())
    monkeypatch.setattr(figure5, "scores", lambda *args, **kwargs: None)
    results = claims.inputs("smoke")
    assert results["runtime"]["key"] == json.loads(quick.read_text())["key"]
    assert not [key for key in results if key.endswith("_speed")]
