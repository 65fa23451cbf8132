"""Pictures and measurements for the book's method chapters and for CMR's Figure 5.

Figure 5 of the paper shows, for one clip, (a) the features at the input of the first CMR-BlockB of stage 1,
averaged over the 10 channels that CME gates most and over the 10 it gates least, and (b) SME's weighting
map 1 - s_t from stage 1. The paper gives no numbers; here each map is scored against the moving object's
mask, which the synthetic generator knows:

* overlap, ``mask_mass_ratio``: the share of the map's mass that lies on the object (1 for a map equal to
  the mask; a map that ignores the object scores about the object's area fraction);
* ``auroc``: the probability that a random object pixel scores higher than a random background pixel
  (1 = perfect separation, 0.5 = no preference, ties count one half).

The maps are upsampled (bilinear) from the stage-1 grid to the clip's pixels and scored against the exact
mask: the CME maps against the object's mask at frame t, SME's map (which compares frames t and t+1)
against the union of the masks at t and t+1 (``motion_mask``).

Everything here works on the real cmrlib modules: the maps are read from a model with forward hooks, never
recomputed by a second implementation.
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from cmrlib.modules import ChannelMotionEnhancement, SpatialMotionEnhancement

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PAPER_TOP_K, PAPER_CHANNELS = 10, 64  # Figure 5: 10 of the 64 channels at the input of stage 1


# ------------------------------------------------------------------------------------------- measurements
def _as_numpy(array) -> np.ndarray:
    if isinstance(array, torch.Tensor):
        return array.detach().cpu().numpy()
    return np.asarray(array)


def _check_pair(heat, mask) -> tuple[np.ndarray, np.ndarray]:
    heat, mask = _as_numpy(heat).astype(np.float64), _as_numpy(mask).astype(bool)
    if heat.shape != mask.shape:
        raise ValueError(f"heat map shape {heat.shape} differs from mask shape {mask.shape}")
    return heat, mask


def mask_mass_ratio(heat, mask) -> float:
    """Share of the map's mass (negative values clipped to 0) that lies inside the mask; nan for an all-zero map."""
    heat, mask = _check_pair(heat, mask)
    heat = np.clip(heat, 0, None)
    total = heat.sum()
    return float(heat[mask].sum() / total) if total > 0 else float("nan")


def average_ranks(values) -> np.ndarray:
    """Ranks 1..n of a 1-D array; tied values share the mean of their ranks."""
    values = _as_numpy(values).ravel()
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    last_rank = np.cumsum(counts)  # the highest rank each distinct value reaches
    return (last_rank - (counts - 1) / 2.0)[inverse]


