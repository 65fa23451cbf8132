"""cmrlib.experiments: the run cache (reuse, retrain on a config change, force), grids, summaries, bad input.

Runs train at the smoke profile on a tiny subset inside a temporary CMR_ROOT, so these tests neither read
nor write the repository's runs/ and take seconds each.
"""
import json
import time

import pandas as pd
import pytest

from cmrlib import config as configlib
from cmrlib import experiments as ex
from cmrlib import runs
from cmrlib.evaluate import direction_accuracy

TINY = {"train_subset": 8, "val_subset": 8}


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("CMR_ROOT", str(tmp_path))
    monkeypatch.setenv("CMR_QUIET", "1")
    return tmp_path


def test_a_run_is_reused_when_config_and_code_are_unchanged(root):
    first = ex.run("tsn", "smoke", seed=0, **TINY)
    assert not first["reused"]
    run_dir = root / first["run_dir"]
    assert run_dir.is_dir() and str(run_dir).startswith(str(root / "runs" / "smoke" / "synth-something"))
    finished = (run_dir / "final.json").stat().st_mtime

    tic = time.perf_counter()
    again = ex.run("tsn", "smoke", seed=0, **TINY)
    assert again["reused"] and again["run_dir"] == first["run_dir"]
    assert again["top1"] == first["top1"]
    assert time.perf_counter() - tic < 5
    assert (run_dir / "final.json").stat().st_mtime == finished  # not rewritten
    assert again["run_key"] == runs.run_key(ex.resolve(ex.spec("TSN", "tsn", **TINY), "smoke", 0))


def test_a_config_change_trains_a_new_run(root):
    first = ex.run("tsn", "smoke", seed=0, **TINY)
    other_lr = ex.run("tsn", "smoke", seed=0, lr=0.05, **TINY)
    other_seed = ex.run("tsn", "smoke", seed=1, **TINY)
    assert not other_lr["reused"] and not other_seed["reused"]
    assert len({first["run_dir"], other_lr["run_dir"], other_seed["run_dir"]}) == 3
    assert json.loads((root / other_lr["run_dir"] / "config.json").read_text())["lr"] == 0.05


def test_force_and_retrain_before_retrain(root):
    first = ex.run("tsn", "smoke", seed=0, **TINY)
    forced = ex.run("tsn", "smoke", seed=0, force=True, **TINY)
    assert not forced["reused"] and forced["run_dir"] == first["run_dir"]
    assert forced["top1"] == first["top1"]  # deterministic on CPU
    assert ex.run("tsn", "smoke", seed=0, retrain_before=time.time() - 3600, **TINY)["reused"]
    time.sleep(1.1)  # finished_utc has a resolution of one second
    assert not ex.run("tsn", "smoke", seed=0, retrain_before=time.time(), **TINY)["reused"]


def test_learning_curves_read_every_validated_epoch_of_each_run(root):
    frame = ex.grid([ex.spec("TSN", "tsn", **TINY)], "smoke", [0, 1], flops=False)
    curves = ex.learning_curves(frame)
    assert list(curves.columns) == ["label", "seed", "epoch", "val_top1"]
    assert sorted(curves["seed"]) == [0, 1] and set(curves["epoch"]) == {1}  # smoke: one epoch
    assert list(curves.sort_values("seed")["val_top1"]) == pytest.approx(list(frame.sort_values("seed")["top1"]))


def test_an_unfinished_run_is_completed_not_reused(root):
    first = ex.run("tsn", "smoke", seed=0, **TINY)
    (root / first["run_dir"] / "final.json").unlink()
    assert not ex.run("tsn", "smoke", seed=0, **TINY)["reused"]


def test_grid_rows_cached_only_and_other_code(root):
    specs = [ex.spec("TSN", "tsn", **TINY), ex.spec("TSM", "tsm", **TINY)]
    assert ex.grid(specs, "smoke", [0], cached_only=True).empty
    frame = ex.grid(specs[:1], "smoke", [0], flops=True)
    assert list(frame["label"]) == ["TSN"] and frame["gflops"].iloc[0] > 0
    cached = ex.grid(specs, "smoke", [0], cached_only=True)
    assert list(cached["label"]) == ["TSN"] and bool(cached["code_current"].iloc[0])
    assert (root / "runs" / "smoke" / "flops.json").exists()
    assert ex.available_profiles() == ["smoke"]


