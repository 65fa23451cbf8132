"""CMR's Figure 5 on the book's trained runs: the cached CMR model of a seed and the scores of its maps
(claims 10-11). The maps and their scores themselves are ``cmrlib.visualize``'s."""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from cmrlib import config as configlib
from cmrlib import runs, visualize
from cmrlib.checkpoint import build_model, load_checkpoint
from cmrlib.experiments import cache
from cmrlib.experiments.plan import parse_seeds, resolve, seeds_for, spec


def weights_file(run_dir) -> Path | None:
    """A run's weights: its checkpoint, else the committed float16 copy (``cmrlib.verify.export_half``)."""
    for path in (Path(run_dir) / "checkpoints" / "last.pt", Path(run_dir) / "weights.f16.pt"):
        if path.is_file():
            return path
    return None


def load_trained(run_dir) -> nn.Module:
    """The model of a finished training run (its checkpoint or committed float16 weights), in eval mode."""
    run_dir = Path(run_dir)
    weights = weights_file(run_dir)
    if weights is None:
        raise ValueError(f"no checkpoint {run_dir / 'checkpoints' / 'last.pt'} and no committed weights.f16.pt; "
                         f"train the run first")
    state = {name: tensor.float() if tensor.is_floating_point() else tensor
             for name, tensor in load_checkpoint(weights)["model"].items()}
    model = build_model(runs.load_run_config(run_dir), num_classes=state["fc.weight"].shape[0],
                        pretrained=False)
    model.load_state_dict(state)
    return model.eval()


#: The run whose float16 weights are committed for the Figure 5 page and the README's ``predict --run`` example
#: (issue 25): CMR, seed 0, 8 frames, on the reviewed protocol. Profiles without weights of their own show it.
REFERENCE = ("cpu-final", 0)


def trained_cmr(profile: str, seed: int = 0, retrain_before: float | None = None, **overrides):
    """(model, row) of the book's cached CMR run on synth-something (``cmrlib.experiments.run``).

    Checkpoints are not committed. The weights are the run's checkpoint, else its committed float16 copy; a
    book profile's run without either shows the REFERENCE run's committed weights instead (its own row: the
    accuracy quoted is that of the weights shown); only a smoke run is re-made (seconds), with
    ``cmrlib.experiments.rebuild_weights``. ``row["weights"]`` says where the weights came from."""
    row = cache.run("cmr", profile, seed, retrain_before=retrain_before, **overrides)
    run_dir = cache.root() / row["run_dir"]
    if weights_file(run_dir) is None and profile in configlib.BOOK_PROFILES and not overrides:
        reference = cache.run_spec(spec("CMR", "cmr"), *REFERENCE, cached_only=True)
        if reference is not None and weights_file(cache.root() / reference["run_dir"]) is not None:
            row, run_dir = reference, cache.root() / reference["run_dir"]
    if weights_file(run_dir) is None:
        run_dir = cache.rebuild_weights(run_dir)
    found, record = weights_file(run_dir), run_dir / "weights.json"
    half_top1 = 100.0 * runs.read_json(record)["val_top1_f16"] if found.name == "weights.f16.pt" else None
    return load_trained(run_dir), {**row, "weights": found.relative_to(cache.root()).as_posix(),
                                   "weights_dir": run_dir.relative_to(cache.root()).as_posix(),
                                   "weights_top1": half_top1}


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


def score_finished(profile: str, log=print, on_finished=None) -> int:
    """``scores`` of each finished Table 6 CMR run that has none cached yet (``runs --evaluate``, so that the book
    evaluates nothing); returns how many were scored now."""
    done = 0
    for seed in seeds_for(profile, "ablation"):
        run_dir = runs.default_run_dir(resolve(spec("CMR", "cmr"), profile, seed))
        if (run_dir / "final.json").exists() and not (run_dir / "figure5.json").exists():
            tic = time.perf_counter()
            scores(profile, [seed])
            done += 1
            log(f"  Figure 5 scores of {run_dir.relative_to(cache.root())} in {time.perf_counter() - tic:.0f} s")
            if on_finished is not None:
                on_finished(run_dir.relative_to(cache.root()))
    return done
