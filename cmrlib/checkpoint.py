"""Models and checkpoints of runs: build a run's model from its config, save and load the training state.

A checkpoint holds only tensors and primitive types (the RNG states too), so it loads with
``weights_only=True``; it is written atomically (``cmrlib.runs.atomic_save``). ``save_keeping_previous`` first
keeps the checkpoint it replaces as ``previous.pt`` (a hard link: no copy), and ``load_for_resume`` falls back
to it when ``last.pt`` is damaged (truncated, empty, garbage), saying so. A checkpoint that cannot be loaded
raises ``CheckpointError`` (a ValueError) naming the file; it never suggests unsafe loading.
"""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from cmrlib import config as configlib
from cmrlib import distributed as dist
from cmrlib import runs

CHECKPOINT_FORMAT = 1


def build_model(config: dict, num_classes: int, pretrained: bool = True):
    """The run's model, initialised as the config says: ``pretrained`` is a torchvision state dict path or
    "fractals" (``cmrlib.pretrain``, made when missing). ``pretrained=False`` skips loading it (the caller
    loads a checkpoint over it)."""
    from cmrlib.models import build_model as build

    weights = config["pretrained"] if pretrained else None
    if weights == "fractals":
        from cmrlib import pretrain

        weights = pretrain.backbone(config)
    try:
        return build(**configlib.model_kwargs(config, num_classes), pretrained=weights)
    except ValueError as error:
        raise ValueError(f"method {config['method']!r}: {error}") from None


def load_parent(model, config: dict, num_classes: int) -> dict | None:
    """Load the weights of the run a fine-tuned run starts from (``init_from_frames``: the same config at that
    frame count, ``config.parent_config``) into ``model``; the record of what was loaded, or None."""
    parent = configlib.parent_config(config)
    if parent is None:
        return None
    parent_dir = runs.default_run_dir(parent)
    final = parent_dir / "final.json"
    if not final.exists() or runs.read_json(final).get("run_key") != runs.run_key(parent):
        raise ValueError(f"config field 'init_from_frames': this run starts from {parent_dir}, which is not "
                         f"trained; train it first")
    weights = parent_dir / "checkpoints" / "last.pt"
    load_weights(model, load_checkpoint(weights)["model"], weights, num_classes)
    return {"run": parent_dir.name, "run_key": runs.run_key(parent), "weights_sha1": runs.file_sha1(weights)}


class CheckpointError(ValueError):
    """A checkpoint file that is missing or cannot be read; the message names the file."""


