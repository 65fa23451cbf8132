"""``synth-something`` (S-temporal + S-bg, paper-spec §D): 16 classes named after Something-Something templates.

Seven classes are time-reversal pairs: a clip of the backward class is *exactly* the frame-reversed clip of its
forward partner with the same seed, so single frames (and any frame-order-blind model such as TSN) cannot tell
the two apart. Two classes ("Pretending to move something", "Passing something behind something") are their
own reversal. Every clip has a textured background with a slow camera pan or jitter, a static prop, one or two
distractors moving at random, and one main object of random shape, colour, texture and size; the scene
settings (``draw.SCENE``, a profile's ``scene``) turn the clutter down."""
from __future__ import annotations

import numpy as np

from cmrlib.data.synth.draw import (OBJECT_SHAPES, TEXTURES, Benchmark, Sprite, _clutter, _compose, _lerp,
                                        _progress, _random_colours, _random_sprite, paired_classes)

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


def _render_something(kind: str, rng: np.random.Generator, num_frames: int, size: int, scene: dict):
    main, prop, behind = _something_scene(kind, rng, num_frames, size)
    main.radius = main.radius * scene["object_scale"]
    camera, background, distractors = _clutter(rng, num_frames, size, scene, OBJECT_SHAPES)
    if behind:
        return _compose(size, camera, background, distractors, [(main, None)], in_front=[prop])
    return _compose(size, camera, background, [prop] + distractors, [(main, None)])


def _benchmark() -> Benchmark:
    classes, backward = paired_classes(SOMETHING_PAIRS)
    index = {name: i for i, name in enumerate(classes)}
    flips = [("Moving something from left to right", "Moving something from right to left"),
             ("Turning something clockwise", "Turning something anticlockwise")]
    flip_map = {}
    for a, b in flips:
        flip_map[index[a]], flip_map[index[b]] = index[b], index[a]
    self_reversed = tuple(classes.index(f) for f, b in SOMETHING_PAIRS if b is None)
    return Benchmark("synth-something", "temporal", tuple(classes), _render_something, backward, flip_map,
                     "the object being moved (pixels of it that are visible)", self_reversed)


# The generator's version: bump it when this benchmark's clips change (see GENERATOR_VERSIONS).
VERSION = 1

BENCHMARK = _benchmark()
