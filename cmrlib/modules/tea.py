"""TEA (Li et al., CVPR 2020): ME (Eqs. 1-5) and MTA (Eqs. 6-7) inside the bottleneck.

ME, motion excitation, after the block's first 1x1 conv (r = 16):
    (1) X^r  = conv_red * X                          1x1, C -> C/r (rounded down as in TEA's code; then BN)
    (2) M(t) = conv_trans * X^r(t+1) - X^r(t)        conv_trans: 3x3 depthwise;  M(T) = 0
    (3) M^s  = GAP(M)
    (4) A    = 2 sigmoid(conv_exp * M^s) - 1         1x1, C/r -> C, no bias, so A_T = 0
    (5) X^o  = X + X * A
conv_trans starts as the identity kernel (TEA gives no init), so at init M is the plain feature
difference and ME leaves a static clip unchanged.

MTA, multiple temporal aggregation, replaces the 3x3 conv (Res2Net style, 4 fragments):
    X_1^o = X_1
    X_2^o = conv_spa(conv_temp(X_2))
    X_i^o = conv_spa(conv_temp(X_i + X_{i-1}^o))     i = 3, 4
    (7) X^o = concat[X_1^o, ..., X_4^o]
conv_temp is a channel-wise temporal conv, kernel 3, shift-initialised (TEA Appendix A, Eq. 10);
conv_spa a 3x3 conv on C/4 channels. Each conv_spa is followed by BN and ReLU, as in Res2Net, from which
TEA starts. In stride-2 blocks, MTA follows Res2Net's "stage" blocks: X_1 is average-pooled (3x3, the
block's stride) and the hierarchical sums are dropped, since the fragments no longer share a size.

variant="released" is the official TEA code (Phoenix1327/tea-action-recognition, ops/tea50_8f.py):
  D1. ME's gate is A = sigmoid(BN(conv_exp * M^s)) - 0.5, with a BN (``expand_bn``), not Eq. 4: A_T != 0;
  D2. the pass-through fragment X_1 goes through its own channel-wise temporal conv (``passthrough``),
      initialised as a shift of half the channels each way; the other temporal convs start as the identity;
  D3. the first block of every stage, layer1.0 (stride 1) included, is a Res2Net "stage" block: no
      hierarchical sums, and the pass-through fragment is average-pooled (3x3, the block's stride);
  D4. the code passes the *last* fragment through and processes the first three; here the first passes
      through in both variants. That only permutes channels (``cmrlib.convert`` applies the permutation to
      the official weights). Its convs keep the official init too (He-normal, fan-out, on ME's convs).
"""
import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from cmrlib.modules.stm import adjacent_motion, depthwise3x3, reduced_channels
from cmrlib.modules.temporal_interaction import TemporalInteraction

FRAGMENTS = 4
VARIANTS = ("paper", "released")


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"variant={variant!r}: expected one of {VARIANTS}")


class MotionExcitation(nn.Module):
    def __init__(self, channels: int, num_segments: int, r: int = 16, variant: str = "paper"):
        super().__init__()
        _check_variant(variant)
        self.num_segments = num_segments
        self.variant = variant
        reduced = reduced_channels(channels, r)
        self.reduce = nn.Sequential(nn.Conv2d(channels, reduced, 1, bias=False), nn.BatchNorm2d(reduced))
        self.transform = depthwise3x3(reduced)
        self.expand = nn.Linear(reduced, channels, bias=False)  # conv_exp on the pooled M^s
        if variant == "paper":
            with torch.no_grad():
                self.transform.weight.zero_()
                self.transform.weight[:, 0, 1, 1] = 1
        else:
            self.expand_bn = nn.BatchNorm1d(channels)  # D1
            for conv in (self.reduce[0], self.transform):  # the official Res2Net init of every Conv2d
                nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            nn.init.normal_(self.expand.weight, 0, (2 / channels) ** 0.5)  # the same, for the 1x1 conv_exp

    def motion(self, x: torch.Tensor) -> torch.Tensor:
        """M (N*T, C/r, H, W), zero at the last frame (Eq. 2)."""
        return adjacent_motion(self.reduce(x), self.transform, self.num_segments)

    def excitation(self, x: torch.Tensor) -> torch.Tensor:
        """A (N*T, C): in (-1, 1) (Eqs. 3-4), or in (-0.5, 0.5) for the released variant (D1)."""
        logits = self.expand(self.motion(x).mean((2, 3)))
        if self.variant == "paper":
            return 2 * torch.sigmoid(logits) - 1
        return torch.sigmoid(self.expand_bn(logits)) - 0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nt, c = x.shape[:2]
        return x + x * self.excitation(x).view(nt, c, 1, 1)  # Eq. 5

    def extra_repr(self) -> str:
        return f"num_segments={self.num_segments}, variant={self.variant!r}"


