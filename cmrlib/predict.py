"""Try a model on your own videos: the top-5 classes, and CMR's Figure 5 maps with ``--explain``.

``python -m cmrlib predict VIDEO... (--run DIR | --checkpoint FILE --method M [--labels FILE]) [--explain OUT.png]``

The model is a trained run (``--run``: its config and checkpoints/last.pt) or a checkpoint file (``--checkpoint``:
a run's checkpoint, a state dict, or a file written by ``python -m cmrlib convert``; the model's size is read
from its tensors). Each video is viewed as the run's evaluation views it (``cmrlib.evaluate``): T frames at the
segment centres (or dense sampling where the run used it), the shorter side resized and a centre crop (``--clips``,
``--crops`` for more views), softmax scores averaged over the views. ``--explain OUT.png`` draws Figure 5 for the
video (``cmrlib.visualize.figure5_maps`` on the centre view): the features of stage 1 averaged over the channels
that CME gates most and least, and SME's 1 - s_t, frame by frame. A bad file gives one line on stderr, never a
traceback, and the exit status 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cmrlib.data.dataset import ClipError, dense_indices, diagnose_video, read_video, segment_indices
from cmrlib.data.transforms import centre_view, test_views

ISSUE_TEXT = {"missing": "no such file", "truncated": "a truncated or damaged video",
              "zero_frames": "a video without frames", "not_a_video": "not a video file", "short": "too short",
              "directory": "is a directory, not a video file", "unreadable": "cannot be read (permission denied?)",
              "not_regular": "not a regular file (a FIFO, a socket or a device)"}


@dataclass
class Predictor:
    model: nn.Module
    classes: list
    frames: int
    size: int
    sampling: str = "segments"
    clips: int = 1
    crops: int = 1
    crop_scale: str = "full-height"  # where 3 crops are taken (transforms.test_views)
    pyav: set = field(default_factory=set)  # videos decoded with PyAV (said once each)


def read_labels(path) -> list[str]:
    """Class names: a JSON list, a JSON {name: index} (Something-Something's labels file) or one name a line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"labels file {path}: cannot read it ({type(error).__name__})") from None
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"labels file {path}: not JSON ({error})") from None
        if isinstance(data, dict):
            return [name for name, _ in sorted(data.items(), key=lambda item: int(item[1]))]
        if isinstance(data, list):
            return [str(name) for name in data]
        raise ValueError(f"labels file {path}: expected a list of names or a {{name: index}} object")
    return [line.strip() for line in text.splitlines() if line.strip()]


def _labels(path, num_classes: int, source) -> list[str]:
    """``read_labels``, refused when it does not name exactly the model's classes."""
    names = read_labels(path)
    if len(names) != num_classes:
        raise ValueError(f"labels file {path} has {len(names)} names, but the model of {source} has "
                         f"{num_classes} classes")
    return names


def from_run(run_dir, labels=None, clips: int = 1, crops: int = 1) -> Predictor:
    """The trained model of a run folder and its evaluation protocol (frames, size, sampling)."""
    from cmrlib.checkpoint import build_model, check_method, load_checkpoint, load_weights
    from cmrlib.evaluate import classes_of_run
    from cmrlib.runs import load_run_config

    config = load_run_config(Path(run_dir))
    from cmrlib.figure5 import weights_file

    weights = weights_file(run_dir)
    if weights is None:
        raise ValueError(f"no checkpoint {Path(run_dir) / 'checkpoints' / 'last.pt'} (and no committed "
                         f"weights.f16.pt); train the run first")
    state = load_checkpoint(weights)
    check_method(state, config["method"], weights, asked="the run's config.json")
    trained = state["model"].get("fc.weight")
    num_classes = int(trained.shape[0]) if trained is not None else 0
    model = build_model(config, num_classes, pretrained=False)
    load_weights(model, state["model"], weights, num_classes)
    if labels:
        classes = _labels(labels, num_classes, run_dir)
    else:
        classes = state.get("classes") or classes_of_run(config) or [f"class {k}" for k in range(num_classes)]
        if len(classes) != num_classes:
            raise ValueError(f"{weights} has {num_classes} classes, but the run's data has {len(classes)}; "
                             f"give the class names with --labels")
    return Predictor(model.eval(), list(classes), config["frames"], config["size"], config["sampling"], clips,
                     crops, config.get("test_crop_scale", "full-height"))


