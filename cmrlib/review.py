"""What a reviewer checks beside the verdicts: that two pages never give one comparison two intervals, the claims
whose test protocol the review changed, decided on the reviewed profile's committed runs, every claim's verdict
before and after the reviewed protocol, and the picture that
opens the claims chapter (a forest plot of the core checks)."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from cmrlib.stats import ALPHA, HELD, INCONCLUSIVE, NO_LARGER_GAIN, NOT_HELD


def inconsistencies(notebooks) -> list:
    """Comparisons that two executed pages report with different 95 % intervals: the rows of
    ``differences_frame`` tables ("label" against "against") and of the claims chapter's checks table (a check
    "A > B"), read from the records ``cmrlib.show.table`` stores with each table. [(comparison, {page: interval})]."""
    import json
    from pathlib import Path

    seen: dict = {}
    for path in notebooks:
        for cell in json.loads(Path(path).read_text()).get("cells", []):
            for output in cell.get("outputs", []):
                records = output.get("metadata", {}).get("text/html", {}).get("cmr_records") or []
                for row in records:
                    if {"label", "against", "interval_95"} <= set(row):
                        pair = (row["label"], row["against"])
                    elif {"check", "interval_95"} <= set(row) and re.fullmatch(r"[^:]+ > [^:]+", row["check"]):
                        pair = tuple(row["check"].split(" > ", 1))
                    else:
                        continue
                    seen.setdefault(pair, {})[Path(path).stem] = row["interval_95"]
    return [(f"{a} vs {b}", pages) for (a, b), pages in seen.items() if len(set(pages.values())) > 1]


REVIEWED_PROFILE = "cpu-final"
REVIEWED_CLAIMS = ("5", "6", "7", "8", "12")  # the claims whose test protocol issue 24 changed


def reviewed_inputs(profile: str = REVIEWED_PROFILE) -> dict:
    """The committed runs of the reviewed protocol's Table 1 (8 and 16 frames with the TIM/TSM controls,
    multi-view and direction evaluations as cached), without training or evaluating anything, and the R50
    runtime file of claims 5-7."""
    from cmrlib import experiments as ex

    from cmrlib.bench import runtime

    specs, seeds, extra = ex.page_grids(profile)["table1"]
    return {"table1": ex.grid(specs, profile, seeds, **extra, cached_only=True, flops=False),
            "runtime": runtime.load()}


def reviewed_frame(here: list, reviewed: list, here_profile: str, profile: str = REVIEWED_PROFILE) -> pd.DataFrame:
    """Claims 5-8 and 12 as this profile decides them and as the reviewed protocol does, with each core check's
    effect and interval there."""
    theirs = {claim.key: claim for claim in reviewed}
    rows = []
    for claim in here:
        if claim.key not in REVIEWED_CLAIMS:
            continue
        other = theirs.get(claim.key)
        core = [check for check in (other.checks if other else []) if check.core]
        rows.append({"claim": claim.key, "title": claim.title, f"verdict ({here_profile})": claim.verdict,
                     f"verdict ({profile})": other.verdict if other else "n/a",
                     f"core checks ({profile})": "; ".join(f"{c.statement}: {c.effect.diff:+.1f} {c.effect.interval()}"
                                                           for c in core) or (other.note if other else "")})
    return pd.DataFrame(rows)


PREVIOUS_PROFILE = "cpu-powered"  # the book's default before the reviewed protocol (issues 24-26)


def before_after(here: list, here_profile: str) -> pd.DataFrame:
    """On the reviewed profile: every claim's verdict on the earlier default's committed runs (before) beside this
    profile's (after). On another profile: claims 5-8 and 12 here and on the reviewed protocol (``reviewed_frame``)."""
    from cmrlib import claims as claimlib

    if here_profile != REVIEWED_PROFILE:
        return reviewed_frame(here, claimlib.assess(reviewed_inputs()), here_profile)
    before = {claim.key: claim for claim in claimlib.assess(claimlib.inputs(PREVIOUS_PROFILE, cached_only=True))}
    return pd.DataFrame([{"claim": claim.key, "title": claim.title,
                          f"verdict ({PREVIOUS_PROFILE})": before[claim.key].verdict if claim.key in before else "n/a",
                          f"verdict ({here_profile})": claim.verdict,
                          "changed": claim.key in before and before[claim.key].verdict != claim.verdict}
                         for claim in here])


VERDICT_COLOURS = {HELD: "tab:green", NOT_HELD: "tab:red", NO_LARGER_GAIN: "tab:blue", INCONCLUSIVE: "tab:gray"}


def forest_plot(claims, ax=None):
    """One row per core check measured in top-1 points: our effect and its interval (95 %, or a sequential look's
    level, which the row's label then names), coloured by the check's verdict, and the paper's effect for the same
    comparison (a cross) where it has one."""
    import matplotlib.pyplot as plt

    rows = [(claim.key, check) for claim in claims for check in claim.checks if check.core
            and np.isfinite(check.effect.ci_low) and check.effect.n_b != 0 and not any(
                word in check.statement for word in ("latency", "throughput", "AUROC", "overlap", "mass"))]
    if not rows:
        return None
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.32 * len(rows) + 1.2))
    for i, (key, check) in enumerate(reversed(rows)):
        effect = check.effect
        ax.plot([effect.ci_low, effect.ci_high], [i, i], color=VERDICT_COLOURS[effect.verdict], lw=3)
        ax.plot(effect.diff, i, "o", color="black", ms=4)
        if np.isfinite(check.paper_effect):
            ax.plot(check.paper_effect, i, "x", color="tab:purple", ms=7, mew=2)
    ax.axvline(0, color="black", lw=0.8)
    def label(key, check):
        alpha = check.effect.alpha
        return f"{key}: {check.statement}" + (f" ({100 * (1 - alpha):.2f} %)" if alpha != ALPHA else "")

    ax.set_yticks(range(len(rows)), [label(key, check) for key, check in reversed(rows)], fontsize="small")
    ax.set_xlabel("difference in top-1 points: ours (dot, interval coloured by verdict); paper (purple x)")
    handles = [plt.Line2D([], [], color=colour, lw=3, label=verdict) for verdict, colour in VERDICT_COLOURS.items()]
    ax.legend(handles=handles, fontsize="small", loc="lower right")
    return ax
