"""Synthetic video benchmarks written as real H.264 .mp4 files with the real datasets' annotations.

Nobody here can download Something-Something or Kinetics, so the book stands on three generated benchmarks
(paper-spec §D, "Suggested synthetic suites"):

* ``synth-something`` (S-temporal + S-bg): 16 classes named after Something-Something templates. Seven
  classes are time-reversal pairs: a clip of the backward class is *exactly* the frame-reversed clip of its
  forward partner with the same seed, so single frames (and any frame-order-blind model such as TSN) cannot
  tell the two apart. Two classes ("Pretending to move something", "Passing something behind something") are
  their own reversal. Every clip has a textured background with a slow camera pan or jitter, a static prop,
  one or two distractors moving at random, and one main object of random shape, colour, texture and size.
  Clip length and frame rate vary, and so does the part of the clip in which the action happens.
  The clutter is set by ``SCENE``; the cpu profile turns it down (``SYNTH_PROFILES["cpu"]["scene"]``) so that
  models trained from scratch for a few CPU-minutes learn the actions.
* ``synth-kinetics`` (S-scene): 16 classes = 4 scene layouts/textures x 4 object types; the object moves,
  rotates and the camera pans at random, independently of the label. One frame suffices.
* ``synth-longrange`` (S-longrange): a marker flashes during the first fifth of the clip and again during
  the last fifth, with nothing informative between. The class is the relation between the two flashes
  (place: same / mirrored left-right / mirrored up-down / opposite corner; colour: same / other; shape:
  same / other). Each flash alone is uniformly random, so neither a single frame nor a sum of per-frame
  scores (TSN's average consensus) can solve it; a view that combines far-apart frames can.

``render_clip(benchmark, label, seed, num_frames, size)`` returns the frames and the mask of the main moving
object (the object of the action; the flashing marker in synth-longrange), or with ``mask="movers"`` of
everything that moves; ``generate`` uses it to write the dataset. Rendering is vectorised numpy over
(frames, height, width) and is deterministic for a seed. A horizontal flip swaps "left to right" with
"right to left" and "clockwise" with "anticlockwise" (``meta.json``'s ``flip_map``) and keeps other classes.

A dataset root (``generate``'s ``out``; default ``data/<profile>/<benchmark>``) holds::

    meta.json                 benchmark, profile, seed, classes, reversal pairs, flip map, sizes
    manifest.json             generator hash and, per clip, its seed, label, frames, fps, bytes and sha1
    labels.json               Something-Something V2 style {"class name": "index"}
    train.json validation.json  Something-Something V2 style [{"id", "label", "template", "placeholders"}]
    train_videofolder.txt val_videofolder.txt category.txt   TSM list files ("path num_frames label")
    train.csv validate.csv    Kinetics-400 style CSVs (synth-kinetics only)
    videos/<id>.mp4

Rerunning ``generate`` with the same arguments checks every file against the manifest (size and sha1) and
re-renders only the clips that are missing or corrupt; a change of profile, seed or of this file's code
regenerates everything. Files are written atomically (temporary file + rename).

Command line: ``python -m cmrlib synth --benchmark synth-something --profile cpu [--out DIR] [--seed S]``.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import multiprocessing
import os
import re
import sys
import time
import zlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import av
import numpy as np

#: Per-profile sizes. ``frames`` and ``fps`` are inclusive ranges drawn per clip; ``scene`` overrides ``SCENE``.
SYNTH_PROFILES: dict[str, dict] = {
    "smoke": dict(size=32, train_per_class=2, val_per_class=1, frames=(12, 20), fps=(8, 15)),
    "cpu": dict(size=64, train_per_class=40, val_per_class=12, frames=(20, 40), fps=(8, 15),
                # synth-something learnable from scratch in ~2 CPU-minutes: no distractors, a still camera, a
                # flat background and a 2x main object (with the spec's clutter TSM reached 34 %; see SCENE)
                scene=dict(distractors=(0, 0), camera=(0.0, 0.0, 1.0), background_contrast=0.0, object_scale=2.0)),
    "gpu": dict(size=128, train_per_class=200, val_per_class=40, frames=(32, 64), fps=(8, 30)),
}

#: synth-something's and synth-longrange's scene difficulty (spec default; a profile's "scene" entry overrides
#: some of it; ``object_scale`` scales the main object or the flashing markers).
SCENE: dict = {
    "distractors": (1, 2),          # inclusive range of the number of randomly moving distractors
    "camera": (0.5, 0.3, 0.2),      # probabilities of a slow pan, a jitter and a still camera
    "background_contrast": 1.0,     # scale of the background texture around its mean colour
    "object_scale": 1.0,            # scale of the main object's radius
}

#: H.264 settings: near-lossless, no B-frames (exact frame seeking), a key frame every 16 frames, one thread
#: (byte-identical output for a seed).
X264_OPTIONS = {"crf": "18", "preset": "veryfast",
                "x264-params": "bframes=0:keyint=16:min-keyint=16:scenecut=0:threads=1"}

#: What ``render_clip`` can return as the mask.
MASKS = ("object", "movers")

Array = np.ndarray


# ---------------------------------------------------------------------------------------------------------
# Drawing primitives. Coordinates are pixels; per-frame parameters are arrays of shape (F,).
# ---------------------------------------------------------------------------------------------------------

def _sdf(shape: str, u: Array, v: Array) -> Array:
    """Approximate signed distance (negative inside) of a unit-radius shape at local coordinates (u, v)."""
    au, av_ = np.abs(u), np.abs(v)
    if shape == "disc":
        return np.sqrt(u * u + v * v) - 1.0
    if shape == "ring":
        return np.abs(np.sqrt(u * u + v * v) - 0.7) - 0.3
    if shape == "square":
        return np.maximum(au, av_) - 0.8
    if shape == "diamond":
        return (au + av_ - 1.0) * 0.7071
    if shape == "triangle":  # apex towards -v
        return np.maximum(v - 0.5, 0.866 * au - 0.5 * v - 0.5)
    if shape == "bar":
        return np.maximum(au - 1.0, av_ - 0.4)
    if shape == "cross":
        return np.minimum(np.maximum(au - 1.0, av_ - 0.33), np.maximum(au - 0.33, av_ - 1.0))
    if shape == "pacman":  # a disc with a wedge cut out towards +u
        r = np.sqrt(u * u + v * v)
        return np.maximum(r - 1.0, (0.6 - np.abs(np.arctan2(v, u))) * r)
    if shape == "halfdisc":
        return np.maximum(np.sqrt(u * u + (v - 0.35) ** 2) - 1.0, v - 0.35)
    if shape == "lshape":
        stem = np.maximum(np.abs(u + 0.5) - 0.3, av_ - 0.9)
        foot = np.maximum(au - 0.8, np.abs(v - 0.6) - 0.3)
        return np.minimum(stem, foot)
    raise ValueError(f"unknown shape {shape!r}")


def _texture(kind: str, u: Array, v: Array, freq: float, phase: float) -> Array:
    """Texture value in [0, 1] in object-local coordinates, so it moves, scales and turns with the object."""
    if kind == "plain":
        return np.zeros_like(u)
    if kind == "stripes":
        return 0.5 + 0.5 * np.sin(freq * u + phase)
    if kind == "checker":
        return (np.sin(freq * u + phase) * np.sin(freq * v) > 0).astype(np.float32)
    if kind == "gradient":
        return np.clip(0.5 + 0.5 * u, 0.0, 1.0)
    if kind == "dots":
        return (np.sin(freq * u + phase) * np.sin(freq * v) > 0.45).astype(np.float32)
    raise ValueError(f"unknown texture {kind!r}")


OBJECT_SHAPES = ("triangle", "bar", "pacman", "lshape", "square", "cross", "halfdisc", "diamond")
TEXTURES = ("plain", "stripes", "checker", "gradient", "dots")


@dataclass(eq=False)
class Sprite:
    """A textured shape. Position, radius, angle and the horizontal stretch vary per frame (arrays (F,))."""
    shape: str
    x: Array
    y: Array
    radius: Array
    angle: Array
    colours: Array  # (2, 3) floats in [0, 1], mixed by the texture
    texture: str = "plain"
    freq: float = 6.0
    phase: float = 0.0
    stretch: Array | float = 1.0  # scale of the local u axis (folding), anchored at u = -1
    moving: bool = True  # False for a prop that stays put in the world

    def window(self) -> int:
        """Side of the square pixel window that holds the sprite in every frame (shapes fit in radius 1.25)."""
        return 2 * int(np.ceil(1.25 * float(np.max(self.radius)) + 1.0)) + 1

    def draw(self, canvas: "Canvas", visible: Array | None = None) -> Array:
        """Alpha-blend onto ``canvas`` in place; return the sprite's coverage mask (F,H,W) bool.

        Only a window around the sprite is computed in each frame: the work is (F, w, w), not (F, H, W)."""
        num_frames, w = len(self.x), self.window()
        f = lambda a: np.broadcast_to(np.asarray(a, np.float32), (num_frames,))  # noqa: E731
        x, y, radius, stretch = f(self.x), f(self.y), f(self.radius), f(self.stretch)
        # Screen position of each window's first pixel; world coordinates of the window's pixel centres.
        left = np.clip(np.floor(x - canvas.shift[:, 0]).astype(int) - w // 2, -canvas.pad, canvas.size + canvas.pad - w)
        top = np.clip(np.floor(y - canvas.shift[:, 1]).astype(int) - w // 2, -canvas.pad, canvas.size + canvas.pad - w)
        offsets = np.arange(w)
        dx = (left[:, None] + offsets + 0.5 + canvas.shift[:, 0, None] - x[:, None])[:, None, :]  # (F,1,w)
        dy = (top[:, None] + offsets + 0.5 + canvas.shift[:, 1, None] - y[:, None])[:, :, None]  # (F,w,1)
        angle = f(self.angle)[:, None, None]
        cos, sin, r = np.cos(angle), np.sin(angle), radius[:, None, None]
        u = (cos * dx + sin * dy) / r
        v = (-sin * dx + cos * dy) / r
        stretch = stretch[:, None, None]
        u = (u + 1.0) / stretch - 1.0  # the object extends from u = -1 to u = 2 * stretch - 1
        alpha = np.clip(0.5 - _sdf(self.shape, u, v) * r * np.minimum(stretch, 1.0), 0.0, 1.0)
        if visible is not None:
            alpha = alpha * np.asarray(visible, np.float32)[:, None, None]
        tex = _texture(self.texture, u, v, self.freq, self.phase)[..., None]
        colour = self.colours[0] + (self.colours[1] - self.colours[0]) * tex
        frame = np.arange(num_frames)[:, None, None]
        rows = (top[:, None] + canvas.pad + offsets)[:, :, None]
        cols = (left[:, None] + canvas.pad + offsets)[:, None, :]
        a = alpha[..., None]
        canvas.rgb[frame, rows, cols] = canvas.rgb[frame, rows, cols] * (1.0 - a) + a * colour
        mask = np.zeros(canvas.rgb.shape[:3], bool)
        mask[frame, rows, cols] = alpha >= 0.5
        return canvas.crop(mask)


@dataclass(eq=False)
class Canvas:
    """Frames being drawn, padded by ``pad`` pixels on each side so that sprite windows never fall off."""
    rgb: Array  # (F, size + 2 pad, size + 2 pad, 3) float32 in [0, 1]
    shift: Array  # (F, 2) camera displacement (x, y) in pixels: screen pixel p shows world point p + shift
    size: int
    pad: int

    def crop(self, padded: Array) -> Array:
        return padded[:, self.pad:self.pad + self.size, self.pad:self.pad + self.size]


def _hsv(h: float, s: float, v: float) -> Array:
    """One HSV colour (components in [0, 1]) as RGB."""
    i = int(h * 6.0) % 6
    f = h * 6.0 - int(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i], np.float32)


def _random_colours(rng: np.random.Generator) -> Array:
    """Two colours for a sprite: a saturated base colour and a texture colour."""
    base = _hsv(rng.random(), rng.uniform(0.5, 1.0), rng.uniform(0.55, 1.0))
    other = _hsv(rng.random(), rng.uniform(0.0, 1.0), rng.uniform(0.2, 1.0))
    return np.stack([base, other])


def _random_sprite(rng: np.random.Generator, shapes=OBJECT_SHAPES, **motion) -> Sprite:
    return Sprite(shape=str(rng.choice(shapes)), colours=_random_colours(rng), texture=str(rng.choice(TEXTURES)),
                  freq=float(rng.uniform(4.0, 9.0)), phase=float(rng.uniform(0, 2 * np.pi)), **motion)


def _value_noise(rng: np.random.Generator, n: int, cells_y: int, cells_x: int) -> Array:
    """Smooth random field (n, n) in [0, 1]: a random lattice, interpolated with a smoothstep."""
    lattice = rng.random((cells_y + 1, cells_x + 1)).astype(np.float32)

    def axis(cells):
        t = np.linspace(0, cells, n, endpoint=False, dtype=np.float32)
        i = t.astype(int)
        w = t - i
        return i, w * w * (3 - 2 * w)

    iy, wy = axis(cells_y)
    ix, wx = axis(cells_x)
    wy, wx = wy[:, None], wx[None, :]
    top = lattice[iy][:, ix] * (1 - wx) + lattice[iy][:, ix + 1] * wx
    bottom = lattice[iy + 1][:, ix] * (1 - wx) + lattice[iy + 1][:, ix + 1] * wx
    return top * (1 - wy) + bottom * wy


def _mix(value: Array, c1: Array, c2: Array) -> Array:
    return c1 + (c2 - c1) * value[..., None]


def _generic_background(rng: np.random.Generator, n: int) -> Array:
    """A label-free textured background (n, n, 3): value noise plus an oriented grating, muted colours."""
    cells = int(rng.integers(3, 9))
    value = 0.6 * _value_noise(rng, n, cells, cells)
    theta, freq = rng.uniform(0, np.pi), rng.uniform(0.15, 0.6) * 64 / n
    ys, xs = np.mgrid[0:n, 0:n].astype(np.float32)
    value += 0.4 * (0.5 + 0.5 * np.sin(freq * (np.cos(theta) * xs + np.sin(theta) * ys)))
    c1 = _hsv(rng.random(), rng.uniform(0.0, 0.5), rng.uniform(0.15, 0.6))
    c2 = _hsv(rng.random(), rng.uniform(0.0, 0.5), rng.uniform(0.4, 0.9))
    return _mix(value, c1, c2)


@dataclass
class Camera:
    """A camera path: ``shift`` (F, 2) in pixels, within +-``margin``, over a background of side
    size + 2 * margin. Screen pixel p shows world point p + shift; the background moves by whole pixels."""
    margin: int
    shift: Array  # (F, 2) camera displacement in pixels (x, y); world points move by -shift on screen

    def crop(self, background: Array, size: int) -> Array:
        """Per-frame crops (F, size, size, 3) of the background."""
        off = np.clip(np.rint(self.shift).astype(int) + self.margin, 0, 2 * self.margin)
        return np.stack([background[y:y + size, x:x + size] for x, y in off])


def _random_camera(rng: np.random.Generator, num_frames: int, size: int, odds=(0.5, 0.3, 0.2)) -> Camera:
    """A slow pan, a jitter or a still camera, with probabilities ``odds`` (by default half, a third, the rest)."""
    margin = max(2, int(np.ceil(0.15 * size)))
    kind = rng.choice(3, p=list(odds))
    if kind == 0:
        direction = rng.uniform(0, 2 * np.pi)
        length = rng.uniform(0.3, 1.0) * margin
        t = np.linspace(-0.5, 0.5, num_frames, dtype=np.float32)[:, None]
        shift = t * length * np.array([np.cos(direction), np.sin(direction)], np.float32)
    elif kind == 1:
        shift = np.clip(rng.normal(0.0, 0.6 * size / 64, (num_frames, 2)), -margin, margin).astype(np.float32)
    else:
        shift = np.zeros((num_frames, 2), np.float32)
    return Camera(margin=margin, shift=shift)


def _bounce(start: Array, velocity: Array, t: Array, low: float, high: float) -> Array:
    """Positions of a point moving at constant velocity, reflected at low and high (a triangle wave)."""
    span = high - low
    p = np.mod(start - low + velocity * t, 2 * span)
    return low + np.where(p > span, 2 * span - p, p)


def _distractors(rng: np.random.Generator, num_frames: int, size: int, count: int,
                 shapes=OBJECT_SHAPES) -> list[Sprite]:
    """Small sprites that move and turn at random, independently of the label."""
    t = np.arange(num_frames, dtype=np.float32)
    sprites = []
    for _ in range(count):
        start = rng.uniform(0.1, 0.9, 2) * size
        speed = rng.uniform(0.3, 1.2) * size / num_frames
        heading = rng.uniform(0, 2 * np.pi)
        x = _bounce(start[0], speed * np.cos(heading), t, 0.05 * size, 0.95 * size)
        y = _bounce(start[1], speed * np.sin(heading), t, 0.05 * size, 0.95 * size)
        angle = rng.uniform(0, 2 * np.pi) + rng.uniform(-0.1, 0.1) * t
        radius = np.full(num_frames, rng.uniform(0.04, 0.07) * size, np.float32)
        sprites.append(_random_sprite(rng, shapes, x=x, y=y, radius=radius, angle=angle))
    return sprites


def _progress(rng: np.random.Generator, num_frames: int) -> Array:
    """Action progress (F,) in [0, 1]: the action occupies a random window, linearly or eased in and out.

    The window's distribution is symmetric under time reversal, so reversed clips are as likely as forward."""
    start, end = rng.uniform(0.0, 0.2), rng.uniform(0.8, 1.0)
    s = np.clip((np.linspace(0, 1, num_frames, dtype=np.float32) - start) / (end - start), 0, 1)
    return s * s * (3 - 2 * s) if rng.random() < 0.5 else s


