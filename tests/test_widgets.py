"""The interactive panels, without a frontend: their functions, controls and error handling."""

from __future__ import annotations

import pytest

from helpers.chunking import ChunkingConfig
from helpers.generation import Generation
from helpers.rag import Answer
from helpers.retrieval import Hit, build_retriever
from helpers.workbook.retrieval_defaults import chunking_metrics
from helpers.workbook.widgets import AskPanel, AskResult, ChunkingExplorer, render_answer, render_chunks

DOCS = {
    "returns": "# Returns\n\nCustomers may return hardware within 30 days of delivery. A restocking fee of 15 percent applies.",
    "travel": "# Travel\n\nThe nightly hotel limit is 160 euros in most European cities. Book through the portal.",
    "rill": "# Rill 250\n\nThe Rill 250 controller drives up to 16 irrigation zones and runs on 24 V AC.",
}
QUESTIONS = ["How many days do customers have to return hardware?", "What is the hotel limit per night?"]
RELEVANT = [["returns"], ["travel"]]


def _result(answer: str, citations: list[str], attributed: list[str]) -> AskResult:
    hits = [Hit("returns", "returns#0", "Return within <b>30 days</b> of delivery.", 0.9),
            Hit("travel", "travel#0", "Hotel limit 160 euros.", 0.4)]
    gen = Generation(text=answer, prompt_tokens=50, completion_tokens=5, seconds=0.1, batch_seconds=0.1,
                     prompt="p", finish_reason="stop")
    rag = Answer(question="q?", text=answer, answer=answer, citations=citations, hits=hits, generation=gen)
    return AskResult(question="q?", method="bm25", k=2, rerank=False, answer=rag, attributed=attributed)


def test_render_answer_highlights_cited_and_attributed_chunks_and_escapes_html():
    html = render_answer(_result("30 days", ["returns", "ghost"], ["returns#0"]))
    assert html.count('class="wb-cited wb-attributed"') == 1, "the returns chunk is both cited and attributed"
    assert "<b>30 days</b>" not in html and "&lt;b&gt;" in html, "document text must be escaped"
    assert "<mark>30 days</mark>" in html
    assert "cited but not retrieved: ghost" in html
    assert "bm25, top-2" in html and "answer traced to returns#0" in html


def test_render_answer_says_when_nothing_is_cited_or_traced():
    html = render_answer(_result("I don't know", [], []))
    assert "no citation" in html and "answer not found in any retrieved chunk" in html
    assert "wb-cited" not in html.split("</style>")[1]


def test_retriever_view_switches_method_only_where_the_index_exists():
    bm25 = build_retriever(DOCS, method="bm25")
    assert bm25.methods == ["bm25"]
    with pytest.raises(ValueError, match="cannot search by 'dense'.*method='hybrid'"):
        bm25.view("dense")
    view = bm25.view(None)
    assert view.method == "bm25" and view.chunks is bm25.chunks, "a view shares the index"


def test_render_chunks_colours_each_chunk_and_escapes():
    from helpers.chunking import chunk_text

    chunks = chunk_text("# T\n\n" + "word <x> " * 200, "d", ChunkingConfig("fixed", size=32, overlap=8))
    html = render_chunks(chunks)
    assert html.count('class="wb-chunk"') == len(chunks) > 1
    assert "<x>" not in html and "&lt;x&gt;" in html


def test_chunking_metrics_measure_retrieval_of_a_configuration():
    m = chunking_metrics(DOCS, QUESTIONS, RELEVANT, ChunkingConfig("markdown", size=64, overlap=0))
    assert m["chunks"] == 3 and m["recall@1"] == 1.0 and m["MRR@10"] == 1.0
    assert {"recall@5", "recall@10", "nDCG@10", "ms/query", "mean tokens"} <= set(m)
    assert m["n"] == 2 and m["MRR@10 low"] == m["MRR@10 high"] == 1.0  # every question perfect: no spread
    with pytest.raises(ValueError, match="2 questions but 1 sets"):
        chunking_metrics(DOCS, QUESTIONS, RELEVANT[:1], ChunkingConfig())


def test_chunking_explorer_reacts_to_its_sliders():
    explorer = ChunkingExplorer(DOCS, QUESTIONS, RELEVANT, doc_id="returns")
    assert explorer.overlap.disabled, "overlap only applies to fixed-size chunks"
    assert "returns#0" in explorer.chunks_html.value and "recall@1" in explorer.metrics_html.value
    explorer.strategy.value = "fixed"
    explorer.size.value = 16
    explorer.overlap.value = 64  # larger than the size: clamped, never an invalid config
    assert explorer.config == ChunkingConfig("fixed", size=16, overlap=15)
    assert not explorer.overlap.disabled
    table = explorer.history_table()
    assert len(table) == len(explorer.history) >= 3 and "vs first" in explorer.metrics_html.value
    with pytest.raises(ValueError, match="at least one document"):
        ChunkingExplorer({}, QUESTIONS, RELEVANT)


@pytest.mark.slow
def test_ask_panel_answers_and_reports_bad_input_in_the_panel():
    from helpers.runtime.models import load_llm

    panel = AskPanel(load_llm(), build_retriever(DOCS, method="bm25"), k=2)
    assert panel.rerank.disabled, "no re-ranker given: the toggle is off"
    panel.question.value = "   "
    assert panel.run() is None and "Type a question first" in panel.status.value
    panel.question.value = QUESTIONS[0]
    result = panel.run()
    assert result is not None and result.k == 2 and result.hits[0].doc_id == "returns"
    assert "wb-answer" in panel.result_html.value and panel.status.value == "" and not panel.button.disabled
    panel.top_k.value = 1
    assert len(panel.run().hits) == 1
