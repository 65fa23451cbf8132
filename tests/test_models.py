"""build_model: every method, its options, the head, pretrained loading and error messages."""
import pytest
import torch
import torchvision

from cmrlib import METHODS, build_model
from cmrlib.modules import (ChannelMotionEnhancement, SpatialMotionEnhancement, TemporalInteraction,
                            TemporalShift)

T = 4
TINY = {"width": 0.125, "small_input": True}  # an 8-channel stem; 32 px clips give 32/16/8/4 maps
TEMPORAL = [m for m in METHODS if m != "tsn"]


@pytest.fixture(autouse=True)
def seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny(method, **options):
    return build_model(method, num_classes=5, num_segments=T, **TINY, **options)


def clip(n=2, size=32):
    return torch.randn(n, T, 3, size, size)


def meta_params(method, num_classes=174, **options):
    with torch.device("meta"):
        model = build_model(method, num_classes, 8, **options)
    return sum(p.numel() for p in model.parameters()) / 1e6


def test_methods_registry():
    assert list(METHODS) == ["tsn", "tsm", "tim", "teinet", "stm", "tea", "pem", "cmr"]
    assert all(isinstance(text, str) and text for text in METHODS.values())


@pytest.mark.parametrize("method", list(METHODS))
def test_output_is_the_mean_of_frame_logits(method):
    model = tiny(method).eval()
    x = clip()
    features = {}
    model.fc.register_forward_hook(lambda module, inputs, output: features.update(frame_logits=output))
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (2, 5)
    torch.testing.assert_close(logits, features["frame_logits"].view(2, T, 5).mean(1))


def test_head_init():
    model = build_model("tsn", 174, 8, width=0.25)
    assert model.fc.bias.abs().max() == 0
    assert 0.0008 < model.fc.weight.std() < 0.0012


@pytest.mark.parametrize("method", list(METHODS))
def test_frame_order(method):
    """TSN is invariant to the order of the frames; every temporal method is not."""
    model = tiny(method).eval()
    x = clip()
    reversed_clip = x.flip(1)
    with torch.no_grad():
        difference = (model(x) - model(reversed_clip)).abs().max() / model(x).abs().max()
    if method == "tsn":
        assert difference < 1e-5
    else:
        assert difference > 1e-3


@pytest.mark.parametrize("method", list(METHODS) + ["cmr-released"])
def test_gradients_reach_every_parameter(method):
    options = {"variant": "released"} if method == "cmr-released" else {}
    model = tiny(method.split("-")[0], **options, dropout=0.0)
    for bn in model.modules():  # SME's zero-init BN would otherwise block its conv's gradient
        if isinstance(bn, torch.nn.modules.batchnorm._BatchNorm):
            bn.weight.data.uniform_(0.5, 1.5)
    # eval mode: a train-mode BN cancels the gradient of the bias of the conv before it (SME's conv)
    model.eval()
    model(clip()).square().sum().backward()
    dead = [name for name, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not dead


def test_cmr_layout():
    model = build_model("cmr", 174, 8)
    cme = model.modules_of(ChannelMotionEnhancement)
    sme = model.modules_of(SpatialMotionEnhancement)
    tim = model.modules_of(TemporalInteraction)
    assert len(cme) == 16 and len(tim) == 16
    assert [name for name, _ in sme] == [f"layer{s}.0.after" for s in (1, 2, 3, 4)]
    assert [m.conv.in_channels for _, m in sme] == [256, 512, 1024, 2048]  # C_out, after the add + ReLU
    assert [m.value.in_features for _, m in cme[:4]] == [64, 256, 256, 256]  # C_in of each block
    block = model.layer1[0]
    assert list(block.front) == [block.front.cme, block.front.tim]  # CME, then TIM
    assert block.front.cme.value.out_features == 64 // 8


@pytest.mark.parametrize("options, counts", [
    ({"cme": "part", "sme": "all"}, (4, 16, 16)),
    ({"cme": "none", "sme": "none"}, (0, 0, 16)),
    ({"tim": False}, (16, 4, 0)),
    ({"cme": "all", "sme": "none", "tim": False}, (16, 0, 0)),
])
def test_cmr_ablation_options(options, counts):
    with torch.device("meta"):
        model = build_model("cmr", 174, 8, depth=50, **options)
    found = tuple(len(model.modules_of(cls))
                  for cls in (ChannelMotionEnhancement, SpatialMotionEnhancement, TemporalInteraction))
    assert found == counts


def test_cmr_without_cme_and_sme_is_tim():
    tim, cmr = tiny("tim").eval(), tiny("cmr", cme="none", sme="none").eval()
    assert tim.state_dict().keys() == cmr.state_dict().keys()
    cmr.load_state_dict(tim.state_dict())
    x = clip()
    with torch.no_grad():
        torch.testing.assert_close(cmr(x), tim(x))


@pytest.mark.parametrize("r", [1, 4, 8, 16])
@pytest.mark.parametrize("variant", ["paper", "released"])
def test_cmr_r_sweep_at_width_one_quarter(r, variant):
    model = build_model("cmr", 10, T, width=0.25, small_input=True, r=r, variant=variant).eval()
    cme = model.layer1[0].front.cme
    assert (cme.expand.in_features, cme.expand.out_features) == (16 // r, 16)
    with torch.no_grad():
        assert model(clip(n=1)).shape == (1, 10)


@pytest.mark.parametrize("method", list(METHODS))
def test_cpu_profile_shape(method):
    """depth 50, width 0.25, small_input, 8 frames of 56 px: the book's likely cpu profile."""
    model = build_model(method, 10, 8, width=0.25, small_input=True).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 8, 3, 56, 56)).shape == (1, 10)