class MultipleTemporalAggregation(nn.Module):
    """``stage``: a Res2Net "stage" block (no hierarchical sums, pass-through fragment pooled); by default
    the blocks with stride > 1, and for the released variant the first block of every stage (D3)."""

    def __init__(self, channels: int, num_segments: int, stride: int = 1, variant: str = "paper",
                 stage: bool | None = None):
        super().__init__()
        _check_variant(variant)
        if channels % FRAGMENTS:
            raise ValueError(f"channels={channels}: MTA needs a multiple of {FRAGMENTS}")
        width = channels // FRAGMENTS
        self.stride, self.variant = stride, variant
        self.stage = stride > 1 if stage is None else bool(stage)
        init = "shift" if variant == "paper" else "identity"  # the official code's "fixed" init (D2)
        self.temporal = nn.ModuleList(TemporalInteraction(width, num_segments, init=init)
                                      for _ in range(FRAGMENTS - 1))
        self.spatial = nn.ModuleList(nn.Conv2d(width, width, 3, stride, 1, bias=False)
                                     for _ in range(FRAGMENTS - 1))
        self.bns = nn.ModuleList(nn.BatchNorm2d(width) for _ in range(FRAGMENTS - 1))
        for conv in self.spatial:  # torchvision's ResNet init, as the conv2 that MTA replaces
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
        self.pool = nn.AvgPool2d(3, stride, 1) if self.stage else nn.Identity()
        if variant == "released":  # D2: the pass-through fragment's own temporal conv, half shifted each way
            self.passthrough = TemporalInteraction(width, num_segments, init="shift", fold_div=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fragments = x.chunk(FRAGMENTS, dim=1)  # 4 x (N*T, C/4, H, W)
        first = self.passthrough(fragments[0]) if self.variant == "released" else fragments[0]
        outputs = [self.pool(first)]
        for i, (temporal, spatial, bn) in enumerate(zip(self.temporal, self.spatial, self.bns)):
            y = fragments[i + 1]
            if i > 0 and not self.stage:
                y = y + outputs[-1]  # hierarchical residual
            outputs.append(torch.relu(bn(spatial(temporal(y)))))
        return torch.cat(outputs, dim=1)  # Eq. 7


class TEABottleneck(Bottleneck):
    """torchvision Bottleneck with ME after conv1 and MTA in place of conv2/bn2 (TEA Fig. 3).

    TEA starts from Res2Net-50 26w x 4s, so the model builds it with width_per_group=26, groups=4: the
    bottleneck then has 4 x int(26 * planes / 64) channels (104 in stage 1), Res2Net's width.
    """

    def init_temporal(self, num_segments: int, r: int = 16, variant: str = "paper", first: bool = False) -> None:
        """``first``: the first block of its stage (a Res2Net "stage" block in the released variant, D3)."""
        width = self.conv1.out_channels
        del self.conv2, self.bn2  # replaced by MTA, which has its own convs and BNs
        self.me = MotionExcitation(width, num_segments, r, variant)
        self.mta = MultipleTemporalAggregation(width, num_segments, self.stride, variant,
                                               stage=first if variant == "released" else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))  # (N*T, P, H, W)
        out = self.mta(self.me(out))
        out = self.bn3(self.conv3(out))
        out += identity  # in place, as torchvision's blocks
        return self.relu(out)


class TEABasicBlock(BasicBlock):
    """torchvision BasicBlock with ME after conv1 and MTA in place of conv2/bn2 (our extension of TEA to
    ResNet-18/34: conv1, which carries the stride, plays the role of the bottleneck's conv1)."""

    def init_temporal(self, num_segments: int, r: int = 16, variant: str = "paper", first: bool = False) -> None:
        width = self.conv1.out_channels
        del self.conv2, self.bn2  # replaced by MTA
        self.me = MotionExcitation(width, num_segments, r, variant)
        self.mta = MultipleTemporalAggregation(width, num_segments, variant=variant,
                                               stage=first if variant == "released" else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))  # (N*T, P, H, W)
        out = self.mta(self.me(out))
        out += identity
        return self.relu(out)
