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


def test_paired_difference_of_per_question_scores():
    from helpers.uncertainty import paired_difference

    same = paired_difference([0.5, 1.0, 0.0], [0.5, 1.0, 0.0])
    assert (same.difference, same.low, same.high, same.p_value, same.wins, same.losses) == (0.0, 0.0, 0.0, 1.0, 0, 0)
    better = [1.0] * 30 + [0.5] * 10
    worse = [0.5] * 30 + [0.5] * 10
    d = paired_difference(better, worse)
    assert d.difference == pytest.approx(0.375) and d.low > 0 and d.distinguishable and (d.wins, d.losses) == (30, 0)
    mixed = paired_difference([1.0, 0.0] * 10, [0.0, 1.0] * 10)
    assert mixed.difference == 0 and mixed.low < 0 < mixed.high and not mixed.distinguishable
    with pytest.raises(ValueError, match="same, non-empty questions"):
        paired_difference([1.0], [1.0, 0.5])


def test_verdict_table_says_holds_contradicted_or_not_distinguishable():
    from helpers.uncertainty import paired_difference, paired_test, verdict_table

    table = verdict_table({
        "a beats b": paired_test([True] * 20 + [False] * 5, [False] * 20 + [False] * 5),
        "b beats a": paired_test([False] * 20, [True] * 20),
        "a ties b": paired_test([True, False] * 10, [False, True] * 10),
        "scores": paired_difference([1.0] * 20, [0.5] * 20),
    })
    assert table["verdict"].tolist() == ["holds", "contradicted", "not distinguishable", "holds"]
    assert table.loc["a beats b", "n"] == 25 and table.loc["a beats b", "CI low"] > 0


def test_show_verdicts_prints_every_claim_in_full(capsys):
    from helpers.uncertainty import paired_test, show_verdicts, verdict_table

    claim = "C3  a claim whose wording is much longer than fifty characters, so pandas would cut it"
    show_verdicts(verdict_table({claim: paired_test([True] * 20, [False] * 20)}))
    out = capsys.readouterr().out
    assert claim in out and "holds" in out and "+1.00 to +1.00" in out and " 20 " in out


def test_mean_interval_brackets_the_mean_and_is_seeded():
    from helpers.uncertainty import mean_interval

    scores = [1.0, 0.5, 0.0, 1.0, 0.33, 0.25, 1.0, 0.0]
    low, high = mean_interval(scores)
    assert low < sum(scores) / len(scores) < high and (low, high) == mean_interval(scores)
    assert mean_interval([0.5, 0.5]) == (0.5, 0.5)
    assert all(math.isnan(v) for v in mean_interval([]))