def from_checkpoint(path, method: str, labels=None, frames: int = 8, size: int = 224, sampling: str = "segments",
                    clips: int = 1, crops: int = 1) -> Predictor:
    """A model of ``method`` from a checkpoint file, its size read from its tensors (or from the build
    arguments that ``cmrlib convert`` stored with them)."""
    from cmrlib.convert import load_file, model_kwargs_for, unwrap
    from cmrlib.models import build_model

    from cmrlib.checkpoint import check_method
    from cmrlib.convert import guess_source

    checkpoint = load_file(path)
    try:
        state = unwrap(checkpoint)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    if isinstance(checkpoint, dict):
        check_method(checkpoint, method, path)
    source = guess_source(state)
    if source not in ("cmrlib", None):
        raise ValueError(f"{path} is a checkpoint of the authors' {source} code; convert it first: "
                         f"python -m cmrlib convert --from {source} {path} OUT.pth")
    stored = checkpoint.get("model_kwargs") if isinstance(checkpoint, dict) else None
    kwargs = dict(stored) if stored else model_kwargs_for(method, state)
    model = build_model(num_segments=frames, **kwargs)
    own = model.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    wrong = [name for name in own if name in state and own[name].shape != state[name].shape]
    if missing or unexpected or wrong:
        raise ValueError(f"{path} does not fit a {method!r} model: {len(missing)} tensors missing {missing[:2]}, "
                         f"{len(unexpected)} unexpected {unexpected[:2]}, {len(wrong)} of another shape "
                         f"{wrong[:2]}; is --method right?")
    model.load_state_dict(state)
    num_classes = model.fc.out_features
    classes = _labels(labels, num_classes, path) if labels else [f"class {k}" for k in range(num_classes)]
    return Predictor(model.eval(), classes, frames, size, sampling, clips, crops)


def _probe(path: str) -> str | None:
    """None for a file that PyAV opens as a video, else the issue name (``diagnose_video``'s)."""
    import av

    from cmrlib.data.formats import path_kind

    kind = path_kind(path)
    if kind != "file":  # (a FIFO is never opened: its open would block)
        return {"dir": "directory", "other": "not_regular"}.get(kind, kind)
    try:
        with av.open(path) as container:
            if container.streams.video:
                return None
    except (av.error.FFmpegError, OSError, ValueError):
        pass
    return diagnose_video(path)


def load_views(predictor: Predictor, video) -> tuple[torch.Tensor, np.ndarray]:
    """(views float (V, T, 3, S, S), centre view uint8 (T, S, S, 3)) of a video file."""
    if predictor.sampling == "dense":
        pick = lambda n: dense_indices(n, predictor.frames, predictor.clips, False, None)  # noqa: E731
    else:
        pick = lambda n: segment_indices(n, predictor.frames, predictor.clips, False, None)  # noqa: E731
    issue = _probe(str(video))
    if issue:  # found before decord, which would log its own error lines on stderr
        raise ValueError(f"{video}: {ISSUE_TEXT.get(issue, issue)}")
    notes = []
    try:
        frames, _ = read_video(str(video), pick, notes)  # (clips, T, H, W, 3)
    except ClipError as error:
        raise ValueError(f"{video}: {ISSUE_TEXT.get(error.issue, error.issue)}") from None
    if notes and video not in predictor.pyav:
        predictor.pyav.add(video)
        print(f"  ({video}: decord cannot decode it, a rotated or unusual video; decoded with PyAV)")
    frames = torch.from_numpy(frames).permute(0, 1, 4, 2, 3)  # (clips, T, 3, H, W) uint8
    views = torch.cat([test_views(f, predictor.size, predictor.crops, predictor.crop_scale) for f in frames])
    centre = centre_view(frames[0], predictor.size).permute(0, 2, 3, 1).numpy()
    return views, centre


