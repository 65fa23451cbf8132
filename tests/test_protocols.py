"""The reviewed protocols (issues 24 and 25): 3 test crops that differ on square frames, 16-frame runs fine-tuned
from the same-seed 8-frame run, the data digest a run records, and book-profile runs only from committed code."""
import pytest
import torch

from cmrlib import config as configlib
from cmrlib import experiments as ex
from cmrlib import runs
from cmrlib import train as trainlib
from cmrlib.data import synth
from cmrlib.data import transforms

FAST = {"epochs": 1, "train_subset": 8, "val_subset": 4, "batch_size": 4, "threads": 1}


def benchmark_clip() -> torch.Tensor:
    """A cpu-powered synth-something clip as the dataset hands it to the transforms: uint8 (T, 3, 64, 64)."""
    frames, _ = synth.render_clip("synth-something", 0, 7, 8, synth.SYNTH_PROFILES["cpu-powered"]["size"],
                                  scene=synth.SYNTH_PROFILES["cpu-powered"]["scene"])
    return torch.from_numpy(frames).permute(0, 3, 1, 2)


def test_three_crops_of_a_square_benchmark_clip_differ_at_the_single_view_scale():
    views = transforms.test_views(benchmark_clip(), 56, 3, "single-view")
    assert views.shape == (3, 8, 3, 56, 56)
    for a, b in ((0, 1), (1, 2), (0, 2)):
        assert (views[a] - views[b]).abs().max() > 0.1, f"crops {a} and {b} are the same view"


def test_full_height_crops_of_a_square_frame_are_one_view():
    """The artefact behind the old claim 12 verdict, kept as the released configs' option."""
    views = transforms.test_views(benchmark_clip(), 56, 3, "full-height")
    assert torch.equal(views[0], views[1]) and torch.equal(views[1], views[2])


def test_a_wide_frame_gives_three_crops_at_either_scale():
    frames = torch.randint(0, 255, (4, 3, 100, 176), dtype=torch.uint8)
    for scale in ("full-height", "single-view"):
        views = transforms.test_views(frames, 56, 3, scale)
        assert not torch.equal(views[0], views[2])
    with pytest.raises(ValueError, match="crop scale"):
        transforms.test_views(frames, 56, 3, "everywhere")


def test_the_reviewed_profile_takes_single_view_crops_and_the_old_ones_keep_their_keys():
    assert configlib.resolve("cmr", "cpu-final")["test_crop_scale"] == "single-view"
    old = configlib.resolve("cmr", "cpu-powered")
    assert old["test_crop_scale"] == "full-height" and old["init_from_frames"] is None
    without = {k: v for k, v in old.items() if k not in ("test_crop_scale", "init_from_frames")}
    assert runs.run_key(old) == runs.run_key(without), "added fields at their defaults must keep committed keys"
    assert configlib.resolve("cmr", "cpu-final")["data_profile"] == "cpu-powered"


def test_table1_at_16_frames_is_fine_tuned_from_the_8_frame_run_with_tim_and_tsm_controls():
    specs = ex.table1_plan_specs("cpu-final")
    long = {s.label for s in specs if s.overrides["frames"] == 16}
    assert long == {"TSM", "TIM", "PEM (stand-in)", "CMR"}
    assert "TIM" in {s.label for s in specs if s.overrides["frames"] == 8}
    for spec_ in specs:
        config = ex.resolve(spec_, "cpu-final", 1)
        if config["frames"] == 16:
            assert config["init_from_frames"] == 8 and config["epochs"] == configlib.FINETUNE["epochs"]
            parent = configlib.parent_config(config)
            eight = ex.resolve(ex.spec(spec_.label, spec_.method, frames=8), "cpu-final", 1)
            assert runs.run_key(parent) == runs.run_key(eight)
        else:
            assert configlib.parent_config(config) is None
    # the older profiles train 16 frames from the start, as their committed runs did
    assert all("init_from_frames" not in s.overrides for s in ex.table1_plan_specs("cpu-powered"))


