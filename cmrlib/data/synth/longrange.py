"""``synth-longrange`` (S-longrange, paper-spec §D): is the relation between two far-apart frames learned?

A marker flashes during the first fifth of the clip and again during the last fifth, with nothing informative
in between. The class is whether the two flashes have the same colour (one of six hues) or different colours;
each flash's hue, shape, size and corner are otherwise drawn independently. One frame carries no label
information, and a sum of per-frame scores (TSN's average consensus) cannot solve it either: "same" and
"different" clips show the same hues equally often, so any score linear in the hue counts ranks a
"different" clip between two "same" clips. A model has to compare the first flash with the last one, which
CME's global temporal view does in one step and the adjacent-frame enhancers (MEM, ME) only through a stack
of temporal convolutions.

(Sessions 1-3 used 16 classes: the place, colour and shape relations together. No method learned them at the
cpu profile, nor the place relation alone; the colour relation alone is learned, see the longrange chapter.)
"""
from __future__ import annotations

import numpy as np

from cmrlib.data.synth.draw import Benchmark, Sprite, _clutter, _compose, _hsv

LONGRANGE_CLASSES = ("two flashes of the same colour", "two flashes of different colours")
MARKER_SHAPES = ("disc", "square", "triangle", "cross")
MARKER_HUES = (0.0, 1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6)


def _render_longrange(kind: str, rng: np.random.Generator, num_frames: int, size: int, scene: dict):
    F, S = num_frames, float(size)
    camera, background, distractors = _clutter(rng, F, size, scene, ("bar", "lshape", "pacman", "halfdisc"))

    # Two flashes: frames [0, d1) and [F - d2, F); each covers at least one of 8 equal segments.
    d1, d2 = (max(int(np.ceil(F / 8)), int(round(rng.uniform(0.15, 0.22) * F))) for _ in range(2))
    frame = np.arange(F)
    hues = rng.choice(len(MARKER_HUES), 2, replace=False)
    if kind == LONGRANGE_CLASSES[0]:
        hues[1] = hues[0]
    markers = []
    for hue, on in [(hues[0], frame < d1), (hues[1], frame >= F - d2)]:
        corner = rng.choice([-1.0, 1.0], 2) * rng.uniform(0.15, 0.3, 2) * S     # offset from the centre
        radius = rng.uniform(0.08, 0.12) * S * scene["object_scale"]
        rgb = _hsv(MARKER_HUES[hue], 0.9, 0.95)
        # Markers are fixed on screen: their world position follows the camera.
        marker = Sprite(shape=MARKER_SHAPES[rng.integers(len(MARKER_SHAPES))],
                        x=S / 2 + corner[0] + camera.shift[:, 0], y=S / 2 + corner[1] + camera.shift[:, 1],
                        radius=np.full(F, radius, np.float32), angle=np.zeros(F, np.float32),
                        colours=np.stack([rgb, rgb]))
        markers.append((marker, on))
    return _compose(size, camera, background, distractors, markers)


BENCHMARK = Benchmark("synth-longrange", "longrange", LONGRANGE_CLASSES, _render_longrange, {}, {},
                      "the flashing marker (first and last flash)")
