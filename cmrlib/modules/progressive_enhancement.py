"""PEM (stand-in): a serial channel gate in the spirit of TDRL's progressive enhancement module.

TDRL (Weng et al., ECCV 2020) is CMR's "+PEM" baseline (CMR Tables 6-7), but none of our sources gives
its equations. This is the project's stand-in, exactly as specified in spec/pem-standin.md; it is not
TDRL's published module and is always labelled "PEM (stand-in)".

    p_t = GAP(x_t)                                  C
    e_t = W_r p_t                                   C/r, one shared 1x1 conv
    d_t = e_{t+1} - e_t  (t < T),   d_T = 0         motion cue between adjacent frames
    z_t = W_e ReLU(BN(d_t))                         back to C
    a_t = sigmoid(z_t - m_{t-1}),   m_0 = 0         suppress channels excited at earlier steps
    m_t = m_{t-1} + a_t                             the state carried to the next step
    u_t = x_t * a_t

The recurrence is a Python loop over the T time steps on purpose: that serial dependency is what CMR's
runtime comparison is about. W_r and W_e are bias-free.
"""
import torch
from torch import nn


class ProgressiveEnhancement(nn.Module):
    def __init__(self, channels: int, num_segments: int, r: int = 8):
        super().__init__()
        if not isinstance(r, int) or r < 1 or channels % r:
            raise ValueError(f"r={r!r} must be a positive integer that divides channels={channels}")
        self.num_segments = num_segments
        self.reduce = nn.Linear(channels, channels // r, bias=False)  # W_r
        self.bn = nn.BatchNorm1d(channels // r)
        self.expand = nn.Linear(channels // r, channels, bias=False)  # W_e

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """a (N, T, C) for x (N*T, C, H, W)."""
        nt, c = x.shape[:2]
        e = self.reduce(x.mean((2, 3))).view(nt // self.num_segments, self.num_segments, -1)  # (N, T, C/r)
        d = torch.cat([e[:, 1:] - e[:, :-1], torch.zeros_like(e[:, :1])], dim=1)  # (N, T, C/r), d_T = 0
        z = self.expand(torch.relu(self.bn(d.flatten(0, 1)))).view(-1, self.num_segments, c)  # (N, T, C)
        state = torch.zeros_like(z[:, 0])  # m_0 = 0, (N, C)
        gates = []
        for t in range(self.num_segments):  # serial by design
            a_t = torch.sigmoid(z[:, t] - state)
            state = state + a_t
            gates.append(a_t)
        return torch.stack(gates, dim=1)  # (N, T, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nt, c = x.shape[:2]
        return x * self.gate(x).reshape(nt, c, 1, 1)

    def extra_repr(self) -> str:
        return f"num_segments={self.num_segments}"
