"""Clip transforms of TSN / TSM (paper-spec §C.1), on uint8 tensors of shape (T, 3, H, W).

Training: shorter side resized to ``scale_size`` (256 for a 224 input, i.e. ``size * 256 / 224``), TSN's
multi-scale crop (crop side = shorter side x one of 1, .875, .75, .66 for height and width, at most one
scale step apart, at one of 13 fixed positions), resize to ``size`` x ``size``, optional horizontal flip,
ImageNet normalisation. The same crop and flip apply to every frame of a clip.

Testing: shorter side to ``scale_size`` and a centre crop of ``size`` (1 crop), or three ``size`` x ``size``
crops at the start, middle and end of the longer side (the left, middle and right of a frame wider than high),
either of the frames resized to ``size`` ("full-height", TSM's ``--full_res``) or at the 1-crop view's scale
("single-view": shorter side ``scale_size``, TSM's default). On a square frame the full-height crops coincide.
"""
from __future__ import annotations

import numpy as np
import torch
from torchvision.transforms.v2 import functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TSN_SCALES = (1.0, 0.875, 0.75, 0.66)


def scale_size_for(size: int) -> int:
    """The shorter side before cropping: 256 for a 224 crop, 64 for 56."""
    return int(round(size * 256 / 224))


def resize_shorter(frames: torch.Tensor, shorter: int) -> torch.Tensor:
    """Resize (..., H, W) so that min(H, W) == shorter, keeping the aspect ratio (no-op when already so)."""
    h, w = frames.shape[-2:]
    if min(h, w) == shorter:
        return frames
    if h <= w:
        new = (shorter, max(1, int(round(w * shorter / h))))
    else:
        new = (max(1, int(round(h * shorter / w))), shorter)
    return F.resize(frames, list(new), antialias=True)


def multiscale_crop_box(rng: np.random.Generator, height: int, width: int, scales=TSN_SCALES,
                        max_distort: int = 1) -> tuple[int, int, int, int]:
    """TSN's GroupMultiScaleCrop box (top, left, crop_h, crop_w) with ``more_fix_crop`` positions."""
    base = min(height, width)
    sides = [max(1, int(base * s)) for s in scales]
    pairs = [(h, w) for i, h in enumerate(sides) for j, w in enumerate(sides) if abs(i - j) <= max_distort]
    crop_h, crop_w = pairs[rng.integers(len(pairs))]
    dy, dx = (height - crop_h) / 4, (width - crop_w) / 4
    positions = [(0, 0), (0, 4), (4, 0), (4, 4), (2, 2),  # corners and centre
                 (0, 2), (4, 2), (2, 0), (2, 4), (1, 1), (1, 3), (3, 1), (3, 3)]  # edge centres, quarters
    qy, qx = positions[rng.integers(len(positions))]
    return int(round(qy * dy)), int(round(qx * dx)), crop_h, crop_w


def normalise(frames: torch.Tensor) -> torch.Tensor:
    """uint8 (..., 3, H, W) -> float32 ImageNet-normalised."""
    return F.normalize(F.to_dtype(frames, torch.float32, scale=True), IMAGENET_MEAN, IMAGENET_STD)


def train_transform(frames: torch.Tensor, rng: np.random.Generator, size: int, flip: bool) -> torch.Tensor:
    """uint8 (T,3,H,W) -> float (T,3,size,size): multi-scale crop, resize, flip (when ``flip``), normalise."""
    frames = resize_shorter(frames, scale_size_for(size))
    top, left, h, w = multiscale_crop_box(rng, *frames.shape[-2:])
    frames = F.resized_crop(frames, top, left, h, w, [size, size], antialias=True)
    if flip:
        frames = F.horizontal_flip(frames)
    return normalise(frames)


def centre_view(frames: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (T,3,H,W) -> uint8 (T,3,size,size): the 1-crop test view before normalisation."""
    return F.center_crop(resize_shorter(frames, scale_size_for(size)), [size, size])


CROP_SCALES = ("full-height", "single-view")


def test_views(frames: torch.Tensor, size: int, crops: int, scale: str = "full-height") -> torch.Tensor:
    """uint8 (T,3,H,W) -> float (crops,T,3,size,size): 1 centre crop, or 3 crops along the longer side (across
    the width of a square frame) of the frames resized to ``size`` ("full-height") or to the single view's
    scale ("single-view"), each at the middle of the shorter side."""
    if crops == 1:
        return normalise(centre_view(frames, size))[None]
    if crops != 3:
        raise ValueError(f"crops must be 1 or 3, got {crops}")
    if scale not in CROP_SCALES:
        raise ValueError(f"test crop scale must be one of {CROP_SCALES}, got {scale!r}")
    frames = resize_shorter(frames, size if scale == "full-height" else scale_size_for(size))
    h, w = frames.shape[-2:]
    if w >= h:
        boxes = [((h - size) // 2, left) for left in (0, (w - size) // 2, w - size)]
    else:
        boxes = [(top, (w - size) // 2) for top in (0, (h - size) // 2, h - size)]
    return torch.stack([normalise(F.crop(frames, top, left, size, size)) for top, left in boxes])