def test_multiview_and_direction_are_cached_beside_the_run(root):
    row = ex.run("tsn", "smoke", seed=0, multiview=(2, 1), direction=True, **TINY)
    run_dir = root / row["run_dir"]
    assert (run_dir / "eval_2x1.json").exists() and (run_dir / "direction.json").exists()
    assert 0 <= row["top1_multiview"] <= 100 and row["views"] == "2x1"
    # a clone with committed runs has no checkpoints: the cached evaluations must suffice
    for checkpoint in (run_dir / "checkpoints").glob("*.pt"):
        checkpoint.unlink()
    again = ex.run("tsn", "smoke", seed=0, multiview=(2, 1), direction=True, **TINY)
    assert again["reused"] and again["top1_multiview"] == row["top1_multiview"]


def test_a_committed_run_without_checkpoint_is_evaluated_on_remade_weights(root):
    row = ex.run("tsn", "smoke", seed=0, **TINY)
    run_dir = root / row["run_dir"]
    reference = ex.evaluate_cached(run_dir, 1, 1)
    (run_dir / "eval_1x1.json").unlink()
    for checkpoint in (run_dir / "checkpoints").glob("*.pt"):
        checkpoint.unlink()
    result = ex.evaluate_cached(run_dir, 1, 1)  # a clone of committed runs: no checkpoint, no evaluation yet
    assert result["weights"].startswith("_build/weights/smoke/") and (run_dir / "eval_1x1.json").exists()
    assert result["top1"] == reference["top1"]  # CPU training is deterministic: the re-made weights are the same
    assert not (run_dir / "checkpoints" / "last.pt").exists(), "the committed run folder is left as it was"


def test_bad_parameters_fail_at_once_with_a_message(root):
    with pytest.raises(ValueError, match="unknown profile 'nope'"):
        ex.check_profile("nope")
    with pytest.raises(ValueError, match="unknown method"):
        ex.check_methods("tsn,cmrr")
    with pytest.raises(ValueError, match="unknown method"):
        ex.run("cmrr", "smoke")
    with pytest.raises(ValueError, match="unknown profile"):
        ex.grid(ex.table4_specs(), "laptop", [0])
    with pytest.raises(ValueError, match="seeds"):
        ex.parse_seeds("0,zero")
    with pytest.raises(ValueError, match="unknown config field"):
        ex.run("tsn", "smoke", learning_rate=0.1)
    assert not (root / "runs").exists()  # nothing was trained


def test_seeds_and_frames_follow_the_profile_plan():
    assert ex.seeds_for("smoke", "ablation") == [0]
    assert len(ex.seeds_for("cpu", "ablation")) >= 3 and len(ex.seeds_for("cpu", "comparison")) >= 2
    assert ex.seeds_for("cpu", "ablation", "3,4") == [3, 4]
    assert ex.seeds_for("cpu", "longrange") == [0, 1, 2] and ex.seeds_for("smoke", "longrange") == [0]
    assert ex.page_grids("cpu")["longrange"][1] == [0, 1, 2]
    assert ex.frames_for("cpu") == [8, 16] and ex.frames_for("smoke", "8,16") == [8, 16]
    with pytest.raises(ValueError):
        ex.seeds_for("cpu", "everything")


def test_grids_share_configs_so_the_cache_reuses_runs():
    cmr = ex.resolve(ex.spec("CMR", "cmr"), "cpu", 0)
    for specs in (ex.table1_specs(["cmr"], [8]), ex.table3_specs([8]), ex.table4_specs(), ex.table5_specs(),
                  ex.table6_specs(), ex.table7_specs()):
        assert any(runs.run_key(ex.resolve(s, "cpu", 0)) == runs.run_key(cmr) for s in specs)
    tim = ex.resolve(ex.spec("TIM", "tim"), "cpu", 0)
    assert runs.run_key(ex.resolve(ex.table6_specs()[0], "cpu", 0)) == runs.run_key(tim)


def test_direction_accuracy_on_a_constructed_confusion_matrix():
    confusion = [[8, 2, 0], [4, 6, 0], [0, 0, 10]]  # classes 0 and 1 are a reversal pair
    assert direction_accuracy(confusion, [(0, 1)]) == pytest.approx(100 * 14 / 20)
    blind = [[5, 5], [5, 5]]
    assert direction_accuracy(blind, [(0, 1)]) == pytest.approx(50.0)


