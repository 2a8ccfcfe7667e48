"""How sure a measured rate is: Wilson intervals, paired tests between systems, questions needed.

Every rate the workbook reports is k successes in n questions; at n = 76 an accuracy of 29% is
anything from about 20% to 40% (a 95% Wilson interval, :func:`rate`). Two systems asked the *same*
questions are compared pair by pair (:func:`paired_test`): only the questions on which they
disagree carry information (exact McNemar test), and the difference gets a paired bootstrap
interval; per-question scores such as nDCG@10 get the same treatment (:func:`paired_difference`,
Wilcoxon signed-rank). A difference the test does not support is reported as "not distinguishable", with how
many questions would detect it (:func:`questions_needed`). All of it is ``scipy.stats``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Rate:
    """``k`` of ``n`` with its 95% Wilson interval ``[low, high]`` (NaN when ``n`` is 0)."""

    k: int
    n: int
    low: float
    high: float

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else math.nan

    def __str__(self) -> str:
        return f"{self.value:.0%} ({self.k}/{self.n}, 95% CI {self.low:.0%}–{self.high:.0%})"


def rate_of(k: int, n: int) -> Rate:
    """``k`` successes in ``n`` with the 95% Wilson score interval."""
    from scipy import stats  # here, not at the top: scipy takes a second to import

    if n == 0:
        return Rate(0, 0, math.nan, math.nan)
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return Rate(int(k), int(n), float(ci.low), float(ci.high))


def rate(successes: Sequence[bool]) -> Rate:
    """The share of true values in ``successes`` with its 95% Wilson score interval."""
    return rate_of(sum(bool(v) for v in successes), len(successes))


@dataclass(frozen=True)
class PairedTest:
    """Two systems on the same ``n`` questions: their rates, the questions only one got right,
    the exact McNemar p-value, and the difference ``a - b`` with its paired bootstrap 95% CI."""

    a: Rate
    b: Rate
    only_a: int
    only_b: int
    p_value: float
    diff_low: float
    diff_high: float

    @property
    def n(self) -> int:
        return self.a.n

    @property
    def difference(self) -> float:
        return self.a.value - self.b.value

    @property
    def distinguishable(self) -> bool:
        """True when the test rejects "no difference" at the 5% level."""
        return self.p_value < 1 - CONFIDENCE

    def __str__(self) -> str:
        return (f"{self.difference * 100:+.0f} points (95% CI {self.diff_low * 100:+.0f} to {self.diff_high * 100:+.0f}; "
                f"{self.only_a} vs {self.only_b} questions only one got right, exact McNemar p = {self.p_value:.2g}, "
                f"n = {self.n})")


def paired_test(a: Sequence[bool], b: Sequence[bool], *, seed: int = 1234, resamples: int = 2000) -> PairedTest:
    """Compare two systems' per-question outcomes on the same questions (same order).

    Raises:
        ValueError: the two sequences differ in length (they must be the same questions).
    """
    from scipy import stats

    x, y = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if x.shape != y.shape:
        raise ValueError(f"A paired test needs the same questions for both systems, got {len(x)} and {len(y)} outcomes.")
    only_a, only_b = int((x & ~y).sum()), int((~x & y).sum())
    p_value = float(stats.binomtest(only_a, only_a + only_b).pvalue) if only_a + only_b else 1.0
    if only_a + only_b:
        boot = stats.bootstrap((x.astype(float), y.astype(float)), lambda u, v, axis: u.mean(axis) - v.mean(axis),
                               paired=True, vectorized=True, n_resamples=resamples, confidence_level=CONFIDENCE,
                               method="percentile", rng=np.random.default_rng(seed))
        low, high = float(boot.confidence_interval.low), float(boot.confidence_interval.high)
    else:  # identical outcomes: every resample differs by exactly 0
        low = high = 0.0
    return PairedTest(rate(x), rate(y), only_a, only_b, p_value, low, high)


def questions_needed(difference: float, discordant: float, *, power: float = 0.8) -> int:
    """About how many questions a paired (McNemar) comparison needs to detect ``difference`` with
    the given power at the 5% level, when a share ``discordant`` of questions gets different
    outcomes from the two systems (Connor, 1987). ``discordant`` is at least ``|difference|``.

    Raises:
        ValueError: ``difference`` is 0 (no number of questions detects no difference).
    """
    from scipy import stats

    d = abs(difference)
    if d == 0:
        raise ValueError("questions_needed() needs a non-zero difference to detect.")
    psi = max(discordant, d)
    z_a, z_b = stats.norm.ppf(1 - (1 - CONFIDENCE) / 2), stats.norm.ppf(power)
    return math.ceil((z_a * math.sqrt(psi) + z_b * math.sqrt(psi - d * d)) ** 2 / (d * d))


@dataclass(frozen=True)
class MeanDifference:
    """Mean of per-question differences ``a - b`` (scores such as nDCG@10 on the same questions), its
    paired bootstrap 95% CI and the Wilcoxon signed-rank p-value; ``wins``/``losses``: questions where
    ``a`` scored higher / lower."""

    n: int
    difference: float
    low: float
    high: float
    p_value: float
    wins: int
    losses: int

    @property
    def distinguishable(self) -> bool:
        """True when the signed-rank test rejects "no difference" at the 5% level."""
        return self.p_value < 1 - CONFIDENCE

    def __str__(self) -> str:
        return (f"{self.difference:+.3f} (95% CI {self.low:+.3f} to {self.high:+.3f}; higher on {self.wins}, "
                f"lower on {self.losses} of {self.n} questions, Wilcoxon p = {self.p_value:.2g})")


def mean_interval(values: Sequence[float], *, seed: int = 1234, resamples: int = 2000) -> tuple[float, float]:
    """The seeded percentile-bootstrap 95% interval of the mean of per-question scores (e.g. MRR@10);
    ``(mean, mean)`` when every value is the same, ``(nan, nan)`` when there are none."""
    from scipy import stats

    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return math.nan, math.nan
    if np.all(x == x[0]):
        return float(x[0]), float(x[0])
    boot = stats.bootstrap((x,), lambda u, axis: u.mean(axis), vectorized=True, n_resamples=resamples,
                           confidence_level=CONFIDENCE, method="percentile", rng=np.random.default_rng(seed))
    return float(boot.confidence_interval.low), float(boot.confidence_interval.high)


def paired_difference(a: Sequence[float], b: Sequence[float], *, seed: int = 1234,
                      resamples: int = 2000) -> MeanDifference:
    """Compare two systems' per-question scores on the same questions (same order), e.g. two
    retrievers' nDCG@10: the mean difference with a paired bootstrap CI and a signed-rank test.

    Raises:
        ValueError: the two sequences differ in length or are empty.
    """
    from scipy import stats

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.size == 0:
        raise ValueError(f"A paired comparison needs the same, non-empty questions for both systems, got "
                         f"{x.size} and {y.size} scores.")
    d = x - y
    wins, losses = int((d > 1e-12).sum()), int((d < -1e-12).sum())
    if wins + losses == 0:  # identical scores: every resample differs by exactly 0
        return MeanDifference(int(x.size), 0.0, 0.0, 0.0, 1.0, 0, 0)
    boot = stats.bootstrap((d,), lambda u, axis: u.mean(axis), vectorized=True, n_resamples=resamples,
                           confidence_level=CONFIDENCE, method="percentile", rng=np.random.default_rng(seed))
    p_value = float(stats.wilcoxon(d, zero_method="zsplit").pvalue)
    return MeanDifference(int(x.size), float(d.mean()), float(boot.confidence_interval.low),
                          float(boot.confidence_interval.high), p_value, wins, losses)


def verdict(test: PairedTest | MeanDifference) -> str:
    """A claim phrased so that ``a - b > 0`` supports it: ``"holds"`` when the test separates the systems
    in that direction, ``"contradicted"`` when it separates them the other way, else ``"not distinguishable"``."""
    if not test.distinguishable:
        return "not distinguishable"
    return "holds" if test.difference > 0 else "contradicted"


def verdict_table(claims: dict[str, PairedTest | MeanDifference]) -> pd.DataFrame:
    """One row per claim: the measured effect (``a - b``), its 95% CI, n, p and :func:`verdict` — the
    table each notebook that tests a claim ends with. ``claims`` maps a claim's wording to its test."""
    import pandas as pd

    rows = []
    for claim, t in claims.items():
        low, high = (t.diff_low, t.diff_high) if isinstance(t, PairedTest) else (t.low, t.high)
        rows.append({"claim": claim, "effect": t.difference, "CI low": low, "CI high": high, "n": t.n,
                     "p": t.p_value, "verdict": verdict(t)})
    return pd.DataFrame(rows).set_index("claim")


