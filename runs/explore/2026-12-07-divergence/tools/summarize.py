import re, sys, collections
rows = []
for line in open(sys.argv[1]):
    m = re.match(r"\S+ (\S+) (\S+) (\S+) (\S+) committed=(\S+) remake=EPOCH1 (\S+)", line)
    if m:
        t, c, dirty, name, a, b = m.groups()
        rows.append((t, c, dirty, name, float(a), float(b)))
by = collections.defaultdict(lambda: [0, 0])
for t, c, dirty, name, a, b in rows:
    method = name.split("-T")[0]
    by[method][a == b] += 1
print("method/variant: identical / differing epoch-1 loss")
for k, (diff, same) in sorted(by.items()):
    print(f"  {k:28s} identical {same:2d}  differ {diff:2d}")
print("clean-tree runs:", [(n, a == b) for t, c, d, n, a, b in rows if d == "False"])
rel = [abs(a - b) / a for *_, a, b in rows if a != b]
if rel: print(f"differing: n={len(rel)}, |rel diff| min {min(rel):.2e} median {sorted(rel)[len(rel)//2]:.2e} max {max(rel):.2e}")
