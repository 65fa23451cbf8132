"""TSM temporal shift (Lin, Gan and Han, ICCV 2019; restated in TEA Appendix A, Eq. 9).

Of the C channels of each frame, the first C/8 take the value of frame t+1, the next C/8 take frame
t-1, and the rest stay in place. Entries shifted in from outside the clip are zero. No parameters. Layers narrower than
16 channels (tiny width multipliers) still shift one channel each way.
It sits on the residual branch, before the block's first conv ("residual shift").

Speed: the shift writes each output element once into an uninitialised tensor, and its backward is the
opposite shift of the gradient (its adjoint), so training costs one copy each way instead of autograd's
zero-filled slice copies.
"""
import torch
from torch import nn
from torch.autograd.function import once_differentiable


def shift(x: torch.Tensor, fold: int, reverse: bool = False) -> torch.Tensor:
    """x (N, T, C, ...): channels [0, fold) take frame t+1, channels [fold, 2 fold) take frame t-1, zero
    where that frame is outside the clip. reverse=True swaps the two directions (the adjoint)."""
    ahead, behind = slice(0, fold), slice(fold, 2 * fold)
    if reverse:
        ahead, behind = behind, ahead
    out = torch.empty_like(x)
    out[:, :-1, ahead] = x[:, 1:, ahead]  # y_t = x_{t+1}
    out[:, -1, ahead] = 0
    out[:, 1:, behind] = x[:, :-1, behind]  # y_t = x_{t-1}
    out[:, 0, behind] = 0
    out[:, :, 2 * fold:] = x[:, :, 2 * fold:]
    return out


class _Shift(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, fold: int) -> torch.Tensor:
        ctx.fold = fold
        return shift(x, fold)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        return shift(grad, ctx.fold, reverse=True), None


class TemporalShift(nn.Module):
    """y_t = x_{t+1} on channels [0, C/8), y_t = x_{t-1} on [C/8, C/4), y_t = x_t elsewhere."""

    def __init__(self, channels: int, num_segments: int, fold_div: int = 8):
        super().__init__()
        self.num_segments = num_segments
        self.fold = max(1, channels // fold_div)  # narrow layers still shift one channel each way

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nt, c, h, w = x.shape
        x = x.view(nt // self.num_segments, self.num_segments, c, h, w)  # (N, T, C, H, W)
        return _Shift.apply(x, self.fold).view(nt, c, h, w)

    def extra_repr(self) -> str:
        return f"num_segments={self.num_segments}, fold={self.fold}"