@pytest.mark.parametrize("depth", [18, 34])
@pytest.mark.parametrize("method", ["tsm", "tim", "teinet", "stm", "tea", "pem", "cmr"])
def test_temporal_methods_on_basic_blocks_see_frame_order(depth, method):
    torch.manual_seed(0)
    model = build_model(method, 5, T, depth=depth, **TINY).eval()
    x = clip(n=1)
    with torch.no_grad():
        logits, reversed_logits = model(x), model(x.flip(1))
    assert logits.shape == (1, 5)
    assert not torch.allclose(logits, reversed_logits, atol=1e-6), f"{method} at depth {depth} ignores frame order"


def test_tsm_shifts_the_block_input():
    model = build_model("tsm", 174, 8)
    shifts = model.modules_of(TemporalShift)
    assert len(shifts) == 16 and shifts[0][0] == "layer1.0.front.shift" and shifts[0][1].fold == 64 // 8


def test_parameter_counts_resnet50():
    tsn = meta_params("tsn")
    assert abs(tsn - 23.9) < 0.05  # 23.51M backbone + 2048 x 174 + 174
    assert meta_params("tsm") == tsn
    assert meta_params("tim") == pytest.approx(tsn + 0.03936, abs=1e-6)  # 3 taps x sum(C_in) = 3 x 13,120
    # TEINet prints 30.4M (Res50+TIM: 24.3M): both are 400-class (Kinetics) counts. MEM adds
    # 3 x sum(C_in^2) / 8 = 5.97M, so at 174 classes TEINet is 29.9M.
    assert abs(meta_params("teinet", num_classes=400) - 30.4) < 0.1
    assert abs(meta_params("tim", num_classes=400) - 24.3) < 0.1
    assert abs(meta_params("teinet") - 29.88) < 0.01
    assert abs(meta_params("stm") - 24.0) < 0.1  # STM Table 8: 23.88M (channel-wise CSTM) / 24.0M


def test_tea_has_res2net_widths():
    with torch.device("meta"):
        model = build_model("tea", 174, 8)
    block = model.layer1[0]
    assert block.conv1.out_channels == 104 and not hasattr(block, "conv2")
    assert [conv.in_channels for conv in block.mta.spatial] == [26, 26, 26]


def test_small_input_stem():
    model = build_model("tsn", 5, T, width=0.25, small_input=True)
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1) and model.conv1.out_channels == 16
    assert isinstance(model.maxpool, torch.nn.Identity)
    seen = {}
    model.layer4.register_forward_hook(lambda m, i, o: seen.update(shape=o.shape))
    with torch.no_grad():
        model.eval()(torch.randn(1, T, 3, 56, 56))
    assert seen["shape"] == (T, 512, 7, 7)  # the 224 px grid of ResNet-50


def test_pretrained_loads_a_torchvision_state_dict(tmp_path):
    path = tmp_path / "resnet18.pth"
    reference = torchvision.models.resnet18()
    torch.save(reference.state_dict(), path)
    model = build_model("cmr", 5, T, depth=18, pretrained=path)
    assert torch.equal(model.layer3[1].conv2.weight, reference.layer3[1].conv2.weight)
    assert torch.equal(model.bn1.running_var, reference.bn1.running_var)
    assert model.fc.weight.shape == (5, 512)
    with pytest.raises(ValueError, match="width=1.0 and small_input=False"):
        build_model("tsm", 5, T, depth=18, width=0.5, pretrained=path)
    with pytest.raises(ValueError, match="lacks"):
        build_model("tsm", 5, T, depth=34, pretrained=path)
    with pytest.raises(ValueError, match="Res2Net"):
        build_model("tea", 5, T, pretrained=path)


def test_pretrained_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="pretrained=.*no such file.*never downloads"):
        build_model("tsm", 5, T, depth=18, pretrained=tmp_path / "missing.pth")


@pytest.mark.parametrize("call, parameter", [
    (lambda: build_model("i3d", 5, T), "method"),
    (lambda: build_model("cmr", 5, T, width=0.25, r=3), "r1=3 .* divides channels=16"),
    (lambda: build_model("cmr", 5, T, width=0.125, r=16), "r1=16 .* divides channels=8"),
    (lambda: build_model("pem", 5, T, width=0.25, r=32), "r=32 .* divides channels=16"),
    (lambda: build_model("pem", 5, T, r=0), "r=0"),
    (lambda: build_model("tsm", 5, 1), "num_segments"),
    (lambda: build_model("cmr", 5, 1), "num_segments"),
    (lambda: build_model("cmr", 5, T, cme="some"), "cme"),
    (lambda: build_model("cmr", 5, T, sme=True), "sme"),
    (lambda: build_model("cmr", 5, T, tim="yes"), "tim"),
    (lambda: build_model("cmr", 5, T, variant="code"), "variant"),
    (lambda: build_model("tsm", 5, T, r=8), "unknown option"),
    (lambda: build_model("tsn", 5, T, depth=101), "depth"),
    (lambda: build_model("tsn", 5, T, width=0), "width"),
    (lambda: build_model("tsn", 0, T), "num_classes"),
    (lambda: tiny("tsm")(torch.randn(1, T + 1, 3, 32, 32)), "num_segments"),
])
def test_bad_options_raise_value_error(call, parameter):
    with pytest.raises(ValueError, match=parameter):
        call()


def test_tsn_takes_a_single_frame():
    assert build_model("tsn", 5, 1, **TINY)(torch.randn(2, 1, 3, 32, 32)).shape == (2, 5)
