"""The model zoo: CMR and the methods it is compared with, on torchvision's ResNet.

    >>> model = build_model("cmr", num_classes=174, num_segments=8)         # CMR as in the paper
    >>> logits = model(torch.randn(2, 8, 3, 224, 224))                        # (N, T, 3, H, W) -> (2, 174)

Every method is a torchvision ResNet whose blocks carry temporal modules; backbone parameter names are
torchvision's, so an ImageNet state dict loads with `pretrained=<path>`. Frames run through the 2D network
as one (N*T, C, H, W) batch; each frame is classified (GAP, dropout, linear) and the logits are averaged
over the T segments, as in TSN.

Where the temporal modules sit (C_in: block-input channels, C_out: block-output channels):
    front of the residual branch, before conv1, on C_in:  TSM shift | TIM | MEM, TIM | PEM, TIM | CME, TIM
    after the residual add and ReLU, on C_out:            SME (CMR)
    inside the bottleneck, in place of its 3x3 conv:     STM (CSTM + CMM), TEA (ME + MTA)
    (on ResNet-18/34 basic blocks, our extension: in place of the second 3x3 conv)
The shortcut always takes the unmodified block input.
"""
import re
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from cmrlib.modules import (ChannelMotionEnhancement, MotionEnhancement, ProgressiveEnhancement,
                            SpatialMotionEnhancement, STMBasicBlock, STMBottleneck, TEABasicBlock,
                            TEABottleneck, TemporalInteraction, TemporalShift)

METHODS = {
    "tsn": "TSN: the 2D ResNet on each frame, logits averaged over frames (no temporal modelling)",
    "tsm": "TSM: temporal shift of 1/8 + 1/8 of the channels at the front of every block",
    "tim": "TIM: TEINet's learnable channel-wise temporal conv, TSM-initialised (CMR's baseline)",
    "teinet": "TEINet: MEM then TIM at the front of every block",
    "stm": "STM: CSTM and CMM summed in place of every bottleneck's 3x3 conv",
    "tea": "TEA: ME after conv1 and MTA in place of the 3x3 conv, in every bottleneck",
    "pem": "PEM (stand-in) then TIM at the front of every block: a serial, TDRL-like channel gate",
    "cmr": "CMR: CME then TIM in every block, SME after the first block of each stage",
}

# method -> its options and their defaults
OPTIONS = {
    "tsn": {}, "tsm": {}, "tim": {}, "teinet": {},
    "stm": {"r": 16},
    "tea": {"r": 16, "variant": "paper"},
    "pem": {"r": 8},
    "cmr": {"cme": "all", "sme": "part", "tim": True, "r": 8, "variant": "paper"},
}
PLACEMENTS = ("all", "part", "none")  # "part": only the first block of each stage

ARCHITECTURES = {18: ("basic", [2, 2, 2, 2]), 34: ("basic", [3, 4, 6, 3]), 50: ("bottleneck", [3, 4, 6, 3])}

# names of the attributes that hold temporal modules; everything else is the torchvision backbone
TEMPORAL_ATTRIBUTES = ("front", "after", "cstm", "cmm", "me", "mta")


class VideoBottleneck(Bottleneck):
    """torchvision's Bottleneck with two slots for temporal modules (identity by default):
    `front` on the residual-branch input and `after` on the block output, after the add and ReLU."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.front = nn.Identity()
        self.after = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(self.front(x))))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += identity  # in place, as torchvision's blocks
        return self.after(self.relu(out))


class VideoBasicBlock(BasicBlock):
    """torchvision's BasicBlock with the same `front` and `after` slots as VideoBottleneck."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.front = nn.Identity()
        self.after = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(self.front(x))))
        out = self.bn2(self.conv2(out))
        out += identity  # in place, as torchvision's blocks
        return self.after(self.relu(out))


