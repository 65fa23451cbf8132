"""cmrlib.convert and the released variants it targets (issue 16).

The authors' checkpoints are not available here, so each test writes one: it takes a cmrlib model with random
weights and BN statistics, renames its tensors to the authors' names and shapes with an inverse mapping written
out below (independently of the converter), and checks that converting and loading gives back the same outputs.
For TEA a functional transcription of the official block's forward pass (ops/tea50_8f.py: Bottle2neckShift)
also runs on the authors' tensors, so the D1-D4 structure and the channel permutation are checked against the
official computation, not only against the converter's inverse.
"""
import re

import pytest
import torch
import torch.nn.functional as F

from cmrlib import convert
from cmrlib.models import build_model
from cmrlib.modules import SpatialMotionEnhancement

T = 4


def randomised(model, dtype=torch.float32):
    """Random weights and BN statistics (a trained-looking model), in eval mode."""
    torch.manual_seed(0)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand_like(tensor) + 0.5 if "running_var" in name else torch.randn_like(tensor) * 0.3)
    return model.to(dtype).eval()


def clip(size=16):
    return torch.randn(1, T, 3, size, size, generator=torch.Generator().manual_seed(1))


def block_prefix(name):
    return re.match(r"(layer\d+\.\d+)\.(.*)", name)


# --------------------------------------------------------------------------------------- inverse mappings
def to_cmr_released(state):
    out = {}
    for name, tensor in state.items():
        if name.startswith("fc."):
            out["module.new_fc." + name[3:]] = tensor
            continue
        match = block_prefix(name)
        if not match:
            out["module.base_model." + name] = tensor
            continue
        block, rest = match.groups()
        base = f"module.base_model.{block}."
        renames = [("front.cme.key.", "trans_att.conv1_reduce_q."), ("front.cme.value.", "trans_att.conv1_reduce_k."),
                   ("front.cme.expand_bn.", "trans_att.conv_inflate.1."), ("front.tim.", "shift_conv."),
                   ("after.conv.", "spatial_att.W.0."), ("after.bn.", "spatial_att.W.1.")]
        if rest == "front.cme.expand.weight":
            out[base + "trans_att.conv_inflate.0.weight"] = tensor[:, :, None, None]
        elif any(rest.startswith(ours) for ours, _ in renames):
            ours, theirs = next((o, t) for o, t in renames if rest.startswith(o))
            out[base + theirs + rest[len(ours):]] = tensor
        else:
            out[base + "net." + rest] = tensor
    return out


def to_tsm(state):
    out = {}
    for name, tensor in state.items():
        match = block_prefix(name)
        if name.startswith("fc."):
            out["module.new_fc." + name[3:]] = tensor
        elif match and match.group(2) == "conv1.weight":
            out[f"module.base_model.{match.group(1)}.conv1.net.weight"] = tensor
        else:
            out["module.base_model." + name] = tensor
    return out


