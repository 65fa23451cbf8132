"""Train the cpu-powered grid in reading order (Table 6, 4, 1, 5, 3, 2, long-range, variants; 16 frames last),
one process, part k of n (runs i with i % n == k), so that two of these share the work without a pool.
    CMR_QUIET=1 .venv/bin/python runs/logs/train_powered.py K N
"""
import sys
import time

from cmrlib import experiments as ex
from cmrlib import runs

k, n = int(sys.argv[1]), int(sys.argv[2])
order = ["table6", "table4", "table1", "table5", "table3", "table2", "longrange", "variants"]
grids = ex.page_grids("cpu-powered")
configs = {}
for name in order:
    specs, seeds, _ = grids[name]
    for spec in specs:
        for seed in ex.parse_seeds(seeds):
            config = ex.resolve(spec, "cpu-powered", seed)
            configs.setdefault(runs.default_run_dir(config), config)
todo = sorted(configs.items(), key=lambda item: item[1]["frames"])  # stable: 8 frames first, reading order kept
for index, (run_dir, config) in enumerate(todo):
    if index % n != k:
        continue
    tic = time.perf_counter()
    _, reused = ex.train_cached(config)
    print(f"[{index + 1}/{len(todo)}] {'reused' if reused else 'trained'} {run_dir.relative_to(runs.project_root())} "
          f"in {time.perf_counter() - tic:.0f} s", flush=True)
