"""GPU results that ``python -m cmrlib gpu-check`` wrote and someone committed (runs/benchmarks/*/gpu-check.json),
as frames for the book's Table 7 and PEM pages, beside the committed CPU figures, each column group named
after the device it comes from.

    >>> gpu_results.show("table7")   # the frame, or one sentence saying that no GPU result is committed yet
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from cmrlib import runs

FILE = "gpu-check.json"
CPU_TABLE7 = "runs/benchmarks/2026-11-21-cpu/r50_final.json"  # bench model --table5, R50 8x224, 1 thread
CPU_PEM = "runs/benchmarks/2026-11-21-cpu/pem_r50.json"       # bench pem-scaling, R50, T = 8/16/32
NO_RESULT = ("No GPU result is committed yet: every figure on this page comes from the CPU "
             "(python -m cmrlib gpu-check on a GPU writes runs/benchmarks/<date>-<gpu>/gpu-check.json).")
PRECISION_NAMES = {"fp32": "fp32", "amp": "bf16 autocast, channels_last"}


def stored_results(root=None) -> list[dict]:
    """Every committed gpu-check result measured on CUDA (dry runs and CPU results are left out), oldest
    first, each with its ``path`` relative to ``root`` (default: the project root)."""
    base = Path(root) if root is not None else runs.project_root()
    found = []
    for path in sorted(base.glob(f"runs/benchmarks/*/{FILE}")):
        result = runs.read_json(path)
        if result.get("dry_run") or not str(result.get("provenance", {}).get("device", "")).startswith("cuda"):
            continue
        found.append({**result, "path": str(path.relative_to(base))})
    return sorted(found, key=lambda r: r["provenance"].get("utc_time") or "")


def _read(base: Path, path: str) -> list[dict]:
    full = base / path
    return runs.read_json(full) if full.exists() else []


def _clock(rows: list[dict]) -> str:
    """The suffix of the times the ratios come from: "_cpu" for CPU-time ratios, else "" (wall)."""
    return "_cpu" if rows and rows[0].get("ratio_clock") == "cpu" else ""


def _table7(rows: list[dict]) -> pd.DataFrame:
    suffix = _clock(rows)
    return pd.DataFrame([{"model": r["label"], "latency ms": r["latency_ms" + suffix],
                          "latency / TSM": r.get("latency_vs_tsm"), "videos/s": r["throughput" + suffix],
                          "throughput / TSM": r.get("throughput_vs_tsm")} for r in rows]).set_index("model")


def _pem(rows: list[dict]) -> pd.DataFrame:
    metric = "latency" + ("_cpu" if _clock(rows) else "") + "_ms"
    frames = sorted({r["frames"] for r in rows})
    table = {}
    for r in rows:
        where = "whole model" if r["kind"] == "model" else r["position"]
        entry = table.setdefault((where, r["label"]), {})
        entry[f"T={r['frames']} ms"] = r[metric]
        if r["frames"] == frames[-1]:
            entry[f"T={frames[-1]} / T={frames[0]}"] = r["vs_first_t"]
    return pd.DataFrame.from_dict(table, orient="index").rename_axis(["where", "model"])


def page(kind: str, root=None) -> pd.DataFrame | None:
    """``kind`` "table7" (latency at batch 1, throughput at batch 8, R50 8x224, ratios to TSM) or "pem" (the
    PEM stand-in against CME as T grows): the committed CPU figures and the newest committed GPU result side
    by side, one column group per device (and precision); the paper's V100 ratios with Table 7. None when no
    GPU result is committed."""
    if kind not in ("table7", "pem"):
        raise ValueError(f"kind={kind!r}: expected 'table7' or 'pem'")
    results = stored_results(root)
    if not results:
        return None
    base = Path(root) if root is not None else runs.project_root()
    latest = results[-1]
    gpu = f"GPU: {latest['provenance']['device_name']}"
    sources = []
    if kind == "table7":
        from cmrlib import paper

        cpu = _read(base, CPU_TABLE7)
        if cpu:
            sources.append((f"CPU: {cpu[0]['hardware']}", _table7(cpu)))
        for precision, rows in (latest.get("table7") or {}).items():
            sources.append((f"{gpu}, {PRECISION_NAMES.get(precision, precision)}", _table7(rows)))
        p7 = paper.table7().set_index("ours")
        sources.append(("paper: Tesla V100", pd.DataFrame({
            "latency / TSM": p7["latency_ms"] / p7.loc["TSM", "latency_ms"],
            "throughput / TSM": p7["throughput"] / p7.loc["TSM", "throughput"]}).rename_axis("model").round(3)))
    else:
        cpu = _read(base, CPU_PEM)
        if cpu:
            sources.append((f"CPU: {cpu[0]['hardware']}", _pem(cpu)))
        if latest.get("pem"):
            sources.append((f"{gpu}, fp32", _pem(latest["pem"])))
    if not any(name.startswith("GPU") for name, _ in sources):
        return None
    order = dict.fromkeys(label for name, frame in sources if not name.startswith("paper") for label in frame.index)
    table = pd.concat([frame for _, frame in sources], axis=1, keys=[name for name, _ in sources])
    return table.loc[list(order)]


def show(kind: str, root=None):
    """page(kind, root) after a line naming the files it comes from, or print NO_RESULT and return None."""
    table = page(kind, root)
    if table is None:
        print(NO_RESULT)
        return None
    latest = stored_results(root)[-1]
    p = latest["provenance"]
    print(f"GPU figures: {latest['path']} (commit {(p.get('git_commit') or '?')[:10]}, {p.get('utc_time')}); "
          f"CPU figures: {CPU_TABLE7 if kind == 'table7' else CPU_PEM}")
    return table
