import math

import numpy as np
import pytest
import torch

from cmrlib import build_model
from cmrlib import visualize as V
from cmrlib.modules import (ChannelMotionEnhancement, MultipleTemporalAggregation, SpatialMotionEnhancement,
                            TemporalShift)


def square_mask(size=16, top=4, left=4, side=6):
    mask = np.zeros((size, size), bool)
    mask[top:top + side, left:left + side] = True
    return mask


def test_mass_ratio_is_one_on_the_mask_zero_off_it_and_the_area_for_a_flat_map():
    mask = square_mask()
    assert V.mask_mass_ratio(mask.astype(float), mask) == 1.0
    assert V.mask_mass_ratio((~mask).astype(float), mask) == 0.0
    assert V.mask_mass_ratio(np.ones(mask.shape), mask) == pytest.approx(mask.mean())
    assert math.isnan(V.mask_mass_ratio(np.zeros(mask.shape), mask))
    with pytest.raises(ValueError, match="shape"):
        V.mask_mass_ratio(np.ones((3, 3)), mask)


def test_auroc_is_one_for_the_mask_zero_for_its_inverse_and_a_half_for_noise_or_a_flat_map():
    mask = square_mask(size=64, side=20)
    assert V.auroc(mask.astype(float), mask) == 1.0
    assert V.auroc((~mask).astype(float), mask) == 0.0
    assert V.auroc(np.ones(mask.shape), mask) == 0.5
    noise = np.random.default_rng(0).random(mask.shape)
    assert abs(V.auroc(noise, mask) - 0.5) < 0.05
    assert math.isnan(V.auroc(noise, np.zeros_like(mask)))


def test_auroc_equals_the_pairwise_count_with_ties():
    rng = np.random.default_rng(1)
    score, mask = rng.integers(0, 4, 40), rng.random(40) < 0.3
    pos, neg = score[mask], score[~mask]
    pairs = [(p > n) + 0.5 * (p == n) for p in pos for n in neg]
    assert V.auroc(score, mask) == pytest.approx(np.mean(pairs))
    np.testing.assert_array_equal(V.average_ranks([10, 20, 20, 30]), [1, 2.5, 2.5, 4])


def test_downsample_and_motion_masks():
    mask = np.zeros((2, 4, 4), bool)
    mask[0, :2, :2] = True  # one full 2x2 cell
    mask[1, 0, 2:] = True  # half of a cell
    mask[1, 2, 0] = True  # a quarter of a cell
    small = V.downsample_mask(mask, (2, 2))
    np.testing.assert_array_equal(small, [[[1, 0], [0, 0]], [[0, 1], [0, 0]]])
    with pytest.raises(ValueError, match="F, H, W"):
        V.downsample_mask(mask[0], (2, 2))
    moving = np.zeros((3, 1, 3), bool)
    moving[0, 0, 0] = moving[1, 0, 1] = moving[2, 0, 2] = True
    np.testing.assert_array_equal(V.motion_mask(moving)[:, 0], [[1, 1, 0], [0, 1, 1], [0, 1, 1]])


def test_sme_map_of_a_moving_square_is_zero_on_the_static_background_and_highest_on_the_square():
    frames, mask = V.moving_square_clip(num_frames=5, size=24, square=6, step=3)
    x = V.clip_tensor(frames)[0]  # (T, 3, H, W)
    motion = SpatialMotionEnhancement(3, 5).motion_map(x)[0].numpy()  # (T, H, W)
    moved = V.motion_mask(mask)
    assert motion[~moved].max() < 1e-5  # the background did not change
    changed = mask[:-1] ^ mask[1:]  # covered at exactly one of t, t+1
    changed = np.concatenate([changed, changed[-1:]])  # s_T = s_{T-1}
    assert motion[changed].min() > 0.01
    assert np.unravel_index(motion.argmax(), motion.shape) in set(zip(*np.nonzero(moved)))
    assert V.per_frame(V.auroc, motion, moved) > 0.8


def test_a_panning_background_lights_up_the_sme_map_too():
    still, _ = V.moving_square_clip(pan=0)
    panning, mask = V.moving_square_clip(pan=1)
    maps = [SpatialMotionEnhancement(3, 6).motion_map(V.clip_tensor(f)[0])[0].numpy() for f in (still, panning)]
    background = ~V.motion_mask(mask)
    assert maps[1][background].mean() > 10 * maps[0][background].mean() + 0.01


def test_moving_square_clip_checks_that_the_path_fits():
    with pytest.raises(ValueError, match="does not fit"):
        V.moving_square_clip(num_frames=10, size=16, square=6, step=3)


def test_top_k_scales_the_papers_10_of_64():
    assert [V.top_k_for(c) for c in (64, 16, 256, 2)] == [10, 2, 40, 1]


