"""TIM, the temporal interaction module of TEINet (Liu et al., AAAI 2020, Eq. 4), used by CMR after CME.

    Y_{c,t} = sum_{i in {-1,0,1}} V_{c,i} * X_{c,t+i}        (channel-wise temporal conv, kernel 3)

One learnable kernel of 3 taps per channel, zero padding in time, no bias. Neither TEINet nor CMR gives
the initialisation; CMR's released code starts from the TSM shift (init="shift"): the first C/8 channels
take frame t+1, the next C/8 frame t-1, the rest are the identity, so TIM starts out equal to TSM.

The same channel-wise temporal conv is STM's CSTM temporal part (STM Eq. 1, init="stm": the first quarter
of the channels take t-1, the middle half identity, the last quarter t+1) and TEA's MTA temporal sub-conv
(TEA Appendix A, Eq. 10: the shift initialisation).
"""
import torch
import torch.nn.functional as F
from torch import nn

# kernel tap index: 0 -> frame t-1, 1 -> frame t, 2 -> frame t+1 (cross-correlation)
PREVIOUS, CURRENT, NEXT = 0, 1, 2


class TemporalInteraction(nn.Module):
    """Depthwise temporal conv with kernel 3 on the (N*T, C, H, W) layout, as one conv2d call."""

    INITS = ("shift", "stm")

    def __init__(self, channels: int, num_segments: int, init: str = "shift", fold_div: int = 8):
        super().__init__()
        if init not in self.INITS:
            raise ValueError(f"init={init!r}: expected one of {self.INITS}")
        self.num_segments = num_segments
        self.init = init
        self.weight = nn.Parameter(torch.zeros(channels, 1, 3, 1))  # (C, 1, k_t, 1)
        with torch.no_grad():
            if init == "shift":
                fold = max(1, channels // fold_div)  # as TemporalShift
                self.weight[:fold, 0, NEXT] = 1  # y_t = x_{t+1}
                self.weight[fold:2 * fold, 0, PREVIOUS] = 1  # y_t = x_{t-1}
                self.weight[2 * fold:, 0, CURRENT] = 1
            else:
                quarter = channels // 4
                self.weight[:quarter, 0, PREVIOUS] = 1  # y_t = x_{t-1}
                self.weight[quarter:channels - quarter, 0, CURRENT] = 1
                self.weight[channels - quarter:, 0, NEXT] = 1  # y_t = x_{t+1}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nt, c, h, w = x.shape
        t = self.num_segments
        y = x.view(nt // t, t, c, h * w).transpose(1, 2)  # (N, C, T, H*W)
        y = F.conv2d(y, self.weight, padding=(1, 0), groups=c)  # (N, C, T, H*W)
        return y.transpose(1, 2).reshape(nt, c, h, w)  # (N*T, C, H, W)

    def extra_repr(self) -> str:
        return f"channels={self.weight.shape[0]}, num_segments={self.num_segments}, init={self.init!r}"
