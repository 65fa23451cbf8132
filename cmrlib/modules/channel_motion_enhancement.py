"""CME, CMR's channel-wise motion enhancement (Wu et al., AAAI 2021, Eqs. 1-6).

    xbar_t   = GAP(x_t)
    (2) z_t  = W1 xbar_t                      C -> C/r1   (the vector that is fused)
    (3) k_t  = W2 xbar_t                      C -> C/r2   (the vector that measures discrepancy)
    (4) d_tj = -k_t . k_j,   dhat_tj = softmax_j(d_tj)     every row sums to 1 over j
    (5) zhat_t = z_t + sum_j dhat_tj z_j      residual fusion over all T frames
    (6) a_t  = sigmoid(W3 zhat_t)             C/r1 -> C
    (1) u_t  = x_t * a_t                      channel gate, no residual

variant="paper" (default) is the text above. The paper gives no bias, BN or init for W1-W3; here they are
bias-free (as in the released code) with PyTorch's default init.

variant="released" is the authors' released CME (spec A.1.1 [CODE] 1-4):
  1. W1 and W2 run at full resolution before the pooling, each followed by BN and ReLU:
     z_t = GAP(ReLU(BN(W1 x_t))), k_t = GAP(ReLU(BN(W2 x_t))); this costs ~2 C^2 H W / r MACs per frame;
  2. d_tj = -k_t . k_j as above (the code's names for the two branches are swapped; same structure);
  3. the softmax runs over t (the columns of the (T, T) matrix sum to 1), not over j;
  4. a_t = sigmoid(ReLU(BN(W3 zhat_t))), so the gate lies in [0.5, 1).

Frames are mixed with batched matrix products, never a loop over T.
"""
import torch
from torch import nn


class ChannelMotionEnhancement(nn.Module):
    VARIANTS = ("paper", "released")

    def __init__(self, channels: int, num_segments: int, r1: int = 8, r2: int | None = None,
                 variant: str = "paper"):
        super().__init__()
        r2 = r1 if r2 is None else r2
        for name, r in (("r1", r1), ("r2", r2)):
            if not isinstance(r, int) or r < 1 or channels % r:
                raise ValueError(f"{name}={r!r} must be a positive integer that divides channels={channels}")
        if variant not in self.VARIANTS:
            raise ValueError(f"variant={variant!r}: expected one of {self.VARIANTS}")
        self.num_segments = num_segments
        self.variant = variant
        if variant == "paper":
            self.value = nn.Linear(channels, channels // r1, bias=False)  # W1 on xbar_t
            self.key = nn.Linear(channels, channels // r2, bias=False)  # W2 on xbar_t
            self.expand = nn.Linear(channels // r1, channels, bias=False)  # W3
        else:
            self.value = _conv_bn_relu(channels, channels // r1)  # W1 at full resolution
            self.key = _conv_bn_relu(channels, channels // r2)  # W2 at full resolution
            self.expand = nn.Linear(channels // r1, channels, bias=False)  # W3
            self.expand_bn = nn.BatchNorm1d(channels)

    def _projections(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z (N, T, C/r1) and k (N, T, C/r2)."""
        n = x.shape[0] // self.num_segments
        if self.variant == "paper":
            pooled = x.mean((2, 3))  # xbar_t, (N*T, C): one GAP shared by W1 and W2
            z, k = self.value(pooled), self.key(pooled)
        else:
            z, k = self.value(x).mean((2, 3)), self.key(x).mean((2, 3))  # W, BN, ReLU, then GAP
        return z.view(n, self.num_segments, -1), k.view(n, self.num_segments, -1)

    def attention(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """fusion (N, T, T) with zhat = z + fusion @ z, and gate a (N, T, C), for x (N*T, C, H, W)."""
        z, k = self._projections(x)  # (N, T, C/r1), (N, T, C/r2)
        discrepancy = -torch.bmm(k, k.transpose(1, 2))  # (N, T, T): d_tj = -k_t . k_j
        fusion = discrepancy.softmax(dim=2 if self.variant == "paper" else 1)  # over j (paper) or t (code)
        z_hat = torch.baddbmm(z, fusion, z)  # z + fusion @ z in one call: (N, T, C/r1), Eq. 5
        logits = self.expand(z_hat)  # (N, T, C)
        if self.variant == "released":
            logits = torch.relu(self.expand_bn(logits.flatten(0, 1))).view_as(logits)
        return {"fusion": fusion, "gate": torch.sigmoid(logits)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nt, c = x.shape[:2]
        return x * self.attention(x)["gate"].reshape(nt, c, 1, 1)  # Eq. 1

    def extra_repr(self) -> str:
        return f"num_segments={self.num_segments}, variant={self.variant!r}"


def _conv_bn_relu(channels_in: int, channels_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(channels_in, channels_out, 1, bias=False),
                         nn.BatchNorm2d(channels_out), nn.ReLU(inplace=True))