def _lerp(a, b, p):
    return a + (b - a) * p


# ---------------------------------------------------------------------------------------------------------
# synth-something
# ---------------------------------------------------------------------------------------------------------

#: (forward class, backward class or None). A backward class is the exact time reversal of its partner.
SOMETHING_PAIRS = [
    ("Moving something from left to right", "Moving something from right to left"),
    ("Moving something up", "Moving something down"),
    ("Moving something towards the camera", "Moving something away from the camera"),
    ("Turning something clockwise", "Turning something anticlockwise"),
    ("Putting something on top of something", "Taking something off of something"),
    ("Covering something with something", "Uncovering something"),
    ("Unfolding something", "Folding something"),
    ("Pretending to move something", None),
    ("Passing something behind something", None),
]


def _something_scene(kind: str, rng: np.random.Generator, num_frames: int, size: int):
    """World-space sprites of one synth-something clip: (main object, prop, main drawn behind prop)."""
    F, S = num_frames, float(size)
    p = _progress(rng, F)
    r = rng.uniform(0.09, 0.14) * S
    const = lambda value: np.full(F, value, np.float32)  # noqa: E731
    angle = const(rng.uniform(0, 2 * np.pi))
    prop_half = rng.uniform(0.08, 0.13) * S
    side = rng.choice([-1.0, 1.0])  # which half holds the main path; the prop goes to the other half
    behind = False
    x = y = None
    radius, stretch = const(r), 1.0

    if kind == "Moving something from left to right":
        y0 = S * (0.5 + side * rng.uniform(0.18, 0.3))
        x = _lerp(rng.uniform(0.12, 0.3) * S, rng.uniform(0.7, 0.88) * S, p)
        y = y0 + rng.uniform(-0.05, 0.05) * S * p
        prop = (rng.uniform(0.2, 0.8) * S, S * (0.5 - side * rng.uniform(0.2, 0.3)))
    elif kind == "Moving something up":
        x0 = S * (0.5 + side * rng.uniform(0.18, 0.3))
        y = _lerp(rng.uniform(0.7, 0.88) * S, rng.uniform(0.12, 0.3) * S, p)
        x = x0 + rng.uniform(-0.05, 0.05) * S * p
        prop = (S * (0.5 - side * rng.uniform(0.2, 0.3)), rng.uniform(0.2, 0.8) * S)
    elif kind == "Moving something towards the camera":
        r = rng.uniform(0.06, 0.09) * S
        radius = _lerp(r, r * rng.uniform(2.0, 2.6), p)
        x, y = const(rng.uniform(0.4, 0.6) * S), const(rng.uniform(0.4, 0.6) * S)
        prop = (S * (0.5 + side * 0.36), S * rng.uniform(0.15, 0.85))
        prop_half = rng.uniform(0.06, 0.09) * S
    elif kind == "Turning something clockwise":  # the angle grows: clockwise on screen (y points down)
        angle = angle + rng.uniform(0.5, 1.2) * np.pi * p
        x, y = const(rng.uniform(0.35, 0.65) * S), const(S * (0.5 + side * rng.uniform(0.1, 0.2)))
        prop = (rng.uniform(0.2, 0.8) * S, S * (0.5 - side * rng.uniform(0.28, 0.34)))
        prop_half = rng.uniform(0.06, 0.1) * S
    elif kind == "Putting something on top of something":
        prop = (rng.uniform(0.35, 0.65) * S, rng.uniform(0.62, 0.75) * S)
        rest = (prop[0] + rng.uniform(-0.3, 0.3) * prop_half, prop[1] - prop_half - 0.8 * r)
        start = (prop[0] + side * rng.uniform(0.25, 0.35) * S, rng.uniform(0.12, 0.25) * S)
        x, y = _lerp(start[0], rest[0], p), _lerp(start[1], rest[1], p)
    elif kind == "Covering something with something":
        prop_half = rng.uniform(0.05, 0.07) * S
        r = rng.uniform(1.7, 2.1) * prop_half
        radius = const(r)
        prop = (rng.uniform(0.4, 0.6) * S, rng.uniform(0.4, 0.6) * S)
        heading = rng.uniform(0, 2 * np.pi)
        distance = rng.uniform(0.3, 0.4) * S
        x = _lerp(prop[0] + distance * np.cos(heading), prop[0], p)
        y = _lerp(prop[1] + distance * np.sin(heading), prop[1], p)
    elif kind == "Unfolding something":  # the object's local u axis doubles, anchored at one edge
        stretch = _lerp(0.5, 1.0, p)
        x, y = const(rng.uniform(0.4, 0.6) * S), const(S * (0.5 + side * rng.uniform(0.1, 0.2)))
        prop = (rng.uniform(0.2, 0.8) * S, S * (0.5 - side * rng.uniform(0.28, 0.34)))
        prop_half = rng.uniform(0.06, 0.1) * S
    elif kind == "Pretending to move something":  # out and back: its own time reversal
        heading = rng.uniform(0, 2 * np.pi)
        reach = rng.uniform(0.06, 0.12) * S * np.sin(np.pi * p)
        x0, y0 = rng.uniform(0.35, 0.65) * S, S * (0.5 + side * rng.uniform(0.1, 0.2))
        x, y = x0 + reach * np.cos(heading), y0 + reach * np.sin(heading)
        prop = (rng.uniform(0.2, 0.8) * S, S * (0.5 - side * rng.uniform(0.28, 0.34)))
        prop_half = rng.uniform(0.06, 0.1) * S
    elif kind == "Passing something behind something":  # either direction: its own time reversal
        r = rng.uniform(0.07, 0.1) * S
        radius = const(r)
        prop_half = rng.uniform(1.4, 1.7) * r
        prop = (rng.uniform(0.4, 0.6) * S, rng.uniform(0.35, 0.65) * S)
        x = _lerp(prop[0] - side * rng.uniform(0.3, 0.4) * S, prop[0] + side * rng.uniform(0.3, 0.4) * S, p)
        y = const(prop[1] + rng.uniform(-0.3, 0.3) * prop_half)
        behind = True
    else:
        raise ValueError(f"no renderer for {kind!r}")

    main = _random_sprite(rng, x=x, y=y, radius=radius, angle=angle, stretch=stretch)
    prop_sprite = Sprite(shape="square", x=const(prop[0]), y=const(prop[1]), radius=const(prop_half / 0.8),
                         angle=const(rng.uniform(-0.15, 0.15)), colours=_random_colours(rng),
                         texture=str(rng.choice(TEXTURES)), freq=float(rng.uniform(4, 9)), moving=False)
    return main, prop_sprite, behind


