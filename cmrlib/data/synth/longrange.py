"""``synth-longrange`` (S-longrange, paper-spec §D): is the relation between two far-apart frames learned?

A marker flashes during the first fifth of the clip and again during the last fifth, with nothing informative
in between. The class is whether the two flashes have the same colour (red or cyan) or different colours. The
rest is drawn at random, independently of the label: the first flash's corner, where the second appears
relative to it (the same place, mirrored left-right or up-down, the opposite corner), whether the two have the
same shape, and their sizes.

One frame carries no label information, and a sum of per-frame scores (TSN's average consensus) cannot solve
it either: "same" and "different" clips show each colour equally often, so a score linear in the colour
counts cannot put red-red and cyan-cyan on one side and red-cyan on the other (an XOR). A model has to
compare the first flash with the last one, which CME's global temporal view does in one step and the
adjacent-frame enhancers (MEM, ME) only through a stack of temporal convolutions.

Design notes, from exploratory TIM+CME runs at the cpu profile (20 epochs; not kept). The first version (the
place, colour and shape relations together, 16 classes; its runs are in git history at 0d87303) stayed at
chance for every method, and so did the place relation alone (4 classes) and place with colour (8 classes).
The colour relation alone with six hues was learned by 1 of 3 seeds, with three hues by none of 2 (drawing the
second corner independently of the first); with two hues by 3 of 3 seeds (89-100 %), while one TIM+MEM
(TEINet) run stayed at 49 %.
"""
from __future__ import annotations

import numpy as np

from cmrlib.data.synth.draw import Benchmark, Sprite, _clutter, _compose, _hsv

LONGRANGE_CLASSES = ("two flashes of the same colour", "two flashes of different colours")
MARKER_SHAPES = ("disc", "square", "triangle", "cross")
MARKER_HUES = (0.0, 0.5)  # red and cyan
#: Where the second flash appears relative to the first (x and y signs): the same place, mirrored left-right,
#: mirrored up-down, the opposite corner; drawn at random, independently of the label.
PLACE_RELATIONS = ((1, 1), (-1, 1), (1, -1), (-1, -1))


def _render_longrange(kind: str, rng: np.random.Generator, num_frames: int, size: int, scene: dict):
    F, S = num_frames, float(size)
    camera, background, distractors = _clutter(rng, F, size, scene, ("bar", "lshape", "pacman", "halfdisc"))

    # Two flashes: frames [0, d1) and [F - d2, F); each covers at least one of 8 equal segments.
    d1, d2 = (max(int(np.ceil(F / 8)), int(round(rng.uniform(*scene["longrange_flash"]) * F))) for _ in range(2))
    first = np.arange(F) < d1
    # The first flash sits in a random corner; the second in the same place, mirrored or in the opposite corner.
    sx, sy = rng.choice([-1.0, 1.0], 2)
    ox, oy = rng.uniform(0.15, 0.3, 2) * S
    mx, my = PLACE_RELATIONS[rng.integers(len(PLACE_RELATIONS))]
    x = np.where(first, S / 2 + sx * ox, S / 2 + mx * sx * ox)
    y = np.where(first, S / 2 + sy * oy, S / 2 + my * sy * oy)
    hues = rng.choice(len(MARKER_HUES), 2, replace=False)
    if kind == LONGRANGE_CLASSES[0]:
        hues[1] = hues[0]
    shapes = rng.choice(len(MARKER_SHAPES), 2, replace=False)
    if rng.random() < 0.5:
        shapes[1] = shapes[0]
    radii = rng.uniform(0.08, 0.12, 2) * S * scene["object_scale"] * scene["longrange_marker_scale"]
    markers = []
    for hue, shape, radius, on in zip(hues, shapes, radii, (first, np.arange(F) >= F - d2)):
        rgb = _hsv(MARKER_HUES[hue], 0.9, 0.95)
        # Markers are fixed on screen: their world position follows the camera.
        marker = Sprite(shape=MARKER_SHAPES[shape], x=x + camera.shift[:, 0], y=y + camera.shift[:, 1],
                        radius=np.full(F, radius, np.float32), angle=np.zeros(F, np.float32),
                        colours=np.stack([rgb, rgb]))
        markers.append((marker, on))
    return _compose(size, camera, background, distractors, markers)

# The generator's version: bump it when this benchmark's clips change (see GENERATOR_VERSIONS).
VERSION = 1

BENCHMARK = Benchmark("synth-longrange", "longrange", LONGRANGE_CLASSES, _render_longrange, {}, {},
                      "the flashing marker (first and last flash)")