def test_a_fine_tuned_run_starts_from_its_parents_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("CMR_ROOT", str(tmp_path))
    monkeypatch.setattr(runs, "project_root", lambda: tmp_path)
    data = synth.generate("synth-something", "smoke", tmp_path / "data" / "smoke" / "synth-something",
                          workers=0, verbose=False)
    assert data.is_dir()
    child = configlib.resolve("tsm", "smoke", {**FAST, "frames": 8, "init_from_frames": 4})
    with pytest.raises(ValueError, match="not trained"):
        trainlib.train(child, tmp_path / "child")
    parent = configlib.parent_config(child)
    trainlib.train(parent, runs.default_run_dir(parent))
    trainlib.train(child, tmp_path / "child")
    record = runs.read_json(tmp_path / "child" / "config.json")
    assert record["init_from"]["run_key"] == runs.run_key(parent)
    assert record["data_digest"] == runs.data_digest(data) is not None
    # the child's first epoch starts from the parent: its loss is not the from-scratch loss
    scratch = configlib.resolve("tsm", "smoke", {**FAST, "frames": 8})
    trainlib.train(scratch, tmp_path / "scratch")
    first = [runs.read_jsonl(tmp_path / name / "metrics.jsonl")[0]["loss"] for name in ("child", "scratch")]
    assert first[0] != first[1]


def test_the_data_digest_follows_every_clip(tmp_path):
    root = tmp_path / "d"
    runs.atomic_write_json(root / "manifest.json", {"clips": {"0": {"split": "train", "label": 1, "sha1": "aa"},
                                                              "1": {"split": "validation", "label": 0, "sha1": "bb"}}})
    digest = runs.data_digest(root)
    runs.atomic_write_json(root / "manifest.json", {"clips": {"0": {"split": "train", "label": 1, "sha1": "aa"},
                                                              "1": {"split": "validation", "label": 0, "sha1": "bc"}}})
    assert runs.data_digest(root) != digest and len(digest) == 40
    assert runs.data_digest(tmp_path / "no-manifest") is None


def test_a_run_on_other_clips_is_neither_reused_nor_resumed(tmp_path, monkeypatch):
    monkeypatch.setenv("CMR_ROOT", str(tmp_path))
    monkeypatch.setattr(runs, "project_root", lambda: tmp_path)
    root = synth.generate("synth-something", "smoke", tmp_path / "data" / "smoke" / "synth-something",
                          workers=0, verbose=False)
    config = configlib.resolve("tsn", "smoke", {**FAST, "frames": 2})
    out = runs.default_run_dir(config)
    trainlib.train(config, out)
    ex.check_data(out)  # same clips: fine
    record = runs.read_json(out / "config.json")
    runs.atomic_write_json(out / "config.json", {**record, "data_digest": "0" * 40})
    with pytest.raises(ValueError, match="other clips"):
        ex.check_data(out)
    (out / "final.json").unlink()
    with pytest.raises(ValueError, match="other data"):
        trainlib.train(config, out, resume=True)
    assert root.is_dir()


def test_a_book_profile_run_is_refused_from_a_dirty_tree_or_keeps_the_diff(tmp_path, monkeypatch):
    monkeypatch.setattr(runs, "git_dirty", lambda: True)
    monkeypatch.setattr(runs, "git_diff", lambda: "diff --git a/x b/x\n")
    monkeypatch.setattr(runs, "LOADED_TREE", runs.tree_state())  # this process loaded that dirty tree
    with pytest.raises(ValueError, match="uncommitted changes"):
        trainlib.train(configlib.resolve("tsn", "cpu-final"), tmp_path / "refused")
    assert not (tmp_path / "refused").exists(), "nothing is written for a refused run"
    monkeypatch.setattr(configlib, "BOOK_PROFILES", ("smoke",))
    config = configlib.resolve("tsn", "smoke", {**FAST, "frames": 2})
    with pytest.raises(ValueError, match="uncommitted changes"):
        trainlib.train(config, tmp_path / "smoke")
    trainlib.train(config, tmp_path / "smoke", allow_dirty=True)
    assert (tmp_path / "smoke" / "uncommitted.diff").read_text().startswith("diff --git")


