"""The statistics behind every verdict: intervals of differences over seeds, the verdict rule, how many seeds
a difference needs, and how much of the spread is validation sampling.

The rule (the book's claims chapter restates it):

* Every check compares two groups of per-seed numbers, ``a`` and ``b`` (top-1 in percent, or latency in ms
  from repeated timings). A group can also be a fixed reference value (a constant, e.g. chance = 50 %).
* The **effect** is the difference of means ``mean(a) - mean(b)``. Its **spread** is given as the standard
  deviation of each group across seeds and as a 95 % confidence interval of the difference: the paired t
  interval on per-seed differences when both groups hold the same seeds (a blocked design: runs with the same
  seed see the same clips, order and augmentation whatever the method; also two views of one run), else
  Welch's t interval (different seeds, timed repeats) or the one-sample interval against a constant.
  The t quantile (``scipy.stats.t``) uses the floor of the Welch-Satterthwaite degrees of freedom
  (conservative).
* Verdicts, for a check of kind
  - ``greater`` (a > b): **held** if the whole interval is above 0, **not held** if the whole interval is at or
    below 0, **no gain larger than d** if it straddles 0 but ends below d (accuracy checks; d is
    ``cmrlib.claims.GAIN_MARGIN``, a narrow interval around zero is a result), else **inconclusive**;
  - ``not_worse`` (a >= b, within a margin d): **held** if the interval's lower end is above -d, **not held**
    if its upper end is below -d, else inconclusive;
  - ``equivalent`` (a = b within a margin d): **held** if the interval lies inside [-d, d], **not held** if it
    lies entirely outside it, else inconclusive.
* With fewer than two values on a side that is not a constant there is no spread: the check is
  **inconclusive** ("needs at least 2 seeds"), whatever the means say. A smoke-profile book (one seed)
  therefore shows only inconclusive accuracy verdicts, as it should; timing checks have repeated measurements.
* Each check also has a **p-value against** the claim: the two-sided-convention p-value of the test whose
  rejection is the check's "not held" (for ``greater``: the mean difference is below 0; for ``not_worse``:
  below -d; for ``equivalent``: outside [-d, d]), so that "not held" is exactly ``p_against <= 0.05``.
* A claim made of several checks is **held** if all its core checks hold (an intersection-union test: no
  correction is needed for "all hold", Berger 1982); **not held** only if a core check is against it after a
  Holm correction over the claim's core checks (``holm``: adjusted ``p_against <= 0.05``); **no gain larger
  than d** if every core check is decisive and one or more ended so; inconclusive otherwise. A claim with a
  core check that could not run at the profile (no data) is at best inconclusive. Non-core checks are reported
  beside the claim but do not decide it.
* **Sequential seeds** (declared before the cpu-final Tables 3-6 runs were trained, issue 26): in a profile whose
  plan is ``sequential``, the Tables 3-6 checks follow a two-look group-sequential design with O'Brien-Fleming
  boundaries at an overall two-sided α of 0.05 (``SEQUENTIAL_LOOKS``, ``SEQUENTIAL_ALPHAS``). Look 1 is at 10 paired
  seeds: a check's interval is taken at 1 − 0.0052 and its verdict is final if decisive. Where a core check is
  still inconclusive, both configs it compares get seeds 10-19 (``cmrlib.precision.second_look``, recorded once
  in the profile's ``sequential-look1.json``), and look 2 at 20 seeds takes the interval at 1 − 0.0480; no seed
  is added after that. Fewer than 20 seeds count as look 1 (the stricter level). A claim's Holm correction runs at
  the smallest level of its core checks. Checks of other grids (Tables 1-2, synth-physics, synth-longrange,
  timings) have a fixed number of seeds and one look at 0.05.
* **Run health** (declared before the cpu-final runs were trained): a run *failed to train* when its last
  training loss is above ``FAILED_LOSS_FRACTION`` of the chance-level cross-entropy ln K (K classes), i.e. it
  took less than 15 % off the loss of a uniform guess. Failed runs are shown, counted per method, and every
  verdict is given with and without them where the two differ.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

HELD, NOT_HELD, INCONCLUSIVE = "held", "not held", "inconclusive"
NO_LARGER_GAIN = "no gain larger than d"
DECISIVE = (HELD, NOT_HELD, NO_LARGER_GAIN)

KINDS = ("greater", "not_worse", "equivalent")
ALPHA = 0.05
#: The sequential seed rule (module docstring): looks at 10 and 20 paired seeds, nominal two-sided levels of the
#: O'Brien-Fleming boundaries z = 2.797 and 1.977 for two equally spaced looks at overall α = 0.05
#: (tests/test_claims.py recomputes them).
SEQUENTIAL_LOOKS = (10, 20)
SEQUENTIAL_ALPHAS = (0.0052, 0.0480)
FAILED_LOSS_FRACTION = 0.85


def learned(final_loss: float, num_classes: int) -> bool:
    """The run-health rule of the module docstring: False when the last training loss is above
    FAILED_LOSS_FRACTION x ln(num_classes)."""
    return not final_loss > FAILED_LOSS_FRACTION * math.log(num_classes)


def look_alpha(seeds: int) -> float:
    """The nominal level of a sequential check with ``seeds`` paired seeds: look 2's at SEQUENTIAL_LOOKS[1] or
    more, else look 1's (also before look 1 is complete: the stricter level)."""
    return SEQUENTIAL_ALPHAS[1] if seeds >= SEQUENTIAL_LOOKS[1] else SEQUENTIAL_ALPHAS[0]


