"""Checkpoints of the authors' code -> cmrlib state dicts.

``python -m cmrlib convert --from {cmr-released,tsm,tea} IN.pth OUT.pth``

One function per source (``convert_cmr_released``, ``convert_tsm``, ``convert_tea``) maps the authors' tensor
names to cmrlib's. Each accepts a bare state dict or one wrapped as ``{'state_dict': ...}`` (the training
scripts' format), strips DataParallel's ``module.`` prefix, and returns a ``Conversion``: the cmrlib state dict,
the ``build_model`` arguments that fit it, and, by name, every tensor it could not place (``unplaced``) and
every cmrlib tensor that the file did not fill (``missing``).
``convert_file`` (the command) refuses, with one line and nothing written: a checkpoint of another code than
``--from`` (told from its tensor names, ``guess_source``: "this is a TSM checkpoint, use --from tsm"), a
conversion that leaves cmrlib tensors unfilled (the file would not load), OUT that is IN, and an OUT that is a
directory, ends in '/', or sits in a missing or unwritable folder.

Sources (the authors' TSN wrapper keeps the backbone as ``base_model`` and names the head ``new_fc``):
* ``cmr-released``: TencentYoutuResearch/ActionRecognition-CMR, ResNet-50 blocks wrapped as ``.net`` with the
  modules ``trans_att`` (CME), ``shift_conv`` (TIM) and ``spatial_att`` (SME) -> ``build_model("cmr",
  variant="released")``. CME's ``conv1_reduce_q`` (the branch used as query and key) is cmrlib's ``key``,
  ``conv1_reduce_k`` (the value) is ``value``; ``conv_inflate`` (a 1x1 conv and a BatchNorm2d on pooled
  vectors) becomes ``expand`` (a Linear) and ``expand_bn`` (a BatchNorm1d).
* ``tsm``: mit-han-lab/temporal-shift-module, residual shift ("blockres"): each block's ``conv1`` is wrapped as
  ``conv1.net`` -> ``build_model("tsm")``.
* ``tea``: Phoenix1327/tea-action-recognition, Res2Net-50 26w x 4s with ``me.conv1/bn1/conv2/conv3/bn3``,
  ``shifts[j].conv``, ``convs[j]``, ``bns[j]`` -> ``build_model("tea", variant="released")``. The official
  block passes its last fragment through, cmrlib its first (D4 in cmrlib.modules.tea): the converter rolls
  the bottleneck's channels by one fragment (conv1's outputs, bn1, ME's convs and bn3, conv3's inputs).
"""
from __future__ import annotations

import argparse
import pickle
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

SOURCES = ("cmr-released", "tsm", "tea")
FRAGMENTS = 4  # Res2Net's scale in TEA
Rule = tuple[str, str, Callable | None]  # (pattern on the source name, cmrlib name template, tensor transform)


@dataclass
class Conversion:
    state_dict: dict
    model_kwargs: dict                     # build_model arguments (less num_segments, which no tensor records)
    unplaced: list = field(default_factory=list)  # source tensors with no cmrlib counterpart
    missing: list = field(default_factory=list)   # cmrlib tensors that the source did not fill


# ----------------------------------------------------------------------------------------------- reading
def unwrap(checkpoint) -> dict:
    """The state dict inside a checkpoint ({'state_dict': ...}, a cmrlib run's {'model': ...}, or bare),
    with DataParallel's ``module.`` prefix stripped. Raises ValueError when it is no state dict."""
    state = checkpoint
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not state:
        raise ValueError(f"expected a state dict (name -> tensor), got {type(state).__name__}")
    if not all(isinstance(name, str) and isinstance(value, torch.Tensor) for name, value in state.items()):
        odd = next(name for name, value in state.items() if not isinstance(value, torch.Tensor))
        raise ValueError(f"not a state dict: entry {odd!r} is a {type(state[odd]).__name__}, not a tensor")
    return {name.removeprefix("module."): value for name, value in state.items()}


