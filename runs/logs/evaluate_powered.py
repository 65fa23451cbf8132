"""Cache the evaluations the pages need beyond training (multi-view testing, direction accuracy) for the finished
cpu-powered runs while their checkpoints are on this machine, so that a clean clone's book reads them back.
Runs that are not finished are left alone (never trained here).
    CMR_QUIET=1 .venv/bin/python runs/logs/evaluate_powered.py
"""
from cmrlib import experiments as ex

for name, (specs, seeds, options) in ex.page_grids("cpu-powered").items():
    if not options:
        continue
    for spec in specs:
        for seed in ex.parse_seeds(seeds):
            run_dir, _ = ex.find_run(ex.resolve(spec, "cpu-powered", seed))
            if run_dir is not None and (run_dir / "final.json").exists():
                row = ex.run_spec(spec, "cpu-powered", seed, **options)
                print(name, spec.label, seed, {k: row.get(k) for k in ("top1", "top1_multiview", "direction_acc")},
                      flush=True)