def holm(p_values) -> list:
    """Holm's (1979) step-down adjusted p-values, in the order given: sort ascending, multiply the i-th smallest
    by (m - i + 1), make the sequence non-decreasing, cap at 1. Rejecting where adjusted <= alpha is Holm's
    procedure at level alpha (family-wise error under any dependence). NaN stays NaN and is not counted."""
    values = [float(p) for p in p_values]
    finite = sorted((p, i) for i, p in enumerate(values) if np.isfinite(p))
    adjusted, running = [float("nan")] * len(values), 0.0
    for rank, (p, i) in enumerate(finite):
        running = max(running, min(1.0, (len(finite) - rank) * p))
        adjusted[i] = running
    return adjusted

def t_quantile_975(df: float, alpha: float = ALPHA) -> float:
    """t_{1 - alpha/2} (t_{0.975} at the default) for ``df`` degrees of freedom (``scipy.stats.t``), at the floor
    of df (a conservative choice); the normal quantile for infinite df."""
    if not df >= 1:
        raise ValueError(f"degrees of freedom must be >= 1 (got {df})")
    if math.isinf(df):
        return float(stats.norm.ppf(1 - alpha / 2))
    return float(stats.t.ppf(1 - alpha / 2, math.floor(df)))

@dataclass
class Effect:
    """The outcome of one check: ``a`` against ``b``."""

    kind: str
    mean_a: float
    mean_b: float
    std_a: float
    std_b: float
    n_a: int
    n_b: int            # 0 for a constant reference
    diff: float         # mean(a) - mean(b)
    ci_low: float
    ci_high: float
    margin: float
    paired: bool
    verdict: str
    reason: str
    p_against: float = float("nan")  # see the module docstring; "not held" <=> p_against <= alpha
    se: float = float("nan")         # standard error of diff, and the t degrees of freedom of its interval
    df: float = float("nan")
    alpha: float = ALPHA             # the interval is at 1 - alpha (a sequential look's level, else 0.05)

    def interval(self, digits: int = 1) -> str:
        """"[low, high]", with its confidence level appended when it is not 95 % (a sequential look)."""
        if not np.isfinite(self.ci_low):
            return "n/a"
        level = "" if self.alpha == ALPHA else f" at {100 * (1 - self.alpha):.2f} %"
        return f"[{self.ci_low:+.{digits}f}, {self.ci_high:+.{digits}f}]{level}"

    def as_dict(self) -> dict:
        return asdict(self)

def _as_array(values) -> np.ndarray:
    array = np.asarray(list(values.values) if isinstance(values, pd.Series) else values, dtype=float).ravel()
    if array.size and not np.all(np.isfinite(array)):
        raise ValueError(f"non-finite value in {array}")
    return array

