"""Re-compute tests/test_golden.py's training_steps for every method and compare with the recorded golden
values EXACTLY (the test itself allows rtol 1e-4). Run from the checkout root with PYTHONPATH=. """
import json, sys
import numpy as np
sys.path.insert(0, "tests")
import test_golden as tg
from cmrlib import runs
rec = json.load(open("tests/golden/training.json"))["TRAINING_VERSION"][str(runs.TRAINING_VERSION)]
for method, options in tg.VARIANTS:
    case = method + "".join(f"-{k}={v}" for k, v in sorted(options.items()))
    got = tg.training_steps(method, options)
    r = rec[case]
    same_l = got["losses"] == r["losses"]; same_g = got["logits"] == r["logits"]
    dl = np.max(np.abs(np.subtract(got["losses"], r["losses"])) / np.abs(r["losses"]))
    dg = np.max(np.abs(np.subtract(got["logits"], r["logits"])))
    first = next((i for i, (a, b) in enumerate(zip(got["losses"], r["losses"])) if a != b), None)
    print(f"{case:24s} losses identical={same_l} logits identical={same_g} first differing step={first} "
          f"max rel loss diff={dl:.2e} max abs logit diff={dg:.2e}", flush=True)
