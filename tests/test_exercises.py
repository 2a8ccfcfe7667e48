from __future__ import annotations

from helpers.exercises import check


def test_exercise_check_returns_a_plain_bool(capsys):
    assert check("x", 0.95, 0.9) is True
    assert check("x", 0.2, 0.0, higher_is_better=False) is False
    assert "not yet" in capsys.readouterr().out
