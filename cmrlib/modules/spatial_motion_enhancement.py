"""SME, CMR's spatial-wise motion enhancement (Wu et al., AAAI 2021, Eqs. 7-8).

    (7) s_t = cos(x_t, x_{t+1}) per pixel, over the channel vector    t < T;  s_T = s_{T-1}
    (8) v_t = BN(Conv1x1(x_t * (1 - s_t))) + x_t

Low similarity marks the moving region, and 1 - s_t up-weights it. Where the paper is silent this follows
the released code (spec A.1.2 [CODE]): the conv maps C -> C with a bias and He-normal init, the BN's
weight and bias start at zero (so SME starts as the identity), the cosine uses eps = 1e-8 with no detach,
and the model applies SME to the block output after the residual add and ReLU. The cosine is computed in
float32 at least (float64 inputs stay float64).

The cosine is computed from channel sums, and x is multiplied by an (N*T, 1, H, W) map, so no C x H x W
copy of s is ever made.
"""
import torch
from torch import nn

EPS = 1e-8


class SpatialMotionEnhancement(nn.Module):
    def __init__(self, channels: int, num_segments: int):
        super().__init__()
        self.num_segments = num_segments
        self.conv = nn.Conv2d(channels, channels, 1, bias=True)
        self.bn = nn.BatchNorm2d(channels)
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(self.conv.bias)
        nn.init.zeros_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)

    def similarity(self, x: torch.Tensor) -> torch.Tensor:
        """s (N, T, H, W): per-pixel cosine of frames t and t+1, with s_T = s_{T-1}."""
        nt, c, h, w = x.shape
        dtype = torch.promote_types(x.dtype, torch.float32)  # half precision -> float32; float64 stays
        x = x.to(dtype).view(nt // self.num_segments, self.num_segments, c, h, w)  # (N, T, C, H, W)
        squared_norm = x.square().sum(2)  # (N, T, H, W)
        dot = (x[:, :-1] * x[:, 1:]).sum(2)  # (N, T-1, H, W)
        norms = (squared_norm[:, :-1] * squared_norm[:, 1:]).clamp_min(EPS * EPS).sqrt()
        s = dot / norms  # (N, T-1, H, W)
        return torch.cat([s, s[:, -1:]], dim=1)  # (N, T, H, W): s_T = s_{T-1}

    def motion_map(self, x: torch.Tensor) -> torch.Tensor:
        """1 - s (N, T, H, W), the weight each pixel receives in Eq. 8."""
        return 1 - self.similarity(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nt, c, h, w = x.shape
        weight = self.motion_map(x).to(x.dtype).view(nt, 1, h, w)  # (N*T, 1, H, W)
        return self.bn(self.conv(x * weight)).add_(x)  # Eq. 8 (the add reuses the BN output's memory)

    def extra_repr(self) -> str:
        return f"num_segments={self.num_segments}"
