"""cmrlib.config: profiles, resolve, CLI overrides, clear errors, and the lr schedule."""
import json

import pytest

from cmrlib import config as configlib
from cmrlib.config import lr_factor, parse_overrides, resolve


@pytest.mark.parametrize("profile", sorted(configlib.PROFILES))
def test_every_profile_resolves_to_json(profile):
    config = resolve("cmr", profile, validate=False)
    assert json.loads(json.dumps(config)) == config
    shared_clips = {"cpu-final": "cpu-powered"}  # the reviewed protocol runs on cpu-powered's clips
    assert config["profile"] == profile and config["data_profile"] == shared_clips.get(profile, profile)
    assert config["model_options"] == {"cme": "all", "sme": "part", "tim": True, "r": 8, "variant": "paper"}
    assert set(config) == set(configlib.RECIPE)


def test_recipe_is_cmrs():
    recipe = configlib.RECIPE
    assert (recipe["epochs"], recipe["lr"], recipe["batch_size"], recipe["lr_steps"]) == (50, 0.01, 64, [0.6, 0.8, 0.9])
    assert (recipe["momentum"], recipe["nesterov"], recipe["clip_grad_norm"], recipe["dropout"]) == (0.9, True, 20.0, 0.5)


def test_overrides_parse_types():
    parsed = parse_overrides(["lr=0.05", "epochs=3", "nesterov=false", "cme=part", "lr_steps=[0.5, 0.75]",
                              "pretrained=None", "tim=True"])
    assert parsed == {"lr": 0.05, "epochs": 3, "nesterov": False, "cme": "part", "lr_steps": [0.5, 0.75],
                      "pretrained": None, "tim": True}
    with pytest.raises(ValueError, match="key=value"):
        parse_overrides(["lr"])


def test_overrides_apply_and_model_options_nest():
    config = resolve("cmr", "smoke", {"r": 4, "sme": "none", "width": 1, "frames": 16}, validate=False)
    assert config["model_options"]["r"] == 4 and config["model_options"]["sme"] == "none"
    assert config["width"] == 1.0 and isinstance(config["width"], float) and config["frames"] == 16


def test_sampling_auto_is_dense_only_for_the_scene_benchmark():
    assert resolve("tsm", "smoke", {"benchmark": "synth-kinetics"}, validate=False)["sampling"] == "dense"
    assert resolve("tsm", "smoke", validate=False)["sampling"] == "segments"


@pytest.mark.parametrize("method, profile, overrides, words", [
    ("cmx", "cpu", {}, ["unknown method", "'cmx'"]),
    ("cmr", "laptop", {}, ["unknown profile", "'laptop'"]),
    ("cmr", "cpu", {"learning_rate": 0.1}, ["unknown config field", "'learning_rate'"]),
    ("tsn", "cpu", {"r": 4}, ["'r'", "does not apply", "'tsn'"]),
    ("cmr", "cpu", {"cme": "some"}, ["'cme'", "'some'"]),
    ("cmr", "cpu", {"epochs": 2.5}, ["'epochs'", "int"]),
    ("cmr", "cpu", {"nesterov": "yes"}, ["'nesterov'"]),
    ("cmr", "cpu", {"schedule": "linear"}, ["'schedule'"]),
    ("tsm", "cpu", {"frames": 1}, ["'frames'", "temporal"]),
    ("cmr", "cpu", {"lr_steps": [0.9, 0.5]}, ["'lr_steps'"]),
    ("cmr", "cpu", {"warmup_epochs": 99.0}, ["'warmup_epochs'"]),
])
def test_bad_options_raise_value_errors_that_name_them(method, profile, overrides, words):
    with pytest.raises(ValueError) as error:
        resolve(method, profile, overrides, validate=False)
    for word in words:
        assert word in str(error.value)


def test_tsn_accepts_one_frame():
    assert resolve("tsn", "smoke", {"frames": 1}, validate=False)["frames"] == 1


def test_r_that_does_not_divide_the_channels_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\br\b"):
        resolve("cmr", "smoke", {"r": 7})


def test_valid_config_builds():
    config = resolve("pem", "smoke", {"r": 4})
    assert config["model_options"] == {"r": 4}


def schedule(**fields):
    return dict(configlib.RECIPE, **fields)


def test_step_schedule_is_cmrs_at_50_epochs():
    config = schedule(epochs=50)
    values = {epoch: lr_factor(config, epoch) for epoch in (0, 29.99, 30, 39.99, 40, 44.99, 45, 49.99)}
    assert values[0] == values[29.99] == 1.0
    assert values[30] == pytest.approx(0.1) and values[39.99] == pytest.approx(0.1)
    assert values[40] == pytest.approx(0.01) and values[45] == pytest.approx(0.001)
    assert values[49.99] == pytest.approx(0.001)


def test_step_schedule_scales_to_the_profiles_epochs():
    config = schedule(epochs=10)
    assert lr_factor(config, 5.99) == 1.0
    assert lr_factor(config, 6.0) == pytest.approx(0.1)
    assert lr_factor(config, 8.0) == pytest.approx(0.01)
    assert lr_factor(config, 9.0) == pytest.approx(0.001)


def test_cosine_and_warmup():
    config = schedule(epochs=10, schedule="cosine", warmup_epochs=2.0, warmup_start_factor=0.1)
    assert lr_factor(config, 0) == pytest.approx(0.1)
    assert lr_factor(config, 1) == pytest.approx(0.55)
    assert lr_factor(config, 2) == pytest.approx(1.0)
    assert lr_factor(config, 6) == pytest.approx(0.5)
    assert lr_factor(config, 10) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(schedule(epochs=10, schedule="constant"), 9.5) == 1.0


def test_lr_scales_linearly_with_the_batch():
    assert configlib.base_lr(schedule(lr=0.01, batch_size=64)) == pytest.approx(0.01)
    assert configlib.base_lr(schedule(lr=0.01, batch_size=16)) == pytest.approx(0.0025)
