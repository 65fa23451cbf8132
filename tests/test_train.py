"""cmrlib.train in-process on the smoke data: run files, determinism, resume, NaN handling, CLI errors."""
import math

import pytest
import torch

from cmrlib import runs
from cmrlib import checkpoint, loaders
from cmrlib import distributed as dist
from cmrlib import train as trainlib
from cmrlib.config import resolve

# 16 clips in 4 steps of 4, 2 epochs, 4 frames at 28 px, one thread: a couple of seconds per run
FAST = {"frames": 4, "epochs": 2, "train_subset": 16, "val_subset": 8, "batch_size": 4, "threads": 1}
TIMING = ("clips_per_s", "train_time_s", "val_time_s", "wall_time_s")


def make_config(method="tsm", **extra):
    return resolve(method, "smoke", {**FAST, **extra})


def without_timing(rows):
    return [{name: value for name, value in row.items() if name not in TIMING} for row in rows]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "tsm"
    return out, trainlib.train(make_config(), out)


def test_run_folder_holds_config_metrics_final_and_checkpoint(finished_run):
    out, final = finished_run
    record = runs.read_json(out / "config.json")
    assert record["method"] == "tsm" and record["seed"] == 0 and record["run_key"] == runs.run_key(make_config())
    for field in ("git_commit", "git_dirty", "torch_version", "device", "hostname", "wall_time_s", "world_size"):
        assert field in record["provenance"], field
    rows = runs.read_jsonl(out / "metrics.jsonl")
    assert [row["epoch"] for row in rows] == [1, 2]
    for row in rows:
        for field in ("loss", "train_top1", "val_top1", "val_top5", "lr", "wall_time_s", "clips_per_s", "bad_inputs"):
            assert field in row, field
        assert row["train_clips"] == 16 and row["steps"] == 4
        assert 0 <= row["val_top1"] <= row["val_top5"] <= 1 and math.isfinite(row["loss"])
    assert runs.read_json(out / "final.json") == final
    assert final["val_top1"] == rows[-1]["val_top1"] and final["epochs"] == 2


def test_lr_is_scaled_by_batch_and_stepped_inside_epochs(finished_run):
    rows = runs.read_jsonl(finished_run[0] / "metrics.jsonl")
    base = make_config()["lr"] * 4 / 64  # lr per 64 clips, batch 4
    # last step of epoch 1 is at 0.75 epochs (< 60% of 2); of epoch 2 at 1.75 epochs (past 60% and 80%)
    assert rows[0]["lr"] == pytest.approx(base)
    assert rows[1]["lr"] == pytest.approx(base * 0.01)


def test_checkpoint_loads_with_weights_only(finished_run):
    state = torch.load(finished_run[0] / "checkpoints" / "last.pt", weights_only=True)
    assert state["epoch"] == 2 and state["step"] == 0
    assert all(torch.isfinite(tensor).all() for tensor in state["model"].values() if tensor.is_floating_point())
    assert isinstance(state["rng"][0]["torch"], torch.Tensor) and len(state["history"]) == 2


