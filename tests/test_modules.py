"""Each temporal module against its equations, with references written as naive per-frame loops."""
import pytest
import torch
import torch.nn.functional as F

from cmrlib.modules import (ChannelMotionEnhancement, ChannelwiseMotion, MotionEnhancement, MotionExcitation,
                            MultipleTemporalAggregation, ProgressiveEnhancement, SpatialMotionEnhancement,
                            TemporalInteraction, TemporalShift)

N, T, C, H, W = 2, 4, 16, 3, 5


@pytest.fixture(autouse=True)
def seed():
    torch.manual_seed(0)


def clip(n=N, t=T, c=C, h=H, w=W):
    """A random clip on the (N*T, C, H, W) layout."""
    return torch.randn(n * t, c, h, w)


def static_clip():
    """Every frame the same."""
    return torch.randn(N, 1, C, H, W).expand(N, T, C, H, W).reshape(N * T, C, H, W)


def frames(x, t=T):
    return x.view(-1, t, *x.shape[1:])  # (N, T, C, H, W)


def randomise_batchnorms(module):
    """Eval-mode BNs with random statistics and affine parameters, so references can apply them per frame."""
    for bn in module.modules():
        if isinstance(bn, torch.nn.modules.batchnorm._BatchNorm):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2)
            bn.weight.data.uniform_(0.5, 1.5)
            bn.bias.data.uniform_(-0.5, 0.5)
    return module.eval()


def test_temporal_shift_exact_values():
    x = torch.arange(N * T * C, dtype=torch.float).view(N * T, C, 1, 1)
    y = frames(TemporalShift(C, T)(x))
    x = frames(x)
    fold = C // 8
    for n in range(N):
        for t in range(T):
            for c in range(C):
                if c < fold:
                    expected = x[n, t + 1, c] if t < T - 1 else 0.0
                elif c < 2 * fold:
                    expected = x[n, t - 1, c] if t > 0 else 0.0
                else:
                    expected = x[n, t, c]
                assert y[n, t, c].item() == float(expected), (n, t, c)


def test_temporal_interaction_is_equation_4():
    module = TemporalInteraction(C, T)
    module.weight.data.normal_()
    x = clip()
    y, x5 = frames(module(x)), frames(x)
    v = module.weight[:, 0, :, 0]  # (C, 3): taps for t-1, t, t+1
    expected = torch.zeros_like(x5)
    for t in range(T):
        for i, offset in enumerate((-1, 0, 1)):
            if 0 <= t + offset < T:
                expected[:, t] += v[:, i].view(C, 1, 1) * x5[:, t + offset]
    torch.testing.assert_close(y, expected, rtol=1e-5, atol=1e-5)


def test_temporal_interaction_starts_as_tsm_and_learns():
    x = clip().requires_grad_()
    module = TemporalInteraction(C, T)
    torch.testing.assert_close(module(x), TemporalShift(C, T)(x), rtol=0, atol=0)
    module(x).square().sum().backward()
    assert module.weight.grad.abs().sum() > 0


def test_cstm_initialisation_quarters():
    x = clip()
    y, x5 = frames(TemporalInteraction(C, T, init="stm")(x)), frames(x)
    q = C // 4
    torch.testing.assert_close(y[:, 1:, :q], x5[:, :-1, :q])  # y_t = x_{t-1}
    assert y[:, 0, :q].abs().max() == 0
    torch.testing.assert_close(y[:, :, q:C - q], x5[:, :, q:C - q])
    torch.testing.assert_close(y[:, :-1, C - q:], x5[:, 1:, C - q:])  # y_t = x_{t+1}
    assert y[:, -1, C - q:].abs().max() == 0


def cme_reference(module, x):
    """Eqs. 1-6 frame by frame (paper), or the released code's steps (variant='released')."""
    x5 = frames(x)
    n_frames = range(T)
    if module.variant == "paper":
        pooled = [x5[:, t].mean((2, 3)) for t in n_frames]
        z = [pooled[t] @ module.value.weight.T for t in n_frames]
        k = [pooled[t] @ module.key.weight.T for t in n_frames]
    else:
        z = [module.value(x5[:, t]).mean((2, 3)) for t in n_frames]
        k = [module.key(x5[:, t]).mean((2, 3)) for t in n_frames]
    d = torch.stack([torch.stack([-(k[t] * k[j]).sum(1) for j in n_frames], 1) for t in n_frames], 1)
    dhat = torch.exp(d) / torch.exp(d).sum(2 if module.variant == "paper" else 1, keepdim=True)
    gates = []
    for t in n_frames:
        z_hat = z[t] + sum(dhat[:, t, j:j + 1] * z[j] for j in n_frames)
        logits = z_hat @ module.expand.weight.T
        if module.variant == "released":
            logits = torch.relu(module.expand_bn(logits))
        gates.append(torch.sigmoid(logits))
    gate = torch.stack(gates, 1)  # (N, T, C)
    return dhat, gate, x5 * gate[..., None, None]