def _clutter(rng: np.random.Generator, num_frames: int, size: int, scene: dict, shapes) -> tuple:
    """The label-free part of a synth-something or synth-longrange scene, as ``scene`` sets it: the camera,
    a textured background (contrast scaled around its mean colour) and the random distractors."""
    camera = _random_camera(rng, num_frames, size, scene["camera"])
    background = _generic_background(rng, size + 2 * camera.margin)
    if scene["background_contrast"] != 1.0:
        mean = background.mean((0, 1))
        background = mean + scene["background_contrast"] * (background - mean)
    low, high = scene["distractors"]
    distractors = _distractors(rng, num_frames, size, int(rng.integers(low, high + 1)), shapes=shapes)
    return camera, background, distractors


def _render_something(kind: str, rng: np.random.Generator, num_frames: int, size: int, scene: dict):
    main, prop, behind = _something_scene(kind, rng, num_frames, size)
    main.radius = main.radius * scene["object_scale"]
    camera, background, distractors = _clutter(rng, num_frames, size, scene, OBJECT_SHAPES)
    if behind:
        return _compose(size, camera, background, distractors, [(main, None)], in_front=[prop])
    return _compose(size, camera, background, [prop] + distractors, [(main, None)])


def _compose(size: int, camera: Camera, background: Array, sprites: list[Sprite],
             mains: list[tuple[Sprite, Array | None]], in_front: list[Sprite] = ()):
    """Draw the background, then ``sprites``, then the main objects (each with an optional per-frame
    visibility (F,) bool), then ``in_front`` (sprites the main objects pass behind), through the camera.

    Returns uint8 frames (F,H,W,3) and the visible masks (F,H,W) bool: "object" (the main objects) and
    "movers" (the main objects and every other sprite that moves in the world, i.e. not the static prop)."""
    everything = [*sprites, *(m for m, _ in mains), *in_front]
    pad = max(s.window() for s in everything)
    canvas = Canvas(np.zeros((len(camera.shift), size + 2 * pad, size + 2 * pad, 3), np.float32), camera.shift,
                    size, pad)
    canvas.crop(canvas.rgb)[:] = camera.crop(background, size)
    masks = {name: np.zeros((len(camera.shift), size, size), bool) for name in MASKS}
    layers = [(s, None, False) for s in sprites] + [(m, v, True) for m, v in mains] + [(s, None, False) for s in in_front]
    for sprite, visible, main in layers:
        cover = sprite.draw(canvas, visible)
        for name, counts in (("object", main), ("movers", main or sprite.moving)):
            if counts:
                masks[name] |= cover
            else:  # drawn on top: hides what it covers
                masks[name] &= ~cover
    frames = np.clip(np.rint(canvas.crop(canvas.rgb) * 255.0), 0, 255).astype(np.uint8)
    return frames, masks