class VideoResNet(ResNet):
    """A torchvision ResNet for clips (N, T, 3, H, W) -> logits (N, num_classes), averaged over T.

    `width` scales every channel count (0.25 -> a 16-channel stem). `small_input=True` replaces the 7x7/2
    conv and the 3x3/2 max-pool with one 3x3/1 conv: the stages then see 4x larger maps, so a 56 px clip
    gives the 56/28/14/7 grid that a 224 px clip gives with the ImageNet stem. `groups` and
    `width_per_group` are torchvision's: the bottleneck width is int(planes * width_per_group / 64) * groups.
    build_model also records `method` and `options` (with defaults filled in) on the model.
    """

    def __init__(self, block: type[nn.Module], layers: list[int], num_classes: int, num_segments: int,
                 width: float = 1.0, small_input: bool = False, dropout: float = 0.5, groups: int = 1,
                 width_per_group: int = 64):
        # ResNet.__init__ fixes 64 stem channels and the ImageNet stem, so set up here the attributes
        # that torchvision's ResNet._make_layer reads, and let it build the stages.
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.groups, self.base_width, self.dilation = groups, width_per_group, 1
        self.num_segments = num_segments
        self.inplanes = _scaled(64, width)
        if small_input:
            self.conv1 = nn.Conv2d(3, self.inplanes, 3, stride=1, padding=1, bias=False)
            self.maxpool = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(3, self.inplanes, 7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(block, _scaled(64, width), layers[0])
        self.layer2 = self._make_layer(block, _scaled(128, width), layers[1], stride=2)
        self.layer3 = self._make_layer(block, _scaled(256, width), layers[2], stride=2)
        self.layer4 = self._make_layer(block, _scaled(512, width), layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(self.inplanes, num_classes)
        for m in self.modules():  # torchvision's ResNet init
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.fc.weight, 0, 0.001)  # TSN's head init
        nn.init.zeros_(self.fc.bias)

    def blocks(self):
        """Yield (name, block, first_in_stage) for every residual block."""
        for s, stage in enumerate((self.layer1, self.layer2, self.layer3, self.layer4), start=1):
            for i, block in enumerate(stage):
                yield f"layer{s}.{i}", block, i == 0

    def modules_of(self, cls: type[nn.Module]) -> list[tuple[str, nn.Module]]:
        """(name, module) of every submodule of type cls, e.g. model.modules_of(ChannelMotionEnhancement)."""
        return [(name, m) for name, m in self.named_modules() if isinstance(m, cls)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t = x.shape[:2]
        if t != self.num_segments:
            raise ValueError(f"input has {t} frames but the model was built with num_segments={self.num_segments}")
        x = x.flatten(0, 1)  # (N*T, 3, H, W)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))  # (N*T, C, h, w)
        logits = self.fc(self.dropout(self.avgpool(x).flatten(1)))  # (N*T, classes)
        return logits.view(n, t, -1).mean(1)  # average over the T segments


def build_model(method: str, num_classes: int, num_segments: int, depth: int = 50, width: float = 1.0,
                small_input: bool = False, dropout: float = 0.5, pretrained: str | Path | None = None,
                **options) -> VideoResNet:
    """Build one of METHODS on a ResNet-`depth`.

    Options (defaults in OPTIONS):
      cmr:      cme="all"|"part"|"none", sme="all"|"part"|"none", tim=True|False, r=8 (r1 = r2 = r),
                variant="paper"|"released" (CME as in the text, or as in the authors' code; "released"
                also ties TIM's shift fold to r, C // r channels each way, as the authors' code)
      tea:      r=16, variant="paper"|"released" (the official code's D1-D4, cmrlib.modules.tea)
      pem:      r=8;   stm: r=16 (the CMM / ME channel reduction)
    `build_model("cmr", tim=False)` is "TSN+CME&SME"; `cme="none", sme="none"` is the same network as "tim".
    `pretrained`: path of a torchvision ImageNet ResNet state dict (fc is skipped). Nothing is downloaded.
    TEA is built with Res2Net-50 26w x 4s bottleneck widths, as the TEA paper, and takes no ResNet-50
    `pretrained` (its ResNet-18/34 form has plain basic-block widths and does).
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r}: expected one of {', '.join(METHODS)}")
    unknown = sorted(set(options) - set(OPTIONS[method]))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for method={method!r}; "
                         f"it takes {sorted(OPTIONS[method]) or 'none'}")
    options = {**OPTIONS[method], **options}
    _check_arguments(method, num_classes, num_segments, depth, width, dropout, options)
    if method == "tea" and pretrained is not None and ARCHITECTURES[depth][0] == "bottleneck":
        raise ValueError("pretrained: TEA's bottleneck has Res2Net-50 26w x 4s widths, which torchvision "
                         "ResNet weights do not fit; train TEA from scratch")
    kind, layers = ARCHITECTURES[depth]
    if method in ("stm", "tea"):  # ResNet-18/34: our extension, the modules take the place of conv2
        blocks = {("stm", "bottleneck"): STMBottleneck, ("stm", "basic"): STMBasicBlock,
                  ("tea", "bottleneck"): TEABottleneck, ("tea", "basic"): TEABasicBlock}
        block = blocks[method, kind]
    else:
        block = VideoBottleneck if kind == "bottleneck" else VideoBasicBlock
    # TEA's backbone is Res2Net-50 26w x 4s (TEA Appendix B.1): 4 fragments of int(26 * planes / 64)
    # channels, which is torchvision's bottleneck width with width_per_group=26, groups=4.
    res2net = {"groups": 4, "width_per_group": 26} if method == "tea" and kind == "bottleneck" else {}
    model = VideoResNet(block, layers, num_classes, num_segments, width, small_input, dropout, **res2net)
    for name, block, first in model.blocks():
        try:
            _add_temporal_modules(block, method, num_segments, first, options)
        except ValueError as error:
            raise ValueError(f"{method} with {options} at {name} (width={width}): {error}") from None
    model.method, model.options = method, options
    if pretrained is not None:
        load_pretrained(model, pretrained)
    return model


def _add_temporal_modules(block: nn.Module, method: str, num_segments: int, first: bool, options: dict) -> None:
    if method == "stm":
        block.init_temporal(num_segments, options["r"])
        return
    if method == "tea":
        block.init_temporal(num_segments, options["r"], options["variant"], first)
        return
    channels_in = block.conv1.in_channels
    front = OrderedDict()
    if method == "tsm":
        front["shift"] = TemporalShift(channels_in, num_segments)
    elif method == "teinet":
        front["mem"] = MotionEnhancement(channels_in, num_segments)
    elif method == "pem":
        front["pem"] = ProgressiveEnhancement(channels_in, num_segments, options["r"])
    elif method == "cmr" and _placed(options["cme"], first):
        front["cme"] = ChannelMotionEnhancement(channels_in, num_segments, options["r"], options["r"],
                                                options["variant"])
    if method in ("tim", "teinet", "pem") or (method == "cmr" and options["tim"]):
        released = method == "cmr" and options["variant"] == "released"  # the code ties the fold to r
        front["tim"] = TemporalInteraction(channels_in, num_segments, fold_div=options["r"] if released else 8)
    if front:
        block.front = nn.Sequential(front)
    if method == "cmr" and _placed(options["sme"], first):
        block.after = SpatialMotionEnhancement(_out_channels(block), num_segments)


def _placed(placement: str, first: bool) -> bool:
    return placement == "all" or (placement == "part" and first)


def _out_channels(block: nn.Module) -> int:
    return block.bn3.num_features if isinstance(block, Bottleneck) else block.bn2.num_features


def _scaled(channels: int, width: float) -> int:
    return max(1, round(channels * width))


def _check_arguments(method, num_classes, num_segments, depth, width, dropout, options) -> None:
    if depth not in ARCHITECTURES:
        raise ValueError(f"depth={depth!r}: expected one of {sorted(ARCHITECTURES)}")
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes={num_classes!r}: expected a positive integer")
    if not isinstance(num_segments, int) or num_segments < 1:
        raise ValueError(f"num_segments={num_segments!r}: expected a positive integer")
    if method != "tsn" and num_segments < 2:
        raise ValueError(f"num_segments={num_segments}: {method} models time and needs at least 2 frames")
    if not isinstance(width, (int, float)) or width <= 0:
        raise ValueError(f"width={width!r}: expected a positive number")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout={dropout!r}: expected 0 <= dropout < 1")
    if "r" in options and (not isinstance(options["r"], int) or isinstance(options["r"], bool) or options["r"] < 1):
        raise ValueError(f"r={options['r']!r}: expected a positive integer")
    for name in ("cme", "sme"):
        if name in options and options[name] not in PLACEMENTS:
            raise ValueError(f"{name}={options[name]!r}: expected one of {PLACEMENTS}")
    if "tim" in options and not isinstance(options["tim"], bool):
        raise ValueError(f"tim={options['tim']!r}: expected True or False")
    if "variant" in options and options["variant"] not in ChannelMotionEnhancement.VARIANTS:
        raise ValueError(f"variant={options['variant']!r}: expected one of {ChannelMotionEnhancement.VARIANTS}")


def load_pretrained(model: VideoResNet, path: str | Path) -> None:
    """Load a torchvision ImageNet ResNet state dict from a local file into the backbone.

    Every backbone tensor must be in the file with the right shape (so width=1 and the ImageNet stem);
    fc is skipped (new classes) and the temporal modules keep their own init. STM's and TEA's blocks have no
    3x3 conv2 (their modules replace it), so the file's conv2/bn2 tensors are left out for them.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"pretrained={str(path)!r}: no such file. cmrlib never downloads weights; save a "
                         "torchvision ImageNet state dict there first, e.g. on a machine with internet: "
                         "torch.save(torchvision.models.resnet50(weights='IMAGENET1K_V1').state_dict(), path)")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    own = model.state_dict()
    backbone = {k for k in own if not k.startswith("fc.") and not set(k.split(".")) & set(TEMPORAL_ATTRIBUTES)}
    missing = sorted(backbone - set(state))
    if missing:
        raise ValueError(f"pretrained={str(path)!r} lacks {len(missing)} backbone tensors, e.g. {missing[:3]}; "
                         "is it a torchvision ResNet state dict of the same depth?")
    unexpected = set(state) - set(own) - {"fc.weight", "fc.bias"}
    if getattr(model, "method", None) in ("stm", "tea"):  # their modules take the place of each block's 3x3 conv
        unexpected = {k for k in unexpected if not re.match(r"layer\d+\.\d+\.(conv2|bn2)\.", k)}
    unexpected = sorted(unexpected)
    if unexpected:
        raise ValueError(f"pretrained={str(path)!r} has {len(unexpected)} tensors this model lacks, "
                         f"e.g. {unexpected[:3]}; is it a torchvision ResNet state dict of the same depth?")
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in sorted(backbone)
             if state[k].shape != own[k].shape]
    if wrong:
        raise ValueError(f"pretrained={str(path)!r}: {len(wrong)} shapes differ, e.g. {wrong[:2]}; ImageNet "
                         "weights need width=1.0 and small_input=False")
    model.load_state_dict({k: state[k] for k in backbone}, strict=False)

