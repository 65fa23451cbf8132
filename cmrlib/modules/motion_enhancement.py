"""MEM, the motion enhanced module of TEINet (Liu et al., AAAI 2020, Eqs. 1-3).

    xhat_t = GAP(x_t)
    (1) s_t    = Conv1(xhat_t; W_theta) - Conv2(xhat_{t+1}; W_phi)     two different 1x1 convs, C -> C/r
    (2) shat_t = sigmoid(Conv3(s_t; W_varphi))                          1x1 conv, C/r -> C
    (3) u_t    = shat_t * x_t    for t < T;    u_T = x_T                the last frame is copied, not gated

r = 8. It sits at the front of the residual branch, on the block-input channels, before TIM.
The paper gives no bias, BN or initialisation; the convs here are bias-free with PyTorch's default init.
"""
import torch
from torch import nn


class MotionEnhancement(nn.Module):
    def __init__(self, channels: int, num_segments: int, r: int = 8):
        super().__init__()
        if channels % r:
            raise ValueError(f"r={r} does not divide channels={channels}")
        self.num_segments = num_segments
        self.theta = nn.Linear(channels, channels // r, bias=False)  # Conv1 on the pooled vector
        self.phi = nn.Linear(channels, channels // r, bias=False)  # Conv2
        self.varphi = nn.Linear(channels // r, channels, bias=False)  # Conv3

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """Channel gate (N, T, C); the gate of the last frame is 1."""
        nt, c = x.shape[:2]
        pooled = x.mean((2, 3)).view(nt // self.num_segments, self.num_segments, c)  # (N, T, C)
        s = self.theta(pooled[:, :-1]) - self.phi(pooled[:, 1:])  # (N, T-1, C/r)
        gate = torch.sigmoid(self.varphi(s))  # (N, T-1, C)
        return torch.cat([gate, gate.new_ones(gate.shape[0], 1, c)], dim=1)  # (N, T, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nt, c = x.shape[:2]
        return x * self.gate(x).reshape(nt, c, 1, 1)
