"""Models and checkpoints of runs: build a run's model from its config, save and load the training state.

A checkpoint holds only tensors and primitive types (the RNG states too), so it loads with
``weights_only=True``; it is written atomically (``cmrlib.runs.atomic_save``).
"""
from __future__ import annotations

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


def load_checkpoint(path: Path) -> dict:
    """A checkpoint holds only tensors and primitive types, so ``weights_only=True`` loads it."""
    return torch.load(path, map_location="cpu", weights_only=True)


def same_config(a: dict, b: dict) -> bool:
    ignored = set(runs.KEY_IGNORED_FIELDS) | {"provenance", "run_key"}
    return {k: v for k, v in a.items() if k not in ignored} == {k: v for k, v in b.items() if k not in ignored}


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
