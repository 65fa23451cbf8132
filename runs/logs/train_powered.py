"""Train the cpu-powered grid, most claims first (Table 6, 4, 2, 1 at 8 frames, long-range, variants, 3, 5,
Table 1 at 16 frames), one process, part k of n (runs i with i % n == k), so that two of these share the work.
Part 0 first makes the synth-longrange set (its runs come much later in the order).
    CMR_QUIET=1 .venv/bin/python runs/logs/train_powered.py K N
"""
import sys
import time

from cmrlib import experiments as ex
from cmrlib import loaders, runs

k, n = int(sys.argv[1]), int(sys.argv[2])
order = ["table6", "table4", "table2", "table1", "longrange", "variants", "table3", "table5"]
grids = ex.page_grids("cpu-powered")
configs = {}
for name in order:
    specs, seeds, _ = grids[name]
    for spec in specs:
        for seed in ex.parse_seeds(seeds):
            config = ex.resolve(spec, "cpu-powered", seed)
            configs.setdefault(runs.default_run_dir(config), config)
todo = sorted(configs.items(), key=lambda item: item[1]["frames"])  # stable: 8 frames first, this order kept
todo = [(run_dir, config) for run_dir, config in todo if not (run_dir / "final.json").exists()]  # split what is left
if k == 0:
    longrange = next(config for config in configs.values() if config["benchmark"] == "synth-longrange")
    loaders.dataset_root(longrange)
for index, (run_dir, config) in enumerate(todo):
    if index % n != k:
        continue
    tic = time.perf_counter()
    _, reused = ex.train_cached(config)
    print(f"[{index + 1}/{len(todo)}] {'reused' if reused else 'trained'} {run_dir.relative_to(runs.project_root())} "
          f"in {time.perf_counter() - tic:.0f} s", flush=True)
