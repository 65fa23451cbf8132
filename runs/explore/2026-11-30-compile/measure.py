"""Does torch.compile (inductor, CPU) or channels_last speed up cpu-profile training? (powered-verdicts issue, 4)

Times real training steps (cmrlib.train: forward, loss, backward, clipping, SGD) of TSN and CMR at the cpu
profile's shapes (R18 x0.25, 8 x 56 px, batch 16, one thread), eager against channels_last against
torch.compile, round-robin, process CPU time (steadier than wall time on a shared machine), median of rounds.
Also checks determinism: two compiled models from the same seed give the same loss after 3 steps.

    .venv/bin/python runs/explore/2026-11-30-compile/measure.py [--no-compile]   -> result.json here
"""
import json
import statistics
import time
from pathlib import Path

import torch

from cmrlib import config as configlib, runs
from cmrlib import train as trainlib
from cmrlib.checkpoint import build_model

HERE = Path(__file__).resolve().parent
ROUNDS, STEPS = 5, 3


def setup(method, variant):
    config = configlib.resolve(method, "cpu")
    torch.manual_seed(0)
    model = build_model(config, 16)
    if variant == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    optimizer = trainlib.make_optimizer(model, config)
    trainlib.set_train_mode(model, config["bn"])
    run = torch.compile(model) if variant == "compile" else model
    generator = torch.Generator().manual_seed(1)
    clip = torch.randn(config["batch_size"], config["frames"], 3, config["size"], config["size"], generator=generator)
    if variant == "channels_last":
        clip = clip.flatten(0, 1).contiguous(memory_format=torch.channels_last).unflatten(0, clip.shape[:2])
    labels = torch.randint(0, 16, (config["batch_size"],), generator=generator)

    def step():
        loss = trainlib.classification_loss(run(clip), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 20.0)
        optimizer.step()
        return loss.item()
    return step


def main():
    torch.set_num_threads(1)
    import sys
    variants = ("eager", "channels_last") if "--no-compile" in sys.argv else ("eager", "channels_last", "compile")
    result = {"provenance": runs.provenance("cpu"), "rounds": ROUNDS, "steps_per_timing": STEPS, "methods": {}}
    for method in ("tsn", "cmr"):
        steps = {}
        for variant in variants:
            tic = time.perf_counter()
            steps[variant] = setup(method, variant)
            steps[variant]()  # warm-up (and compilation)
            result.setdefault("first_step_s", {})[f"{method}-{variant}"] = time.perf_counter() - tic
        times = {v: [] for v in variants}
        for round_ in range(ROUNDS):
            for variant in variants[round_ % len(variants):] + variants[:round_ % len(variants)]:
                tic = time.process_time()
                for _ in range(STEPS):
                    steps[variant]()
                times[variant].append((time.process_time() - tic) / STEPS)
        median = {v: statistics.median(t) for v, t in times.items()}
        repeated = [setup(method, variants[-1]) for _ in range(2)]
        losses = [[step() for _ in range(3)] for step in repeated]
        result["methods"][method] = {"step_cpu_s": median, "speedup_vs_eager": {v: median["eager"] / median[v] for v in variants},
                                     f"{variants[-1]}_runs_identical": losses[0] == losses[1]}
        print(method, json.dumps(result["methods"][method]), flush=True)
    runs.atomic_write_json(HERE / "result.json", result)


if __name__ == "__main__":
    main()