def load_file(path, trust: bool = False):
    """What a checkpoint file holds. Loads with ``weights_only=True`` unless ``trust`` (a file that also
    pickles other Python objects); any file that is not a PyTorch checkpoint raises one clear ValueError."""
    from cmrlib.data.formats import path_kind

    path = Path(path)
    kind = path_kind(path)
    if kind != "file":  # (never open a FIFO: it blocks)
        raise ValueError(f"{path}: " + {"missing": "no such file", "dir": "is a directory, not a checkpoint file",
                                        "unreadable": "cannot be read (permission denied?)"}.get(
                                            kind, "not a regular file (a FIFO, a socket or a device)"))
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=not trust)
    except pickle.UnpicklingError as error:
        if "Unsupported global" in str(error) and not trust:
            raise ValueError(f"{path}: the checkpoint also holds Python objects that weights_only loading refuses; "
                             "if you trust the file, load it with trust=True (--trust)") from None
        raise ValueError(f"{path}: not a PyTorch checkpoint (it does not unpickle)") from None
    except PermissionError:
        raise ValueError(f"{path}: cannot be read (permission denied)") from None
    except Exception as error:  # unpickling garbage raises almost anything (IndexError, EOFError, ...)
        raise ValueError(f"{path}: not a PyTorch checkpoint (truncated or damaged: {type(error).__name__})") from None
    return checkpoint


def read_checkpoint(path, trust: bool = False) -> dict:
    """The state dict of a checkpoint file (``load_file``, then ``unwrap``)."""
    checkpoint = load_file(path, trust)
    try:
        return unwrap(checkpoint)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


# ----------------------------------------------------------------------------------------------- renaming
def _rename(state: dict, rules: list[Rule]) -> tuple[dict, dict, list]:
    """Apply the first matching rule to every tensor; returns (renamed, cmrlib name -> source name, source
    names that no rule matched)."""
    out, origin, unplaced = {}, {}, []
    for name, tensor in state.items():
        for pattern, template, transform in rules:
            match = re.fullmatch(pattern, name)
            if match:
                target = match.expand(template)
                if target in out:
                    raise ValueError(f"two source tensors map to {target!r} (the second is {name!r})")
                out[target] = transform(tensor) if transform else tensor
                origin[target] = name
                break
        else:
            unplaced.append(name)
    return out, origin, unplaced


BLOCK = r"base_model\.(layer\d+\.\d+)"
HEAD = [(r"new_fc\.(weight|bias)", r"fc.\1", None),
        (r"base_model\.fc\.(weight|bias)", r"fc.\1", None),  # a model trained with dropout 0 keeps its fc
        (r"base_model\.(conv1|bn1)\.(\w+)", r"\1.\2", None)]
PLAIN = r"((?:conv\d|bn\d|downsample\.\d)\.\w+)"  # torchvision bottleneck tensors, named as cmrlib's