def to_tea(state):
    """cmrlib's fragment order [pass-through, processed 1-3] -> the official [processed 1-3, pass-through]."""
    def unroll(tensor, dim):
        return tensor if tensor.dim() == 0 else tensor.roll(-(tensor.shape[dim] // 4), dims=dim)

    out = {}
    for name, tensor in state.items():
        match = block_prefix(name)
        if name.startswith("fc."):
            out["module.new_fc." + name[3:]] = tensor
            continue
        if not match:
            out["module.base_model." + name] = tensor
            continue
        block, rest = match.groups()
        base = f"module.base_model.{block}."
        if rest == "conv1.weight" or rest.startswith("bn1."):
            out[base + rest] = unroll(tensor, 0)
        elif rest == "conv3.weight":
            out[base + rest] = unroll(tensor, 1)
        elif rest == "me.reduce.0.weight":
            out[base + "me.conv1.weight"] = unroll(tensor, 1)
        elif rest.startswith("me.reduce.1."):
            out[base + "me.bn1." + rest[len("me.reduce.1."):]] = tensor
        elif rest == "me.transform.weight":
            out[base + "me.conv2.weight"] = tensor
        elif rest == "me.expand.weight":
            out[base + "me.conv3.weight"] = unroll(tensor, 0)[:, :, None, None]
        elif rest.startswith("me.expand_bn."):
            out[base + "me.bn3." + rest[len("me.expand_bn."):]] = unroll(tensor, 0)
        elif rest.startswith("mta.temporal."):
            out[base + "shifts." + rest.split(".")[2] + ".conv.weight"] = tensor[..., 0]
        elif rest == "mta.passthrough.weight":
            out[base + "shifts.3.conv.weight"] = tensor[..., 0]
        elif rest.startswith("mta.spatial."):
            out[base + "convs." + rest[len("mta.spatial."):]] = tensor
        elif rest.startswith("mta.bns."):
            out[base + "bns." + rest[len("mta.bns."):]] = tensor
        else:
            out[base + rest] = tensor
    return out


CASES = {
    "cmr-released": (dict(method="cmr", variant="released"), to_cmr_released, 652),
    "tsm": (dict(method="tsm"), to_tsm, None),
    "tea": (dict(method="tea", variant="released"), to_tea, None),
}


@pytest.mark.parametrize("source", sorted(CASES))
def test_converted_authors_checkpoint_gives_the_outputs_of_the_model_it_came_from(source):
    kwargs, inverse, _ = CASES[source]
    model = randomised(build_model(num_classes=7, num_segments=T, width=0.25, **kwargs))
    authors = inverse(model.state_dict())
    assert not any(name.startswith(("module.layer", "module.front")) for name in authors)
    conversion = convert.CONVERTERS[source]({"state_dict": authors, "epoch": 3})
    assert conversion.unplaced == [] and conversion.missing == []
    assert conversion.model_kwargs["method"] == kwargs["method"]
    assert conversion.model_kwargs.get("variant", None) == kwargs.get("variant")
    rebuilt = build_model(num_segments=T, **conversion.model_kwargs)
    rebuilt.load_state_dict(conversion.state_dict)
    for name, tensor in model.state_dict().items():  # the converter's renaming and permutation invert ours
        assert torch.equal(rebuilt.state_dict()[name], tensor), name
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.eval()(clip()), model(clip()), rtol=0, atol=0)


def test_the_released_cmr_key_table_names_652_tensors_at_resnet50():
    model = build_model("cmr", num_classes=174, num_segments=8, variant="released")
    authors = to_cmr_released(model.state_dict())
    assert len(authors) == 652
    assert "module.base_model.layer1.0.trans_att.conv_inflate.0.weight" in authors
    assert authors["module.base_model.layer1.0.trans_att.conv_inflate.0.weight"].shape == (64, 8, 1, 1)
    conversion = convert.convert_cmr_released(authors)
    assert len(conversion.state_dict) == 652 and not conversion.unplaced and not conversion.missing
    assert conversion.model_kwargs == {"method": "cmr", "num_classes": 174, "depth": 50, "width": 1.0,
                                       "small_input": False, "cme": "all", "sme": "part", "tim": True, "r": 8,
                                       "variant": "released"}


def test_tensors_that_cannot_be_placed_are_reported_by_name():
    model = build_model("tsm", num_classes=5, num_segments=T, width=0.25)
    authors = to_tsm(model.state_dict())
    authors["module.base_model.layer1.0.nl.g.weight"] = torch.zeros(3)  # a non-local block cmrlib lacks
    del authors["module.base_model.layer2.0.bn2.weight"]
    conversion = convert.convert_tsm(authors)
    assert conversion.unplaced == ["base_model.layer1.0.nl.g.weight"]
    assert conversion.missing == ["layer2.0.bn2.weight"]


def test_not_a_checkpoint_fails_with_one_clear_error(tmp_path, capsys):
    text = tmp_path / "notes.pth"
    text.write_text("these are not weights\n")
    with pytest.raises(ValueError, match="not a PyTorch checkpoint"):
        convert.read_checkpoint(text)
    listing = tmp_path / "list.pth"
    torch.save([1, 2, 3], listing)
    with pytest.raises(ValueError, match="expected a state dict"):
        convert.read_checkpoint(listing)
    with pytest.raises(ValueError, match="no tensor has a name of the tea code"):
        convert.convert_tea({"foo.weight": torch.zeros(1)})
    assert convert.main(["--from", "tea", str(text), str(tmp_path / "out.pth")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a PyTorch checkpoint" in err and "Traceback" not in err


def test_convert_command_writes_a_checkpoint_that_loads_with_weights_only(tmp_path, capsys):
    model = randomised(build_model("tea", num_classes=6, num_segments=T, width=0.25, variant="released"))
    torch.save({"epoch": 1, "arch": "tea50", "state_dict": to_tea(model.state_dict())}, tmp_path / "tea.pth")
    from cmrlib.__main__ import main

    assert main(["convert", "--from", "tea", str(tmp_path / "tea.pth"), str(tmp_path / "out.pth")]) == 0
    assert "build_model('tea'" in capsys.readouterr().out
    saved = torch.load(tmp_path / "out.pth", weights_only=True)
    assert saved["converted_from"] == "tea" and saved["model_kwargs"]["variant"] == "released"
    rebuilt = build_model(num_segments=T, **saved["model_kwargs"])
    rebuilt.load_state_dict(saved["model"])


# ---------------------------------------------------------------------------- TEA as released (D1-D4)
def _bn(x, p, name):
    return F.batch_norm(x, p[f"{name}.running_mean"], p[f"{name}.running_var"], p[f"{name}.weight"],
                        p[f"{name}.bias"], training=False, eps=1e-5)


def _temporal(x, weight, t):
    """The official ShiftModule: a Conv1d over time on (N*H*W, C, T)."""
    nt, c, h, w = x.shape
    y = x.view(nt // t, t, c, h, w).permute(0, 3, 4, 2, 1).reshape(-1, c, t)
    y = F.conv1d(y, weight, padding=1, groups=c)
    return y.view(nt // t, h, w, c, t).permute(0, 4, 3, 1, 2).reshape(nt, c, h, w)


def official_tea_block(p, x, t, stage, stride):
    """Bottle2neckShift.forward of the official TEA code, on its own tensor names (p: block prefix stripped)."""
    out = F.relu(_bn(F.conv2d(x, p["conv1.weight"]), p, "bn1"))
    reduced = _bn(F.conv2d(out, p["me.conv1.weight"]), p, "me.bn1")
    nt, c, h, w = reduced.shape
    moved = F.conv2d(reduced, p["me.conv2.weight"], padding=1, groups=c).view(-1, t, c, h, w)
    diff = moved[:, 1:] - reduced.view(-1, t, c, h, w)[:, :-1]
    diff = F.pad(diff, (0, 0, 0, 0, 0, 0, 0, 1)).view(nt, c, h, w)  # M(T) = 0
    gate = torch.sigmoid(_bn(F.conv2d(diff.mean((2, 3), keepdim=True), p["me.conv3.weight"]), p, "me.bn3")) - 0.5
    out = out + out * gate
    width = p["convs.0.weight"].shape[0]
    pieces = out.split(width, 1)
    outs = []
    for i in range(3):
        sp = pieces[i] if i == 0 or stage else sp + pieces[i]
        sp = _temporal(sp, p[f"shifts.{i}.conv.weight"], t)
        sp = F.relu(_bn(F.conv2d(sp, p[f"convs.{i}.weight"], stride=stride, padding=1), p, f"bns.{i}"))
        outs.append(sp)
    last = _temporal(pieces[3], p["shifts.3.conv.weight"], t)
    outs.append(F.avg_pool2d(last, 3, stride, 1) if stage else last)
    out = _bn(F.conv2d(torch.cat(outs, 1), p["conv3.weight"]), p, "bn3")
    residual = x
    if "downsample.0.weight" in p:
        residual = _bn(F.conv2d(x, p["downsample.0.weight"], stride=stride), p, "downsample.1")
    return F.relu(out + residual)


@pytest.mark.parametrize("block, stage, stride", [("layer1.0", True, 1), ("layer1.1", False, 1), ("layer2.0", True, 2)])
def test_tea_released_block_computes_the_official_block_on_the_official_tensors(block, stage, stride):
    model = randomised(build_model("tea", num_classes=5, num_segments=T, width=0.25, variant="released"),
                       torch.float64)
    prefix = f"module.base_model.{block}."
    official = {name[len(prefix):]: tensor for name, tensor in to_tea(model.state_dict()).items()
                if name.startswith(prefix)}
    module = model.get_submodule(block)
    x = torch.rand(2 * T, module.conv1.in_channels, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(module(x), official_tea_block(official, x, T, stage, stride), rtol=1e-12, atol=1e-12)


def test_tea_released_has_the_official_parameter_count_and_paper_stays_the_default():
    released = build_model("tea", num_classes=174, num_segments=8, variant="released")
    assert sum(p.numel() for p in released.parameters()) == 24_456_280  # the official tea50_8f + new_fc
    paper = build_model("tea", num_classes=174, num_segments=8)
    assert paper.options["variant"] == "paper" and not hasattr(paper.layer1[0].mta, "passthrough")
    mta = released.layer1[0].mta
    assert mta.stage and not released.layer1[1].mta.stage  # D3: layer1.0 is a "stage" block
    assert torch.all(mta.temporal[0].weight[:, 0, 1] == 1)  # the official "fixed" init
    width = mta.passthrough.weight.shape[0]  # D2: half of the pass-through channels shifted each way
    assert mta.passthrough.weight[: width // 2, 0, 2].eq(1).all() and mta.passthrough.weight[width // 2:, 0, 0].eq(1).all()


def test_released_cmr_ties_tim_fold_to_r_and_the_paper_variant_does_not():
    released = build_model("cmr", num_classes=5, num_segments=T, r=4, variant="released")
    paper = build_model("cmr", num_classes=5, num_segments=T, r=4)
    for model, fold in ((released, 64 // 4), (paper, 64 // 8)):
        weight = model.layer1[0].front.tim.weight[:, 0, :, 0]
        assert weight[:fold, 2].eq(1).all() and weight[fold:2 * fold, 0].eq(1).all()
        assert weight[2 * fold:, 1].eq(1).all()


def test_sme_cosine_stays_in_float64_and_half_precision_uses_float32():
    sme = SpatialMotionEnhancement(8, T)
    x = torch.rand(2 * T, 8, 5, 5, dtype=torch.float64)
    assert sme.similarity(x).dtype == torch.float64
    assert sme.similarity(x.bfloat16()).dtype == torch.float32
    assert sme.double()(x).dtype == torch.float64