def test_the_runs_command_lists_what_is_missing(capsys):
    from cmrlib import grid

    assert grid.main(["--profile", "cpu-final", "--grids", "table1", "--list"]) == 0
    out = capsys.readouterr().out
    assert "of 60 planned runs finished" in out  # Table 1 at 8 and 16 frames with the TIM and TSM controls, 5 seeds
    assert all(line.startswith("  runs/cpu-final/synth-something/") for line in out.splitlines()[1:])
    assert grid.main(["--profile", "cpu-final", "--grids", "tables"]) == 2
    assert "unknown grid" in capsys.readouterr().err


def test_verify_remakes_a_run_made_in_another_process_identically_and_names_a_difference(tmp_path, monkeypatch):
    """Issue 25: a smoke run trained by the CLI in a separate process, re-made by ``verify`` in this one."""
    import subprocess
    import sys

    from cmrlib import verify

    monkeypatch.setenv("CMR_ROOT", str(tmp_path))
    out = tmp_path / "runs" / "smoke" / "made-elsewhere"
    made = subprocess.run([sys.executable, "-m", "cmrlib", "train", "--method", "tsm", "--profile", "smoke",
                           "--out", str(out), *(f"{k}={v}" for k, v in {**FAST, "epochs": 2}.items())],
                          capture_output=True, text=True, env={**__import__("os").environ, "CMR_ROOT": str(tmp_path)})
    assert made.returncode == 0, made.stderr[-2000:]
    result = verify.verify(out)
    assert result["outcome"] == "identical" and result["first_difference"] is None and result["epochs"] == 2
    recorded = runs.read_json(tmp_path / "runs" / "verify" / "smoke--made-elsewhere.json")
    assert recorded["outcome"] == "identical" and recorded["utc_time"] and recorded["machine"]["cpus"]
    assert not any((tmp_path / "_build" / "verify").iterdir()), "the scratch folder is removed"
    rows = runs.read_jsonl(out / "metrics.jsonl")
    rows[1]["loss"] += 1e-12  # a change far below any printed digit
    runs.atomic_write_jsonl(out / "metrics.jsonl", rows)
    result = verify.verify(out, record=False)
    assert result["outcome"] == "different"
    assert result["first_difference"]["epoch"] == 2 and result["first_difference"]["field"] == "loss"


def test_first_difference_ignores_timings_only():
    from cmrlib.verify import first_difference

    a = [{"epoch": 1, "loss": 1.0, "wall_time_s": 3.0}]
    assert first_difference(a, [{"epoch": 1, "loss": 1.0, "wall_time_s": 9.0}]) is None
    assert first_difference(a, [{"epoch": 1, "loss": 1.0}, {"epoch": 2}])["epoch"] == 2


def test_exported_half_weights_load_for_predict_without_the_checkpoint(tmp_path, monkeypatch):
    from cmrlib import figure5, predict, verify

    monkeypatch.setenv("CMR_ROOT", str(tmp_path))
    config = configlib.resolve("tsm", "smoke", FAST)
    out = tmp_path / "run"
    trainlib.train(config, out)
    record = verify.export_half(out)
    assert record["bytes"] < (out / "checkpoints" / "last.pt").stat().st_size / 2
    assert abs(record["val_top1_f16"] - record["val_top1_f32"]) <= 0.25
    full = figure5.load_trained(out)
    (out / "checkpoints" / "last.pt").rename(tmp_path / "moved.pt")
    half = figure5.load_trained(out)
    for (name, a), b in zip(full.state_dict().items(), half.state_dict().values()):
        if a.is_floating_point():
            assert torch.allclose(a, b, rtol=1e-3, atol=1e-3), name
    assert predict.from_run(out).classes


