"""CMR's Figure 5 on the book's trained runs: the cached CMR model of a seed and the scores of its maps
(claims 10-11). The maps and their scores themselves are ``cmrlib.visualize``'s."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from torch import nn

from cmrlib import runs, visualize
from cmrlib.checkpoint import build_model, load_checkpoint
from cmrlib.experiments import cache
from cmrlib.experiments.plan import parse_seeds, spec


def load_trained(run_dir) -> nn.Module:
    """The model of a finished training run (``run_dir``/checkpoints/last.pt), in eval mode."""
    run_dir = Path(run_dir)
    weights = run_dir / "checkpoints" / "last.pt"
    if not weights.exists():
        raise ValueError(f"no checkpoint {weights}; train the run first")
    state = load_checkpoint(weights)["model"]
    model = build_model(runs.load_run_config(run_dir), num_classes=state["fc.weight"].shape[0],
                        pretrained=False)
    model.load_state_dict(state)
    return model.eval()


def trained_cmr(profile: str, seed: int = 0, retrain_before: float | None = None, **overrides):
    """(model, row) of the book's cached CMR run on synth-something (``cmrlib.experiments.run``).

    Checkpoints are not committed: a clone that has the run's results but not its weights re-makes them
    once with ``cmrlib.experiments.rebuild_weights`` (same config and seed, in _build/weights/), leaving the
    committed run untouched; ``row["weights"]`` says where the weights came from."""
    row = cache.run("cmr", profile, seed, retrain_before=retrain_before, **overrides)
    run_dir = cache.root() / row["run_dir"]
    if (run_dir / "checkpoints" / "last.pt").exists():
        return load_trained(run_dir), {**row, "weights": row["run_dir"]}
    rebuilt = cache.rebuild_weights(run_dir)
    return load_trained(rebuilt), {**row, "weights": rebuilt.relative_to(cache.root()).as_posix()}


def scores(profile: str, seeds, clips: int = 8, force: bool = False) -> pd.DataFrame:
    """Claims 10-11 measured on the trained CMR runs (Table 6's "+CME&SME", one per seed): the mean over
    ``clips`` synth-something validation-style clips of ``cmrlib.visualize`` Figure 5 scores, cached per run
    in figure5.json (so that committed runs need no checkpoint)."""
    rows = []
    for seed in parse_seeds(seeds):
        row = cache.run_spec(spec("CMR", "cmr"), profile, seed)
        run_dir = cache.root() / row["run_dir"]
        path = run_dir / "figure5.json"
        if path.exists() and not force:
            result = runs.read_json(path)
        else:  # a clone without the checkpoint re-makes the weights once, as trained_cmr does
            weights = run_dir if (run_dir / "checkpoints" / "last.pt").exists() else cache.rebuild_weights(run_dir)
            model = load_trained(weights)
            config = runs.load_run_config(run_dir)
            clip_list = visualize.figure5_clips(model.fc.out_features, config["frames"], config["size"],
                                                count=clips, profile=profile)
            with torch.no_grad():
                table = visualize.figure5_table(model, clip_list)
            result = {"clips": clips, **table.drop(columns="clip").mean().to_dict()}
            runs.atomic_write_json(path, result)
        rows.append({"label": "CMR", "seed": seed, "profile": profile, **result})
    return pd.DataFrame(rows)