def _verdict(kind: str, low: float, high: float, margin: float, gain: float | None = None) -> str:
    if kind == "greater":
        if low > 0:
            return HELD
        if high <= 0:
            return NOT_HELD
        return NO_LARGER_GAIN if gain is not None and high < gain else INCONCLUSIVE
    if kind == "not_worse":
        return HELD if low > -margin else NOT_HELD if high < -margin else INCONCLUSIVE
    inside = -margin <= low and high <= margin
    outside = low > margin or high < -margin
    return HELD if inside else NOT_HELD if outside else INCONCLUSIVE

def compare(a, b, kind: str = "greater", margin: float = 0.0, paired: bool = False,
            gain: float | None = None, alpha: float = ALPHA) -> Effect:
    """Compare per-seed values ``a`` with ``b`` (an array, a Series indexed by seed, or a number = a constant).

    ``paired=True`` needs two Series indexed by seed (or equal-length arrays in the same seed order) and uses
    the per-seed differences; otherwise Welch's interval is used. ``gain`` (d, for a "greater" check): an
    interval that is neither above 0 nor at or below 0 but whose upper end is below d ends as "no gain larger
    than d" instead of inconclusive. ``alpha``: the interval is at 1 - alpha (a sequential look's level).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1) (got {alpha})")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS} (got {kind!r})")
    if margin < 0:
        raise ValueError(f"margin must be >= 0 (got {margin})")
    constant = np.isscalar(b)
    if paired and isinstance(a, pd.Series) and isinstance(b, pd.Series):
        common = a.index.intersection(b.index)
        a, b = a.loc[common], b.loc[common]
    a = _as_array(a)
    b_array = np.array([float(b)]) if constant else _as_array(b)
    if a.size == 0 or b_array.size == 0:
        raise ValueError("compare() needs at least one value on each side")
    mean_a, mean_b = float(a.mean()), float(b_array.mean())
    std_a = float(a.std(ddof=1)) if a.size > 1 else float("nan")
    std_b = 0.0 if constant else float(b_array.std(ddof=1)) if b_array.size > 1 else float("nan")
    diff = mean_a - mean_b
    nan = float("nan")

    if paired and not constant:
        if a.size != b_array.size:
            raise ValueError(f"paired comparison needs equal sizes (got {a.size} and {b_array.size})")
        enough = a.size >= 2
        if enough:
            differences = a - b_array
            se = float(differences.std(ddof=1)) / math.sqrt(a.size)
            df = a.size - 1
    else:
        enough = a.size >= 2 and (constant or b_array.size >= 2)
        if enough:
            var_a = std_a ** 2 / a.size
            var_b = 0.0 if constant else std_b ** 2 / b_array.size
            se = math.sqrt(var_a + var_b)
            if se == 0:
                df = math.inf
            else:
                denominator = var_a ** 2 / (a.size - 1) + (0.0 if constant else var_b ** 2 / (b_array.size - 1))
                df = (var_a + var_b) ** 2 / denominator
    if not enough:
        return Effect(kind, mean_a, mean_b, std_a, std_b, int(a.size), 0 if constant else int(b_array.size),
                      diff, nan, nan, margin, paired, INCONCLUSIVE, "needs at least 2 seeds on each side", alpha=alpha)
    half = t_quantile_975(df, alpha) * se
    low, high = diff - half, diff + half
    verdict = _verdict(kind, low, high, margin, gain)
    reason = f"{100 * (1 - alpha):g}% interval of the difference {low:+.2f} .. {high:+.2f}" + (f", margin {margin:g}" if kind != "greater" else "")
    return Effect(kind, mean_a, mean_b, std_a, std_b, int(a.size), 0 if constant else int(b_array.size),
                  diff, low, high, margin, paired, verdict, reason, _p_against(kind, diff, se, df, margin), se, df, alpha)


def _p_against(kind: str, diff: float, se: float, df: float, margin: float, upper: float | None = None) -> float:
    """Twice the one-sided p-value of the test whose rejection is "not held" (t with the interval's df, at its
    floor as in ``t_quantile_975``), capped at 1. The margin is [-margin, upper] (upper = margin by default)."""
    upper = margin if upper is None else upper
    if se == 0:
        below = diff < (-margin if kind == "not_worse" else 0.0)
        return 0.0 if below or (kind == "equivalent" and not -margin <= diff <= upper) else 1.0
    dist = stats.norm if math.isinf(df) else stats.t(math.floor(df))
    if kind == "greater":
        one_sided = dist.cdf(diff / se)
    elif kind == "not_worse":
        one_sided = dist.cdf((diff + margin) / se)
    else:  # outside [-margin, upper]: above it, or below it
        one_sided = min(dist.sf((diff - upper) / se), dist.cdf((diff + margin) / se))
    return float(min(1.0, 2.0 * one_sided))

def combine_corrected(effects) -> str:
    """The claim rule of the module docstring over the core checks' effects: "not held" needs a Holm-adjusted
    p_against at or below the smallest alpha of the checks; "held" needs every check held."""
    effects = list(effects)
    if not effects:
        return INCONCLUSIVE
    adjusted = holm([e.p_against for e in effects])
    level = min(e.alpha for e in effects)
    if any(e.verdict == NOT_HELD and p <= level for e, p in zip(effects, adjusted)):
        return NOT_HELD
    return combine(INCONCLUSIVE if e.verdict == NOT_HELD else e.verdict for e in effects)


def combine(verdicts) -> str:
    """All held -> held; any not held -> not held; all decisive with one or more "no gain larger than d" ->
    no gain larger than d; otherwise (or nothing checked) inconclusive."""
    verdicts = list(verdicts)
    if not verdicts:
        return INCONCLUSIVE
    if any(v == NOT_HELD for v in verdicts):
        return NOT_HELD
    if all(v == HELD for v in verdicts):
        return HELD
    if all(v in DECISIVE for v in verdicts):
        return NO_LARGER_GAIN
    return INCONCLUSIVE


def seeds_needed(sd_difference: float, d: float, power: float = 0.8, alpha: float = 0.05, most: int = 100) -> int:
    """Seeds a paired comparison needs so that a true difference of ``d`` points gives an interval above 0 with
    probability ``power`` (two-sided level ``alpha``): the smallest n with
    P(noncentral t_{n-1}(d sqrt(n) / sd) > t_{1-alpha/2, n-1}) >= power. ``most`` + 1 if none up to ``most``."""
    if not sd_difference > 0 or not d > 0:
        raise ValueError(f"need sd_difference > 0 and d > 0 (got {sd_difference}, {d})")
    for n in range(2, most + 1):
        if _paired_power(d, sd_difference, n, alpha) >= power:
            return n
    return most + 1


def _paired_power(d: float, sd_difference: float, n: int, alpha: float) -> float:
    """P(noncentral t_{n-1}(d sqrt(n) / sd) > t_{1-alpha/2, n-1}): the power of a paired comparison of n seeds."""
    critical = stats.t.ppf(1 - alpha / 2, n - 1)
    return float(stats.nct.sf(critical, n - 1, d * math.sqrt(n) / sd_difference))


def resolvable_difference(sd_difference: float, n: int, power: float = 0.8, alpha: float = 0.05) -> float:
    """The smallest true difference (points) that ``n`` paired seeds resolve with probability ``power``: the d at
    which ``seeds_needed`` would answer n (bisection on the same power, ``_paired_power``)."""
    if not sd_difference > 0 or n < 2:
        raise ValueError(f"need sd_difference > 0 and n >= 2 (got {sd_difference}, {n})")
    low, high = 0.0, 100.0 * sd_difference
    for _ in range(60):
        middle = (low + high) / 2
        if _paired_power(middle, sd_difference, n, alpha) >= power:
            high = middle
        else:
            low = middle
    return high


def sampling_std(top1_percent, clips: int) -> float:
    """Binomial standard deviation (points) of a top-1 measured on ``clips`` validation clips."""
    p = np.clip(np.asarray(top1_percent, dtype=float) / 100.0, 0.0, 1.0)
    return float(100.0 * np.sqrt(np.mean(p * (1 - p)) / clips))


def spread_components(runs: pd.DataFrame, clips: int, metric: str = "top1") -> pd.DataFrame:
    """Per benchmark, label and frame count: the spread of ``metric`` over seeds split into what validation
    sampling alone gives (binomial, ``clips`` clips) and what is left for the training seed
    (sqrt(max(0, total variance - sampling variance)))."""
    rows = []
    for (benchmark, label, frames), group in runs.drop_duplicates("run_dir").groupby(["benchmark", "label", "frames"],
                                                                                     sort=False):
        values = group[metric].to_numpy(dtype=float)
        total = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
        sampling = sampling_std(values, clips)
        seed = math.sqrt(max(0.0, total ** 2 - sampling ** 2)) if np.isfinite(total) else float("nan")
        rows.append({"benchmark": benchmark, "label": label, "frames": frames, "seeds": len(values),
                     "mean": values.mean(), "std": total, "sampling std": sampling, "seed std": seed})
    return pd.DataFrame(rows).round(2)


def compare_ratio(a, b, kind: str = "greater", margin: float = 0.0, paired: bool = True) -> Effect:
    """Compare positive measurements (times, rates) ``a`` with ``b`` as a ratio, for timings taken in
    interleaved rounds (``cmrlib.bench.runtime``): the effect is the change of a over b in percent,
    100 (a / b - 1).

    ``paired=True`` (a and b timed in the same rounds, equal lengths in round order, or Series on the rounds):
    the per-round log ratios log(a_r / b_r), their mean and its one-sample t interval, exponentiated. Each
    round's ratio cancels that round's machine load, which is what makes the rounds a blocked design.
    ``paired=False``: Welch's interval of mean(log a) - mean(log b), exponentiated (e.g. two series of
    per-round ratios at different frame counts). Either way the ratio is that of the geometric means.

    Verdicts by the rule of ``compare`` on the percent scale, so a ``greater`` check holds when the ratio's
    interval lies above 1, and an ``equivalent`` check with ``margin`` = 10 (percent) holds when it lies within
    [0.9, 1.1]. ``mean_a``/``mean_b`` are the geometric means of a and b, ``std_a``/``std_b`` their standard
    deviations, in their own unit."""
    import dataclasses

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS} (got {kind!r})")
    if margin < 0:
        raise ValueError(f"margin must be >= 0 (got {margin})")
    values = [_as_array(x) for x in (a, b)]
    if any(np.any(v <= 0) for v in values):
        raise ValueError("compare_ratio() needs positive values (times or rates)")
    logs = [np.log(x) if isinstance(x, pd.Series) else np.log(v) for x, v in zip((a, b), values)]
    effect = compare(logs[0], logs[1], "greater", 0.0, paired)
    percent = lambda x: 100.0 * math.expm1(x) if np.isfinite(x) else float("nan")  # noqa: E731
    low, high = percent(effect.ci_low), percent(effect.ci_high)
    decided = np.isfinite(low)
    verdict = _verdict(kind, low, high, margin) if decided else INCONCLUSIVE
    reason = (f"95% interval of the ratio {1 + low / 100:.3f} .. {1 + high / 100:.3f}"
              + (f", margin {margin:g} %" if kind != "greater" else "")) if decided else effect.reason
    spread = [float(v.std(ddof=1)) if v.size > 1 else float("nan") for v in values]
    # "not held" on the log scale: below log(1 - m) (not_worse) or outside [log(1 - m), log(1 + m)] (equivalent)
    lower_log = -math.log1p(-margin / 100.0) if margin < 100 else math.inf
    p_against = (_p_against(kind, effect.diff, effect.se, effect.df, lower_log, math.log1p(margin / 100.0))
                 if decided else float("nan"))
    return dataclasses.replace(effect, kind=kind, p_against=p_against, mean_a=float(np.exp(np.log(values[0]).mean())),
                               mean_b=float(np.exp(np.log(values[1]).mean())), std_a=spread[0], std_b=spread[1],
                               diff=percent(effect.diff), ci_low=low, ci_high=high, margin=margin,
                               verdict=verdict, reason=reason)