@pytest.mark.parametrize("variant", ["paper", "released"])
def test_cme_matches_equations(variant):
    module = randomise_batchnorms(ChannelMotionEnhancement(C, T, r1=4, variant=variant))
    x = clip().relu()
    dhat, gate, u = cme_reference(module, x)
    attention = module.attention(x)
    torch.testing.assert_close(attention["fusion"], dhat)
    torch.testing.assert_close(attention["gate"], gate)
    torch.testing.assert_close(frames(module(x)), u)


def test_cme_paper_normalises_over_j_and_released_over_t():
    x = clip() * 0.3
    paper = ChannelMotionEnhancement(C, T, r1=4).attention(x)["fusion"]
    released = ChannelMotionEnhancement(C, T, r1=4, variant="released").attention(x)["fusion"]
    ones = torch.ones(N, T)
    torch.testing.assert_close(paper.sum(2), ones)  # sum_j dhat_tj = 1
    assert (paper.sum(1) - 1).abs().max() > 1e-3  # columns do not
    torch.testing.assert_close(released.sum(1), ones)
    assert (released.sum(2) - 1).abs().max() > 1e-3


@pytest.mark.parametrize("variant", ["paper", "released"])
def test_cme_fusion_is_uniform_for_identical_frames(variant):
    x = static_clip()
    attention = ChannelMotionEnhancement(C, T, r1=4, variant=variant).attention(x)
    torch.testing.assert_close(attention["fusion"], torch.full((N, T, T), 1 / T))


def test_cme_gate_ranges():
    x = clip()
    paper = ChannelMotionEnhancement(C, T, 4).attention(x)["gate"]
    released = ChannelMotionEnhancement(C, T, 4, variant="released").attention(x)["gate"]
    assert paper.min() < 0.5 < paper.max() and 0 < paper.min() and paper.max() < 1
    assert released.min() == 0.5 and released.max() < 1  # sigmoid(ReLU(.)) lies in [0.5, 1)


def test_cme_r2_only_changes_the_discrepancy_width():
    module = ChannelMotionEnhancement(C, T, r1=2, r2=8)
    assert module.value.out_features == C // 2 and module.key.out_features == C // 8
    assert module(clip()).shape == (N * T, C, H, W)


def test_sme_is_identity_at_init():
    module = SpatialMotionEnhancement(C, T)
    x = clip().relu()
    assert torch.equal(module(x), x)
    assert torch.equal(module.train()(x), x)


def test_sme_weight_is_one_minus_per_pixel_cosine():
    module = SpatialMotionEnhancement(C, T)
    x = clip().relu() + 0.01
    x5 = frames(x)
    cos = [F.cosine_similarity(x5[:, t], x5[:, t + 1], dim=1) for t in range(T - 1)]
    expected = 1 - torch.stack(cos + [cos[-1]], 1)  # s_T = s_{T-1}
    torch.testing.assert_close(module.motion_map(x), expected)


def test_sme_matches_equation_8():
    module = randomise_batchnorms(SpatialMotionEnhancement(C, T))
    x = clip().relu() + 0.01
    weight = module.motion_map(x)
    x5 = frames(x)
    expected = torch.stack([module.bn(module.conv(x5[:, t] * weight[:, t, None])) + x5[:, t]
                            for t in range(T)], 1)
    torch.testing.assert_close(frames(module(x)), expected)


def test_mem_gates_all_but_the_last_frame():
    module = MotionEnhancement(C, T)
    x = clip()
    u, x5 = frames(module(x)), frames(x)
    assert torch.equal(u[:, -1], x5[:, -1])
    for t in range(T - 1):
        s = module.theta(x5[:, t].mean((2, 3))) - module.phi(x5[:, t + 1].mean((2, 3)))
        gate = torch.sigmoid(s @ module.varphi.weight.T)
        torch.testing.assert_close(u[:, t], x5[:, t] * gate[..., None, None])


def test_pem_stand_in_recurrence():
    module = randomise_batchnorms(ProgressiveEnhancement(C, T, r=4))
    x = clip()
    x5 = frames(x)
    e = [x5[:, t].mean((2, 3)) @ module.reduce.weight.T for t in range(T)]
    state = torch.zeros(N, C)
    for t in range(T):
        d = e[t + 1] - e[t] if t < T - 1 else torch.zeros_like(e[t])
        z = torch.relu(module.bn(d)) @ module.expand.weight.T
        a = torch.sigmoid(z - state)
        state = state + a
        torch.testing.assert_close(frames(module(x))[:, t], x5[:, t] * a[..., None, None])