def format_verdicts(table: pd.DataFrame) -> pd.DataFrame:
    """A :func:`verdict_table` as text, one row per claim: effect (a − b), 95% CI, n, p and verdict —
    what :func:`show_verdicts` displays and the README's verdict table lists."""
    import pandas as pd

    def num(x: float) -> str:
        return f"{x:+.3f}" if abs(x) < 1 else f"{x:+.2f}"

    return pd.DataFrame({"effect (a − b)": table["effect"].map(num),
                         "95% CI": [f"{num(lo)} to {num(hi)}" for lo, hi in zip(table["CI low"], table["CI high"])],
                         "n": table["n"].astype(int), "p": table["p"].map(lambda p: f"{p:.2g}"),
                         "verdict": table["verdict"]}, index=table.index)


def show_verdicts(table: pd.DataFrame) -> None:
    """Display a :func:`verdict_table` readably (claims in full; effect, CI and p as text); outside a
    notebook it is printed."""
    import pandas as pd

    shown = format_verdicts(table)
    with pd.option_context("display.max_colwidth", None, "display.width", 250):
        try:
            from IPython import get_ipython
            from IPython.display import display

            if get_ipython() is None:
                raise ImportError
            display(shown)
        except ImportError:
            print(shown.to_string())


def interval_widths(rates: Mapping[str, float], ns: Sequence[int] = (20, 50, 100, 200)) -> pd.DataFrame:
    """How wide the 95% Wilson interval of each measured rate would be with ``n`` questions: one row per
    rate, one column per ``n``, in percentage points (notebook 06: how many questions a decision needs)."""
    import pandas as pd

    rows = {f"{name}: {p:.0%}": {f"n = {n}": round((r := rate_of(round(p * n), n)).high * 100 - r.low * 100, 1) for n in ns}
            for name, p in rates.items()}
    return pd.DataFrame(rows).T.rename_axis("measured rate")
