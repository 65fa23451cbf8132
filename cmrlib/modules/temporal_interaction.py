"""TIM, the temporal interaction module of TEINet (Liu et al., AAAI 2020, Eq. 4), used by CMR after CME.

    Y_{c,t} = sum_{i in {-1,0,1}} V_{c,i} * X_{c,t+i}        (channel-wise temporal conv, kernel 3)

One learnable kernel of 3 taps per channel, zero padding in time, no bias. Neither TEINet nor CMR gives
the initialisation; CMR's released code starts from the TSM shift (init="shift"): the first C/8 channels
take frame t+1, the next C/8 frame t-1, the rest are the identity, so TIM starts out equal to TSM.
``fold_div`` sets that 8 (the released CMR ties it to CME's r; the released TEA shifts with 2: half of the
channels each way); init="identity" starts every channel at y_t = x_t (the released TEA's "fixed" init).

The same channel-wise temporal conv is STM's CSTM temporal part (STM Eq. 1, init="stm": the first quarter
of the channels take t-1, the middle half identity, the last quarter t+1) and TEA's MTA temporal sub-conv
(TEA Appendix A, Eq. 10: the shift initialisation).

Speed: the conv is computed as Eq. 4 reads, three per-channel multiply-adds of time-shifted views of the
(N, T, C, H*W) input, with no transposed copy; the backward is written out (the input gradient is the same
conv with the taps reversed in time, the tap gradients are per-channel correlations). On a CPU this is
about 3x faster than a depthwise conv2d on the transposed (N, C, T, H*W) tensor, forward and backward
(measured by ``python -m cmrlib bench``).
"""
import math

import torch
from torch import nn
from torch.utils.flop_counter import register_flop_formula

# kernel tap index: 0 -> frame t-1, 1 -> frame t, 2 -> frame t+1 (cross-correlation)
PREVIOUS, CURRENT, NEXT = 0, 1, 2


def temporal_conv(x: torch.Tensor, previous: torch.Tensor, current: torch.Tensor, following: torch.Tensor):
    """Eq. 4 on x (N, T, C, P) with per-channel taps (C, 1): y_t = V_-1 x_{t-1} + V_0 x_t + V_+1 x_{t+1}."""
    y = x * current
    y[:, 1:].addcmul_(x[:, :-1], previous)  # frame t-1; zero padding at t = 1
    y[:, :-1].addcmul_(x[:, 1:], following)  # frame t+1; zero padding at t = T
    return y


@torch.library.custom_op("cmrlib::temporal_conv", mutates_args=())
def temporal_conv_op(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """temporal_conv as one operator, x (N, T, C, P), taps (C, 3, 1), so that autograd uses the backward below
    and cmrlib.flops counts its multiply-adds (3 per element, as the depthwise conv it computes)."""
    return temporal_conv(x, *taps.unbind(1))


@temporal_conv_op.register_fake
def _(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:  # shapes only (meta device, torch.compile)
    return torch.empty_like(x)


def _save_inputs(ctx, inputs, output) -> None:
    ctx.save_for_backward(*inputs)


def _temporal_conv_backward(ctx, grad: torch.Tensor):
    x, taps = ctx.saved_tensors
    previous, current, following = taps.unbind(1)
    grad_x = grad_taps = None
    if ctx.needs_input_grad[0]:
        grad_x = temporal_conv(grad, following, current, previous)  # the adjoint: taps reversed in time
    if ctx.needs_input_grad[1]:
        dims = (0, 1, 3)  # sum over N, T and pixels, per channel
        grad_taps = torch.stack([(grad[:, 1:] * x[:, :-1]).sum(dims), (grad * x).sum(dims),
                                 (grad[:, :-1] * x[:, 1:]).sum(dims)], dim=1).unsqueeze(-1)
    return grad_x, grad_taps


temporal_conv_op.register_autograd(_temporal_conv_backward, setup_context=_save_inputs)


@register_flop_formula(torch.ops.cmrlib.temporal_conv)
def _temporal_conv_flops(x_shape, taps_shape, *args, **kwargs) -> int:
    return 2 * 3 * math.prod(x_shape)  # 3 multiply-adds per element; the counter reports FLOPs = 2 x MACs


class TemporalInteraction(nn.Module):
    """Depthwise temporal conv with kernel 3 on the (N*T, C, H, W) layout."""

    INITS = ("shift", "stm", "identity")

    def __init__(self, channels: int, num_segments: int, init: str = "shift", fold_div: int = 8):
        super().__init__()
        if init not in self.INITS:
            raise ValueError(f"init={init!r}: expected one of {self.INITS}")
        self.num_segments = num_segments
        self.init = init
        self.weight = nn.Parameter(torch.zeros(channels, 1, 3, 1))  # (C, 1, k_t, 1), conv2d's layout
        with torch.no_grad():
            if init == "shift":
                fold = max(1, channels // fold_div)  # as TemporalShift
                self.weight[:fold, 0, NEXT] = 1  # y_t = x_{t+1}
                self.weight[fold:2 * fold, 0, PREVIOUS] = 1  # y_t = x_{t-1}
                self.weight[2 * fold:, 0, CURRENT] = 1
            elif init == "identity":
                self.weight[:, 0, CURRENT] = 1
            else:
                quarter = channels // 4
                self.weight[:quarter, 0, PREVIOUS] = 1  # y_t = x_{t-1}
                self.weight[quarter:channels - quarter, 0, CURRENT] = 1
                self.weight[channels - quarter:, 0, NEXT] = 1  # y_t = x_{t+1}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nt, c, h, w = x.shape
        y = x.reshape(nt // self.num_segments, self.num_segments, c, h * w)  # (N, T, C, H*W), a view
        taps = self.weight.view(c, 3, 1).to(x.dtype)  # (C, 3, 1): V_{c,-1}, V_{c,0}, V_{c,+1}
        return temporal_conv_op(y, taps).view(nt, c, h, w)

    def extra_repr(self) -> str:
        return f"channels={self.weight.shape[0]}, num_segments={self.num_segments}, init={self.init!r}"