def test_summarise_gives_mean_and_std_over_seeds():
    frame = pd.DataFrame({"profile": "cpu", "label": ["A", "A", "A", "B"], "seed": [0, 1, 2, 0],
                          "top1": [50.0, 52.0, 54.0, 40.0]})
    summary = ex.summarise(frame, by=("profile", "label")).set_index("label")
    assert summary.loc["A", "top1"] == "52.0 ± 2.0" and summary.loc["A", "seeds"] == 3
    assert summary.loc["B", "top1"] == "40.0"
    assert summary.loc["A", "top1_mean"] == pytest.approx(52.0)


def test_speed_is_measured_once_and_then_read_from_the_cache(root):
    specs = [ex.spec("TSN", "tsn")]
    measured = ex.speed(specs, "smoke", repeats=1)
    assert list(measured["label"]) == ["TSM", "TSN"]  # cmrlib.bench adds TSM as the reference of every shape
    assert (measured["latency_ms"] > 0).all() and (measured["throughput"] > 0).all()
    assert measured["hardware"].iloc[0].endswith("1 thread, CPU time")
    again = ex.speed(specs, "smoke", repeats=1)
    assert list(again["latency_ms"]) == list(measured["latency_ms"])
    assert ex.speed([ex.spec("TSM", "tsm")], "smoke", repeats=1, cached_only=True).empty


def test_variants_page_pairs_seeds_and_names_the_profile():
    rows = [{"label": label, "seed": seed, "top1": top1, "profile": "cpu-powered"}
            for label, values in {"CMR (paper)": [80.0, 84.0, 78.0], "CMR (released)": [80.6, 84.5, 78.5],
                                  "TEA (paper)": [70.0, 75.0, 72.0], "TEA (released)": [60.0, 66.0, 61.0]}.items()
            for seed, top1 in enumerate(values)]
    page = ex.variants_page(pd.DataFrame(rows), margin=2.0).set_index("model")
    assert page.loc["CMR", "profile"] == "cpu-powered" and page.loc["CMR", "seeds"] == 3
    assert page.loc["CMR", "same within ±2"] == "held"          # paired: the seeds move both variants together
    assert page.loc["TEA", "same within ±2"] == "not held"      # released about 10 points lower on every seed
    assert page.loc["TEA", "released − paper"] == pytest.approx(-10.0)
    assert page.loc["TEA", "released differs"] == "lower" and page.loc["CMR", "released differs"] == "higher"
    only_cmr = ex.variants_page(pd.DataFrame([r for r in rows if r["label"].startswith("CMR")]), margin=2.0)
    assert list(only_cmr["model"]) == ["CMR"]
    # another profile's paper rows (e.g. the cpu profile's CMR, which has no released runs) stay out of the pairs
    other = [{**r, "profile": "cpu", "seed": r["seed"] + 5} for r in rows if r["label"] == "CMR (paper)"]
    mixed = ex.variants_page(pd.DataFrame(rows + other), margin=2.0)
    assert list(mixed["profile"]) == ["cpu-powered", "cpu-powered"] and list(mixed["seeds"]) == [3, 3]


def test_training_speedups_apply_the_adoption_rule(tmp_path):
    committed = ex.training_speedups()
    assert set(committed["variant"]) >= {"eager", "channels_last"}
    assert not committed["adopt"].any()  # the cpu recipe stays eager: nothing met 1.25x and determinism
    assert configlib.resolve("cmr", "cpu")["channels_last"] in ("auto", False)  # "auto": on for CUDA only
    record = {"methods": {"tsn": {"speedup_vs_eager": {"eager": 1.0, "channels_last": 1.3},
                                  "step_cpu_s": {"eager": 0.2, "channels_last": 0.15},
                                  "channels_last_runs_identical": True}}}
    path = tmp_path / "result.json"
    path.write_text(json.dumps(record))
    assert ex.training_speedups(path).set_index("variant").loc["channels_last", "adopt"]
    with pytest.raises(FileNotFoundError, match="missing.json"):
        ex.training_speedups(tmp_path / "missing.json")


def test_physics_grid_is_table1_at_8_frames_plus_table4_rows_and_one_middle_frame():
    specs = ex.physics_specs()
    assert {s.benchmark for s in specs} == {ex.PHYSICS}
    labels = [s.label for s in specs]
    assert labels[:len(ex.TABLE1_METHODS)] == [ex.DISPLAY[m] for m in ex.TABLE1_METHODS]
    assert {"TIM", "TSN+CME&SME", ex.MIDDLE_FRAME} <= set(labels)
    middle = next(s for s in specs if s.label == ex.MIDDLE_FRAME)
    config = ex.resolve(middle, "cpu-powered", 0)
    assert config["method"] == "tsn" and config["frames"] == 1 and config["benchmark"] == ex.PHYSICS
    # Table 1's synth-physics rows are the same runs as the physics grid's (one cache entry each)
    keys = {runs.run_key(ex.resolve(s, "cpu-powered", 0)) for s in specs}
    assert all(runs.run_key(ex.resolve(s, "cpu-powered", 0)) in keys
               for s in ex.table1_specs(ex.TABLE1_METHODS, (8,), ex.PHYSICS))
    assert [s.label for s in ex.physics_specs(["tsm"])] == ["TSM"]  # Table 4's rows need TSN and CMR
    assert "physics" in ex.page_grids("cpu-powered") and "physics" not in ex.page_grids("cpu")


