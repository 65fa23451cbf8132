"""Cache the evaluations the pages need beyond training (multi-view testing, direction accuracy) for the finished
cpu-powered runs while their checkpoints are on this machine, so that a clean clone's book reads them back.
Runs that are not finished are left alone (never trained here). Part k of n (runs i with i % n == k), so that
two of these can share the work.
    CMR_QUIET=1 .venv/bin/python runs/logs/evaluate_powered.py [K N]
"""
import sys

from cmrlib import experiments as ex

k, n = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (0, 1)
index = 0
for name, (specs, seeds, options) in ex.page_grids("cpu-powered").items():
    if not options:
        continue
    for spec in specs:
        for seed in ex.parse_seeds(seeds):
            run_dir, _ = ex.find_run(ex.resolve(spec, "cpu-powered", seed))
            if run_dir is None or not (run_dir / "final.json").exists():
                continue
            index += 1
            if (index - 1) % n != k:
                continue
            row = ex.run_spec(spec, "cpu-powered", seed, **options)
            print(name, spec.label, spec.overrides.get("frames", 8), seed,
                  {key: row.get(key) for key in ("top1", "top1_multiview", "direction_acc")}, flush=True)
