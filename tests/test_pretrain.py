"""The ImageNet stand-in: fractal classes (cmrlib.data.fractals) and the cached pretrained backbone
(cmrlib.pretrain) that every method loads through ``pretrained="fractals"``."""
import numpy as np
import pytest
import torch

from cmrlib import config as configlib
from cmrlib import pretrain, runs
from cmrlib.checkpoint import build_model
from cmrlib.data import fractals

TINY = {"classes": 4, "instances": 8, "holdout": 2, "epochs": 2, "batch_size": 8}


def test_fractal_images_are_deterministic_filled_and_differ_by_class():
    images, labels = fractals.make_dataset(3, 4, 32, seed=5)
    again, _ = fractals.make_dataset(3, 4, 32, seed=5)
    other, _ = fractals.make_dataset(3, 4, 32, seed=6)
    assert images.shape == (12, 32, 32, 3) and images.dtype == np.uint8 and list(labels) == [0] * 4 + [1] * 4 + [2] * 4
    assert np.array_equal(images, again) and not np.array_equal(images, other)
    for system in fractals.sample_classes(3, seed=5, size=32):
        maps, offsets, probabilities = system
        assert np.all(np.linalg.svd(maps, compute_uv=False) < 1), "every map contracts"
        assert probabilities.sum() == pytest.approx(1.0)
        assert fractals.draw(fractals.chaos_game(system, np.random.default_rng(0)), 32).mean() >= fractals.MIN_FILL


@pytest.fixture
def tiny_recipe(monkeypatch, tmp_path):
    monkeypatch.setenv("CMR_ROOT", str(tmp_path))
    monkeypatch.setattr(configlib, "PRETRAINING", {**configlib.PRETRAINING, **TINY})
    return configlib.resolve("cmr", "smoke", {"pretrained": "fractals", "threads": 1, "depth": 18})


def test_every_method_starts_from_the_cached_fractal_backbone(tiny_recipe):
    config = tiny_recipe
    path = pretrain.backbone(config, log=lambda message: None)
    assert path.parent.parent == runs.project_root() / "runs" / "pretrain"
    state = torch.load(path, weights_only=True)
    assert not any(k.startswith("fc.") for k in state) and state["conv1.weight"].dtype == torch.float16
    assert len(runs.read_jsonl(path.parent / "metrics.jsonl")) == TINY["epochs"]
    stamp = path.stat().st_mtime_ns
    for method in ("tsn", "cmr", "tea"):  # TEA's basic-block form takes the ResNet backbone too
        model = build_model(configlib.resolve(method, "smoke", {"pretrained": "fractals", "depth": 18}), 3)
        own = model.state_dict()
        shared = [k for k in state if k in own and not k.endswith("num_batches_tracked")]
        tensors = [k for k in state if not k.endswith("num_batches_tracked")]
        assert len(shared) == len(tensors) or (method == "tea" and len(shared) >= 0.6 * len(tensors)), method
        assert all(torch.equal(own[k], state[k].float()) for k in shared), method
    assert path.stat().st_mtime_ns == stamp, "the backbone is made once and reused"
    untouched = build_model(config, num_classes=3, pretrained=False)
    assert not torch.equal(untouched.conv1.weight, state["conv1.weight"].float())


def test_the_run_key_follows_the_pretraining_recipe(tiny_recipe, monkeypatch):
    key = runs.run_key(tiny_recipe)
    monkeypatch.setattr(configlib, "PRETRAINING", {**configlib.PRETRAINING, "epochs": 3})
    assert runs.run_key(tiny_recipe) != key
    scratch = dict(tiny_recipe, pretrained=None)
    assert runs.run_key(scratch) != key