def test_pem_state_carries_early_frames_to_the_last_gate():
    module = ProgressiveEnhancement(C, T, r=4).eval()
    x = clip()
    changed = frames(x.clone())
    changed[:, 0] += 1
    before, after = module.gate(x), module.gate(changed.flatten(0, 1))
    assert (before[:, -1] - after[:, -1]).abs().max() > 1e-4  # frame 1 reaches frame T only through m_t


def test_tea_me_is_identity_for_a_static_clip():
    module = MotionExcitation(C, T, r=4)
    x = static_clip()
    torch.testing.assert_close(module(x), x, rtol=0, atol=1e-6)


def test_tea_me_matches_equations():
    module = randomise_batchnorms(MotionExcitation(C, T, r=4))
    module.transform.weight.data.normal_()
    x = clip()
    x5 = frames(x)
    reduced = [module.reduce(x5[:, t]) for t in range(T)]
    motion = [module.transform(reduced[t + 1]) - reduced[t] for t in range(T - 1)] + [0 * reduced[0]]
    out = frames(module(x))
    for t in range(T):
        a = 2 * torch.sigmoid(motion[t].mean((2, 3)) @ module.expand.weight.T) - 1
        torch.testing.assert_close(out[:, t], x5[:, t] + x5[:, t] * a[..., None, None])
    assert torch.equal(out[:, -1], x5[:, -1])  # M(T) = 0 and conv_exp has no bias, so A_T = 0


@pytest.mark.parametrize("module", [ChannelwiseMotion(C, T, r=4), MotionExcitation(C, T, r=4)],
                         ids=["stm-cmm", "tea-me"])
def test_motion_is_zero_at_the_last_frame(module):
    motion = frames(module.motion(clip()))
    assert motion[:, -1].abs().max() == 0
    assert motion[:, :-1].abs().min(dim=1).values.max() > 0


def test_cmm_matches_equation_2():
    module = ChannelwiseMotion(C, T, r=4)
    x = clip()
    x5 = frames(x)
    reduced = [module.reduce(x5[:, t]) for t in range(T)]
    expected = [module.restore(module.transform(reduced[t + 1]) - reduced[t]) for t in range(T - 1)]
    out = frames(module(x))
    torch.testing.assert_close(out[:, :-1], torch.stack(expected, 1))
    torch.testing.assert_close(out[:, -1], torch.zeros_like(out[:, -1]))


def test_mta_hierarchy():
    module = randomise_batchnorms(MultipleTemporalAggregation(C, T))
    x = clip()
    q = C // 4
    parts = x.split(q, dim=1)
    expected = [parts[0]]
    for i in range(3):
        y = parts[i + 1] + (expected[-1] if i > 0 else 0)
        expected.append(torch.relu(module.bns[i](module.spatial[i](module.temporal[i](y)))))
    torch.testing.assert_close(module(x), torch.cat(expected, 1))
    strided = MultipleTemporalAggregation(C, T, stride=2)(x)
    assert strided.shape == (N * T, C, 2, 3)


def test_modules_reject_r_that_does_not_divide_channels():
    for build in (lambda: ChannelMotionEnhancement(C, T, r1=3), lambda: ChannelMotionEnhancement(C, T, 4, r2=5),
                  lambda: MotionEnhancement(C, T, r=3), lambda: ProgressiveEnhancement(C, T, r=6)):
        with pytest.raises(ValueError, match=r"r\d?=\d"):
            build()
    with pytest.raises(ValueError, match="variant"):
        ChannelMotionEnhancement(C, T, variant="code")


@pytest.mark.parametrize("module", [
    TemporalShift(C, T), TemporalInteraction(C, T), MotionEnhancement(C, T, 4),
    ChannelMotionEnhancement(C, T, 4), ChannelMotionEnhancement(C, T, 4, variant="released"),
    SpatialMotionEnhancement(C, T), ProgressiveEnhancement(C, T, 4), ChannelwiseMotion(C, T, 4),
    MotionExcitation(C, T, 4), MultipleTemporalAggregation(C, T)], ids=lambda m: type(m).__name__)
def test_modules_keep_shape_and_work_channels_last(module):
    x = clip()
    expected = module.eval()(x)
    assert expected.shape == x.shape
    torch.testing.assert_close(module(x.to(memory_format=torch.channels_last)), expected)
