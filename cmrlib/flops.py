"""FLOPs (as multiply-adds, the papers' convention) and parameters of every method.

    python -m cmrlib flops --depth 50 --frames 8 --size 224 --classes 174 [--json] [--width W] [--small-input]

Counts come from torch.utils.flop_counter.FlopCounterMode, run on the meta device (no memory, no compute)
for one view of batch 1. It counts convolutions and matrix products (conv, mm, addmm, bmm) at 2 FLOPs
per multiply-add; we halve it to report MACs, which is what the papers call "FLOPs" (ResNet-50 at 224 px
is ~4.1 G per frame, "33G" for 8 frames). Element-wise work (shifts, gates, the cosine of SME, BN, ReLU,
pooling) is not counted, as in the papers' counters. The paper columns are the numbers the papers print.
"""
import argparse
import json
import sys

import torch
from torch.utils.flop_counter import FlopCounterMode

from cmrlib.models import build_model

# (label, method, options); the CMR variants cover the ablations of CMR Tables 3-6
ROWS = [
    ("tsn", "tsn", {}),
    ("tsm", "tsm", {}),
    ("tim", "tim", {}),
    ("teinet", "teinet", {}),
    ("stm", "stm", {}),
    ("tea", "tea", {}),
    ("pem", "pem", {}),
    ("cmr", "cmr", {}),
    ("cmr variant=released", "cmr", {"variant": "released"}),
    *[(f"cmr r={r}", "cmr", {"r": r}) for r in (1, 4, 16)],
    *[(f"cmr variant=released r={r}", "cmr", {"variant": "released", "r": r}) for r in (1, 4, 16)],
    ("cmr cme=part", "cmr", {"cme": "part"}),
    ("cmr sme=all", "cmr", {"sme": "all"}),
    ("cmr cme=part sme=all", "cmr", {"cme": "part", "sme": "all"}),
    ("cmr sme=none (TIM+CME)", "cmr", {"sme": "none"}),
    ("cmr cme=none (TIM+SME)", "cmr", {"cme": "none"}),
    ("cmr tim=False (TSN+CME&SME)", "cmr", {"tim": False}),
]

# label -> (GMACs at 8 frames, GMACs at 16 frames, params in M, source), as printed; ResNet-50 at 224 px
PAPER = {
    "tsn": (33, None, 24.3, "TEINet Table 2; its 24.3M fits a 400-class head"),
    "tsm": (32.9, 65.8, 23.9, "STM Table 9; CMR Table 1: 33G"),
    "tim": (33, 66, 24.3, "TEINet Table 2 (Res50+TIM); 24.3M fits a 400-class head"),
    "teinet": (33, 66, 30.4, "TEINet Table 2; 30.4M fits a 400-class head"),
    "stm": (33.3, 66.5, 24.0, "STM Table 9; CMR Table 1: 33G"),
    "tea": (35, 70, None, "TEA; CMR Table 1"),
    "pem": (33, 66, None, "TDRL in CMR Table 1; ours is a stand-in"),
    "cmr": (33, 66, None, "CMR Tables 1 and 3"),
    "cmr variant=released": (33, None, None, "CMR Table 1 (the paper's number)"),
    **{f"cmr{v} r={r}": (g, None, None, "CMR Table 3")
       for r, g in ((1, 55), (4, 39), (16, 32)) for v in ("", " variant=released")},
}


def count(model: torch.nn.Module, input_shape: tuple[int, ...]) -> tuple[int, int]:
    """(multiply-adds, parameters) of one forward pass of `model` on a zero tensor of `input_shape`.

    Runs in eval mode without gradients, on the device of the model's parameters (build the model under
    `torch.device("meta")` to count a large model for free).
    """
    params = sum(p.numel() for p in model.parameters())
    device = next(model.parameters()).device
    training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(input_shape, device=device))
    finally:
        model.train(training)
    return counter.get_total_flops() // 2, params  # the counter reports 2 FLOPs per multiply-add


def table(depth: int = 50, frames: int = 8, size: int = 224, classes: int = 174, width: float = 1.0,
          small_input: bool = False, labels: list[str] | None = None) -> list[dict]:
    """One dict per row of ROWS (or of those named in `labels`): label, method, options, gmacs, params_m,
    and the paper's numbers. STM and TEA exist only at depth 50 and are left out at depths 18 and 34."""
    paper_setting = depth == 50 and width == 1.0 and size == 224 and not small_input and frames in (8, 16)
    rows = []
    for label, method, options in ROWS:
        if (depth != 50 and method in ("stm", "tea")) or (labels is not None and label not in labels):
            continue
        with torch.device("meta"):
            model = build_model(method, classes, frames, depth=depth, width=width, small_input=small_input,
                                **options)
        macs, params = count(model, (1, frames, 3, size, size))
        g8, g16, paper_params, source = PAPER.get(label, (None, None, None, ""))
        rows.append({
            "label": label, "method": method, "options": options,
            "gmacs": macs / 1e9, "params_m": params / 1e6,
            "paper_gmacs": (g8 if frames == 8 else g16) if paper_setting else None,
            "paper_params_m": paper_params if paper_setting else None,
            "paper_source": source if paper_setting else "",
        })
    return rows


def dataframe(**kwargs):
    """table(**kwargs) as a pandas DataFrame indexed by label."""
    import pandas as pd
    return pd.DataFrame(table(**kwargs)).set_index("label")


def format_table(rows: list[dict]) -> str:
    def printed(value):
        return "-" if value is None else f"{value:g}"

    lines = [f"{'model':<30} {'GMACs':>8} {'params M':>9} {'paper G':>8} {'paper M':>8}  paper source",
             "-" * 100]
    for row in rows:
        lines.append(f"{row['label']:<30} {row['gmacs']:>8.2f} {row['params_m']:>9.2f} "
                     f"{printed(row['paper_gmacs']):>8} {printed(row['paper_params_m']):>8}  "
                     f"{row['paper_source']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cmrlib flops", description=__doc__.split("\n\n")[0])
    parser.add_argument("--depth", type=int, default=50, choices=(18, 34, 50))
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=174)
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--small-input", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    rows = table(args.depth, args.frames, args.size, args.classes, args.width, args.small_input)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(f"ResNet-{args.depth} width={args.width} small_input={args.small_input}, {args.frames} frames "
              f"x {args.size}x{args.size}, {args.classes} classes, 1 view, batch 1")
        print(format_table(rows))
        print("\nGMACs: multiply-adds of convolutions and matrix products (torch.utils.flop_counter, halved).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
