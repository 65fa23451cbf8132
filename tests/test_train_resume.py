"""A real `python -m cmrlib train` process killed with SIGKILL inside an epoch, then run again with --resume,
ends with the same metrics as an uninterrupted run."""
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from cmrlib import runs

ARGS = ["--method", "tsm", "--profile", "smoke", "frames=4", "epochs=2", "train_subset=16", "val_subset=8",
        "batch_size=2", "checkpoint_every=1", "threads=1"]
TIMING = ("clips_per_s", "train_time_s", "val_time_s", "wall_time_s")
ENV = dict(os.environ, CMR_QUIET="1", OMP_NUM_THREADS="1")


def command(out, *extra):
    return [sys.executable, "-m", "cmrlib", "train", "--out", str(out), *ARGS, *extra]


def checkpoint_position(path):
    try:
        state = torch.load(path, weights_only=True)
    except (FileNotFoundError, EOFError, RuntimeError):
        return None
    return state["epoch"], state["step"]


def without_timing(rows):
    return [{name: value for name, value in row.items() if name not in TIMING} for row in rows]


@pytest.mark.slow
def test_sigkill_inside_an_epoch_then_resume_gives_the_same_metrics(tmp_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    subprocess.run(command(reference), env=ENV, check=True, timeout=300)

    process = subprocess.Popen(command(killed), env=ENV)
    checkpoint, position, seen, deadline = killed / "checkpoints" / "last.pt", None, None, time.time() + 240
    while time.time() < deadline and process.poll() is None:
        stamp = checkpoint.stat().st_mtime_ns if checkpoint.exists() else None
        if stamp != seen:
            seen, position = stamp, checkpoint_position(checkpoint)
            if position is not None and position[0] == 1 and position[1] >= 2:  # inside the second epoch
                break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert position is not None and position[0] == 1 and not (killed / "final.json").exists()

    subprocess.run(command(killed, "--resume"), env=ENV, check=True, timeout=300)
    assert without_timing(runs.read_jsonl(killed / "metrics.jsonl")) == \
        without_timing(runs.read_jsonl(reference / "metrics.jsonl"))
    final, expected = runs.read_json(killed / "final.json"), runs.read_json(reference / "final.json")
    assert {k: v for k, v in final.items() if k not in TIMING} == {k: v for k, v in expected.items() if k not in TIMING}
    weights = torch.load(killed / "checkpoints" / "last.pt", weights_only=True)["model"]
    expected_weights = torch.load(reference / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(weights[name], expected_weights[name]) for name in weights)
