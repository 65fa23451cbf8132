"""The CMR paper's own numbers (Wu et al., AAAI 2021, Tables 1-7), copied as printed.

Everything in this module is **the paper's**, not ours: it is what the book sets beside our measurements.
Source: paper-spec §B.1 (the tables as printed in the paper; "-" printed dashes are ``None``). Accuracies are
top-1 (or top-5) in percent, FLOPs in G multiply-adds per view as the paper counts them, latency in ms on one
Tesla V100 at batch 1, throughput in videos/s at batch 8.

Each table is a function returning a fresh ``pandas.DataFrame``. The column ``ours`` names the row label of
our reproduction that stands for the paper's row (``None`` when we do not reproduce that row), so that a
notebook can merge the two tables on it. Our stand-ins: TDRL -> "PEM (stand-in)", Something-Something V1 ->
synth-something, Kinetics-400 -> synth-kinetics, ResNet-50 -> the profile's backbone.
"""
from __future__ import annotations

import pandas as pd

SOURCE = "Wu et al., Learning Comprehensive Motion Representation for Action Recognition, AAAI 2021"

# Paper row name -> the label of our row (cmrlib.experiments.DISPLAY), for Tables 1 and 2.
PAPER_TO_LABEL = {"TSM": "TSM", "TEI": "TEINet", "TEINet": "TEINet", "STM": "STM", "TEA": "TEA",
                  "TDRL": "PEM (stand-in)", "CMR": "CMR"}

_TABLE1 = [
    # method, backbone, frames, views ("1" = 1 clip x centre crop, "2x3" = 2 clips x 3 crops), GFLOPs, Val1, Test1, Val2, Test2
    ("I3D", "ResNet3D-50", 32, "2", 306, 41.6, None, None, None),
    ("NL-I3D", "ResNet3D-50", 32, "2", 334, 44.4, None, None, None),
    ("NL-I3D + GCN", "ResNet3D-50", 32, "2", 606, 46.1, 45.0, None, None),
    ("ECO", "BNIncep+Res3D-18", 16, "1", 64, 41.6, None, None, None),
    ("ECO", "BNIncep+Res3D-18", 92, "1", 267, 46.4, 42.3, None, None),
    ("TSM", "ResNet2D-50", 8, "1", 33, 45.6, None, 59.1, None),
    ("TSM", "ResNet2D-50", 16, "1", 65, 47.2, 46.0, 63.4, 64.3),
    ("TEI", "ResNet2D-50", 8, "1", 33, 47.4, None, 61.3, 60.6),
    ("TEI", "ResNet2D-50", 16, "1", 66, 49.9, None, 62.1, 60.8),
    ("STM", "ResNet2D-50", 8, "1", 33, 49.2, None, 62.3, 61.3),
    ("STM", "ResNet2D-50", 16, "1", 67, 50.7, 43.1, 64.2, 63.5),
    ("TEA", "ResNet2D-50", 8, "1", 35, 48.9, None, None, None),
    ("TEA", "ResNet2D-50", 16, "1", 70, 51.9, None, None, None),
    ("GSM", "Inception V3", 8, "1", 27, 49.0, None, None, None),
    ("GSM", "Inception V3", 16, "1", 54, 50.6, None, None, None),
    ("TDRL", "ResNet2D-50", 8, "1", 33, 49.8, 42.7, 62.6, 61.4),
    ("TDRL", "ResNet2D-50", 16, "1", 66, 50.9, 44.7, 63.8, 62.5),
    ("TDRL", "ResNet2D-50", 8, "2x3", 198, 50.4, None, 63.5, None),
    ("TDRL", "ResNet2D-50", 16, "2x3", 396, 52.0, None, 65.0, None),
    ("CMR", "ResNet2D-50", 8, "1", 33, 51.3, 43.7, 63.7, 62.2),
    ("CMR", "ResNet2D-50", 16, "1", 66, 53.2, 47.4, 65.7, 64.1),
    ("CMR", "ResNet2D-50", 8, "2x3", 198, 51.9, 44.5, 64.6, 63.3),
    ("CMR", "ResNet2D-50", 16, "2x3", 396, 54.3, 48.0, 66.1, 64.7),
]


def table1() -> pd.DataFrame:
    """Table 1: Something-Something V1 & V2, top-1 (%). ``views`` "2x3" rows are the paper's "8f×2"."""
    frame = pd.DataFrame(_TABLE1, columns=["paper_method", "backbone", "frames", "views", "gflops",
                                           "val1", "test1", "val2", "test2"])
    frame["ours"] = frame["paper_method"].map(PAPER_TO_LABEL)
    return frame


