"""TSM temporal shift (Lin, Gan and Han, ICCV 2019; restated in TEA Appendix A, Eq. 9).

Of the C channels of each frame, the first C/8 take the value of frame t+1, the next C/8 take frame
t-1, and the rest stay in place. Entries shifted in from outside the clip are zero. No parameters. Layers narrower than
16 channels (tiny width multipliers) still shift one channel each way.
It sits on the residual branch, before the block's first conv ("residual shift").
"""
import torch
from torch import nn


class TemporalShift(nn.Module):
    """y_t = x_{t+1} on channels [0, C/8), y_t = x_{t-1} on [C/8, C/4), y_t = x_t elsewhere."""

    def __init__(self, channels: int, num_segments: int, fold_div: int = 8):
        super().__init__()
        self.num_segments = num_segments
        self.fold = max(1, channels // fold_div)  # narrow layers still shift one channel each way

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nt, c, h, w = x.shape
        x = x.view(nt // self.num_segments, self.num_segments, c, h, w)  # (N, T, C, H, W)
        f = self.fold
        out = torch.zeros_like(x)
        out[:, :-1, :f] = x[:, 1:, :f]  # y_t = x_{t+1}
        out[:, 1:, f:2 * f] = x[:, :-1, f:2 * f]  # y_t = x_{t-1}
        out[:, :, 2 * f:] = x[:, :, 2 * f:]
        return out.view(nt, c, h, w)

    def extra_repr(self) -> str:
        return f"num_segments={self.num_segments}, fold={self.fold}"
