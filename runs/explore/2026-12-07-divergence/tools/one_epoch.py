"""Train epoch 1 of the committed run's config on DATA (config 'data' set), stop after metrics row 1.
Usage: one_epoch.py RUN_DIR(committed) DATA OUT"""
import sys, json, os
from pathlib import Path
import torch
import os
if os.environ.get("FTZ"): print("flush_denormal", torch.set_flush_denormal(True))  # the flush-denormal probe
from cmrlib import config as configlib, runs, train as trainlib
run, data, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
committed = json.loads((run / "config.json").read_text())
committed.pop("provenance"); committed.pop("run_key")
config = configlib.resolve(committed["method"], committed["profile"], {"seed": committed["seed"], **{k: v for k, v in committed.items() if k not in ("method", "profile")}, "data": data})
diff = {k: (committed.get(k), config.get(k)) for k in set(committed) | set(config) if committed.get(k) != config.get(k)}
print("config differences (committed, resolved):", diff, flush=True)
class Stop(Exception): pass
orig = runs.atomic_write_jsonl
def hook(path, rows):
    orig(path, rows)
    if rows:
        raise Stop(rows[0])
runs.atomic_write_jsonl = hook
try:
    trainlib.train(config, out, restart=True)
except Stop as s:
    row = s.args[0]
    print("EPOCH1", repr(row["loss"]), row["train_top1"], "threads", torch.get_num_threads(), flush=True)
