"""STM (Jiang et al., ICCV 2019): CSTM (Eq. 1) and CMM (Eq. 2), summed inside the bottleneck.

CSTM, channel-wise spatiotemporal module:
    (1) G_{c,t} = sum_{i in {-1,0,1}} K^c_i F_{c,t+i}      channel-wise temporal conv, kernel 3
    followed by the block's own 3x3 conv. Init: the first quarter of the channels take t-1, the middle
    half is the identity, the last quarter takes t+1. The temporal part is TIM's conv with this init.

CMM, channel-wise motion module (r = 16, random init):
    1x1 conv C -> C/r   (rounded down, at least 1)
    (2) H_t = K * F_{t+1} - F_t    (K: 3x3 depthwise conv)  t < T;  H_T = 0
    1x1 conv C/r -> C

STM block: conv1 -> [conv2(CSTM_temporal(y)) + CMM(y)] -> bn2, ReLU -> conv3 -> bn3 -> + shortcut -> ReLU,
in all 16 bottlenecks. On ResNet-18/34 (STMBasicBlock, our extension) conv1 plays the reducing conv and
CSTM + CMM take the place of conv2. Choices where the paper is silent: no BN or bias inside CMM; the sum comes before
bn2; in stride-2 blocks CMM's reduce conv carries the stride so both branches meet at the same size.
"""
import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from cmrlib.modules.temporal_interaction import TemporalInteraction


def adjacent_motion(x: torch.Tensor, transform: nn.Module, num_segments: int) -> torch.Tensor:
    """transform(x_{t+1}) - x_t for t < T and 0 at t = T, on the (N*T, C, H, W) layout."""
    nt, c, h, w = x.shape
    x = x.view(nt // num_segments, num_segments, c, h, w)  # (N, T, C, H, W)
    moved = transform(x[:, 1:].flatten(0, 1)).view(-1, num_segments - 1, c, h, w)  # K * x_{t+1}
    motion = moved - x[:, :-1]  # (N, T-1, C, H, W)
    return torch.cat([motion, torch.zeros_like(x[:, :1])], dim=1).view(nt, c, h, w)


def reduced_channels(channels: int, r: int) -> int:
    """C // r, at least 1 (as TEA's code, which rounds down: 104 // 16 = 6)."""
    if not isinstance(r, int) or r < 1:
        raise ValueError(f"r={r!r}: expected a positive integer")
    return max(1, channels // r)


def depthwise3x3(channels: int) -> nn.Conv2d:
    return nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False)


class ChannelwiseMotion(nn.Module):
    """CMM: additive motion features from adjacent-frame differences (STM Eq. 2)."""

    def __init__(self, channels: int, num_segments: int, r: int = 16, stride: int = 1):
        super().__init__()
        self.num_segments = num_segments
        reduced = reduced_channels(channels, r)
        self.reduce = nn.Conv2d(channels, reduced, 1, stride=stride, bias=False)
        self.transform = depthwise3x3(reduced)
        self.restore = nn.Conv2d(reduced, channels, 1, bias=False)

    def motion(self, x: torch.Tensor) -> torch.Tensor:
        """H (N*T, C/r, H', W'), zero at the last frame."""
        return adjacent_motion(self.reduce(x), self.transform, self.num_segments)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.restore(self.motion(x))


class STMBottleneck(Bottleneck):
    """torchvision Bottleneck whose 3x3 conv becomes CSTM, with CMM in parallel (STM Fig. 3)."""

    def init_temporal(self, num_segments: int, r: int = 16) -> None:
        width = self.conv1.out_channels
        self.cstm = TemporalInteraction(width, num_segments, init="stm")
        self.cmm = ChannelwiseMotion(width, num_segments, r, stride=self.stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))  # (N*T, P, H, W)
        out = self.conv2(self.cstm(out)) + self.cmm(out)  # CSTM + CMM
        out = self.relu(self.bn2(out))
        out = self.bn3(self.conv3(out))
        out += identity  # in place, as torchvision's blocks
        return self.relu(out)


class STMBasicBlock(BasicBlock):
    """torchvision BasicBlock whose second 3x3 conv becomes CSTM, with CMM in parallel (our extension of
    STM to ResNet-18/34: conv1, which carries the stride, plays the role of the bottleneck's conv1)."""

    def init_temporal(self, num_segments: int, r: int = 16) -> None:
        width = self.conv1.out_channels
        self.cstm = TemporalInteraction(width, num_segments, init="stm")
        self.cmm = ChannelwiseMotion(width, num_segments, r)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))  # (N*T, P, H, W)
        out = self.bn2(self.conv2(self.cstm(out)) + self.cmm(out))  # CSTM + CMM
        out += identity
        return self.relu(out)
