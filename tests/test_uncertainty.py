"""Intervals and paired tests: checked against numbers worked out by hand or published."""

from __future__ import annotations

import math

import pytest

from helpers.uncertainty import paired_test, questions_needed, rate, rate_of


def test_wilson_interval_matches_the_textbook_values():
    r = rate([True] * 22 + [False] * 54)  # RAG on the test split: 22 of 76
    assert (r.k, r.n) == (22, 76) and r.value == pytest.approx(22 / 76)
    p, n, z = 22 / 76, 76, 1.959964  # the Wilson score interval written out
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert r.low == pytest.approx(centre - half, abs=1e-5) and r.high == pytest.approx(centre + half, abs=1e-5)
    assert str(r) == "29% (22/76, 95% CI 20%–40%)"
    zero = rate_of(0, 10)  # never 0 wide, never below 0
    assert zero.low == pytest.approx(0.0, abs=1e-12) and zero.high == pytest.approx(0.2775, abs=5e-4)
    assert math.isnan(rate([]).value) and math.isnan(rate([]).low)


def test_paired_test_uses_only_the_questions_the_systems_disagree_on():
    a = [True] * 10 + [False] * 10 + [True] * 12 + [False] * 2  # 12 right only for a, 2 only for b
    b = [True] * 10 + [False] * 10 + [False] * 12 + [True] * 2
    test = paired_test(a, b)
    assert (test.only_a, test.only_b, test.n) == (12, 2, 34)
    assert test.p_value == pytest.approx(0.01294, abs=1e-4)  # two-sided exact binomial, 12 of 14
    assert test.distinguishable and test.difference == pytest.approx(10 / 34)
    assert test.diff_low < test.difference < test.diff_high and test.diff_low > 0
    same = paired_test(a, a)
    assert same.p_value == 1.0 and (same.diff_low, same.diff_high) == (0.0, 0.0) and not same.distinguishable
    assert paired_test(a, b) == test  # seeded: the same interval every run
    with pytest.raises(ValueError, match="same questions"):
        paired_test(a, b[:-1])


def test_questions_needed_grows_as_the_difference_shrinks():
    assert questions_needed(0.10, 0.20) == 155  # Connor (1987), 80% power, 5% level
    assert questions_needed(0.05, 0.20) > 4 * questions_needed(0.10, 0.20) - 10
    assert questions_needed(0.10, 0.0) == questions_needed(0.10, 0.10)  # at least the difference is discordant
    with pytest.raises(ValueError, match="non-zero"):
        questions_needed(0.0, 0.2)
