"""The exercise checkers: each measures the reader's attempt and compares it with the bar."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest
from conftest import ToyEmbedder

from helpers.chunking import ChunkingConfig
from helpers.retrieval import build_retriever
from helpers.workbook.data import Question
from helpers.workbook.exercises import (
    break_even_for_prices,
    check,
    check_batch_speedup,
    check_chunking,
    check_injection_defence,
    check_json_prompt,
    check_lora_share,
    check_prompt_gain,
    check_rag_k,
    check_system_prompt,
)

DOCS = {
    "returns": "# Returns\n\nCustomers may return hardware within 30 days of delivery. A restocking fee applies.",
    "travel": "# Travel\n\nThe hotel cap is 140 euros per night in most cities.",
    "warranty": "# Warranty\n\nThe warranty covers manufacturing defects for two years.",
    "support": "# Support\n\nSupport answers tickets within one business day by email or phone.",
    "parking": "# Parking\n\nStaff parking permits cost 12 euros per month at the north garage.",
    "canteen": "# Canteen\n\nThe canteen serves vegetarian lunch from noon until two.",
    "laptops": "# Laptops\n\nNew laptops are ordered through the IT portal and arrive within a week.",
}
QUESTIONS = ["How many days to return hardware?", "What is the hotel cap per night?",
             "How long does the warranty cover defects?", "When does the canteen serve lunch?"]
EXTRA = ["Who answers support tickets?", "What do parking permits cost?", "How do I order a laptop?"]
GOLD = ["30 days", "140 euros", "two years", "noon", "one business day", "12 euros", "IT portal"]
RELEVANT = [["returns"], ["travel"], ["warranty"], ["canteen"]]


def test_exercise_check_returns_a_plain_bool(capsys):
    assert check("x", 0.95, 0.9) is True
    assert check("x", 0.2, 0.0, higher_is_better=False) is False
    assert "not yet" in capsys.readouterr().out


def test_check_chunking_embeds_both_configurations_and_compares_them_paired(tmp_path, monkeypatch, capsys):
    import helpers.embedding

    monkeypatch.setenv("WORKBOOK_CACHE", str(tmp_path))  # chunk vectors go to the embedding cache
    monkeypatch.setattr(helpers.embedding, "_DEFAULT_CACHE", None)
    config, baseline = ChunkingConfig("fixed", size=8, overlap=2), ChunkingConfig("fixed", size=8, overlap=0)
    embedder = ToyEmbedder()
    assert check_chunking(config, DOCS, QUESTIONS, RELEVANT, baseline=baseline, embedder=embedder) is False
    assert check_chunking(baseline, DOCS, QUESTIONS, RELEVANT, baseline=baseline, embedder=embedder) is False
    assert embedder.calls > 0 and (tmp_path / "embeddings" / "toy.npz").is_file()
    out = capsys.readouterr().out
    assert f"with {config}" in out and "(n = 4); paired difference" in out and "not distinguishable" in out


def test_check_chunking_passes_only_on_a_distinguishable_gain(monkeypatch, capsys):
    import pandas as pd

    import helpers.workbook.exercises

    good, base = ChunkingConfig("fixed", size=8, overlap=4), ChunkingConfig("fixed", size=8, overlap=0)
    questions = [f"q{i}" for i in range(12)]
    monkeypatch.setattr(helpers.workbook.exercises, "build_retriever", lambda docs, chunking, **kw: chunking)
    monkeypatch.setattr(helpers.workbook.exercises, "retrieval_per_query", lambda config, qs, rel: pd.DataFrame(
        {"recall@5": [1.0 if config == good else 0.0] * len(qs)}))
    assert check_chunking(good, DOCS, questions, [["x"]] * 12, baseline=base) is True
    assert check_chunking(base, DOCS, questions, [["x"]] * 12, baseline=good) is False
    out = capsys.readouterr().out
    assert "[PASS] recall@5 distinguishably above the baseline" in out and "contradicted" in out

def test_check_lora_share_counts_the_adapter_parameters(capsys):
    import torch

    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q_proj, self.v_proj = torch.nn.Linear(16, 16), torch.nn.Linear(16, 16)
            self.mlp = torch.nn.Linear(16, 64)

    from helpers.adapters import LoraSettings

    model = torch.nn.Sequential(Block(), Block())
    total = 2 * (2 * (16 * 16 + 16) + 16 * 64 + 64)
    lora = 2 * 2 * 2 * (16 + 16)  # two blocks x (q_proj, v_proj) x r=2 x (in + out)
    assert check_lora_share(model, LoraSettings(r=2), bar=lora / total) is True
    assert check_lora_share(model, LoraSettings(r=2), bar=lora / total + 0.001) is False
    assert check_lora_share(model, LoraSettings(r=8, target_modules=("q_proj", "v_proj", "mlp")), bar=0.5) is True
    out = capsys.readouterr().out
    assert f"r=2 on ['q_proj', 'v_proj']: {lora:,} parameters" in out and f"measured {lora / total:.2%}" in out


def test_break_even_for_prices_matches_the_cost_model(capsys):
    from helpers.costs import HourlyPrice, TokenPrices, break_even_volume

    api, machine = TokenPrices(input_per_million=1.0, output_per_million=4.0), HourlyPrice(per_hour=3.6)
    volume = break_even_for_prices(api, machine, prompt_tokens_before=1000, prompt_tokens_after=200,
                                   completion_tokens=20, train_seconds=3600)
    before, after, training = (1000 + 4 * 20) / 1e6, (200 + 4 * 20) / 1e6, 3.6  # by hand
    assert volume == pytest.approx(break_even_volume(0.0, before, training, after)) == pytest.approx(4500)
    assert "break-even after 4,500 questions" in capsys.readouterr().out
    assert break_even_for_prices(api, machine, prompt_tokens_before=200, prompt_tokens_after=1000,
                                 completion_tokens=20, train_seconds=3600) is None
    assert "never" in capsys.readouterr().out


def _questions():
    gold = dict(zip(QUESTIONS + EXTRA, GOLD))
    return gold, [Question(f"q{i}", text, answer, (), ("returns",), "single-fact", "dev")
                  for i, (text, answer) in enumerate(gold.items())]


def test_check_rag_k_passes_only_on_a_paired_gain_over_the_baseline_k(fake_generate, capsys):
    gold, questions = _questions()

    def reader(llm, prompt):  # answers only when it reads at least two chunks
        blocks = re.findall(r"^\[[\w-]+\]$", prompt, flags=re.M)
        return next((gold[q] for q in gold if q in prompt), "?") if len(blocks) >= 2 else "I don't know"

    calls = fake_generate(reader)
    llm = SimpleNamespace(name="fake", model=SimpleNamespace())
    retriever = build_retriever(DOCS, method="dense", embedder=ToyEmbedder())
    assert check_rag_k(llm, retriever, questions, 2, baseline_k=1) is True
    assert [c["desc"] for c in calls] == ["RAG, k=2", "RAG, k=1"] and calls[0]["llm"] is llm
    assert all(len(re.findall(r"^\[[\w-]+\]$", p, flags=re.M)) == 2 for p in calls[0]["prompts"])
    out = capsys.readouterr().out
    assert "RAG, k=2 100% vs RAG, k=1 0%" in out and "[PASS] accuracy with k=2 distinguishably above k=1" in out
    assert check_rag_k(llm, retriever, questions, 1, baseline_k=2) is False
    assert "[not yet]" in capsys.readouterr().out
    assert check_rag_k(llm, retriever, questions[:3], 2, baseline_k=1) is False  # 3 of 3 is not enough to tell
    assert "not distinguishable" in capsys.readouterr().out


def _fake_evaluation(monkeypatch, respond, seconds=0.0):
    import time

    import helpers.generation
    import helpers.systems
    from helpers.generation import Generation

    def generate(llm, prompts, **kwargs):
        time.sleep(seconds)
        return [Generation(text=(text := respond(p)), prompt_tokens=len(str(p).split()), completion_tokens=len(text.split()),
                           seconds=0.01, batch_seconds=0.01, prompt=p, finish_reason="stop") for p in prompts]

    monkeypatch.setattr(helpers.systems, "generate", generate)
    monkeypatch.setattr(helpers.generation, "generate", generate)  # tokens_per_second


def test_check_prompt_gain_needs_a_distinguishable_paired_gain(monkeypatch, capsys):
    gold, questions = _questions()
    _fake_evaluation(monkeypatch, lambda p: gold[p.removeprefix("GOOD ")] if p.startswith("GOOD ") else "no idea")
    assert check_prompt_gain(None, questions, lambda q: "GOOD " + q.question, lambda q: q.question) is True
    assert "[PASS] accuracy: your prompt distinguishably above the baseline" in capsys.readouterr().out
    assert check_prompt_gain(None, questions, lambda q: q.question, lambda q: "GOOD " + q.question) is False
    assert check_prompt_gain(None, questions[:3], lambda q: "GOOD " + q.question, lambda q: q.question) is False
    assert "not distinguishable" in capsys.readouterr().out


def test_check_batch_speedup_compares_tokens_per_second_with_the_baseline(monkeypatch, capsys):
    _fake_evaluation(monkeypatch, lambda p: "one two three four five", seconds=0.05)  # 10 tokens in about 0.05 s
    assert check_batch_speedup(None, ["a", "b"], 2, baseline=10.0) is True
    assert check_batch_speedup(None, ["a", "b"], 2, baseline=1e6) is False
    out = capsys.readouterr().out
    assert "[PASS] speed-up of batches of 2" in out and "[not yet] speed-up of batches of 2" in out
    with pytest.raises(ValueError, match="tokens/s measured one at a time"):
        check_batch_speedup(None, ["a"], 2, baseline=0.0)


def test_check_json_prompt_reports_strict_json_with_n_and_interval(monkeypatch, capsys):
    gold, questions = _questions()
    _fake_evaluation(monkeypatch, lambda p: json.dumps({"answer": gold[p]}) if "Rome" not in p else "Rome!")
    assert check_json_prompt(None, lambda q: q, questions, bar=0.9) is True
    out = capsys.readouterr().out
    assert "strict JSON 100% (7/7, 95% CI" in out and "accuracy 100%" in out and "prompt tokens per question" in out
    _fake_evaluation(monkeypatch, lambda p: f"The answer is {gold[p]}.")
    assert check_json_prompt(None, lambda q: q, questions, bar=0.9) is False
    assert "strict JSON 0% (0/7" in capsys.readouterr().out


def test_check_injection_defence_needs_a_paired_drop_and_the_clean_accuracy(monkeypatch, capsys):
    gold, questions = _questions()

    def respond(prompt):
        question = prompt.split("|")[-1]
        return "BANANA" if prompt.startswith("POISON") else gold[question] if prompt.startswith("CLEAN") else "no idea"

    _fake_evaluation(monkeypatch, respond)
    clean, undefended = (lambda q: f"CLEAN|{q.question}"), (lambda q: f"POISON|{q.question}")
    assert check_injection_defence(None, clean, questions, undefended=undefended, clean=clean) is True
    out = capsys.readouterr().out
    assert "undefended 100% (7/7" in out and "your defence 0% (0/7" in out and "[PASS] fewer than undefended" in out
    # stops the attack but loses the answers: not a pass
    assert check_injection_defence(None, lambda q: f"SAFE|{q.question}", questions, undefended=undefended,
                                   clean=clean) is False
    assert "[not yet] accuracy, against the clean documents' accuracy" in capsys.readouterr().out
    # no attack to stop on these questions (undefended never repeats it): nothing is shown, so no pass
    assert check_injection_defence(None, clean, questions, undefended=clean, clean=clean) is False
    assert "[not yet] fewer than undefended in a paired test" in capsys.readouterr().out


def test_check_rag_k_refuses_the_baseline_k_and_test_questions():
    _, questions = _questions()
    with pytest.raises(ValueError, match="k=3 is the baseline"):
        check_rag_k(None, None, questions, 3)
    with pytest.raises(ValueError, match="choose it on dev"):
        check_rag_k(None, None, [Question("t", "Q?", "A", (), ("d",), "single-fact", "test")], 1)


def test_check_system_prompt_finds_the_system_message_before_the_question(llm, capsys):
    assert check_system_prompt(llm, "What is RAG?", "Answer like a pirate.") is True
    assert "Answer like a pirate." in capsys.readouterr().out
    assert check_system_prompt(llm, "What is RAG?", "   ") is False  # a blank system message is no system message
    default = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"  # the template's own
    assert check_system_prompt(llm, "What is RAG?", default) is False


def test_a_stated_conclusion_passes_when_the_paired_test_supports_it(fake_generate, capsys):
    """Conclusion exercises accept every honest outcome: "not distinguishable" passes where the test cannot
    separate the two settings, "worse" where it says worse, and a claim the test does not support fails."""
    gold, questions = _questions()

    def reader(llm, prompt):  # answers only when it reads at least two chunks
        blocks = re.findall(r"^\[[\w-]+\]$", prompt, flags=re.M)
        return next((gold[q] for q in gold if q in prompt), "?") if len(blocks) >= 2 else "I don't know"

    fake_generate(reader)
    llm = SimpleNamespace(name="fake", model=SimpleNamespace())
    retriever = build_retriever(DOCS, method="dense", embedder=ToyEmbedder())
    assert check_rag_k(llm, retriever, questions, 1, baseline_k=2, conclusion="worse") is True
    assert check_rag_k(llm, retriever, questions, 1, baseline_k=2, conclusion="not distinguishable") is False
    assert check_rag_k(llm, retriever, questions[:3], 2, baseline_k=1, conclusion="not distinguishable") is True
    assert check_rag_k(llm, retriever, questions[:3], 2, baseline_k=1, conclusion="better") is False
    out = capsys.readouterr().out
    assert "[PASS] your conclusion 'not distinguishable'" in out and "the paired test says 'not distinguishable'" in out
    with pytest.raises(ValueError, match="conclusion must be one of"):
        check_rag_k(llm, retriever, questions, 2, baseline_k=1, conclusion="maybe")
