"""sha1 of rendered frames and of the encoded mp4 for the first N train + first N validation clips of
cpu-powered synth-something, with whatever cmrlib is on PYTHONPATH. Prints one combined digest per kind and
writes per-clip sha1s to OUT.json"""
import sys, json, hashlib
from cmrlib.data import synth
out, n = sys.argv[1], int(sys.argv[2])
prof = synth.SYNTH_PROFILES["cpu-powered"]
plans = synth.plan_clips("synth-something", "cpu-powered")
chosen = [p for p in plans if p.split == "train"][:n] + [p for p in plans if p.split == "validation"][:n]
rows = {}
for p in chosen:
    frames, _ = synth.render_clip("synth-something", p.label, p.seed, p.num_frames, prof["size"], scene=prof.get("scene"))
    rows[p.id] = {"seed": p.seed, "label": p.label, "frames": p.num_frames, "fps": p.fps,
                  "render": hashlib.sha1(frames.tobytes()).hexdigest(),
                  "mp4": hashlib.sha1(synth.encode_mp4(frames, p.fps)).hexdigest()}
json.dump({"fingerprint": synth.fingerprint("synth-something", "cpu-powered"), "versions": synth.GENERATOR_VERSIONS, "clips": rows}, open(out, "w"), indent=1)
allr = hashlib.sha1("".join(r["render"] for r in rows.values()).encode()).hexdigest()[:12]
allm = hashlib.sha1("".join(r["mp4"] for r in rows.values()).encode()).hexdigest()[:12]
plan = hashlib.sha1(json.dumps([(p.id, p.seed, p.label, p.num_frames, p.fps) for p in chosen]).encode()).hexdigest()[:12]
print(f"clips={len(rows)} plan={plan} render={allr} mp4={allm} fingerprint={synth.fingerprint('synth-something','cpu-powered')[:12]} versions={synth.GENERATOR_VERSIONS}")
