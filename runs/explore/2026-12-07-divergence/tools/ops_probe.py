"""sha1 of the outputs (and input grads) of the ops used by the gate modules, on fixed random inputs, at
1 thread. Run under different ATEN_CPU_CAPABILITY / ONEDNN_MAX_CPU_ISA / MKL_CBWR to see which depend on the
CPU path. Shapes as in cmr-default-T8 cpu-powered (batch 16 x 8 frames, width 0.25: C=16..128, 56px -> 14..2)."""
import hashlib, torch
torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
def h(t): return hashlib.sha1(t.detach().contiguous().numpy().tobytes()).hexdigest()[:10]
x = torch.randn(128, 32, 14, 14, generator=g)
v = torch.randn(128, 64, generator=g) * 4
lin = torch.nn.Linear(64, 8, bias=False); lin.weight.data = torch.randn(8, 64, generator=g)
k = torch.randn(16, 8, 8, generator=g); z = torch.randn(16, 8, 8, generator=g); f = torch.rand(16, 8, 8, generator=g)
w = torch.randn(64, 32, 3, 3, generator=g) * 0.1
out = {
 "mean(2,3)": h(x.mean((2, 3))),
 "adaptive_avg_pool2d": h(torch.nn.functional.adaptive_avg_pool2d(x, 1)),
 "sigmoid": h(torch.sigmoid(v)),
 "softmax": h(v.softmax(1)),
 "exp": h(v.exp()),
 "relu": h(torch.relu(v)),
 "mul": h(x * 1.37),
 "linear(64->8)": h(lin(v)),
 "bmm": h(torch.bmm(k, k.transpose(1, 2))),
 "baddbmm": h(torch.baddbmm(z, f, z)),
 "conv3x3": h(torch.nn.functional.conv2d(x, w, padding=1)),
 "batchnorm(train)": h(torch.nn.functional.batch_norm(x, None, None, training=True)),
}
vv = v.clone().requires_grad_(); torch.sigmoid(vv).sum().backward(); out["sigmoid_backward"] = h(vv.grad)
xx = x.clone().requires_grad_(); (xx.mean((2, 3)) ** 2).sum().backward(); out["mean_backward"] = h(xx.grad)
print(" ".join(f"{k}={v}" for k, v in out.items()))
