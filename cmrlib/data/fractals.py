"""Fractal images made by code: the pretraining stand-in for ImageNet (formula-driven supervised learning).

A class is an iterated function system (IFS): N affine maps w_i(v) = A_i v + b_i of the plane, picked with
probabilities p_i proportional to |det A_i|. Its attractor is drawn by the chaos game: many points start at
random, and each step moves every point through a map drawn at random; after a short burn-in the visited points
lie on the attractor (../shared/spec/pretraining-notes.md).

Each A_i = R(theta) diag(s1, s2 * d) R(phi), with singular values s1 >= s2 and a reflection d = +-1. The maps are
kept contractive and the attractor spread out by fixing the sum of the singular values,
sum_i (s1_i + 2 s2_i) = alpha with alpha drawn from [(5 + N) / 2, (6 + N) / 2] (Anderson & Farrell, WACV 2022),
and a system whose drawing fills less than ``MIN_FILL`` of the canvas is drawn again (FractalDB's filling rate).
Instances of a class differ in their chaos-game points, a small perturbation of one map (FractalDB), the colour,
a flip and the placement. Nothing here knows anything about the video benchmarks' labels.
"""
from __future__ import annotations

import numpy as np

MIN_FILL = 0.08        # FractalDB-style filling-rate threshold on the class's reference drawing
CHAINS, BURN_IN, STEPS = 256, 12, 24  # chaos game: 256 points, 12 discarded steps, 24 drawn (6,144 points)


def sample_system(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One IFS: maps A (N, 2, 2), offsets b (N, 2) and probabilities p (N,), N in 2..4."""
    n = int(rng.integers(2, 5))
    alpha = rng.uniform((5 + n) / 2, (6 + n) / 2)
    singular = np.sort(rng.uniform(0, 1, (n, 2)), axis=1)[:, ::-1]       # s1 >= s2 per map
    singular *= alpha / (singular[:, 0] + 2 * singular[:, 1]).sum()
    singular = np.minimum(singular, 0.99)                                 # every map contracts
    theta, phi = rng.uniform(-np.pi, np.pi, (2, n))
    reflect = rng.choice([-1.0, 1.0], n)

    def rotation(angle):
        return np.stack([np.stack([np.cos(angle), -np.sin(angle)], -1),
                         np.stack([np.sin(angle), np.cos(angle)], -1)], -2)  # (n, 2, 2)

    diag = np.zeros((n, 2, 2))
    diag[:, 0, 0], diag[:, 1, 1] = singular[:, 0], singular[:, 1] * reflect
    maps = rotation(theta) @ diag @ rotation(phi)
    offsets = rng.uniform(-1, 1, (n, 2))
    weights = np.abs(np.linalg.det(maps)) + 1e-3
    return maps, offsets, weights / weights.sum()


def chaos_game(system, rng: np.random.Generator) -> np.ndarray:
    """Points (CHAINS * STEPS, 2) on the attractor of ``system``."""
    maps, offsets, probabilities = system
    cumulative = np.cumsum(probabilities)
    points = rng.uniform(-1, 1, (CHAINS, 2))
    drawn = []
    for step in range(BURN_IN + STEPS):
        pick = np.minimum(np.searchsorted(cumulative, rng.random(CHAINS)), len(cumulative) - 1)
        chosen = maps[pick]                                                # (CHAINS, 2, 2)
        points = (chosen @ points[:, :, None])[:, :, 0] + offsets[pick]
        if step >= BURN_IN:
            drawn.append(points)
    return np.concatenate(drawn)


def draw(points: np.ndarray, size: int, margin: float = 0.1) -> np.ndarray:
    """A bool (size, size) canvas with the points scaled to fit inside ``margin``, each as a 2 x 2 patch."""
    finite = points[np.isfinite(points).all(1)]
    low, high = finite.min(0), finite.max(0)
    scale = (1 - 2 * margin) * (size - 2) / max(float((high - low).max()), 1e-9)
    centre = (size - 2) / 2 - scale * (high - low) / 2
    pixels = np.clip(np.round((finite - low) * scale + centre).astype(int), 0, size - 2)
    canvas = np.zeros((size, size), bool)
    for dy in (0, 1):
        for dx in (0, 1):
            canvas[pixels[:, 1] + dy, pixels[:, 0] + dx] = True
    return canvas


def sample_classes(count: int, seed: int, size: int = 64) -> list:
    """``count`` IFS classes whose reference drawing fills at least MIN_FILL of the canvas."""
    rng = np.random.default_rng([seed, 0])
    classes = []
    while len(classes) < count:
        system = sample_system(rng)
        if draw(chaos_game(system, rng), size).mean() >= MIN_FILL:
            classes.append(system)
    return classes


def render_instance(system, rng: np.random.Generator, size: int) -> np.ndarray:
    """One uint8 (size, size, 3) image of a class: one map perturbed by a factor in [0.8, 1.2], a random
    colour on a dark random background, and a random flip."""
    maps, offsets, probabilities = system
    maps = maps.copy()
    maps[rng.integers(len(maps))] *= rng.uniform(0.8, 1.2)
    mask = draw(chaos_game((maps, offsets, probabilities), rng), size, margin=rng.uniform(0.05, 0.2))
    if rng.random() < 0.5:
        mask = mask[:, ::-1]
    background = rng.uniform(0, 80, 3)
    colour = rng.uniform(120, 255, 3)
    image = np.where(mask[..., None], colour, background)
    return image.astype(np.uint8)


def make_dataset(classes: int, instances: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """images uint8 (classes * instances, size, size, 3) and labels int64, deterministic for the arguments."""
    systems = sample_classes(classes, seed, size)
    images = np.empty((classes * instances, size, size, 3), np.uint8)
    labels = np.repeat(np.arange(classes), instances)
    for index, label in enumerate(labels):
        rng = np.random.default_rng([seed, 1, int(label), index])
        images[index] = render_instance(systems[label], rng, size)
    return images, labels
