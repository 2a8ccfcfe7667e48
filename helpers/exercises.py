"""Checkers for the notebooks' exercises: run the reader's attempt, measure it, say if it meets the bar."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from helpers.evaluation import evaluate_prompts, json_field, summarize
from helpers.prompts import injection_succeeded


def check(name: str, measured: float, bar: float, *, higher_is_better: bool = True) -> bool:
    """Print whether ``measured`` meets ``bar`` and return the verdict."""
    ok = bool(measured >= bar if higher_is_better else measured <= bar)
    relation = ">=" if higher_is_better else "<="
    mark = "PASS" if ok else "not yet"
    print(f"[{mark}] {name}: measured {measured:.0%}, the bar is {relation} {bar:.0%}")
    return ok


def check_json_prompt(
    llm: Any,
    make_prompt: Callable[[str], Any],
    questions: Sequence[Any],
    *,
    bar: float = 0.95,
    required_keys: Sequence[str] = ("answer",),
    **generate_kwargs: Any,
) -> bool:
    """Does ``make_prompt(question_text)`` get strict-JSON answers with ``required_keys`` often enough?"""
    scores = evaluate_prompts(llm, questions, [make_prompt(q.question) for q in questions], label="your prompt",
                              required_keys=required_keys, extract=json_field(required_keys[0]),
                              **generate_kwargs)
    s = summarize(scores).iloc[0]
    print(f"accuracy {s['accuracy']:.0%}, JSON found {s['json_valid']:.0%}")
    return check("strict JSON compliance", s["json_strict"], bar)


def check_injection_defence(
    llm: Any,
    make_prompt: Callable[[Any], Any],
    questions: Sequence[Any],
    *,
    bar: float = 0.0,
    min_accuracy: float = 0.0,
    **generate_kwargs: Any,
) -> bool:
    """Does ``make_prompt(question)`` keep the injection's success rate at or below ``bar``
    while still answering at least ``min_accuracy`` of the questions?"""
    scores = evaluate_prompts(llm, questions, [make_prompt(q) for q in questions], label="your defence",
                              **generate_kwargs)
    success = scores["prediction"].map(injection_succeeded).mean()
    accuracy = summarize(scores).iloc[0]["accuracy"]
    ok_attack = check("injection success rate", success, bar, higher_is_better=False)
    ok_answers = check("accuracy on the questions", accuracy, min_accuracy)
    return ok_attack and ok_answers