def test_same_config_and_seed_give_identical_metrics(finished_run, tmp_path):
    out, final = finished_run
    again = trainlib.train(make_config(), tmp_path / "again")
    assert without_timing(runs.read_jsonl(tmp_path / "again" / "metrics.jsonl")) == \
        without_timing(runs.read_jsonl(out / "metrics.jsonl"))
    assert {k: v for k, v in again.items() if k not in TIMING} == {k: v for k, v in final.items() if k not in TIMING}
    first = torch.load(out / "checkpoints" / "last.pt", weights_only=True)["model"]
    second = torch.load(tmp_path / "again" / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_another_seed_gives_other_metrics(finished_run, tmp_path):
    trainlib.train(make_config(seed=1), tmp_path / "seed1")
    losses = [row["loss"] for row in runs.read_jsonl(tmp_path / "seed1" / "metrics.jsonl")]
    assert losses != [row["loss"] for row in runs.read_jsonl(finished_run[0] / "metrics.jsonl")]


def test_finished_run_is_returned_without_training(finished_run, monkeypatch):
    out, final = finished_run
    monkeypatch.setattr(trainlib, "build_datasets", lambda *a: pytest.fail("a finished run was trained again"))
    assert trainlib.train(make_config(), out) == final
    assert trainlib.train(make_config(num_workers=1), out) == final  # runtime-only fields do not matter
    with pytest.raises(ValueError, match="different config"):
        trainlib.train(make_config(lr=0.5), out)


def interrupt_at_call(monkeypatch, call, error):
    """Make the call-th evaluation of the training loss raise (error is an exception or 'nan')."""
    real, calls = trainlib.classification_loss, []

    def loss(logits, labels):
        calls.append(1)
        if len(calls) == call:
            if error == "nan":
                return real(logits, labels) * float("nan")
            raise error
        return real(logits, labels)

    monkeypatch.setattr(trainlib, "classification_loss", loss)


def test_resume_inside_an_epoch_gives_the_same_metrics(finished_run, tmp_path, monkeypatch):
    out = tmp_path / "resumed"
    config = make_config(checkpoint_every=1)
    interrupt_at_call(monkeypatch, 7, KeyboardInterrupt())  # step 3 of epoch 2
    with pytest.raises(KeyboardInterrupt):
        trainlib.train(config, out)
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert (state["epoch"], state["step"]) == (1, 2) and not (out / "final.json").exists()
    monkeypatch.undo()
    final = trainlib.train(config, out, resume=True)
    assert without_timing(runs.read_jsonl(out / "metrics.jsonl")) == \
        without_timing(runs.read_jsonl(finished_run[0] / "metrics.jsonl"))
    assert final["val_top1"] == finished_run[1]["val_top1"] and final["loss"] == finished_run[1]["loss"]


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, capsys):
    out = tmp_path / "nan"
    interrupt_at_call(monkeypatch, 6, "nan")  # step 2 of epoch 2
    code = trainlib.main(["--method", "tsm", "--profile", "smoke", "--out", str(out)]
                         + [f"{k}={v}" for k, v in FAST.items()])
    assert code == 3
    message = capsys.readouterr().err
    assert "nan" in message and "epoch 2, step 2" in message and "last good checkpoint" in message
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert state["epoch"] == 1 and state["step"] == 0
    assert all(torch.isfinite(tensor).all() for tensor in state["model"].values() if tensor.is_floating_point())
    assert not (out / "final.json").exists() and len(runs.read_jsonl(out / "metrics.jsonl")) == 1


@pytest.mark.parametrize("argv, words", [
    (["--method", "cmx"], ["unknown method", "'cmx'"]),
    (["--method", "tsm", "--profile", "laptop"], ["unknown profile", "'laptop'"]),
    (["--method", "tsm", "--data", "/nonexistent/videos"], ["data folder", "/nonexistent/videos", "does not exist"]),
    (["--method", "cmr", "r=7"], ["r=7"]),
    (["--method", "tea", "frames=1"], ["'frames'", "temporal"]),
    (["--method", "tsm", "learning_rate=0.1"], ["unknown config field", "'learning_rate'"]),
    (["--method", "tsm", "epochs=two"], ["'epochs'", "'two'"]),
])
def test_cli_rejects_bad_options_with_a_message(argv, words, tmp_path, capsys):
    argv = argv if "--profile" in argv else argv + ["--profile", "smoke"]
    assert trainlib.main(argv + ["--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cmrlib train: error:") and "Traceback" not in err
    for word in words:
        assert word in err
    assert not (tmp_path / "run").exists()


def test_rng_states_round_trip_through_a_weights_only_checkpoint(tmp_path):
    import random

    import numpy as np

    np.random.seed(3), np.random.randn(1), random.seed(4), torch.manual_seed(5)
    runs.atomic_save({"rng": [checkpoint.rng_state()]}, tmp_path / "rng.pt")
    expected = (np.random.rand(3).tolist(), np.random.randn(2).tolist(), random.random(), torch.rand(2))
    checkpoint.set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True)["rng"][0])
    again = (np.random.rand(3).tolist(), np.random.randn(2).tolist(), random.random(), torch.rand(2))
    assert again[:3] == expected[:3] and torch.equal(again[3], expected[3])


def test_a_seed_fixes_the_clip_order_and_augmentation_whatever_the_method():
    """The blocked design of the claims: runs of different methods with seed s see the same batches (order,
    frames, crops, flips); only the model's initialisation depends on the method."""
    batches = {}
    for method in ("tsn", "cmr"):
        config = resolve(method, "smoke", {"seed": 3})
        train_set, _ = loaders.build_datasets(config, loaders.dataset_root(config))
        checkpoint.build_model(config, train_set.num_classes)  # building a model must not move the data stream
        loader, _ = loaders.epoch_loader(train_set, config, dist.Context(), 1, 0, torch.device("cpu"))
        batches[method] = [clip for clip, _, _ in loader][:2]
    assert all(torch.equal(a, b) for a, b in zip(batches["tsn"], batches["cmr"]))
    other = resolve("tsn", "smoke", {"seed": 4})
    train_set, _ = loaders.build_datasets(other, loaders.dataset_root(other))
    loader, _ = loaders.epoch_loader(train_set, other, dist.Context(), 1, 0, torch.device("cpu"))
    assert not torch.equal(next(iter(loader))[0], batches["tsn"][0]), "another seed, another stream"