def _flatten(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.flatten(1)  # a 1x1 conv on pooled vectors (C_out, C_in, 1, 1) -> Linear (C_out, C_in)


def _roll(dim: int, then: Callable | None = None) -> Callable:
    """Official TEA -> cmrlib channel order along ``dim``: the last fragment moves to the front (D4)."""
    def transform(tensor: torch.Tensor) -> torch.Tensor:
        tensor = then(tensor) if then else tensor
        if tensor.dim() == 0:  # num_batches_tracked
            return tensor
        return tensor.roll(tensor.shape[dim] // FRAGMENTS, dims=dim)
    return transform


CMR_RULES: list[Rule] = HEAD + [
    (BLOCK + r"\.net\." + PLAIN, r"\1.\2", None),
    (BLOCK + r"\." + PLAIN, r"\1.\2", None),  # the blocks that the code leaves unwrapped (none on ResNet-50)
    (BLOCK + r"\.trans_att\.conv1_reduce_q\.([01])\.(\w+)", r"\1.front.cme.key.\2.\3", None),
    (BLOCK + r"\.trans_att\.conv1_reduce_k\.([01])\.(\w+)", r"\1.front.cme.value.\2.\3", None),
    (BLOCK + r"\.trans_att\.conv_inflate\.0\.weight", r"\1.front.cme.expand.weight", _flatten),
    (BLOCK + r"\.trans_att\.conv_inflate\.1\.(\w+)", r"\1.front.cme.expand_bn.\2", None),
    (BLOCK + r"\.shift_conv\.weight", r"\1.front.tim.weight", None),
    (BLOCK + r"\.spatial_att\.W\.0\.(\w+)", r"\1.after.conv.\2", None),
    (BLOCK + r"\.spatial_att\.W\.1\.(\w+)", r"\1.after.bn.\2", None),
]

TSM_RULES: list[Rule] = HEAD + [
    (BLOCK + r"\.conv1\.net\.(\w+)", r"\1.conv1.\2", None),  # the residual shift wraps conv1
    (BLOCK + r"\.((?:conv[23]|bn\d|downsample\.\d)\.\w+)", r"\1.\2", None),
]

_unsqueeze = lambda tensor: tensor.unsqueeze(-1)  # noqa: E731  Conv1d (C, 1, 3) -> TIM's (C, 1, 3, 1)
TEA_RULES: list[Rule] = HEAD + [
    (BLOCK + r"\.conv1\.weight", r"\1.conv1.weight", _roll(0)),
    (BLOCK + r"\.bn1\.(\w+)", r"\1.bn1.\2", _roll(0)),
    (BLOCK + r"\.me\.conv1\.weight", r"\1.me.reduce.0.weight", _roll(1)),
    (BLOCK + r"\.me\.bn1\.(\w+)", r"\1.me.reduce.1.\2", None),
    (BLOCK + r"\.me\.conv2\.weight", r"\1.me.transform.weight", None),
    (BLOCK + r"\.me\.conv3\.weight", r"\1.me.expand.weight", _roll(0, _flatten)),
    (BLOCK + r"\.me\.bn3\.(\w+)", r"\1.me.expand_bn.\2", _roll(0)),
    (BLOCK + r"\.shifts\.([012])\.conv\.weight", r"\1.mta.temporal.\2.weight", _unsqueeze),
    (BLOCK + r"\.shifts\.3\.conv\.weight", r"\1.mta.passthrough.weight", _unsqueeze),
    (BLOCK + r"\.convs\.([012])\.weight", r"\1.mta.spatial.\2.weight", None),
    (BLOCK + r"\.bns\.([012])\.(\w+)", r"\1.mta.bns.\2.\3", None),
    (BLOCK + r"\.conv3\.weight", r"\1.conv3.weight", _roll(1)),
    (BLOCK + r"\.((?:bn3|downsample\.\d)\.\w+)", r"\1.\2", None),
]


# ------------------------------------------------------------------------------------ the model that fits
def _stage_blocks(state: dict) -> list[int]:
    return [len({name.split(".")[1] for name in state if name.startswith(f"layer{s}.")}) for s in (1, 2, 3, 4)]


def _placement(flags: list[bool], firsts: list[bool], name: str) -> str:
    if all(flags):
        return "all"
    if not any(flags):
        return "none"
    if flags == firsts:
        return "part"
    raise ValueError(f"{name} sits in blocks that match none of cmrlib's placements (all, part, none)")


def model_kwargs_for(method: str, state: dict) -> dict:
    """build_model arguments (less num_segments) that fit a cmrlib state dict of ``method``: depth, width and
    stem from the backbone, num_classes from fc, the options that change tensor shapes from the modules."""
    from cmrlib.models import ARCHITECTURES, OPTIONS

    if "conv1.weight" not in state or "fc.weight" not in state:
        raise ValueError("no conv1.weight or fc.weight: not the state dict of a cmrlib model")
    kind = "bottleneck" if "layer1.0.conv3.weight" in state or "layer1.0.mta.bns.0.weight" in state else "basic"
    layers = _stage_blocks(state)
    depths = [depth for depth, architecture in ARCHITECTURES.items() if architecture == (kind, layers)]
    if not depths:
        raise ValueError(f"{kind} blocks {layers} per stage: no cmrlib depth has them "
                         f"({', '.join(f'{d}: {a[1]}' for d, a in ARCHITECTURES.items())})")
    stem = state["conv1.weight"]
    kwargs = {"method": method, "num_classes": int(state["fc.weight"].shape[0]), "depth": depths[0],
              "width": stem.shape[0] / 64, "small_input": stem.shape[-1] == 3}
    blocks = [f"layer{s}.{i}" for s, count in enumerate(layers, start=1) for i in range(count)]
    firsts = [block.endswith(".0") for block in blocks]
    options = dict(OPTIONS[method])
    if method == "cmr":
        cme = [f"{b}.front.cme.expand.weight" in state for b in blocks]
        options["cme"] = _placement(cme, firsts, "CME")
        options["sme"] = _placement([f"{b}.after.conv.weight" in state for b in blocks], firsts, "SME")
        options["tim"] = any(f"{b}.front.tim.weight" in state for b in blocks)
        options["variant"] = "released" if any(".front.cme.expand_bn." in n for n in state) else "paper"
        if any(cme):
            first = blocks[cme.index(True)]
            key = state[f"{first}.front.cme.key.0.weight" if options["variant"] == "released"
                        else f"{first}.front.cme.key.weight"]
            options["r"] = int(key.shape[1] // key.shape[0])
    elif method in ("stm", "tea"):
        if method == "tea":
            options["variant"] = "released" if any(".mta.passthrough." in n for n in state) else "paper"
        prefix = "me.reduce.0" if method == "tea" else "cmm.reduce"
        shapes = [state[f"{b}.{prefix}.weight"].shape[:2] for b in blocks if f"{b}.{prefix}.weight" in state]
        fits = [r for r in range(1, 257) if all(max(1, c // r) == reduced for reduced, c in shapes)]
        if shapes and options["r"] not in fits:
            if not fits:
                raise ValueError(f"{method}: no reduction r gives the reduced widths {shapes[:3]}")
            options["r"] = fits[0]
    return {**kwargs, **options}


def _check(conversion: Conversion, origin: dict) -> Conversion:
    """Compare with a cmrlib model built with ``model_kwargs``: fill ``missing``, move the renamed tensors that
    it lacks to ``unplaced`` (by their source name), and raise on a shape that differs."""
    from cmrlib.models import build_model

    model = build_model(num_segments=8, **conversion.model_kwargs)  # no tensor depends on num_segments
    own = model.state_dict()
    state = conversion.state_dict
    wrong = [f"{origin[name]} {tuple(state[name].shape)} -> {name} {tuple(own[name].shape)}"
             for name in state if name in own and state[name].shape != own[name].shape]
    if wrong:
        raise ValueError(f"{len(wrong)} tensors have other shapes than cmrlib's: {'; '.join(wrong[:3])}")
    for name in sorted(set(state) - set(own)):  # renamed, yet cmrlib has no such tensor
        conversion.unplaced.append(origin[name])
        del state[name]
    conversion.missing = sorted(set(own) - set(state))
    return conversion


def _convert(checkpoint, rules: list[Rule], method: str, source: str) -> Conversion:
    state = unwrap(checkpoint)
    renamed, origin, unplaced = _rename(state, rules)
    if not renamed:
        raise ValueError(f"no tensor has a name of the {source} code (first names: {list(state)[:3]})")
    conversion = Conversion(renamed, model_kwargs_for(method, renamed), unplaced)
    return _check(conversion, origin)


def convert_cmr_released(checkpoint) -> Conversion:
    """The released CMR code's checkpoint -> ``build_model("cmr", variant="released")``."""
    return _convert(checkpoint, CMR_RULES, "cmr", "cmr-released")


def convert_tsm(checkpoint) -> Conversion:
    """An official TSM checkpoint (residual shift) -> ``build_model("tsm")``."""
    return _convert(checkpoint, TSM_RULES, "tsm", "tsm")


def convert_tea(checkpoint) -> Conversion:
    """An official TEA checkpoint (Res2Net-50 26w x 4s) -> ``build_model("tea", variant="released")``."""
    return _convert(checkpoint, TEA_RULES, "tea", "tea")


CONVERTERS = {"cmr-released": convert_cmr_released, "tsm": convert_tsm, "tea": convert_tea}
SOURCE_NAMES = {"cmr-released": "CMR (released code)", "tsm": "TSM", "tea": "TEA", "cmrlib": "cmrlib"}


def guess_source(state: dict) -> str | None:
    """Whose code wrote a state dict, from its tensor names: "cmr-released" (``.net.`` blocks with
    ``trans_att``/``shift_conv``/``spatial_att``), "tsm" (``conv1.net``), "tea" (``me.``, ``shifts.``),
    "cmrlib" (cmrlib's own names), else None."""
    names = [name.removeprefix("module.") for name in state]
    blocks = [name for name in names if re.match(r"(base_model\.)?layer\d+\.\d+\.", name)]
    if any(re.search(r"\.(trans_att|shift_conv|spatial_att)\.|\.\d+\.net\.", n) for n in blocks):
        return "cmr-released"
    if any(re.search(r"\.conv1\.net\.", n) for n in blocks):
        return "tsm"
    if any(re.search(r"\.(me\.conv1|shifts\.\d)\.", n) for n in blocks) and \
            any(n.startswith("base_model.") for n in names):
        return "tea"
    if "conv1.weight" in names and "fc.weight" in names:
        return "cmrlib"
    return None


def convert_file(source: str, src, dst, trust: bool = False) -> Conversion:
    """Convert checkpoint ``src`` of the ``source`` code and save ``{"model", "model_kwargs", "converted_from"}``
    to ``dst``: it loads with weights_only, and ``python -m cmrlib predict --checkpoint dst`` reads it."""
    from cmrlib.runs import atomic_save, output_file

    if source not in CONVERTERS:
        raise ValueError(f"--from {source!r}: expected one of {', '.join(SOURCES)}")
    dst = output_file(dst, "OUT")
    if Path(src).resolve() == dst.resolve() or (dst.exists() and Path(src).exists() and
                                                Path(src).samefile(dst)):
        raise ValueError(f"OUT {dst} is IN itself: the converted checkpoint would overwrite the authors' one; "
                         f"give another OUT")
    state = read_checkpoint(src, trust)
    found = guess_source(state)
    if found not in (None, source):
        hint = "nothing to convert" if found == "cmrlib" else f"use --from {found}"
        raise ValueError(f"{src} is a {SOURCE_NAMES[found]} checkpoint, another architecture than "
                         f"{SOURCE_NAMES[source]}'s; {hint}")
    try:
        conversion = CONVERTERS[source](state)
    except ValueError as error:
        raise ValueError(f"{src}: {error}" if not str(error).startswith(str(src)) else str(error)) from None
    if conversion.missing:
        raise ValueError(f"{src}: {len(conversion.missing)} tensors of the {SOURCE_NAMES[source]} model are not in "
                         f"the file (first: {', '.join(conversion.missing[:3])}); the converted file would not "
                         f"load, so none was written")
    atomic_save({"model": conversion.state_dict, "model_kwargs": conversion.model_kwargs,
                 "converted_from": source, "unplaced": conversion.unplaced}, dst)
    return conversion


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m cmrlib convert", description=__doc__.split("\n\n")[0])
    p.add_argument("--from", dest="source", required=True, choices=SOURCES, help="whose code wrote IN")
    p.add_argument("src", metavar="IN.pth", help="the authors' checkpoint")
    p.add_argument("dst", metavar="OUT.pth", help="where to write the cmrlib checkpoint")
    p.add_argument("--trust", action="store_true", help="load IN fully (pickled objects), not weights_only")
    args = p.parse_args(argv)
    try:
        conversion = convert_file(args.source, args.src, args.dst, args.trust)
    except OSError as error:  # runs.WriteFailed: disk full, no permission (IN is never touched)
        print(f"cmrlib convert: error: {error}", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"cmrlib convert: error: {error}", file=sys.stderr)
        return 2
    kwargs = conversion.model_kwargs
    options = ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if k != "method")
    print(f"{args.dst}: {len(conversion.state_dict)} tensors for build_model({kwargs['method']!r}, {options})")
    for name in conversion.unplaced:
        print(f"  not placed: {name}")
    return 0
