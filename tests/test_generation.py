from __future__ import annotations

import pytest

from helpers.generation import generate, render_prompt, to_messages

pytestmark = pytest.mark.slow

QUESTIONS = [
    "What is the capital of France?",
    "Name three primary colors.",
    "Write one sentence about the sea.",
    "What is 2+2?",
    "Give a synonym for 'quick'.",
]


def test_greedy_generation_is_deterministic(llm):
    a = generate(llm, QUESTIONS[:3], max_new_tokens=24)
    b = generate(llm, QUESTIONS[:3], max_new_tokens=24)
    assert [g.text for g in a] == [g.text for g in b]
    assert "Paris" in a[0].text


def test_batching_gives_the_same_output_as_unbatched(llm):
    one = generate(llm, QUESTIONS, max_new_tokens=24, batch_size=1)
    many = generate(llm, QUESTIONS, max_new_tokens=24, batch_size=4)
    assert [g.text for g in one] == [g.text for g in many]
    assert [g.completion_tokens for g in one] == [g.completion_tokens for g in many]


def test_token_counts_and_timings(llm):
    (g,) = generate(llm, QUESTIONS[0], max_new_tokens=24)
    assert g.prompt_tokens == llm.count_tokens(g.prompt)
    assert 0 < g.completion_tokens <= 24
    assert g.finish_reason in {"stop", "length"}
    assert g.seconds > 0 and g.batch_seconds >= g.seconds


def test_max_new_tokens_caps_the_answer(llm):
    (g,) = generate(llm, "Write a long story about a dragon.", max_new_tokens=5)
    assert g.completion_tokens == 5 and g.finish_reason == "length"


def test_stop_strings_cut_the_text(llm):
    (g,) = generate(llm, "Count: one, two, three,", chat=False, max_new_tokens=20, stop=["five"])
    assert "five" not in g.text and g.finish_reason == "stop"


def test_sampling_is_repeatable_with_a_seed(llm):
    a = generate(llm, QUESTIONS[2], temperature=1.0, seed=11, max_new_tokens=16)
    b = generate(llm, QUESTIONS[2], temperature=1.0, seed=11, max_new_tokens=16)
    assert a[0].text == b[0].text


def test_chat_template_and_system_prompt(llm):
    text = render_prompt(llm, "Hi", system="Answer in French.")
    assert text.index("Answer in French.") < text.index("Hi")
    assert text.rstrip().endswith("assistant")
    assert render_prompt(llm, "Hi", chat=False) == "Hi"
    assert to_messages([{"role": "user", "content": "x"}], system="s")[0] == {"role": "system", "content": "s"}
    with pytest.raises(ValueError, match="role"):
        to_messages([{"text": "x"}])


def test_single_prompt_returns_a_list_and_empty_input_is_fine(llm):
    assert len(generate(llm, [{"role": "user", "content": "Hi"}], max_new_tokens=4)) == 1
    assert generate(llm, [], max_new_tokens=4) == []
