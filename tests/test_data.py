"""Synthetic benchmarks and the clip dataset: determinism, balance, exact time reversal, decoding, sampling."""
import json
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from cmrlib.data import ISSUE_NAMES, build_dataset, loader_benchmark, synth
from cmrlib.data.dataset import dense_indices, read_video, segment_indices
from cmrlib.data.transforms import multiscale_crop_box

torch.set_num_threads(1)
BENCHMARKS = list(synth.BENCHMARKS)


def _needs_renderer(benchmark):
    """synth-physics renders with MuJoCo, which may be missing here (tests/test_synth_physics.py says why)."""
    if benchmark == "synth-physics" and synth.physics.backend_problem():
        pytest.skip(synth.physics.backend_problem())


@pytest.fixture(scope="module")
def smoke_root():
    """The smoke profile of synth-something, generated once for this module (two rendering processes).

    A private temporary folder, not tmp_path_factory: pytest sessions of other developers on this machine
    prune each other's numbered tmp folders."""
    with tempfile.TemporaryDirectory(prefix="cmr-data-test-") as folder:
        yield synth.generate("synth-something", "smoke", Path(folder) / "ss", workers=2, verbose=False)


# --- rendering -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_same_seed_gives_identical_frames(benchmark):
    _needs_renderer(benchmark)
    a_frames, a_mask = synth.render_clip(benchmark, 1, 11, 12, 32)
    b_frames, b_mask = synth.render_clip(benchmark, 1, 11, 12, 32)
    c_frames, _ = synth.render_clip(benchmark, 1, 12, 12, 32)
    assert a_frames.shape == (12, 32, 32, 3) and a_frames.dtype == np.uint8
    assert a_mask.shape == (12, 32, 32) and a_mask.dtype == bool and a_mask.any()
    assert np.array_equal(a_frames, b_frames) and np.array_equal(a_mask, b_mask)
    assert not np.array_equal(a_frames, c_frames)


def test_class_lists():
    something = synth.BENCHMARKS["synth-something"]
    assert len(something.classes) >= 16 and len(set(something.classes)) == len(something.classes)
    assert "Moving something from left to right" in something.classes
    assert len(something.reversal_pairs) >= 7  # most classes come in pairs
    assert len(synth.BENCHMARKS["synth-kinetics"].classes) == 16
    assert synth.BENCHMARKS["synth-longrange"].classes == ("two flashes of the same colour",
                                                           "two flashes of different colours")
    assert something.self_reversed == tuple(something.classes.index(name) for name in
                                            ("Pretending to move something", "Passing something behind something"))


@pytest.mark.parametrize("seed", [0, 1])
def test_reversal_pairs_are_exact_time_reversals(seed):
    spec = synth.BENCHMARKS["synth-something"]
    for forward, backward in spec.reversal_pairs:
        f_frames, f_mask = synth.render_clip("synth-something", forward, seed, 14, 32)
        b_frames, b_mask = synth.render_clip("synth-something", backward, seed, 14, 32)
        assert np.array_equal(b_frames, f_frames[::-1]), spec.classes[backward]
        assert np.array_equal(b_mask, f_mask[::-1])
        assert not np.array_equal(f_frames, b_frames)


def _centroids(mask):
    ys, xs = np.mgrid[0:mask.shape[1], 0:mask.shape[2]]
    area = mask.sum((1, 2))
    return (mask * xs).sum((1, 2)) / area, (mask * ys).sum((1, 2)) / area, area


@pytest.mark.parametrize("seed", range(4))
def test_masks_follow_the_labelled_motion(seed):
    classes = synth.BENCHMARKS["synth-something"].classes
    x, _, _ = _centroids(synth.render_clip("synth-something", classes.index(
        "Moving something from left to right"), seed, 16, 64)[1])
    assert x[-1] - x[0] > 15
    _, y, _ = _centroids(synth.render_clip("synth-something", classes.index("Moving something up"), seed, 16, 64)[1])
    assert y[0] - y[-1] > 15
    _, _, area = _centroids(synth.render_clip("synth-something", classes.index(
        "Moving something away from the camera"), seed, 16, 64)[1])
    assert area[0] > 2.5 * area[-1]
    hidden = synth.render_clip("synth-something", classes.index("Passing something behind something"), seed, 16, 64)[1]
    assert hidden.sum((1, 2)).min() < 0.5 * hidden.sum((1, 2)).max()  # occluded while behind the prop