_TABLE2 = [
    # method, backbone, frames, GFLOPs per view, views, top-1, top-5
    ("I3D", "Inception V1(I)", 64, 108, None, 72.1, 90.3),
    ("NL+I3D", "ResNet3D-50(I)", 32, 70.5, 30, 74.9, 91.6),
    ("NL+I3D", "ResNet3D-50(I)", 128, 282, 30, 76.5, 92.6),
    ("Slowfast", "ResNet3D-50(S)", None, 36.1, 30, 75.6, 92.1),
    ("Slowfast", "ResNet3D-101(S)", None, 106, 30, 77.9, 93.2),
    ("NL+Slowfast", "ResNet3D-101(S)", None, 234, 30, 79.8, 93.9),
    ("SlowFast+RMS", "ResNet3D-50(S)", 32, None, 30, 76.3, 92.5),
    ("R(2+1)D", "ResNet2D-34(S)", 32, 152, 10, 72.0, 90.0),
    ("S3D-G", "Inception V1(I)", 64, 71.4, 30, 74.7, 93.4),
    ("TSM", "ResNet2D-50(I)", 8, 33, 30, 74.1, None),
    ("TSM", "ResNet2D-50(I)", 16, 65, 30, 74.7, 91.4),
    ("STM", "ResNet2D-50(I)", 16, 67, 30, 73.7, 91.6),
    ("TEINet", "ResNet2D-50(I)", 8, 33, 30, 74.9, 91.8),
    ("TEINet", "ResNet2D-50(I)", 16, 66, 30, 76.2, 92.5),
    ("TEA", "ResNet2D-50(I)", 8, 35, 30, 75.0, 91.8),
    # printed as "35x70"; TEA's own Table 3 gives 70G x 3 x 10 (paper-spec A.1.6 #12)
    ("TEA", "ResNet2D-50(I)", 16, 70, 30, 76.1, 92.5),
    ("TDRL", "ResNet2D-50(I)", 8, 33, 30, 75.7, 92.2),
    ("TDRL", "ResNet2D-50(I)", 16, 66, 30, 76.9, 93.0),
    ("CMR", "ResNet2D-50(I)", 8, 33, 30, 75.9, 92.3),
    ("CMR", "ResNet2D-50(I)", 16, 66, 30, 77.0, 93.0),
]


def table2() -> pd.DataFrame:
    """Table 2: Kinetics-400, top-1 and top-5 (%), FLOPs per view × views (30 = 10 clips × 3 crops)."""
    frame = pd.DataFrame(_TABLE2, columns=["paper_method", "backbone", "frames", "gflops", "views", "top1", "top5"])
    frame["ours"] = frame["paper_method"].map(PAPER_TO_LABEL)
    return frame


def table3() -> pd.DataFrame:
    """Table 3: CME's reduction ratio r (r1 = r2), SthV1 8f. The FLOPs column is not internally consistent
    (paper-spec A.1.6 #1): r=16's 32G is below the plain backbone."""
    return pd.DataFrame({"r": [1, 4, 8, 16], "gflops": [55, 39, 33, 32], "top1": [47.3, 50.6, 51.3, 50.3]})


# The row labels shared by the paper tables below and cmrlib.experiments' grids.
TABLE4_ROWS = {"Res50": "TSN", "Res50+CME&SME": "TSN+CME&SME", "Res50+TIM": "TIM", "Res50+TIM+CME&SME": "TIM+CME&SME"}


def table4() -> pd.DataFrame:
    """Table 4: baseline design, SthV1 8f, top-1 (%)."""
    frame = pd.DataFrame({"paper_model": list(TABLE4_ROWS), "top1": [18.1, 43.5, 46.1, 51.3]})
    frame["ours"] = frame["paper_model"].map(TABLE4_ROWS)
    return frame


def table5() -> pd.DataFrame:
    """Table 5: where CME and SME are inserted ("all" blocks or "part" = first block of each stage)."""
    frame = pd.DataFrame({
        "cme": ["all", "all", "part", "part"],
        "sme": ["all", "part", "all", "part"],
        "top1": [51.0, 51.3, 51.2, 50.4],
        "top5": [79.3, 79.8, 79.2, 78.6],
        "latency_ms": [30.4, 21.4, 26.5, 17.4],
    })
    frame["ours"] = "CME" + frame["cme"] + "+SME" + frame["sme"]
    return frame


TABLE6_ROWS = ["baseline", "+MEM", "+PEM", "+CME", "+SME", "+CME&SME"]


def table6() -> pd.DataFrame:
    """Table 6: each module on the TIM baseline, SthV1 8f. The +PEM row is TDRL's module (ours: the stand-in)."""
    frame = pd.DataFrame({"paper_model": TABLE6_ROWS,
                          "top1": [46.1, 47.4, 48.7, 50.6, 50.6, 51.3],
                          "top5": [74.7, 76.6, 77.8, 79.4, 78.9, 79.8]})
    frame["ours"] = frame["paper_model"]
    return frame


TABLE7_ROWS = {"TSM": "TSM", "TEI": "TEINet", "STM": "STM", "TDRL": "PEM (stand-in)",
               "baseline+CME": "TIM+CME", "baseline+SME": "TIM+SME", "baseline+CME&SME": "CMR"}


def table7() -> pd.DataFrame:
    """Table 7: runtime on one Tesla V100. Latency (ms) at batch 1, throughput (videos/s) at batch 8, top-1 (%)."""
    frame = pd.DataFrame({
        "paper_model": list(TABLE7_ROWS),
        "latency_ms": [12.3, 20.4, 14.7, 63.8, 18.9, 16.3, 21.4],
        "throughput": [107.3, 78.5, 93.2, 49.5, 75.2, 72.6, 61.8],
        "top1": [45.6, 47.4, 49.2, 49.8, 50.6, 50.6, 51.3],
    })
    frame["ours"] = frame["paper_model"].map(TABLE7_ROWS)
    return frame


def all_tables() -> dict:
    return {name: function() for name, function in
            [("table1", table1), ("table2", table2), ("table3", table3), ("table4", table4),
             ("table5", table5), ("table6", table6), ("table7", table7)]}