@torch.no_grad()
def predict_video(predictor: Predictor, video, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` most likely classes of a video with their probabilities (softmax averaged over the views)."""
    views, _ = load_views(predictor, video)
    model = predictor.model.eval()
    scores = model(views.to(next(model.parameters()).dtype)).float().softmax(dim=1).mean(dim=0)
    top = scores.topk(min(k, scores.numel()))
    names = predictor.classes
    return [(names[i] if i < len(names) else f"class {i}", float(p)) for p, i in zip(top.values, top.indices.tolist())]


def explain(predictor: Predictor, video, out) -> Path:
    """Save Figure 5 for one video to ``out`` exactly (its suffix gives the format, none: PNG): its centre-view
    frames, CME's top and bottom channels and SME's 1 - s_t."""
    import matplotlib.pyplot as plt

    from cmrlib import visualize

    _, frames = load_views(predictor, video)
    maps = visualize.figure5_maps(predictor.model, frames, np.zeros(frames.shape[:3], bool))
    fig = visualize.plot_rows({"frames": frames, f"CME: top {maps.top_k}": maps.cme_top,
                               f"CME: bottom {maps.top_k}": maps.cme_bottom, "SME: 1 - s": maps.sme})
    fig.suptitle(Path(video).name, fontsize=9, y=1.02)
    out = Path(out)
    try:
        fig.savefig(out, dpi=120, bbox_inches="tight", format=out.suffix[1:].lower() or "png")
    except OSError as error:
        raise ValueError(f"--explain {out}: cannot write it ({error.strerror or error})") from None
    plt.close(fig)
    return out


def _explain_path(out: str, video: str, several: bool) -> Path:
    """The picture's path: ``OUT`` (``OUT.png`` when it has no suffix), ``OUT-<video>.png`` for several videos;
    a path ending in '/', a directory or an unwritable folder is refused (``runs.output_file``); a missing folder
    is created (the picture's folder, as before)."""
    from cmrlib.runs import output_file

    output_file(out, "--explain", create=True)
    path = Path(out)
    path = path if path.suffix else path.with_name(path.name + ".png")
    return path.with_name(f"{path.stem}-{Path(video).stem}{path.suffix}") if several else path


def _text(error: Exception) -> str:
    text = " ".join(str(error).split())  # one line
    return text if isinstance(error, ValueError) else f"{type(error).__name__}: {text}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m cmrlib predict", description=__doc__.split("\n\n")[0])
    p.add_argument("videos", nargs="+", metavar="VIDEO")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", help="a run folder written by `python -m cmrlib train`")
    source.add_argument("--checkpoint", help="a checkpoint file (a run's, a state dict, or `cmrlib convert`'s)")
    p.add_argument("--method", help="the model's method (with --checkpoint)")
    p.add_argument("--labels", help="class names: one a line, or JSON (a list or {name: index})")
    p.add_argument("--frames", type=int, default=8, help="T, with --checkpoint (default 8)")
    p.add_argument("--size", type=int, default=224, help="crop size, with --checkpoint (default 224)")
    p.add_argument("--clips", type=int, default=1, help="temporal clips per video (default 1)")
    p.add_argument("--crops", type=int, default=1, choices=(1, 3), help="1 centre crop or 3 crops")
    p.add_argument("--top", type=int, default=5, help="how many classes to print (default 5)")
    p.add_argument("--explain", metavar="OUT.png", help="save Figure 5 for the video (OUT-<video>.png for several)")
    args = p.parse_args(argv)
    if args.checkpoint and not args.method:
        p.error("--checkpoint needs --method")
    if args.clips < 1:
        p.error("--clips must be >= 1")
    try:
        if args.explain:
            _explain_path(args.explain, "", False)  # refuse a bad output path before any work
        if args.run:
            predictor = from_run(args.run, args.labels, args.clips, args.crops)
        else:
            predictor = from_checkpoint(args.checkpoint, args.method, args.labels, args.frames, args.size,
                                        clips=args.clips, crops=args.crops)
    except Exception as error:  # noqa: BLE001  one line, never a traceback
        print(f"cmrlib predict: error: {_text(error)}", file=sys.stderr)
        return 2
    status = 0
    for video in args.videos:
        try:
            ranked = predict_video(predictor, video, args.top)
            print(video)
            for rank, (name, probability) in enumerate(ranked, start=1):
                print(f"  {rank}. {probability:7.2%}  {name}")
            if args.explain:
                path = explain(predictor, video, _explain_path(args.explain, video, len(args.videos) > 1))
                print(f"  Figure 5 maps: {path}")
        except Exception as error:  # noqa: BLE001  one line per bad video, then the next video
            print(f"cmrlib predict: error: {_text(error)}", file=sys.stderr)
            status = 2
    return status