# ---------------------------------------------------------------------------------------------------------
# synth-kinetics
# ---------------------------------------------------------------------------------------------------------

KINETICS_SCENES = ("field", "beach", "pool", "wall")
KINETICS_OBJECTS = {"ball": "disc", "box": "square", "ring": "ring", "cone": "triangle"}
#: Largest random shift of a scene's hues (fraction of the colour wheel); larger makes colour less telling.
KINETICS_HUE_JITTER = 0.04


def _jittered(rng, hue, s, v):
    return _hsv((hue + rng.uniform(-KINETICS_HUE_JITTER, KINETICS_HUE_JITTER)) % 1.0,
                np.clip(s + rng.uniform(-0.15, 0.15), 0, 1), np.clip(v + rng.uniform(-0.15, 0.15), 0, 1))


def _scene_background(scene: str, rng: np.random.Generator, n: int) -> Array:
    """Background (n, n, 3) whose layout and texture identify the scene."""
    ys, xs = np.mgrid[0:n, 0:n].astype(np.float32) / n
    sky = _mix(ys, _jittered(rng, 0.57, 0.45, 0.95), _jittered(rng, 0.6, 0.25, 0.8))
    grass = _mix(0.6 * _value_noise(rng, n, 2, max(4, n // 3)) + 0.4 * _value_noise(rng, n, 6, 6),
                 _jittered(rng, 0.3, 0.8, 0.35), _jittered(rng, 0.25, 0.7, 0.75))
    waves = 0.5 + 0.5 * np.sin(rng.uniform(25, 45) * ys + rng.uniform(0.5, 1.5) * np.sin(rng.uniform(6, 12) * xs))
    water = _mix(waves, _jittered(rng, 0.6, 0.8, 0.45), _jittered(rng, 0.52, 0.5, 0.85))
    if scene == "field":
        horizon = rng.uniform(0.25, 0.45)
        return np.where((ys < horizon)[..., None], sky, grass)
    if scene == "beach":
        shore, beach = rng.uniform(0.2, 0.32), rng.uniform(0.45, 0.6)
        grain = 0.7 * rng.random((n, n)).astype(np.float32) + 0.3 * _value_noise(rng, n, 4, 4)
        sand = _mix(grain, _jittered(rng, 0.11, 0.45, 0.7), _jittered(rng, 0.13, 0.3, 0.95))
        return np.where((ys < shore)[..., None], sky, np.where((ys < beach)[..., None], water, sand))
    if scene == "pool":
        pitch = rng.uniform(0.12, 0.2)
        lines = (np.mod(xs, pitch) < 0.025) | (np.mod(ys, pitch) < 0.025)
        return np.where(lines[..., None], _jittered(rng, 0.5, 0.1, 0.95), water)
    if scene == "wall":
        height = rng.uniform(0.08, 0.13)
        row = np.floor(ys / height)
        width = height * rng.uniform(1.8, 2.6)
        mortar = (np.mod(ys, height) < 0.02) | (np.mod(xs + 0.5 * width * np.mod(row, 2), width) < 0.02)
        tone = _value_noise(rng, n, 8, 8) * 0.5 + 0.5 * np.mod(row * 0.37, 1.0)
        brick = _mix(tone, _jittered(rng, 0.02, 0.75, 0.45), _jittered(rng, 0.05, 0.6, 0.7))
        return np.where(mortar[..., None], _jittered(rng, 0.1, 0.1, 0.75), brick)
    raise ValueError(f"unknown scene {scene!r}")


def _render_kinetics(kind: str, rng: np.random.Generator, num_frames: int, size: int, scene: dict):
    obj, place = kind.split(" at the ")
    F, S = num_frames, float(size)
    t = np.arange(F, dtype=np.float32)
    speed, heading = rng.uniform(0.2, 0.8) * S / F, rng.uniform(0, 2 * np.pi)
    start = rng.uniform(0.2, 0.8, 2) * S
    main = _random_sprite(rng, (KINETICS_OBJECTS[obj],),
                          x=_bounce(start[0], speed * np.cos(heading), t, 0.15 * S, 0.85 * S),
                          y=_bounce(start[1], speed * np.sin(heading), t, 0.15 * S, 0.85 * S),
                          radius=np.full(F, rng.uniform(0.1, 0.16) * S, np.float32),
                          angle=rng.uniform(0, 2 * np.pi) + rng.uniform(-0.15, 0.15) * t)
    distractors = _distractors(rng, F, size, int(rng.integers(1, 3)), shapes=("bar", "cross", "diamond", "lshape"))
    camera = _random_camera(rng, F, size)
    background = _scene_background(place, rng, size + 2 * camera.margin)
    return _compose(size, camera, background, distractors, [(main, None)])


# ---------------------------------------------------------------------------------------------------------
# synth-longrange
# ---------------------------------------------------------------------------------------------------------

LONGRANGE_PLACES = ("same place", "mirrored left-right", "mirrored up-down", "opposite corner")
LONGRANGE_COLOURS = ("same colour", "other colour")
LONGRANGE_SHAPES = ("same shape", "other shape")
MARKER_SHAPES = ("disc", "square", "triangle", "cross")
MARKER_HUES = (0.0, 1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6)


def _render_longrange(kind: str, rng: np.random.Generator, num_frames: int, size: int, scene: dict):
    place, colour, shape = kind.split(", ")
    F, S = num_frames, float(size)
    camera, background, distractors = _clutter(rng, F, size, scene, ("bar", "lshape", "pacman", "halfdisc"))

    # Two flashes: frames [0, d1) and [F - d2, F); each covers at least one of 8 equal segments.
    d1, d2 = (max(int(np.ceil(F / 8)), int(round(rng.uniform(0.15, 0.22) * F))) for _ in range(2))
    first = np.arange(F) < d1
    sx, sy = rng.choice([-1.0, 1.0], 2)
    ox, oy = rng.uniform(0.15, 0.3, 2) * S
    mx, my = {"same place": (1, 1), "mirrored left-right": (-1, 1), "mirrored up-down": (1, -1),
              "opposite corner": (-1, -1)}[place]
    x = np.where(first, S / 2 + sx * ox, S / 2 + mx * sx * ox)
    y = np.where(first, S / 2 + sy * oy, S / 2 + my * sy * oy)
    hues = rng.choice(len(MARKER_HUES), 2, replace=False)
    shapes = rng.choice(len(MARKER_SHAPES), 2, replace=False)
    h2 = hues[0] if colour == "same colour" else hues[1]
    s2 = shapes[0] if shape == "same shape" else shapes[1]
    r1, r2 = (rng.uniform(0.08, 0.12) * S * scene["object_scale"] for _ in range(2))
    visible = first | (np.arange(F) >= F - d2)
    # Markers are fixed on screen: their world position follows the camera.
    markers = []
    for hue, shp, r, on in [(hues[0], shapes[0], r1, first), (h2, s2, r2, visible & ~first)]:
        rgb = _hsv(MARKER_HUES[hue], 0.9, 0.95)
        marker = Sprite(shape=MARKER_SHAPES[shp], x=x + camera.shift[:, 0], y=y + camera.shift[:, 1],
                        radius=np.full(F, r, np.float32), angle=np.zeros(F, np.float32), colours=np.stack([rgb, rgb]))
        markers.append((marker, on))
    return _compose(size, camera, background, distractors, markers)


# ---------------------------------------------------------------------------------------------------------
# Registry and the public rendering function
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Benchmark:
    """Class list and renderer of one benchmark. ``backward`` maps a class to the forward partner whose
    time-reversed clips it consists of; ``flip_map`` maps the classes that a horizontal flip changes."""
    name: str
    kind: str
    classes: tuple[str, ...]
    render: Callable[[str, np.random.Generator, int, int, dict], tuple[Array, Array]]
    backward: dict[int, int]
    flip_map: dict[int, int]
    mask: str

    @property
    def reversal_pairs(self) -> list[list[int]]:
        return [[forward, backward] for backward, forward in sorted(self.backward.items())]


def _something() -> Benchmark:
    classes, backward = [], {}
    for forward, reverse in SOMETHING_PAIRS:
        classes.append(forward)
        if reverse is not None:
            classes.append(reverse)
            backward[len(classes) - 1] = len(classes) - 2
    index = {name: i for i, name in enumerate(classes)}
    flips = [("Moving something from left to right", "Moving something from right to left"),
             ("Turning something clockwise", "Turning something anticlockwise")]
    flip_map = {}
    for a, b in flips:
        flip_map[index[a]], flip_map[index[b]] = index[b], index[a]
    return Benchmark("synth-something", "temporal", tuple(classes), _render_something, backward, flip_map,
                     "the object being moved (pixels of it that are visible)")


BENCHMARKS: dict[str, Benchmark] = {
    "synth-something": _something(),
    "synth-kinetics": Benchmark(
        "synth-kinetics", "scene",
        tuple(f"{obj} at the {scene}" for scene in KINETICS_SCENES for obj in KINETICS_OBJECTS),
        _render_kinetics, {}, {}, "the scene's object (ball, box, ring or cone)"),
    "synth-longrange": Benchmark(
        "synth-longrange", "longrange",
        tuple(f"{p}, {c}, {s}" for p in LONGRANGE_PLACES for c in LONGRANGE_COLOURS for s in LONGRANGE_SHAPES),
        _render_longrange, {}, {}, "the flashing marker (first and last flash)"),
}


def _benchmark(name: str) -> Benchmark:
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


def _profile(name: str) -> dict:
    if name not in SYNTH_PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose from {', '.join(SYNTH_PROFILES)}")
    return SYNTH_PROFILES[name]


def render_clip(benchmark: str, label: int, seed: int, num_frames: int, size: int,
                mask: str = "object", scene: dict | None = None) -> tuple[Array, Array]:
    """Render one clip: frames uint8 (F, size, size, 3) and a mask bool (F, size, size).

    ``mask="object"``: the visible pixels of the main moving object (the object of the action; the scene's
    object in synth-kinetics; the flashing marker in synth-longrange). ``mask="movers"``: those plus the
    distractors, i.e. everything that moves in the world (the background and the prop move only with the
    camera). Deterministic for (benchmark, label, seed, num_frames, size). A backward class of a reversal
    pair renders its forward partner with the same seed and reverses the frame order, exactly.
    ``scene``: synth-something and synth-longrange settings that replace those of ``SCENE`` (a profile's
    ``scene``; None = the spec's difficulty; synth-kinetics ignores it)."""
    spec = _benchmark(benchmark)
    unknown = set(scene or {}) - set(SCENE)
    if unknown:
        raise ValueError(f"unknown scene settings {sorted(unknown)}; choose from {sorted(SCENE)}")
    if not 0 <= int(label) < len(spec.classes):
        raise ValueError(f"label {label} out of range for {benchmark} ({len(spec.classes)} classes)")
    if int(num_frames) < 2 or int(size) < 8:
        raise ValueError(f"need num_frames >= 2 and size >= 8, got num_frames={num_frames}, size={size}")
    if mask not in MASKS:
        raise ValueError(f"mask must be one of {MASKS}, got {mask!r}")
    rng = np.random.default_rng(int(seed))
    forward = spec.backward.get(int(label), int(label))
    frames, masks = spec.render(spec.classes[forward], rng, int(num_frames), int(size), {**SCENE, **(scene or {})})
    chosen = masks[mask]
    if forward != int(label):
        frames, chosen = frames[::-1], chosen[::-1]
    return np.ascontiguousarray(frames), np.ascontiguousarray(chosen)


# ---------------------------------------------------------------------------------------------------------
# Dataset generation
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClipPlan:
    id: str
    split: str  # "train" | "validation"
    label: int
    seed: int
    num_frames: int
    fps: int


def _stable(text: str) -> int:
    return zlib.crc32(text.encode())


def plan_clips(benchmark: str, profile: str, seed: int = 0) -> list[ClipPlan]:
    """Every clip of a dataset: balanced classes (labels cycle through the classes), train clips first.

    A clip's seed, length and frame rate derive only from (benchmark, profile, seed, clip index)."""
    spec, params = _benchmark(benchmark), _profile(profile)
    counts = {"train": params["train_per_class"], "validation": params["val_per_class"]}
    plans, index = [], 0
    for split, per_class in counts.items():
        for i in range(per_class * len(spec.classes)):
            rng = np.random.default_rng([int(seed), _stable(benchmark), _stable(profile), index])
            plans.append(ClipPlan(id=str(index), split=split, label=i % len(spec.classes),
                                  seed=int(rng.integers(2 ** 31)),
                                  num_frames=int(rng.integers(params["frames"][0], params["frames"][1] + 1)),
                                  fps=int(rng.integers(params["fps"][0], params["fps"][1] + 1))))
            index += 1
    return plans


def encode_mp4(frames: Array, fps: float) -> bytes:
    """H.264 .mp4 (yuv420p) of uint8 RGB frames (F,H,W,3) with even H and W, encoded with PyAV."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.options = dict(X264_OPTIONS)
        stream.codec_context.thread_count = 1
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return buffer.getvalue()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path`` and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def _video_path(plan: ClipPlan) -> str:
    return f"videos/{plan.id}.mp4"


def _make_clip(job: tuple[str, int, Path, ClipPlan]) -> dict:
    """Render, encode and write one clip; return its manifest record."""
    benchmark, params, root, plan = job
    frames, _ = render_clip(benchmark, plan.label, plan.seed, plan.num_frames, params["size"],
                            scene=params.get("scene"))
    data = encode_mp4(frames, plan.fps)
    atomic_write_bytes(root / _video_path(plan), data)
    return {**plan.__dict__, "path": _video_path(plan), "bytes": len(data), "sha1": hashlib.sha1(data).hexdigest()}


def file_matches(root: Path, record: dict | None) -> bool:
    if not record:
        return False
    path = root / record["path"]
    try:
        if path.stat().st_size != record["bytes"]:
            return False
        return hashlib.sha1(path.read_bytes()).hexdigest() == record["sha1"]
    except OSError:
        return False


def _fingerprint(benchmark: str, profile: str, seed: int) -> str:
    """Hash of everything that determines the files: arguments, profile sizes, encoder options, this code."""
    code = hashlib.sha1(Path(__file__).read_bytes()).hexdigest()
    blob = json.dumps([benchmark, profile, SYNTH_PROFILES[profile], int(seed), X264_OPTIONS, code], sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()


def default_root(benchmark: str, profile: str) -> Path:
    """``data/<profile>/<benchmark>`` under $CMR_ROOT, else under the repository root."""
    project = Path(os.environ.get("CMR_ROOT", Path(__file__).resolve().parents[2]))
    return project / "data" / profile / benchmark


def generate(benchmark: str, profile: str, out: str | os.PathLike | None = None, seed: int = 0,
             workers: int | None = None, verbose: bool = True) -> Path:
    """Generate (or verify and complete) a synthetic dataset; return its root.

    ``out`` is the dataset root itself (default ``data/<profile>/<benchmark>``). Files that match the
    manifest (same generator fingerprint, size and sha1) are kept; missing or corrupt ones are re-rendered.
    ``workers``: processes used to render (default: the number of CPUs; 0 or 1 renders in this process)."""
    spec, params = _benchmark(benchmark), _profile(profile)
    root = Path(out) if out is not None else default_root(benchmark, profile)
    manifest_path = root / "manifest.json"
    old = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    if old is not None and old.get("benchmark") != benchmark:
        raise ValueError(f"{root} already holds {old.get('benchmark')!r}, not {benchmark!r}; choose another --out")
    fingerprint = _fingerprint(benchmark, profile, seed)
    old_clips = old["clips"] if old is not None and old.get("fingerprint") == fingerprint else {}
    plans = plan_clips(benchmark, profile, seed)

    start = time.perf_counter()
    records = {p.id: old_clips[p.id] for p in plans if file_matches(root, old_clips.get(p.id))}
    todo = [p for p in plans if p.id not in records]
    jobs = [(benchmark, params, root, p) for p in todo]
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    (root / "videos").mkdir(parents=True, exist_ok=True)
    if workers > 1 and len(jobs) >= 4 * workers:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            made = pool.imap_unordered(_make_clip, jobs, chunksize=8)
            records.update((r["id"], r) for r in made)
    else:
        records.update((r["id"], r) for r in map(_make_clip, jobs))
    seconds = time.perf_counter() - start

    expected = {_video_path(p) for p in plans}
    for stale in (root / "videos").iterdir():
        if f"videos/{stale.name}" not in expected:
            stale.unlink()
    _write_annotations(spec, profile, seed, root, plans)
    manifest = {"benchmark": benchmark, "profile": profile, "seed": int(seed), "fingerprint": fingerprint,
                "size": params["size"], "scene": params.get("scene"), "clips": {p.id: records[p.id] for p in plans}}
    _atomic_write_text(manifest_path, json.dumps(manifest, indent=1))
    if verbose:
        speed = (f"{len(todo) / max(seconds, 1e-9):.1f} clips/s with {workers} worker{'s' * (workers != 1)}"
                 if todo else "all files match the manifest")
        print(f"{benchmark} [{profile}] -> {root}: {len(todo)} clips rendered, {len(plans) - len(todo)} reused, "
              f"{seconds:.1f} s ({speed})", flush=True)
    return root


def _template(name: str) -> str:
    return re.sub(r"\bsomething\b", "[something]", name)


def _write_annotations(spec: Benchmark, profile: str, seed: int, root: Path, plans: list[ClipPlan]) -> None:
    """labels.json, train.json, validation.json (SSv2), TSM lists, Kinetics CSVs (scene data), meta.json."""
    dump = lambda obj: json.dumps(obj, indent=1)  # noqa: E731
    _atomic_write_text(root / "labels.json", dump({name: str(i) for i, name in enumerate(spec.classes)}))
    _atomic_write_text(root / "category.txt", "".join(f"{name}\n" for name in spec.classes))
    for split, tsm_name, csv_name in [("train", "train_videofolder.txt", "train.csv"),
                                      ("validation", "val_videofolder.txt", "validate.csv")]:
        chosen = [p for p in plans if p.split == split]
        entries = [{"id": p.id, "label": spec.classes[p.label], "template": _template(spec.classes[p.label]),
                    "placeholders": ["something"] * _template(spec.classes[p.label]).count("[something]")}
                   for p in chosen]
        _atomic_write_text(root / f"{split}.json", dump(entries))
        _atomic_write_text(root / tsm_name, "".join(f"{_video_path(p)} {p.num_frames} {p.label}\n" for p in chosen))
        if spec.kind == "scene":
            table = io.StringIO()
            writer = csv.writer(table, lineterminator="\n")
            writer.writerow(["label", "youtube_id", "time_start", "time_end", "split"])
            for p in chosen:
                writer.writerow([spec.classes[p.label], p.id, 0, int(np.ceil(p.num_frames / p.fps)),
                                 "train" if split == "train" else "val"])
            _atomic_write_text(root / csv_name, table.getvalue())
    params = SYNTH_PROFILES[profile]
    meta = {"benchmark": spec.name, "profile": profile, "seed": int(seed), "kind": spec.kind,
            "num_classes": len(spec.classes), "classes": list(spec.classes),
            "reversal_pairs": spec.reversal_pairs,
            "self_reversed": [spec.classes.index(f) for f, b in SOMETHING_PAIRS if b is None]
            if spec.name == "synth-something" else [],
            "flip": True, "flip_map": {str(k): v for k, v in sorted(spec.flip_map.items())},
            "mask": spec.mask, "format": "ssv2", "video_dir": "videos", **params}
    _atomic_write_text(root / "meta.json", dump(meta))


def rerender(root: str | os.PathLike, clip_id: str, mask: str = "object") -> tuple[Array, Array]:
    """Frames and mask of one generated clip, re-rendered from its manifest record (e.g. for Figure 5)."""
    manifest = json.loads((Path(root) / "manifest.json").read_text())
    record = manifest["clips"][str(clip_id)]
    return render_clip(manifest["benchmark"], record["label"], record["seed"], record["num_frames"],
                       manifest["size"], mask, manifest.get("scene"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cmrlib synth", description=__doc__.split("\n")[0])
    parser.add_argument("--benchmark", required=True, choices=[*BENCHMARKS, "all"])
    parser.add_argument("--profile", default="cpu", choices=list(SYNTH_PROFILES))
    parser.add_argument("--out", default=None,
                        help="dataset root (default: data/<profile>/<benchmark> in the repository); with 'all': the parent folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="rendering processes (default: all CPUs)")
    args = parser.parse_args(argv)
    names = list(BENCHMARKS) if args.benchmark == "all" else [args.benchmark]
    for name in names:
        out = args.out if args.benchmark != "all" or args.out is None else Path(args.out) / name
        generate(name, args.profile, out, seed=args.seed, workers=args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
