"""Train the cpu-powered synth-physics grid (Table 1's second column, issue 18), part k of n (runs i with
i % n == k), so that two of these share the 2 cores. The synth-physics set must exist (python -m cmrlib synth
--benchmark synth-physics --profile cpu-powered), or part 0 makes it first.
    CMR_QUIET=1 .venv/bin/python runs/logs/train_physics.py K N
"""
import sys
import time

from cmrlib import experiments as ex
from cmrlib import runs

k, n = int(sys.argv[1]), int(sys.argv[2])
specs, seeds, _ = ex.page_grids("cpu-powered")["physics"]
# seed-major: all methods at seed 0 first, so that a partial grid is still a complete paired comparison
pairs = [(spec, seed) for seed in ex.parse_seeds(seeds) for spec in specs]
todo = [(spec, seed) for spec, seed in pairs
        if not (runs.default_run_dir(ex.resolve(spec, "cpu-powered", seed)) / "direction.json").exists()]
for index, (spec, seed) in enumerate(todo):
    if index % n != k:
        continue
    tic = time.perf_counter()
    row = ex.run_spec(spec, "cpu-powered", seed, direction=True)  # trains, then the direction evaluation
    print(f"[{index + 1}/{len(todo)}] {'reused' if row['reused'] else 'trained'} {row['run_dir']}: top-1 "
          f"{row['top1']:.1f}, direction {row['direction_acc']:.1f}, in {time.perf_counter() - tic:.0f} s", flush=True)
