"""Generate the cpu-powered synth-something TRAIN split (640 clips) + first 16 validation clips into OUT,
with whatever cmrlib is on PYTHONPATH. Train clip plans are unchanged (plans depend on profile name + index,
train first). Usage: gen_train.py OUT [PROFILE]"""
import sys, json, hashlib
from cmrlib.data import synth
out = sys.argv[1]; profile = sys.argv[2] if len(sys.argv) > 2 else "cpu-powered"
full = synth.plan_clips("synth-something", profile)
synth.SYNTH_PROFILES[profile] = {**synth.SYNTH_PROFILES[profile], "val_clips": 16}
cut = synth.plan_clips("synth-something", profile)
assert [p for p in full if p.split == "train"] == [p for p in cut if p.split == "train"]
assert cut[640:] == full[640:656]
synth.generate("synth-something", profile, out, workers=1)
