"""Turn measured token counts and times into money, for prices *you* pass in.

Prices are never hard-coded (they change monthly and differ per provider; the notebooks' are examples):
:class:`TokenPrices` for a hosted API, :class:`HourlyPrice` times compute seconds for your own machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class TokenPrices:
    """Prices of a per-token API, in ``currency`` per one million tokens."""

    input_per_million: float
    output_per_million: float
    currency: str = "USD"

    def __post_init__(self) -> None:
        if self.input_per_million < 0 or self.output_per_million < 0:
            raise ValueError("Prices cannot be negative.")


@dataclass(frozen=True)
class HourlyPrice:
    """The price of one hour of a machine (CPU server, GPU instance), in ``currency``."""

    per_hour: float
    currency: str = "USD"

    def __post_init__(self) -> None:
        if self.per_hour < 0:
            raise ValueError("Prices cannot be negative.")


def token_cost(prompt_tokens: float, completion_tokens: float, prices: TokenPrices) -> float:
    """Cost of one call with this many prompt (input) and completion (output) tokens."""
    return (prompt_tokens * prices.input_per_million + completion_tokens * prices.output_per_million) / 1e6


def compute_cost(seconds: float, price: HourlyPrice) -> float:
    """Cost of ``seconds`` of machine time at an hourly price."""
    if seconds < 0:
        raise ValueError("seconds cannot be negative.")
    return seconds / 3600 * price.per_hour


def cost_table(
    summary: pd.DataFrame,
    prices: Mapping[str, TokenPrices | HourlyPrice],
    per_questions: int = 1000,
) -> pd.DataFrame:
    """Cost of answering ``per_questions`` questions with each technique: one column per label of
    ``prices`` (in its currency), indexed like ``summary``, a :func:`helpers.evaluation.summarize`
    table with mean ``prompt_tokens``, ``completion_tokens`` and ``seconds`` per question."""
    missing = {"prompt_tokens", "completion_tokens", "seconds"} - set(summary.columns)
    if missing:
        raise ValueError(f"summary lacks columns {sorted(missing)}")
    table = {}
    for label, price in prices.items():
        if isinstance(price, TokenPrices):
            per_q = [token_cost(p, c, price) for p, c in zip(summary["prompt_tokens"], summary["completion_tokens"])]
        else:
            per_q = [compute_cost(s, price) for s in summary["seconds"]]
        table[f"{label} ({price.currency} per {per_questions:,} questions)"] = [v * per_questions for v in per_q]
    return pd.DataFrame(table, index=summary.index)


def break_even_volume(build_a: float, per_question_a: float, build_b: float, per_question_b: float) -> float | None:
    """The number of questions at which system B (dearer to build, cheaper per question) becomes
    cheaper in total than system A; ``None`` if it never does (B is not cheaper per question).

    >>> break_even_volume(0.0, 0.002, 5.0, 0.001)  # 5 / (0.002 - 0.001)
    5000.0
    """
    saving = per_question_a - per_question_b
    if saving <= 0:
        return None
    return max(0.0, (build_b - build_a) / saving)
