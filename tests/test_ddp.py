"""`torchrun --nproc_per_node=2 -m cmrlib train` (gloo on CPU) against one process with the same global batch.

DDP averages the gradients of the two half-batches, which equals the gradient of the whole batch, and
torch's DistributedSampler gives the two processes the two halves of the one-process batch. BatchNorm
statistics are per process, and torch's SyncBatchNorm has no CPU kernel, so the comparison runs with
bn=frozen (BN on its running statistics, affine parameters still trained), dropout 0 and a small lr (frozen
BN at init does not normalise, and a large lr makes the run chaotic). What remains is floating-point
summation order: losses and accuracies agree within 1e-5 and every weight within 1e-5 (absolute; measured
differences are ~1e-7).
"""
import os
import subprocess
import sys

import pytest
import torch

from cmrlib import runs

ARGS = ["--method", "tsm", "--profile", "smoke", "frames=4", "epochs=2", "train_subset=16", "val_subset=8",
        "batch_size=8", "bn=frozen", "dropout=0.0", "lr=0.02", "threads=1"]
ENV = dict(os.environ, CMR_QUIET="1", OMP_NUM_THREADS="1")
METRIC_TOLERANCE, WEIGHT_TOLERANCE = 1e-5, 1e-5


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path):
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    subprocess.run([sys.executable, "-m", "cmrlib", "train", "--out", str(single), *ARGS],
                   env=ENV, check=True, timeout=300)
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                    "-m", "cmrlib", "train", "--out", str(ddp), *ARGS], env=ENV, check=True, timeout=300)

    assert runs.read_json(ddp / "config.json")["provenance"]["world_size"] == 2
    one, two = runs.read_jsonl(single / "metrics.jsonl"), runs.read_jsonl(ddp / "metrics.jsonl")
    assert len(one) == len(two) == 2
    for a, b in zip(one, two):
        assert (a["train_clips"], a["steps"]) == (b["train_clips"], b["steps"]) == (16, 2)
        assert a["lr"] == b["lr"]
        for name in ("loss", "train_top1", "val_top1", "val_top5", "val_loss"):
            assert abs(a[name] - b[name]) <= METRIC_TOLERANCE, (name, a[name], b[name])
    first = torch.load(single / "checkpoints" / "last.pt", weights_only=True)["model"]
    second = torch.load(ddp / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert set(first) == set(second)
    worst = max(float((first[name].double() - second[name].double()).abs().max()) for name in first
                if first[name].is_floating_point())
    assert worst <= WEIGHT_TOLERANCE, worst
