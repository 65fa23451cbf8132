"""cmrlib.runs: atomic writes, checkpoints that load with weights_only, the versioned run key, provenance."""
import json
import os

import pytest
import torch

from cmrlib import runs


def test_atomic_write_json_replaces_whole_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "final.json"
    runs.atomic_write_json(path, {"top1": 0.5})
    runs.atomic_write_json(path, {"top1": 0.75, "nan": float("nan")})
    assert runs.read_json(path)["top1"] == 0.75
    assert os.listdir(path.parent) == ["final.json"]


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "config.json"
    runs.atomic_write_json(path, {"seed": 1})
    with pytest.raises(TypeError):
        runs.atomic_write_json(path, {"seed": object()})  # not JSON: fails half-way through
    assert runs.read_json(path) == {"seed": 1}
    assert os.listdir(tmp_path) == ["config.json"]


def test_atomic_save_loads_with_weights_only(tmp_path):
    state = {"model": {"w": torch.arange(3.0)}, "epoch": 2, "rng": [torch.get_rng_state()],
             "history": [{"loss": 1.5, "bad_inputs": {}}], "partial": None, "config_json": "{}"}
    runs.atomic_save(state, tmp_path / "checkpoints" / "last.pt")
    loaded = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert torch.equal(loaded["model"]["w"], torch.arange(3.0))
    assert loaded["history"] == state["history"] and loaded["epoch"] == 2


def test_jsonl_round_trip(tmp_path):
    rows = [{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.0}]
    runs.atomic_write_jsonl(tmp_path / "metrics.jsonl", rows)
    assert runs.read_jsonl(tmp_path / "metrics.jsonl") == rows


def test_run_key_follows_the_training_version_not_the_source(monkeypatch):
    config = {"method": "cmr", "seed": 0, "benchmark": "synth-something", "profile": "cpu", "data": "/datasets/x"}
    key = runs.run_key(config)
    assert not hasattr(runs, "code_hash"), "the key must not hash source bytes"
    monkeypatch.setattr(runs, "TRAINING_VERSION", runs.TRAINING_VERSION + 1)
    assert runs.run_key(config) != key, "a bumped training version must invalidate every run"


def test_run_key_follows_the_config_but_not_the_worker_count():
    config = {"method": "cmr", "seed": 0, "lr": 0.1, "num_workers": 0, "model_options": {"r": 8},
              "benchmark": "synth-something", "profile": "cpu", "data": None}
    key = runs.run_key(config)
    assert runs.run_key(dict(config, num_workers=4)) == key
    assert runs.run_key(dict(config, seed=1)) != key
    assert runs.run_key(dict(config, model_options={"r": 4})) != key
    assert len(key) == 16


def test_run_key_follows_the_generated_data_but_not_for_a_given_folder(monkeypatch):
    from cmrlib.data import synth

    config = {"method": "tsn", "seed": 0, "benchmark": "synth-longrange", "profile": "cpu", "data": None}
    own = dict(config, data="/datasets/ssv2")
    keys = runs.run_key(config), runs.run_key(own)
    monkeypatch.setattr(synth, "fingerprint", lambda *args: "another generator")
    assert runs.run_key(config) != keys[0], "a changed generator must invalidate runs on generated data"
    assert runs.run_key(own) == keys[1]


def test_a_field_added_at_its_old_behaviour_keeps_the_key(monkeypatch):
    config = {"method": "tea", "seed": 0, "benchmark": "synth-something", "profile": "cpu", "data": "/datasets/x",
              "model_options": {"r": 8}}
    key = runs.run_key(config)
    monkeypatch.setitem(runs.KEY_ADDED_AT_DEFAULT, "frame_template", "img_{:05d}.jpg")
    monkeypatch.setitem(runs.KEY_ADDED_AT_DEFAULT, "tea.variant", "paper")
    assert runs.run_key(dict(config, frame_template="img_{:05d}.jpg")) == key
    assert runs.run_key(dict(config, model_options={"r": 8, "variant": "paper"})) == key
    assert runs.run_key(dict(config, frame_template="{:06d}.jpg")) != key
    assert runs.run_key(dict(config, model_options={"r": 8, "variant": "released"})) != key
    assert runs.run_key(dict(config, method="cmr", model_options={"r": 8, "variant": "paper"})) != key


def test_run_id_names_method_options_frames_seed_and_key():
    config = {"method": "cmr", "frames": 16, "seed": 2, "profile": "cpu", "benchmark": "synth-something", "data": None,
              "model_options": {"cme": "all", "sme": "part", "tim": True, "r": 4, "variant": "paper"}}
    run_id = runs.run_id(config)
    assert run_id.startswith("cmr-r4-T16-s2-") and run_id.endswith(runs.run_key(config)[:8])
    assert runs.default_run_dir(config).parts[-4:-1] == ("runs", "cpu", "synth-something")


def test_provenance_has_the_fields_the_book_reports():
    record = runs.provenance("cpu")
    for field in ("git_commit", "git_dirty", "torch_version", "device", "hostname", "utc_time", "training_version"):
        assert field in record
    assert record["torch_version"] == torch.__version__
    json.dumps(record)


def test_the_committed_book_runs_are_valid_under_the_current_keys():
    """A clean clone's ``make book`` retrains nothing: every run the default profile's pages need is committed
    under the key the current code gives it. A change that moves a key (a version bump, a new config field
    without KEY_ADDED_AT_DEFAULT) fails here until those runs are retrained and committed."""
    from cmrlib import book
    from cmrlib import experiments as ex

    profile = book.DEFAULT_PROFILE
    missing = [runs.default_run_dir(ex.resolve(spec, profile, seed)).relative_to(runs.project_root()).as_posix()
               for specs, seeds, _ in ex.page_grids(profile).values() for spec in specs
               for seed in ex.parse_seeds(seeds)
               if not (runs.default_run_dir(ex.resolve(spec, profile, seed)) / "final.json").exists()]
    assert not missing, f"{len(missing)} runs of the {profile} book would be retrained, e.g. {missing[:3]}"