@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_movers_mask_adds_the_distractors_to_the_object(benchmark):
    _needs_renderer(benchmark)
    frames, obj = synth.render_clip(benchmark, 1, 3, 12, 64)
    same, movers = synth.render_clip(benchmark, 1, 3, 12, 64, mask="movers")
    assert np.array_equal(frames, same)
    assert not (obj & ~movers).any() and movers.sum() > obj.sum()
    with pytest.raises(ValueError, match="mask"):
        synth.render_clip(benchmark, 1, 3, 12, 64, mask="everything")


def test_longrange_flashes_only_early_and_late():
    for seed in range(8):
        _, mask = synth.render_clip("synth-longrange", seed % 2, seed, 40, 32)
        on = mask.any((1, 2))
        assert on[0] and on[-1] and not on[10:30].any()


def test_longrange_class_is_whether_the_two_flashes_share_a_colour():
    scene = synth.SYNTH_PROFILES["cpu"]["scene"]
    for seed in range(6):
        for label, same in [(0, True), (1, False)]:
            frames, mask = synth.render_clip("synth-longrange", label, seed, 40, 64, scene=scene)
            first, last = (frames[t][mask[t]].astype(float).mean(0) for t in (0, -1))
            assert (np.abs(first - last).max() < 12) == same, (seed, label, first, last)


def test_each_benchmark_fingerprint_follows_its_own_generator_version(monkeypatch):
    before = {name: synth.fingerprint(name, "cpu") for name in synth.BENCHMARKS}
    assert len(set(before.values())) == len(synth.BENCHMARKS)
    monkeypatch.setitem(synth.GENERATOR_VERSIONS, "synth-longrange", synth.GENERATOR_VERSIONS["synth-longrange"] + 1)
    after = {name: synth.fingerprint(name, "cpu") for name in synth.BENCHMARKS}
    assert after["synth-longrange"] != before["synth-longrange"]
    assert after["synth-something"] == before["synth-something"] and after["synth-kinetics"] == before["synth-kinetics"]


def test_kinetics_classes_differ_in_appearance():
    """Mean frame colour of two scenes differs far more than two clips of the same scene."""
    spec = synth.BENCHMARKS["synth-kinetics"]
    field, pool = spec.classes.index("ball at the field"), spec.classes.index("ball at the pool")
    mean = lambda label, seed: synth.render_clip("synth-kinetics", label, seed, 4, 32)[0].mean((0, 1, 2))  # noqa: E731
    within = np.abs(mean(field, 1) - mean(field, 2)).sum()
    across = np.abs(mean(field, 1) - mean(pool, 1)).sum()
    assert across > 2 * within


def test_render_clip_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown benchmark"):
        synth.render_clip("synth-nothing", 0, 0, 8, 32)
    with pytest.raises(ValueError, match="out of range"):
        synth.render_clip("synth-something", 99, 0, 8, 32)


# --- generation ------------------------------------------------------------------------------------------

