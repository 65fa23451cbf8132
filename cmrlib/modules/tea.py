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
"""
import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from cmrlib.modules.stm import adjacent_motion, depthwise3x3, reduced_channels
from cmrlib.modules.temporal_interaction import TemporalInteraction

FRAGMENTS = 4


class MotionExcitation(nn.Module):
    def __init__(self, channels: int, num_segments: int, r: int = 16):
        super().__init__()
        self.num_segments = num_segments
        reduced = reduced_channels(channels, r)
        self.reduce = nn.Sequential(nn.Conv2d(channels, reduced, 1, bias=False), nn.BatchNorm2d(reduced))
        self.transform = depthwise3x3(reduced)
        self.expand = nn.Linear(reduced, channels, bias=False)  # conv_exp on the pooled M^s
        with torch.no_grad():
            self.transform.weight.zero_()
            self.transform.weight[:, 0, 1, 1] = 1

    def motion(self, x: torch.Tensor) -> torch.Tensor:
        """M (N*T, C/r, H, W), zero at the last frame (Eq. 2)."""
        return adjacent_motion(self.reduce(x), self.transform, self.num_segments)

    def excitation(self, x: torch.Tensor) -> torch.Tensor:
        """A (N*T, C) in (-1, 1) (Eqs. 3-4)."""
        return 2 * torch.sigmoid(self.expand(self.motion(x).mean((2, 3)))) - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nt, c = x.shape[:2]
        return x + x * self.excitation(x).view(nt, c, 1, 1)  # Eq. 5


class MultipleTemporalAggregation(nn.Module):
    def __init__(self, channels: int, num_segments: int, stride: int = 1):
        super().__init__()
        if channels % FRAGMENTS:
            raise ValueError(f"channels={channels}: MTA needs a multiple of {FRAGMENTS}")
        width = channels // FRAGMENTS
        self.stride = stride
        self.temporal = nn.ModuleList(TemporalInteraction(width, num_segments, init="shift")
                                      for _ in range(FRAGMENTS - 1))
        self.spatial = nn.ModuleList(nn.Conv2d(width, width, 3, stride, 1, bias=False)
                                     for _ in range(FRAGMENTS - 1))
        self.bns = nn.ModuleList(nn.BatchNorm2d(width) for _ in range(FRAGMENTS - 1))
        for conv in self.spatial:  # torchvision's ResNet init, as the conv2 that MTA replaces
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
        self.pool = nn.AvgPool2d(3, stride, 1) if stride > 1 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fragments = x.chunk(FRAGMENTS, dim=1)  # 4 x (N*T, C/4, H, W)
        outputs = [self.pool(fragments[0])]
        for i, (temporal, spatial, bn) in enumerate(zip(self.temporal, self.spatial, self.bns)):
            y = fragments[i + 1]
            if i > 0 and self.stride == 1:
                y = y + outputs[-1]  # hierarchical residual
            outputs.append(torch.relu(bn(spatial(temporal(y)))))
        return torch.cat(outputs, dim=1)  # Eq. 7


class TEABottleneck(Bottleneck):
    """torchvision Bottleneck with ME after conv1 and MTA in place of conv2/bn2 (TEA Fig. 3).

    TEA starts from Res2Net-50 26w x 4s, so the model builds it with width_per_group=26, groups=4: the
    bottleneck then has 4 x int(26 * planes / 64) channels (104 in stage 1), Res2Net's width.
    """

    def init_temporal(self, num_segments: int, r: int = 16) -> None:
        width = self.conv1.out_channels
        del self.conv2, self.bn2  # replaced by MTA, which has its own convs and BNs
        self.me = MotionExcitation(width, num_segments, r)
        self.mta = MultipleTemporalAggregation(width, num_segments, stride=self.stride)

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

    def init_temporal(self, num_segments: int, r: int = 16) -> None:
        width = self.conv1.out_channels
        del self.conv2, self.bn2  # replaced by MTA
        self.me = MotionExcitation(width, num_segments, r)
        self.mta = MultipleTemporalAggregation(width, num_segments)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))  # (N*T, P, H, W)
        out = self.mta(self.me(out))
        out += identity
        return self.relu(out)
