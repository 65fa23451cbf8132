"""synth-physics (issue 18): MuJoCo scenes rendered off-screen. Tiny clips (32 px, 8-12 frames).

Skipped as a whole, with the reason, where the mujoco package or an off-screen OpenGL backend is missing."""
import importlib.util

import numpy as np
import pytest

from cmrlib.data import synth  # before mujoco: it chooses the off-screen backend (MUJOCO_GL)
from cmrlib.data.synth import physics

if importlib.util.find_spec("mujoco") is None:  # not importorskip: importing mujoco first would pick a window backend
    pytest.skip("synth-physics needs the mujoco package (pip install mujoco)", allow_module_level=True)
if physics.backend_problem():
    pytest.skip(physics.backend_problem(), allow_module_level=True)

NAME = "synth-physics"
SPEC = synth.BENCHMARKS[NAME]


def _centroid_x(mask):
    area = mask.sum((1, 2))
    return (mask.sum(1) * np.arange(mask.shape[2])).sum(1) / np.maximum(area, 1), area


def test_registered_with_its_own_version_and_at_least_12_classes_and_4_reversal_pairs():
    from cmrlib import config

    assert NAME in config.BENCHMARKS and synth.GENERATOR_VERSIONS[NAME] == physics.VERSION
    assert len(SPEC.classes) >= 12 and len(set(SPEC.classes)) == len(SPEC.classes)
    assert len(SPEC.reversal_pairs) >= 4
    assert all(name == name[0] + name[1:].lower() or "something" in name for name in SPEC.classes)
    assert physics.backend() in ("egl", "osmesa", "glfw")


def test_the_same_seed_gives_the_same_clip():
    a = synth.render_clip(NAME, 0, 7, 8, 32)
    b = synth.render_clip(NAME, 0, 7, 8, 32)
    c = synth.render_clip(NAME, 0, 8, 8, 32)
    assert a[0].shape == (8, 32, 32, 3) and a[0].dtype == np.uint8 and a[1].dtype == bool
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_reversal_pairs_are_exact_time_reversals():
    for forward, backward in SPEC.reversal_pairs:
        f_frames, f_mask = synth.render_clip(NAME, forward, 3, 8, 32)
        b_frames, b_mask = synth.render_clip(NAME, backward, 3, 8, 32)
        assert np.array_equal(b_frames, f_frames[::-1]) and np.array_equal(b_mask, f_mask[::-1])
        assert not np.array_equal(f_frames, b_frames), SPEC.classes[forward]


def test_every_class_renders_with_the_object_visible_at_the_start():
    """Every class renders; the object of the action is visible in the first frame (it may leave the view
    later: falling off the table, rolling away), and the movers mask holds the object mask."""
    for label, name in enumerate(SPEC.classes):
        if label in SPEC.backward:
            continue
        frames, obj = synth.render_clip(NAME, label, 1, 8, 32)
        _, movers = synth.render_clip(NAME, label, 1, 8, 32, mask="movers")
        assert frames.shape == (8, 32, 32, 3) and frames.std() > 5, name
        assert obj[0].any(), name
        assert not (obj & ~movers).any() and movers.sum() > obj.sum(), name  # the hand moves too


def test_pushing_left_to_right_moves_the_object_right():
    label = SPEC.classes.index("Pushing something from left to right")
    for seed in range(2):
        _, mask = synth.render_clip(NAME, label, seed, 10, 32, scene={"distractors": (0, 0)})
        x, area = _centroid_x(mask)
        assert area[0] > 0 and area[-1] > 0 and x[-1] - x[0] > 3, (seed, x)
        assert synth.BENCHMARKS[NAME].flip_map[label] == SPEC.classes.index("Pushing something from right to left")


def test_falling_off_the_table_leaves_less_of_the_object_than_a_slight_push():
    """Physics, not a script: the object pushed over the edge drops out of sight (or nearly)."""
    falls, slight = (SPEC.classes.index(n) for n in ("Pushing something so that it falls off the table",
                                                       "Pushing something so that it slightly moves"))
    _, falling = synth.render_clip(NAME, falls, 2, 12, 32, scene={"distractors": (0, 0)})
    _, staying = synth.render_clip(NAME, slight, 2, 12, 32, scene={"distractors": (0, 0)})
    assert falling[-1].sum() < 0.5 * falling[0].sum()
    assert staying[-1].sum() > 0.5 * staying[0].sum()
