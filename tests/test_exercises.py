"""The exercise checkers: each measures the reader's attempt and compares it with the bar."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from conftest import ToyEmbedder

from helpers.chunking import ChunkingConfig
from helpers.data import Question
from helpers.exercises import break_even_for_prices, check, check_chunking, check_lora_share, check_rag_k
from helpers.retrieval import build_retriever, chunking_metrics

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
RELEVANT = [["returns"], ["travel"], ["warranty"], ["canteen"]]


def test_exercise_check_returns_a_plain_bool(capsys):
    assert check("x", 0.95, 0.9) is True
    assert check("x", 0.2, 0.0, higher_is_better=False) is False
    assert "not yet" in capsys.readouterr().out


def test_check_chunking_measures_dense_recall_at_5(tmp_path, monkeypatch, capsys):
    import helpers.embedding

    monkeypatch.setenv("WORKBOOK_CACHE", str(tmp_path))  # chunk vectors go to the embedding cache
    monkeypatch.setattr(helpers.embedding, "_DEFAULT_CACHE", None)
    config = ChunkingConfig("fixed", size=8, overlap=2)
    embedder = ToyEmbedder()
    recall = chunking_metrics(DOCS, QUESTIONS, RELEVANT, config, method="dense", embedder=embedder)["recall@5"]
    assert embedder.calls > 0 and 0 < recall <= 1
    assert check_chunking(config, DOCS, QUESTIONS, RELEVANT, bar=recall, embedder=embedder) is True
    assert check_chunking(config, DOCS, QUESTIONS, RELEVANT, bar=recall + 0.01, embedder=embedder) is False
    out = capsys.readouterr().out
    assert f"[PASS] recall@5 with {config}: measured {recall:.3f}" in out and "[not yet] recall@5" in out
    assert (tmp_path / "embeddings" / "toy.npz").is_file()


def test_check_lora_share_counts_the_adapter_parameters(capsys):
    import torch

    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q_proj, self.v_proj = torch.nn.Linear(16, 16), torch.nn.Linear(16, 16)
            self.mlp = torch.nn.Linear(16, 64)

    from helpers.finetune import LoraSettings

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


def test_check_rag_k_answers_with_k_chunks_and_scores_them(fake_generate, capsys):
    def reader(llm, prompt):
        found = re.search(r"\[([\w-]+)\]\n[^\[]*?(\d+ days|\d+ euros)", prompt)
        return f"{found.group(2)} [{found.group(1)}]" if found else "I don't know"

    calls = fake_generate(reader)
    llm = SimpleNamespace(name="fake", model=SimpleNamespace())
    questions = [Question("q1", QUESTIONS[0], "30 days", (), ("returns",), "numeric", "dev"),
                 Question("q2", QUESTIONS[1], "140 euros", (), ("travel",), "numeric", "dev")]
    retriever = build_retriever(DOCS, method="dense", embedder=ToyEmbedder())
    assert check_rag_k(llm, retriever, questions, 2, bar=1.0) is True
    assert calls[0]["llm"] is llm and calls[0]["desc"] == "RAG, k=2"
    assert all(len(re.findall(r"^\[[\w-]+\]$", p, flags=re.M)) == 2 for p in calls[0]["prompts"])
    assert "[PASS] RAG accuracy with k=2: measured 100%" in capsys.readouterr().out
    fake_generate(lambda llm, prompt: "I don't know")
    assert check_rag_k(llm, retriever, questions, 1, bar=0.5) is False