def auroc(score, mask) -> float:
    """Area under the ROC curve of ``score`` as a detector of the ``mask`` pixels (Mann-Whitney U / n+ n-).

    nan when the mask is empty or covers everything."""
    score, mask = _check_pair(score, mask)
    score, mask = score.ravel(), mask.ravel()
    positives, negatives = int(mask.sum()), int((~mask).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    rank_sum = average_ranks(score)[mask].sum()
    return float((rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives))


def downsample_mask(mask, size: tuple[int, int]) -> np.ndarray:
    """(F, H, W) bool -> (F, h, w) bool: a cell is in the mask when at least half of its area is."""
    mask = torch.as_tensor(_as_numpy(mask), dtype=torch.float32)
    if mask.ndim != 3:
        raise ValueError(f"mask must be (F, H, W), got shape {tuple(mask.shape)}")
    if tuple(mask.shape[1:]) == tuple(size):
        return mask.bool().numpy()
    coverage = F.interpolate(mask[:, None], size=size, mode="area")[:, 0]  # (F, h, w) fraction inside
    return (coverage >= 0.5).numpy()


def motion_mask(mask) -> np.ndarray:
    """(F, H, W) bool: where the object is at t or at t+1 (SME compares those two frames); the last frame
    repeats the previous one, as SME's s_T = s_{T-1}."""
    mask = _as_numpy(mask).astype(bool)
    pairs = mask[:-1] | mask[1:]
    return np.concatenate([pairs, pairs[-1:]], axis=0)


def per_frame(metric, maps, masks) -> float:
    """Mean of ``metric(map_t, mask_t)`` over the frames where it is defined (nan if it never is)."""
    values = [metric(m, k) for m, k in zip(_as_numpy(maps), _as_numpy(masks))]
    values = [v for v in values if not np.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


# --------------------------------------------------------------------------------------------- small clips
def moving_square_clip(num_frames: int = 6, size: int = 24, square: int = 6, step: int = 3,
                       pan: int = 0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A solid square moving right by ``step`` pixels a frame over a static random-colour texture.

    ``pan`` > 0 also slides the background left by that many pixels a frame (a panning camera).
    Returns frames uint8 (F, size, size, 3) and the square's mask bool (F, size, size)."""
    if num_frames < 2 or square < 1 or square + step * (num_frames - 1) > size:
        raise ValueError(f"a {square}px square moving {step}px x {num_frames - 1} frames does not fit in {size}px")
    rng = np.random.default_rng(seed)
    cells = rng.uniform(0.1, 0.9, (size // 3 + 1, size // 3 + 1 + pan * num_frames, 3))
    texture = np.repeat(np.repeat(cells, 3, axis=0), 3, axis=1)[:size]  # 3x3-pixel colour cells
    frames = np.empty((num_frames, size, size, 3))
    mask = np.zeros((num_frames, size, size), bool)
    top = (size - square) // 2
    for t in range(num_frames):
        frames[t] = texture[:, pan * t: pan * t + size]
        left = step * t
        mask[t, top:top + square, left:left + square] = True
    frames[mask] = (1.0, 0.1, 0.1)  # a red square
    return np.rint(frames * 255).astype(np.uint8), mask


def clip_tensor(frames) -> torch.Tensor:
    """uint8 frames (T, H, W, 3) -> the model input (1, T, 3, H, W), ImageNet-normalised float."""
    x = torch.as_tensor(_as_numpy(frames)).float().div(255).permute(0, 3, 1, 2)  # (T, 3, H, W)
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return ((x - mean) / std)[None]


@torch.no_grad()
def module_input(model: nn.Module, module: nn.Module, clip: torch.Tensor) -> torch.Tensor:
    """The tensor that ``module`` receives when ``model`` runs on ``clip`` (read with a forward pre-hook)."""
    captured = {}

    def keep_input(_, inputs):  # returns None, so the forward pass is unchanged
        captured.setdefault("x", inputs[0].detach().clone())

    handle = module.register_forward_pre_hook(keep_input)
    try:
        model.eval()(clip)
    finally:
        handle.remove()
    if "x" not in captured:
        raise ValueError(f"{type(module).__name__} did not run in the model's forward pass")
    return captured["x"]


def _weighted_layer(module: nn.Module) -> nn.Module:
    for layer in module.modules():
        if isinstance(getattr(layer, "weight", None), torch.Tensor) and layer.weight.dim() >= 2:
            return layer
    raise ValueError(f"{type(module).__name__} has no linear or conv layer to rescale")


@torch.no_grad()
def sharpen(module: nn.Module, x: torch.Tensor, targets: dict) -> dict:
    """A stand-in for training in the teaching chapters, where untrained gates sit near sigmoid(0).

    For each named submodule of ``module`` in turn (e.g. {"key": 2.0, "value": 1.0, "expand": 2.0}), scale
    the weight of its first linear or conv layer so that this layer's output, while ``module(x)`` runs, has
    the target standard deviation. Works in place (copy the module first); returns the factors."""
    factors = {}
    for name, target in targets.items():
        layer = _weighted_layer(getattr(module, name))
        captured = {}

        def keep_output(_, __, output):  # returns None, so the forward pass is unchanged
            captured.setdefault("out", output)

        handle = layer.register_forward_hook(keep_output)
        try:
            module(x)
        finally:
            handle.remove()
        if "out" not in captured:
            raise ValueError(f"{name} did not run in {type(module).__name__}'s forward pass")
        factors[name] = float(target / captured["out"].float().std())
        layer.weight.mul_(factors[name])
    return factors


@torch.no_grad()
def sharpen_fusion(cme: ChannelMotionEnhancement, x: torch.Tensor, spread: float = 4.0) -> float:
    """Scale a CME's key weights (W2) so that, on ``x``, the logits d_tj inside each softmax span ``spread``.

    k scales with the weight and d = -k k^T with its square; the span is read back from the module's own
    fusion matrix (log softmax differs from d by a constant along the softmax axis). Returns the factor."""
    log_fusion = cme.attention(x)["fusion"].log()
    axis = 2 if cme.variant == "paper" else 1
    current = float((log_fusion.amax(axis) - log_fusion.amin(axis)).max())
    factor = (spread / current) ** 0.5
    _weighted_layer(cme.key).weight.mul_(factor)
    return factor


def receptive_field(function, x: torch.Tensor, frame: int, channels) -> dict:
    """Which inputs one output unit sees: the output at (``frame``, ``channels``, centre pixel) of
    ``function(x)``, x on the (T, C, H, W) layout, traced back with autograd.

    ``x`` may also be a stack (K, T, C, H, W) of inputs: the answer is then the union over the K inputs, so
    that a ReLU that happens to be off at one input does not hide a path that exists.
    Returns the input frames and channels it depends on and the height and width of the input patch."""
    inputs = x[None] if x.dim() == 4 else x
    seen = torch.zeros(inputs.shape[1:], dtype=torch.bool)
    for sample in inputs:
        sample = sample.detach().clone().requires_grad_(True)
        out = function(sample)
        centre = out[frame, channels, out.shape[2] // 2, out.shape[3] // 2]
        (grad,) = torch.autograd.grad(centre.abs().sum(), sample)
        seen |= grad.abs() > 0  # (T, C, H, W)
    rows, cols = seen.any(dim=(0, 1, 3)).nonzero()[:, 0], seen.any(dim=(0, 1, 2)).nonzero()[:, 0]
    return {"frames": seen.flatten(1).any(1).nonzero()[:, 0].tolist(),
            "channels": seen.transpose(0, 1).flatten(1).any(1).nonzero()[:, 0].tolist(),
            "height": int(rows.max() - rows.min() + 1) if len(rows) else 0,
            "width": int(cols.max() - cols.min() + 1) if len(cols) else 0}


def frame_dependence(function, x: torch.Tensor, num_segments: int) -> np.ndarray:
    """(T, T) matrix whose entry (t, j) is the size of d function(x)[frame t] / d x[frame j].

    ``x`` is one clip on the (T, C, H, W) layout and ``function`` returns a tensor whose first axis after an
    optional batch axis of 1 is time. Row t lists the frames that output frame t can see."""
    x = x.detach().clone().requires_grad_(True)
    out = function(x)
    out = out.reshape(num_segments, -1) if out.shape[0] == num_segments else out.reshape(out.shape[1], -1)
    rows = []
    for t in range(num_segments):
        (grad,) = torch.autograd.grad(out[t].abs().sum(), x, retain_graph=True, allow_unused=True)
        rows.append(torch.zeros(num_segments) if grad is None else grad.abs().flatten(1).sum(1))
    return torch.stack(rows).numpy()


# ------------------------------------------------------------------------------------------------- Figure 5
def top_k_for(channels: int) -> int:
    """Channels averaged for each CME map: the paper's 10 of 64, scaled to narrower networks."""
    return max(1, min(channels // 2, round(PAPER_TOP_K * channels / PAPER_CHANNELS)))


@dataclass
class Figure5Maps:
    frames: np.ndarray          # (T, H, W, 3) uint8, the clip
    object_mask: np.ndarray     # (T, H, W) bool, the moving object
    motion_mask: np.ndarray     # (T, H, W) bool, the object at t or t+1
    feature_size: tuple         # (h, w) of the stage-1 features the maps come from
    gate: np.ndarray            # (T, C) CME's a_t at the first CMR-BlockB
    fusion: np.ndarray          # (T, T) CME's fusion matrix there
    top_k: int                  # channels averaged for each CME map
    cme_top: np.ndarray         # (T, H, W) mean of the k channels with the largest gate, per frame
    cme_bottom: np.ndarray      # (T, H, W) mean of the k channels with the smallest gate
    sme: np.ndarray             # (T, H, W) SME's 1 - s_t at stage 1

    def scores(self) -> dict:
        """Overlap (mask_mass_ratio) and AUROC of each map, means over the frames where they are defined."""
        return {
            "object_area": float(self.object_mask.mean()),
            "cme_top_overlap": per_frame(mask_mass_ratio, self.cme_top, self.object_mask),
            "cme_bottom_overlap": per_frame(mask_mass_ratio, self.cme_bottom, self.object_mask),
            "cme_top_auroc": per_frame(auroc, self.cme_top, self.object_mask),
            "cme_bottom_auroc": per_frame(auroc, self.cme_bottom, self.object_mask),
            "motion_area": float(self.motion_mask.mean()),
            "sme_overlap": per_frame(mask_mass_ratio, self.sme, self.motion_mask),
            "sme_auroc": per_frame(auroc, self.sme, self.motion_mask),
        }


def first_module(model: nn.Module, cls: type[nn.Module]) -> nn.Module:
    """The first submodule of type ``cls`` in the model's order (for CMR: the one in layer1[0])."""
    for module in model.modules():
        if isinstance(module, cls):
            return module
    raise ValueError(f"the model has no {cls.__name__}; Figure 5 needs a CMR model with CME and SME")


def upsample(maps: torch.Tensor, size) -> torch.Tensor:
    """(T, h, w) -> (T, H, W), bilinear, as a heat map is stretched over its frame (identity if same size)."""
    if tuple(maps.shape[1:]) == tuple(size):
        return maps
    return F.interpolate(maps[:, None].float(), size=tuple(size), mode="bilinear", align_corners=False)[:, 0]


@torch.no_grad()
def figure5_maps(model: nn.Module, frames, mask, top_k: int | None = None) -> Figure5Maps:
    """Figure 5's maps for one clip: frames uint8 (T, H, W, 3), mask bool (T, H, W), T = the model's segments.

    CME: the features entering the first CME of stage 1 (the input of the first CMR-BlockB), averaged per
    frame over the ``top_k`` channels with the largest and the smallest gate a_t. SME: 1 - s_t of the first
    SME (the end of that block). The stage-1 grid is coarse (a quarter of the input size with the ImageNet
    stem), so the maps are upsampled to the clip's pixels and scored against the exact mask."""
    model.eval()
    clip = clip_tensor(frames)
    mask = _as_numpy(mask).astype(bool)
    cme = first_module(model, ChannelMotionEnhancement)
    sme = first_module(model, SpatialMotionEnhancement)
    x = module_input(model, cme, clip)  # (T, C, h, w)
    attention = cme.attention(x)
    gate = attention["gate"][0]  # (T, C)
    k = top_k or top_k_for(x.shape[1])
    order = gate.argsort(dim=1, descending=True)  # (T, C)
    pick = lambda channels: torch.stack([x[t, channels[t]].mean(0) for t in range(x.shape[0])])  # noqa: E731
    motion = sme.motion_map(module_input(model, sme, clip))[0]  # (T, h', w')
    size = mask.shape[1:]
    return Figure5Maps(frames=_as_numpy(frames), object_mask=mask, motion_mask=motion_mask(mask),
                       feature_size=tuple(x.shape[2:]), gate=gate.numpy(), fusion=attention["fusion"][0].numpy(),
                       top_k=k, cme_top=upsample(pick(order[:, :k]), size).numpy(),
                       cme_bottom=upsample(pick(order[:, -k:]), size).numpy(), sme=upsample(motion, size).numpy())


def _profile_scene(profile: str | None) -> dict | None:
    """A profile's overrides of the synth-something scene (SYNTH_PROFILES[profile]["scene"]), None for the spec's."""
    from cmrlib.data.synth import SYNTH_PROFILES

    return SYNTH_PROFILES[profile].get("scene") if profile else None


def scene_text(profile: str | None) -> str:
    """In words, what else moves or changes in a profile's synth-something clips besides the action's object
    (SCENE with the profile's overrides)."""
    from cmrlib.data.synth import SCENE

    scene = {**SCENE, **(_profile_scene(profile) or {})}
    pan, jitter, _ = scene["camera"]
    low, high = scene["distractors"]
    parts = [f"{pan:.0%} of the clips pan the camera and {jitter:.0%} jitter it" if pan or jitter
             else "the camera is still",
             f"{low} to {high} distractors move at random" if high else "there are no distractors",
             "the background is textured" if scene["background_contrast"] else "the background is flat"]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def figure5_clips(num_classes: int, num_frames: int, size: int, count: int = 8, first_seed: int = 10_000,
                  profile: str | None = None):
    """The Figure 5 clips: [(name, frames, mask)], synth-something clip i of class i % num_classes rendered
    with seed first_seed + i (seeds the generated datasets are very unlikely to use), in the scene of the
    profile's synthetic data (SYNTH_PROFILES[profile]["scene"]; None = the spec's scene)."""
    from cmrlib.data.synth import BENCHMARKS, render_clip

    classes = BENCHMARKS["synth-something"].classes
    scene = _profile_scene(profile)
    return [(f"{i}: {classes[i % num_classes]}",
             *render_clip("synth-something", i % num_classes, first_seed + i, num_frames, size, scene=scene))
            for i in range(count)]


def example_clips(benchmark: str, profile: str | None = None, seeds=(1_000_000,), num_frames: int = 32,
                  segments: int = 8, size: int = 64) -> dict:
    """{"class (seed s)": (segments, size, size, 3) uint8}: one clip per class and seed of a synthetic benchmark
    in the profile's scene, at the frames the evaluation sampler picks (the centres of ``segments`` equal segments)."""
    from cmrlib.data.dataset import segment_indices
    from cmrlib.data.synth import BENCHMARKS, render_clip

    centres = segment_indices(num_frames, segments, clips=1, train=False, rng=None)[0]
    return {f"{name} (seed {seed})": render_clip(benchmark, label, seed, num_frames, size,
                                                 scene=_profile_scene(profile))[0][centres]
            for seed in seeds for label, name in enumerate(BENCHMARKS[benchmark].classes)}


def figure5_table(model: nn.Module, clips, top_k: int | None = None) -> pd.DataFrame:
    """One row of ``Figure5Maps.scores()`` per clip; ``clips`` yields (name, frames, mask)."""
    rows = [{"clip": name, **figure5_maps(model, frames, mask, top_k).scores()} for name, frames, mask in clips]
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------- pictures
def plot_matrix(matrix, ax=None, title: str = "", xlabel: str = "", ylabel: str = "", fmt: str = ".2f",
                cmap: str = "viridis", annotate: bool = True, first_column: int = 1, **kwargs):
    """A small matrix as an annotated heat map. Rows are numbered from 1, like frames in the equations;
    columns from ``first_column`` (0 for channel indices as the code counts them)."""
    import seaborn as sns

    matrix = _as_numpy(matrix)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.5 * matrix.shape[1] + 1.5, 0.45 * matrix.shape[0] + 1))
    sns.heatmap(matrix, ax=ax, annot=annotate, fmt=fmt, cmap=cmap, cbar=not annotate, square=False,
                xticklabels=np.arange(first_column, first_column + matrix.shape[1]),
                yticklabels=np.arange(1, matrix.shape[0] + 1), annot_kws={"fontsize": 7}, **kwargs)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return ax


def plot_rows(rows: dict, outline=None, cell: float = 1.1):
    """One row per entry of ``rows`` (title -> (T, H, W, 3) images or (T, h, w) maps), one column per frame.

    Each map row shares one colour scale across its frames. ``outline`` (T, h, w) bool, on the maps' grid,
    draws the object's contour on the map rows."""
    names = list(rows)
    num_frames = len(_as_numpy(rows[names[0]]))
    fig, axes = plt.subplots(len(names), num_frames, figsize=(cell * num_frames + 1.6, cell * len(names)),
                             squeeze=False)
    for r, name in enumerate(names):
        data = _as_numpy(rows[name])
        image = data.ndim == 4
        low, high = (None, None) if image else (float(data.min()), float(data.max()))
        for t in range(num_frames):
            ax = axes[r, t]
            ax.imshow(data[t], vmin=low, vmax=high, cmap=None if image else "magma", interpolation="nearest")
            if outline is not None and not image and _as_numpy(outline)[t].any():
                ax.contour(_as_numpy(outline)[t].astype(float), levels=[0.5], colors="cyan", linewidths=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"t={t + 1}", fontsize=8)
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    return fig