def test_make_installs_the_pinned_versions_of_every_dependency():
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    pins = {}
    for line in (root / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and version, f"constraints.txt: {line!r} is not an exact pin"
            pins[name.lower().replace("_", "-")] = version
    dependencies = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    for requirement in dependencies:
        name = requirement.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip().lower()
        assert name in pins, f"{name} is not pinned in constraints.txt"
    assert "-c constraints.txt" in (root / "Makefile").read_text()


def test_a_process_refuses_a_book_run_when_the_code_changed_since_it_loaded_it(tmp_path, monkeypatch):
    """A long-lived training process keeps the code it imported: it must not record a later tree as its code."""
    monkeypatch.setattr(runs, "LOADED_TREE", ("0" * 40, False, None))
    with pytest.raises(ValueError, match="changed since this process loaded it"):
        trainlib.train(configlib.resolve("tsn", "cpu-final"), tmp_path / "refused")
    assert not (tmp_path / "refused").exists()


def test_a_run_records_the_cpu_signature_that_decides_its_numbers():
    signature = runs.provenance("cpu")["cpu_signature"]
    assert signature["aten_capability"] and "family_model" in signature and isinstance(signature["flags"], list)


def test_a_commit_that_changes_no_code_leaves_the_loaded_tree_valid(tmp_path):
    """``runs --commit`` commits each finished run: the training process must go on (issue 26: it stopped after
    its first commit while the check compared HEAD)."""
    import shutil
    import subprocess

    repo = tmp_path / "repo"
    (repo / "cmrlib").mkdir(parents=True)
    for name in ("pyproject.toml", "constraints.txt"):
        (repo / name).write_text("x\n")
    (repo / "cmrlib" / "a.py").write_text("A = 1\n")
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "code"], check=True)
    original = runs.PACKAGE_DIR
    try:
        runs.PACKAGE_DIR = repo / "cmrlib"
        loaded = runs.tree_state()
        (repo / "runs").mkdir()
        (repo / "runs" / "final.json").write_text("{}\n")
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", "a finished run"], check=True)
        assert runs.tree_state() == loaded
        (repo / "cmrlib" / "a.py").write_text("A = 2\n")
        subprocess.run([*git, "commit", "-qam", "code change"], check=True)
        assert runs.tree_state() != loaded
    finally:
        runs.PACKAGE_DIR = original
        shutil.rmtree(repo)


def test_the_look_one_decision_is_recorded_once_and_extends_only_the_named_rows(tmp_path, monkeypatch):
    """The sequential seed rule's plumbing (issue 26): the record names the rows that get seeds 10-19, the
    planned runs and the pages' grids follow it, and a profile decides look 1 once, on complete look-1 runs."""
    import json

    from cmrlib import experiments as ex
    from cmrlib import precision

    monkeypatch.setenv("CMR_ROOT", str(tmp_path))
    before = len(ex.planned_configs("cpu-final", ["table6"]))
    assert before == 6 * 10 and ex.look_two_seeds("cpu-final", "table6") == {}
    with pytest.raises(ValueError, match="incomplete: 170 Tables 3-6 results"):
        precision.record_first_look("cpu-final")  # nothing trained under this root
    with pytest.raises(ValueError, match="does not follow"):
        precision.record_first_look("cpu-powered")
    record = tmp_path / "runs" / "cpu-final" / ex.SEQUENTIAL_RECORD
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"extend": {"table6": ["+CME", "baseline"]}, "seeds": list(range(10, 20))}))
    assert ex.look_two_seeds("cpu-final", "table6") == {"+CME": list(range(10, 20)), "baseline": list(range(10, 20))}
    assert ex.look_two_seeds("cpu-final", "table4") == {}
    planned = ex.planned_configs("cpu-final", ["table6"])
    assert len(planned) == before + 2 * 10
    extended = {(c["method"], c["model_options"].get("sme"), c["seed"]) for c in planned.values() if c["seed"] >= 10}
    assert {seed for _, _, seed in extended} == set(range(10, 20)) and len(extended) == 20
    with pytest.raises(ValueError, match="taken once"):
        precision.record_first_look("cpu-final")
