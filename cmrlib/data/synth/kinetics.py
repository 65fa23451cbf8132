"""``synth-kinetics`` (S-scene, paper-spec §D): 16 classes = 4 scene layouts/textures x 4 object types. The
object moves and rotates and the camera pans at random, independently of the label: one frame suffices. Of a
profile's scene settings it takes only ``kinetics_object_scale`` (the object's size)."""
from __future__ import annotations

import numpy as np

from cmrlib.data.synth.draw import (Array, Benchmark, _bounce, _compose, _distractors, _hsv, _mix,
                                        _random_camera, _random_sprite, _value_noise)

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
                          radius=np.full(F, rng.uniform(0.1, 0.16) * S * scene["kinetics_object_scale"], np.float32),
                          angle=rng.uniform(0, 2 * np.pi) + rng.uniform(-0.15, 0.15) * t)
    distractors = _distractors(rng, F, size, int(rng.integers(1, 3)), shapes=("bar", "cross", "diamond", "lshape"))
    camera = _random_camera(rng, F, size)
    background = _scene_background(place, rng, size + 2 * camera.margin)
    return _compose(size, camera, background, distractors, [(main, None)])


# The generator's version: bump it when this benchmark's clips change (see GENERATOR_VERSIONS).
VERSION = 1

BENCHMARK = Benchmark("synth-kinetics", "scene",
                      tuple(f"{obj} at the {scene}" for scene in KINETICS_SCENES for obj in KINETICS_OBJECTS),
                      _render_kinetics, {}, {}, "the scene's object (ball, box, ring or cone)")