def test_generated_files_and_balance(smoke_root):
    meta = json.loads((smoke_root / "meta.json").read_text())
    profile = synth.SYNTH_PROFILES["smoke"]
    assert meta["benchmark"] == "synth-something" and meta["num_classes"] == len(meta["classes"]) == 16
    assert meta["reversal_pairs"] and meta["flip_map"]["0"] == 1
    labels = json.loads((smoke_root / "labels.json").read_text())
    assert labels == {name: str(i) for i, name in enumerate(meta["classes"])}
    for split, per_class in [("train", profile["train_clips"] // 16), ("validation", profile["val_clips"] // 16)]:
        entries = json.loads((smoke_root / f"{split}.json").read_text())
        counts = Counter(e["template"].replace("[", "").replace("]", "") for e in entries)
        assert set(counts.values()) == {per_class} and len(counts) == 16
        for e in entries:
            assert (smoke_root / "videos" / f"{e['id']}.mp4").stat().st_size > 0
    tsm = (smoke_root / "train_videofolder.txt").read_text().splitlines()
    path, frames, label = tsm[0].split()
    assert (smoke_root / path).exists() and profile["frames"][0] <= int(frames) <= profile["frames"][1]


def test_generation_is_cached_and_repairs_damage(smoke_root, capsys):
    manifest = json.loads((smoke_root / "manifest.json").read_text())
    first = manifest["generation"]
    assert first["clips_rendered"] == len(manifest["clips"]) and first["clips_per_s"] > 0
    synth.generate("synth-something", "smoke", smoke_root, workers=1)
    assert "0 clips rendered" in capsys.readouterr().out
    assert json.loads((smoke_root / "manifest.json").read_text())["generation"] == first  # nothing was timed
    (smoke_root / "videos" / "0.mp4").unlink()
    damaged = smoke_root / "videos" / "1.mp4"
    damaged.write_bytes(damaged.read_bytes()[:100])
    synth.generate("synth-something", "smoke", smoke_root, workers=1)
    assert "2 clips rendered" in capsys.readouterr().out
    repaired = json.loads((smoke_root / "manifest.json").read_text())
    assert repaired.pop("generation")["clips_rendered"] == 2
    assert repaired == {k: v for k, v in manifest.items() if k != "generation"}  # byte-identical re-render


def test_clip_plans_depend_only_on_the_seed(smoke_root):
    manifest = json.loads((smoke_root / "manifest.json").read_text())
    plans = synth.plan_clips("synth-something", "smoke", seed=0)
    assert [p.num_frames for p in plans] == [manifest["clips"][p.id]["num_frames"] for p in plans]
    other = synth.plan_clips("synth-something", "smoke", seed=1)
    assert [p.seed for p in other] != [p.seed for p in plans]
    assert [p.label for p in other] == [p.label for p in plans]


def test_generate_refuses_another_benchmarks_folder(smoke_root):
    with pytest.raises(ValueError, match="already holds"):
        synth.generate("synth-kinetics", "smoke", smoke_root)


def test_decoded_mp4_is_close_to_rendered_frames(smoke_root):
    for clip_id in ("0", "1", "5"):
        frames, _ = synth.rerender(smoke_root, clip_id)
        decoded, _ = read_video(str(smoke_root / "videos" / f"{clip_id}.mp4"), np.arange)
        assert decoded.shape == frames.shape
        error = np.abs(decoded.astype(float) - frames)
        assert error.mean() < 8, error.mean()  # H.264 at crf 18 on 32x32 frames with 4:2:0 chroma


# --- dataset ---------------------------------------------------------------------------------------------

def test_dataset_items(smoke_root):
    train = build_dataset(smoke_root, "train", num_segments=8, size=28, train=True)
    assert len(train) == 32 and train.num_classes == 16 and not train.dropped
    clip, label, issue = train[0]
    assert clip.shape == (8, 3, 28, 28) and clip.dtype == torch.float32 and issue == 0
    assert abs(float(clip.mean())) < 3 and 0 <= label < 16
    test = build_dataset(smoke_root, "validation", num_segments=8, size=28, train=False, clips=2, crops=3)
    clip, label, issue = test[3]
    assert clip.shape == (6, 8, 3, 28, 28) and label == 3
    assert torch.equal(clip[0], clip[1])  # square frames: the three full-height crops coincide
    dense = build_dataset(smoke_root, "val", num_segments=4, size=28, train=False, sampling="dense")
    assert dense[0][0].shape == (4, 3, 28, 28)
    with pytest.raises(ValueError, match="multi-view"):
        build_dataset(smoke_root, "train", num_segments=8, size=28, train=True, clips=2)


def test_sampling_depends_only_on_seed_epoch_index(smoke_root):
    make = lambda seed: build_dataset(smoke_root, "train", num_segments=4, size=28, train=True, seed=seed)  # noqa
    a, b = make(0), make(0)
    assert torch.equal(a[5][0], b[5][0])
    b.set_epoch(1)
    assert not torch.equal(a[5][0], b[5][0])
    assert not torch.equal(a[5][0], make(1)[5][0])
    loaders = [torch.utils.data.DataLoader(a, batch_size=4, num_workers=w) for w in (0, 2)]
    for (x0, y0, _), (x2, y2, _) in zip(*loaders):
        assert torch.equal(x0, x2) and torch.equal(y0, y2)


def test_cached_frames_give_the_same_items_and_decode_once(smoke_root, monkeypatch):
    from cmrlib.data import dataset as datasetlib

    plain = build_dataset(smoke_root, "train", num_segments=4, size=28, train=True)
    cached = build_dataset(smoke_root, "train", num_segments=4, size=28, train=True, cache_frames=True)
    for epoch in (0, 1):
        plain.set_epoch(epoch)
        cached.set_epoch(epoch)
        for index in range(len(plain)):
            assert torch.equal(plain[index][0], cached[index][0]), (epoch, index)
    monkeypatch.setattr(datasetlib, "read_video", lambda *args: pytest.fail("decoded a cached video again"))
    cached.set_epoch(2)
    assert cached[3][0].shape == (4, 3, 28, 28)


def test_a_profile_scene_simplifies_longrange_too():
    scene = synth.SYNTH_PROFILES["cpu"]["scene"]
    frames, mask = synth.render_clip("synth-longrange", 1, 3, 40, 64, scene=scene)
    spec_frames, _ = synth.render_clip("synth-longrange", 1, 3, 40, 64)
    middle = frames[12:28].astype(int)
    assert (middle == middle[0]).all(), "still camera, no distractors: nothing moves between the flashes"
    assert (spec_frames[12:28] != spec_frames[12]).any()
    _, unscaled_mask = synth.render_clip("synth-longrange", 1, 3, 40, 64, scene={**scene, "object_scale": 1.0})
    assert mask.sum() > 3 * unscaled_mask.sum(), "object_scale 2 enlarges the markers (4x the area)"


def test_flip_uses_the_label_flip_map(smoke_root):
    plain = build_dataset(smoke_root, "train", num_segments=4, size=28, train=True, flip=False)
    flipping = build_dataset(smoke_root, "train", num_segments=4, size=28, train=True)
    assert flipping.flip and flipping.flip_map[0] == 1 and flipping.flip_map[6] == 7
    flipped = 0
    for index in range(len(plain)):
        (x, y, _), (fx, fy, _) = plain[index], flipping[index]
        if torch.equal(x, fx):
            assert fy == y
        else:
            assert torch.allclose(fx, x.flip(-1), atol=1e-5) and fy == flipping.flip_map.get(y, y)
            flipped += 1
    assert 0 < flipped < len(plain)


def test_segment_and_dense_indices():
    rng = np.random.default_rng(0)
    idx = segment_indices(40, 8, 1, True, rng)[0]
    assert np.all(idx // 5 == np.arange(8))  # one frame inside each 5-frame segment
    assert segment_indices(40, 8, 1, False, rng)[0].tolist() == [2, 7, 12, 17, 22, 27, 32, 37]
    two = segment_indices(40, 8, 2, False, rng)
    assert two.shape == (2, 8) and two[0, 0] == 1 and two[1, 0] == 3
    assert segment_indices(3, 8, 1, False, rng)[0].tolist() == [0, 0, 0, 1, 1, 2, 2, 2]  # short: repeats
    dense = dense_indices(100, 8, 1, False, rng)[0]
    assert np.all(np.diff(dense) == 8) and dense[0] == (100 - 57) // 2
    starts = dense_indices(100, 8, 10, False, rng)[:, 0]
    assert starts[0] == 0 and starts[-1] == 100 - 57 and np.all(np.diff(starts) > 0)
    assert np.array_equal(dense_indices(30, 8, 1, False, rng), segment_indices(30, 8, 1, False, rng))


def test_multiscale_crop_boxes():
    rng = np.random.default_rng(0)
    sides = [64, 56, 48, 42]  # the shorter side 64 x (1, .875, .75, .66), truncated as in TSN
    seen = set()
    for _ in range(300):
        top, left, h, w = multiscale_crop_box(rng, 64, 80)
        assert abs(sides.index(h) - sides.index(w)) <= 1  # aspect distortion of at most one scale step
        assert 0 <= top <= 64 - h and 0 <= left <= 80 - w
        seen.add((h, w))
    assert len(seen) == 10


def test_loader_benchmark(smoke_root):
    rows = loader_benchmark(smoke_root, workers=(0,), num_segments=4, size=28, batches=2, batch_size=4)
    assert rows[0]["workers"] == 0 and rows[0]["clips"] == 8 and rows[0]["clips_per_s"] > 0
    assert ISSUE_NAMES[0] == "ok"


def test_a_profile_scene_changes_the_rendering_and_unknown_keys_are_rejected():
    from cmrlib.data.synth import SYNTH_PROFILES, render_clip

    scene = SYNTH_PROFILES["cpu"]["scene"]
    spec_frames, _ = render_clip("synth-something", 0, 3, 12, 32)
    easy_frames, easy_mask = render_clip("synth-something", 0, 3, 12, 32, scene=scene)
    assert not np.array_equal(spec_frames, easy_frames)
    again, _ = render_clip("synth-something", 0, 3, 12, 32, scene=scene)
    assert np.array_equal(easy_frames, again)
    backward, backward_mask = render_clip("synth-something", 1, 3, 12, 32, scene=scene)
    assert np.array_equal(backward, easy_frames[::-1]) and np.array_equal(backward_mask, easy_mask[::-1])
    with pytest.raises(ValueError, match="distractor_count"):
        render_clip("synth-something", 0, 3, 12, 32, scene={"distractor_count": 0})


def test_cpu_final_longrange_flashes_never_meet_in_adjacent_sampled_frames():
    """cpu-final's synth-longrange (issue 26): each flash is seen by the 8-segment sampler, and at least two blank
    sampled frames separate them, in training (random positions) and at test time (segment centres)."""
    from cmrlib.data.dataset import segment_indices
    from cmrlib.data.synth import SYNTH_PROFILES, render_clip

    scene = SYNTH_PROFILES["cpu-final"]["scene"]
    rng = np.random.default_rng(0)
    low, high = SYNTH_PROFILES["cpu-final"]["frames"]
    for num_frames in range(low, high + 1, 3):
        for seed in range(3):
            _, mask = render_clip("synth-longrange", seed % 2, seed, num_frames, 24, scene=scene)
            lit = mask.reshape(num_frames, -1).any(1)
            samples = [segment_indices(num_frames, 8, 1, False, None)[0]]
            samples += [segment_indices(num_frames, 8, 1, True, rng)[0] for _ in range(20)]
            for indices in samples:
                seen = np.flatnonzero(lit[indices])
                first, last = seen[seen < 4], seen[seen >= 4]
                assert len(first) and len(last), (num_frames, seed, indices)
                assert last.min() - first.max() >= 3, (num_frames, seed, indices, seen)
    # the same for every clip length, from the declared range: the longest flash (round(high x F) frames) ends
    # before segment 4 starts, the shortest covers segments 1 and 2
    short, long = scene["longrange_flash"]
    for num_frames in range(low, high + 1):
        assert long * num_frames < int(3 * num_frames / 8) + 0.5 and short * num_frames >= 2 * num_frames / 8
    # the cpu and cpu-powered clips are unchanged by the setting (their default is the old 15-22 %)
    assert "longrange_flash" not in SYNTH_PROFILES["cpu-powered"]["scene"]
