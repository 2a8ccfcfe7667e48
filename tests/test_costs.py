from __future__ import annotations

import pandas as pd
import pytest

from helpers.costs import HourlyPrice, TokenPrices, compute_cost, cost_table, token_cost


def test_token_and_compute_cost():
    prices = TokenPrices(input_per_million=1.0, output_per_million=4.0)
    assert token_cost(1_000_000, 0, prices) == 1.0
    assert token_cost(500, 250, prices) == pytest.approx((500 + 1000) / 1e6)
    assert compute_cost(1800, HourlyPrice(per_hour=2.0)) == 1.0
    with pytest.raises(ValueError):
        TokenPrices(-1, 0)
    with pytest.raises(ValueError):
        compute_cost(-1, HourlyPrice(1))


def test_cost_table_scales_with_volume_and_tokens():
    summary = pd.DataFrame({"prompt_tokens": [100, 1000], "completion_tokens": [10, 10], "seconds": [0.5, 2.0]},
                           index=["closed-book", "with context"])
    table = cost_table(summary, {"api": TokenPrices(1.0, 1.0), "cpu": HourlyPrice(3.6)}, per_questions=1000)
    api, cpu = table.columns
    assert "per 1,000 questions" in api
    assert table.loc["closed-book", api] == pytest.approx(110 * 1000 / 1e6)
    assert table.loc["with context", api] > 9 * table.loc["closed-book", api]
    assert table.loc["with context", cpu] == pytest.approx(2.0 / 3600 * 3.6 * 1000)
    with pytest.raises(ValueError, match="seconds"):
        cost_table(summary.drop(columns="seconds"), {"x": TokenPrices(1, 1)})


def test_break_even_volume():
    from helpers.costs import break_even_volume

    volume = break_even_volume(0.0, 0.002, 5.0, 0.001)
    assert volume == pytest.approx(5000.0)
    assert 0.0 + volume * 0.002 == pytest.approx(5.0 + volume * 0.001)  # equal total cost at the break-even
    assert break_even_volume(0.0, 0.001, 5.0, 0.002) is None  # never pays back
    assert break_even_volume(1.0, 0.002, 0.0, 0.001) == 0.0  # cheaper to build and to run
