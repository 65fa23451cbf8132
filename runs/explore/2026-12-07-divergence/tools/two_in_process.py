"""Epoch 1 of several committed runs' configs, one after another IN ONE PROCESS (like train_powered.py).
Usage: two_in_process.py DATA RUN_DIR..."""
import sys, json
from pathlib import Path
import torch
from cmrlib import config as configlib, runs, train as trainlib
data = sys.argv[1]
class Stop(Exception): pass
orig = runs.atomic_write_jsonl
def hook(path, rows):
    orig(path, rows)
    if rows: raise Stop(rows[0])
runs.atomic_write_jsonl = hook
for i, run in enumerate(map(Path, sys.argv[2:])):
    c = json.loads((run / "config.json").read_text()); c.pop("provenance"); c.pop("run_key")
    config = configlib.resolve(c["method"], c["profile"], {**{k: v for k, v in c.items() if k not in ("method", "profile")}, "data": data})
    try:
        trainlib.train(config, Path(f"/work/diverge/out/inproc-{i}-{run.name}"), restart=True)
    except Stop as s:
        committed = json.loads((run / "metrics.jsonl").open().readline())["loss"]
        print(f"{run.name}: remake {s.args[0]['loss']!r} committed {committed!r} threads_now {torch.get_num_threads()}", flush=True)