def load_checkpoint(path: Path) -> dict:
    """A checkpoint holds only tensors and primitive types, so ``weights_only=True`` loads it. A damaged file
    raises CheckpointError naming it (torch's own message would suggest unsafe loading)."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} does not exist") from None
    except IsADirectoryError:
        raise CheckpointError(f"checkpoint {path} is a directory, not a file") from None
    except Exception as error:  # truncated zip, zero bytes, garbage, a pickle with other types
        size = path.stat().st_size if path.is_file() else 0
        reason = "is empty" if size == 0 else f"is truncated or damaged ({size} bytes)"
        raise CheckpointError(f"checkpoint {path} {reason}") from None
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"checkpoint {path} is not a cmrlib checkpoint (no model weights in it)")
    return state


def save_keeping_previous(checkpoint: dict, path: Path) -> None:
    """Write ``path`` atomically after keeping the checkpoint it replaces as ``previous.pt`` beside it."""
    path = Path(path)
    if path.is_file():
        link = path.with_name(f".previous.{os.getpid()}.tmp")
        try:
            if link.exists():
                link.unlink()
            try:
                os.link(path, link)
            except OSError:  # a file system without hard links: copy
                import shutil
                shutil.copyfile(path, link)
            os.replace(link, path.with_name("previous.pt"))
        except BaseException as error:  # (disk full while copying, Ctrl-C): leave no stray link behind
            if os.path.lexists(link):
                os.unlink(link)
            if isinstance(error, OSError) and not isinstance(error, runs.WriteFailed):
                raise runs.WriteFailed(path.with_name("previous.pt"), error) from None
            raise
    runs.atomic_save(checkpoint, path)


def load_for_resume(path: Path, say=print) -> dict | None:
    """The training state to resume from: ``path`` (last.pt), else ``previous.pt`` beside it when last.pt is
    damaged or absent (the damaged file is set aside as last.pt.damaged, with a message); None when there is
    neither. Raises CheckpointError when no checkpoint loads."""
    path = Path(path)
    previous = path.with_name("previous.pt")
    if not path.exists() and not previous.exists():
        return None
    try:
        return load_checkpoint(path)
    except CheckpointError as error:
        if not previous.exists():
            raise CheckpointError(f"{error}; no previous.pt to fall back to: start again with --restart") from None
        failure = error
    try:
        state = load_checkpoint(previous)
    except CheckpointError as error:
        raise CheckpointError(f"{failure}, and so is previous.pt; start again with --restart") from None
    try:  # (under DDP another process may have moved it already)
        os.replace(path, path.with_name(path.name + ".damaged"))
    except FileNotFoundError:
        pass
    say(f"{failure}; resuming from the previous checkpoint {previous} (epoch {state['epoch']}, "
        f"step {state['step']}) instead")
    return state


def load_weights(model: torch.nn.Module, weights: dict, source, num_classes: int) -> None:
    """``model.load_state_dict`` with one clear line when the checkpoint does not fit the model (another
    class count: evaluated on other data; another architecture)."""
    try:
        model.load_state_dict(weights)
    except RuntimeError:
        trained = weights.get("fc.weight")
        if trained is not None and trained.shape[0] != num_classes:
            raise CheckpointError(f"checkpoint {source} was trained for {trained.shape[0]} classes, but the data "
                                  f"has {num_classes}; evaluate on data with the same classes") from None
        raise CheckpointError(f"checkpoint {source} does not fit the run's model (other method or options?)") from None


def trained_method(state: dict) -> str | None:
    """The method a checkpoint was trained or converted with, when it says (a run's ``config_json``, a
    converted file's ``model_kwargs``), else None."""
    import json

    if isinstance(state.get("config_json"), str):
        try:
            return json.loads(state["config_json"]).get("method")
        except ValueError:
            return None
    kwargs = state.get("model_kwargs")
    return kwargs.get("method") if isinstance(kwargs, dict) else None


def check_method(state: dict, method: str, source, asked: str = "--method") -> None:
    """Refuse to use a checkpoint as another method than its own (TSN and TSM share every tensor, so loading
    alone would not tell): one line naming both."""
    own = trained_method(state)
    if own is not None and own != method:
        raise CheckpointError(f"checkpoint {source} holds a {own!r} model, but {asked} says {method!r}")


def same_config(a: dict, b: dict) -> bool:
    """Whether two configs (or run records) describe the same run: fields that only record where and how fast
    it ran, what a run folder records beside its config, and fields added later at their old default aside."""
    ignored = set(runs.KEY_IGNORED_FIELDS) | set(runs.RECORD_FIELDS)

    def kept(config: dict) -> dict:
        return {k: v for k, v in config.items() if k not in ignored
                and not (k in runs.KEY_ADDED_AT_DEFAULT and v == runs.KEY_ADDED_AT_DEFAULT[k])}
    return kept(a) == kept(b)


def rng_state() -> dict:
    """The global RNG states as tensors and lists, so that the checkpoint loads with weights_only=True."""
    _, keys, position, has_gauss, gauss = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1]),
             "numpy": torch.from_numpy(keys.astype(np.int64)), "numpy_rest": [int(position), int(has_gauss), float(gauss)]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(state["python"]), None))
    position, has_gauss, gauss = state["numpy_rest"]
    np.random.set_state(("MT19937", state["numpy"].numpy().astype(np.uint32), position, has_gauss, gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def gather_rng_states(context: dist.Context) -> list:
    state = rng_state()
    if not context.distributed:
        return [state]
    states = [None] * context.world_size
    torch.distributed.all_gather_object(states, state)
    return states