def test_two_benchmarks_page_puts_synth_physics_beside_synth_something_and_the_papers_v2():
    something = pd.DataFrame({"label": ["TSN", "TSN", "CMR", "CMR", "CMR"], "seed": [0, 1, 0, 1, 0],
                              "frames": [8, 8, 8, 8, 16], "top1": [40.0, 42.0, 80.0, 82.0, 70.0],
                              "direction_acc": [50.0, 50.0, 90.0, 92.0, 80.0]})
    physics = pd.DataFrame({"label": ["TSN", "CMR", ex.MIDDLE_FRAME], "seed": [0, 0, 0], "frames": [8, 8, 1],
                            "top1": [30.0, 70.0, 20.0], "direction_acc": [51.0, 88.0, 50.0]})
    page = ex.two_benchmarks_page(something, physics).set_index("method")
    assert page.loc["CMR", "synth-something top-1"] == "81.0 ± 1.4" and page.loc["CMR", "synth-physics top-1"] == "70.0"
    assert page.loc["CMR", "paper SthV1 top-1"] == 51.3 and page.loc["CMR", "paper SthV2 top-1"] == 63.7
    assert page.loc["TSN", "synth-physics direction acc."] == "51.0" and page.loc["TSN", "synth-physics seeds"] == 1
    assert pd.isna(page.loc[ex.MIDDLE_FRAME, "synth-something seeds"])
    assert list(page.index) == ["TSN", "CMR", ex.MIDDLE_FRAME]  # 16 frames left out, physics-only rows last
    assert ex.two_benchmarks_page(something, physics.iloc[0:0]).columns.str.contains("synth-physics").sum() == 0


def test_generation_record_is_copied_under_runs_and_follows_the_generator_version(root, monkeypatch):
    from cmrlib.data import synth

    assert ex.generation_record("synth-something", "smoke") is None
    assert ex.generation_page("smoke", "synth-something").loc[0, "clips/s"] == "not generated here yet"
    data = synth.default_root("synth-something", "smoke")
    data.mkdir(parents=True)
    timing = {"clips_rendered": 48, "seconds": 12.0, "workers": 2, "clips_per_s": 4.0, "cpus": 2, "utc": "now"}
    (data / "manifest.json").write_text(json.dumps({"fingerprint": synth.fingerprint("synth-something", "smoke"),
                                                    "generation": timing}))
    assert ex.generation_record("synth-something", "smoke")["clips_per_s"] == 4.0
    stored = root / "runs" / "smoke" / "generation" / "synth-something.json"
    assert stored.exists()
    (data / "manifest.json").unlink()  # a clean clone: the record under runs/ is enough
    page = ex.generation_page("smoke", "synth-something")
    assert page.loc[0, "clips/s"] == 4.0 and page.loc[0, "minutes for the whole set"] == round(48 / 4.0 / 60, 1)
    monkeypatch.setitem(synth.GENERATOR_VERSIONS, "synth-something", 999)  # a new generator: the record is stale
    assert ex.generation_record("synth-something", "smoke") is None


def test_the_evaluate_step_scores_figure5_once_on_a_finished_cmr_run(root, capsys):
    """``runs --evaluate`` caches claims 10-11's Figure 5 scores, so that the book evaluates nothing."""
    from cmrlib import grid

    trained = ex.run("cmr", "smoke", seed=0)
    run_dir = root / trained["run_dir"]
    assert not (run_dir / "figure5.json").exists()
    assert grid.main(["--profile", "smoke", "--grids", "table6", "--evaluate"]) == 0
    assert "Figure 5 scores of" in capsys.readouterr().out
    scores = json.loads((run_dir / "figure5.json").read_text())
    assert scores["clips"] == 8 and set(scores) > {"clips"}
    assert grid.main(["--profile", "smoke", "--grids", "table6", "--evaluate"]) == 0
    assert "done: 0 evaluation(s)" in capsys.readouterr().out