def test_figure5_maps_read_the_input_of_the_first_block_and_rank_channels_by_the_cme_gate():
    torch.manual_seed(0)
    model = build_model("cmr", num_classes=4, num_segments=4, width=0.25, small_input=True).eval()
    frames, mask = V.moving_square_clip(num_frames=4, size=16, square=4, step=3)
    captured = {}
    model.layer1[0].register_forward_pre_hook(lambda _, inputs: captured.setdefault("input", inputs[0]))
    model.layer1[0].register_forward_hook(lambda _, __, output: captured.setdefault("output", output))
    maps = V.figure5_maps(model, frames, mask)
    x = captured["input"]  # (T, C, H, W), C = 16 at width 0.25
    assert maps.top_k == 2 and maps.gate.shape == (4, 16) and maps.fusion.shape == (4, 4)
    for t in range(4):
        order = np.argsort(-maps.gate[t], kind="stable")
        np.testing.assert_allclose(maps.cme_top[t], x[t, order[:2]].mean(0).numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(maps.cme_bottom[t], x[t, order[-2:]].mean(0).numpy(), rtol=1e-5, atol=1e-6)
    sme = model.layer1[0].after
    expected = sme.motion_map(captured["output"])[0].detach().numpy()
    np.testing.assert_allclose(maps.sme, expected, atol=1e-6)
    np.testing.assert_array_equal(maps.object_mask, mask)
    scores = maps.scores()
    assert set(scores) >= {"cme_top_overlap", "cme_bottom_overlap", "cme_top_auroc", "sme_auroc"}
    assert all(0 <= scores[k] <= 1 for k in scores)


def test_figure5_needs_cme_and_sme():
    model = build_model("tim", num_classes=4, num_segments=4, width=0.25, small_input=True)
    frames, mask = V.moving_square_clip(num_frames=4, size=16, square=4, step=3)
    with pytest.raises(ValueError, match="ChannelMotionEnhancement"):
        V.figure5_maps(model, frames, mask)


def test_frame_dependence_of_the_temporal_shift_is_tridiagonal():
    shift = TemporalShift(16, 5)
    dependence = V.frame_dependence(shift, torch.randn(5, 16, 2, 2), 5)
    np.testing.assert_array_equal(dependence > 0, np.eye(5, k=-1) + np.eye(5) + np.eye(5, k=1) > 0)


def test_figure5_maps_are_upsampled_to_the_clips_pixels_when_the_stage1_grid_is_coarser():
    torch.manual_seed(0)
    model = build_model("cmr", num_classes=4, num_segments=4, width=0.25)  # ImageNet stem: stride 4
    frames, mask = V.moving_square_clip(num_frames=4, size=24, square=8, step=5)
    maps = V.figure5_maps(model, frames, mask)
    assert maps.feature_size == (6, 6)
    assert maps.cme_top.shape == maps.sme.shape == (4, 24, 24)
    np.testing.assert_array_equal(maps.object_mask, mask)
    np.testing.assert_array_equal(maps.motion_mask, V.motion_mask(mask))


def test_upsample_is_the_identity_at_the_same_size_and_keeps_a_constant_map():
    maps = torch.rand(3, 5, 5)
    assert torch.equal(V.upsample(maps, (5, 5)), maps)
    assert torch.allclose(V.upsample(torch.full((2, 3, 3), 0.25), (12, 12)), torch.full((2, 12, 12), 0.25))


def test_sharpen_scales_each_layer_to_the_target_std_and_sharpen_fusion_sets_the_logit_span():
    torch.manual_seed(0)
    x = torch.rand(8, 16, 4, 4)
    cme = ChannelMotionEnhancement(16, 8).eval()
    V.sharpen(cme, x, {"key": 2.0, "value": 1.0})
    with torch.no_grad():
        pooled = x.mean((2, 3))
        assert cme.key(pooled).std().item() == pytest.approx(2.0, rel=1e-4)
        assert cme.value(pooled).std().item() == pytest.approx(1.0, rel=1e-4)
    V.sharpen_fusion(cme, x, spread=4.0)
    with torch.no_grad():
        log_fusion = cme.attention(x)["fusion"][0].log()
    assert (log_fusion.amax(1) - log_fusion.amin(1)).max().item() == pytest.approx(4.0, rel=1e-3)
    with pytest.raises(AttributeError):
        V.sharpen(cme, x, {"no_such_layer": 1.0})


def test_receptive_field_of_mta_grows_by_one_temporal_and_one_spatial_conv_per_fragment():
    torch.manual_seed(0)
    mta = MultipleTemporalAggregation(16, num_segments=9).eval()
    inputs = torch.randn(3, 9, 16, 11, 11)
    fields = [V.receptive_field(mta, inputs, frame=4, channels=slice(4 * i, 4 * i + 4)) for i in range(4)]
    assert [len(f["frames"]) for f in fields] == [1, 3, 5, 7]
    assert [f["height"] for f in fields] == [1, 3, 5, 7]
    assert fields[0]["channels"] == [0, 1, 2, 3] and fields[3]["channels"] == list(range(4, 16))


def test_scene_text_follows_the_profile_scene():
    from cmrlib import visualize

    assert visualize.scene_text("cpu") == "the camera is still, there are no distractors and the background is flat"
    spec = visualize.scene_text(None)
    assert "50% of the clips pan" in spec and "1 to 2 distractors" in spec and "textured" in spec
    assert visualize.scene_text("smoke") == spec  # smoke keeps the spec's scene


def test_example_clips_show_each_class_at_the_segment_centres():
    clips = V.example_clips("synth-longrange", "cpu", seeds=(3, 4))
    assert list(clips) == [f"{name} (seed {seed})" for seed in (3, 4)
                           for name in ("two flashes of the same colour", "two flashes of different colours")]
    frames = next(iter(clips.values()))
    assert frames.shape == (8, 64, 64, 3) and frames.dtype == np.uint8
    flat = (frames != frames[3]).any((1, 2, 3))  # the cpu scene is still: only the flashes change a frame
    assert flat[0] and flat[-1] and not flat[2:6].any()
