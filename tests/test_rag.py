"""RAG: the prompt layout, citation parsing and verification, scoring; a slow end-to-end check."""

from __future__ import annotations

import pytest

from helpers.prompts import RAG_INSTRUCTION, rag_prompt
from helpers.rag import (
    attribute_answer,
    citation_summary,
    parse_citations,
    quoted_spans,
    strip_citations,
    verify_citations,
)
from helpers.retrieval import Hit

HITS = [Hit("policy-returns", "policy-returns#2", "Customers may return hardware within 30 days.", 0.9),
        Hit("procedure-rma", "procedure-rma#0", "Open an RMA in the portal before shipping.", 0.5)]
DOCS = {"policy-returns": "Customers may return hardware within **30 days** of delivery.",
        "procedure-rma": "Open an RMA in the portal before shipping."}


def test_prompt_puts_labelled_context_first_and_question_last():
    prompt = rag_prompt("How long is the return window?", HITS)
    assert prompt.index("[policy-returns]") < prompt.index("[procedure-rma]") < prompt.index("How long")
    assert prompt.rstrip().endswith(RAG_INSTRUCTION)


@pytest.mark.parametrize("text, expected", [
    ("30 days [policy-returns]", ["policy-returns"]),
    ("30 days [policy-returns, procedure-rma] [policy-returns]", ["policy-returns", "procedure-rma"]),
    ("30 days [2]", ["procedure-rma"]),
    ("30 days [policy-returns#2]", ["policy-returns"]),
    ("30 days [doc-id]", []),
    ("30 days", []),
])
def test_parse_citations(text, expected):
    assert parse_citations(text, HITS) == expected


def test_strip_citations_and_quotes():
    assert strip_citations("30 days [policy-returns].") == "30 days ."
    assert quoted_spans('It says "return hardware within 30 days" there.') == ["return hardware within 30 days"]


def test_verify_citations_checks_retrieval_support_and_quotes():
    good = verify_citations('"return hardware within 30 days" [policy-returns]', HITS, ["policy-returns"], DOCS)
    assert good.precision == 1.0 and good.recall == 1.0 and good.supporting_cited
    assert good.quotes == good.quotes_verified == 1  # markdown emphasis does not break the match
    bad = verify_citations('"return within 90 days" [policy-warranty-2025] [procedure-rma]', HITS,
                           ["policy-returns"], DOCS)
    assert bad.invented == ("policy-warranty-2025",) and bad.retrieved_cited == ("procedure-rma",)
    assert bad.precision == 0.0 and bad.recall == 0.0 and not bad.supporting_cited
    assert bad.quotes == 1 and bad.quotes_verified == 0
    none = verify_citations("30 days", HITS, ["policy-returns"], DOCS)
    assert none.precision is None and none.recall == 0.0


def test_citation_summary_counts_answers_without_citations_as_zero_recall():
    import pandas as pd

    table = pd.DataFrame({"type": ["numeric", "numeric", "unanswerable"], "n_cited": [2, 0, 1],
                          "cit_precision": [0.5, None, 0.0], "cit_recall": [1.0, 0.0, None],
                          "invented": [1, 0, 0], "quotes": [0, 0, 0], "quotes_verified": [0, 0, 0]})
    s = citation_summary(table)
    assert s["cite_rate"] == 0.5 and s["precision"] == 0.5 and s["recall"] == 0.5 and s["invented_rate"] == 0.5


@pytest.mark.slow
def test_rag_end_to_end_retrieves_the_source_and_prompts_with_it(llm, embedder):
    from helpers.rag import answer_questions
    from helpers.retrieval import build_retriever
    from helpers.workbook.data import load_kb

    kb = load_kb()
    docs = {d: kb[d] for d in ("policy-returns", "policy-travel", "product-rill-250")}
    retriever = build_retriever(docs, method="hybrid", embedder=embedder)
    (answer,) = answer_questions(llm, retriever, ["Within how many days can customers return hardware?"],
                                 progress=False)
    assert answer.hits[0].doc_id == "policy-returns"
    assert "[policy-returns]" in answer.prompt and "30 days" in answer.prompt
    assert answer.text and answer.generation.completion_tokens <= 40


@pytest.mark.parametrize("answer, expected", [
    ("within 30 days", ["policy-returns"]),
    ("Open an RMA in the portal", ["procedure-rma"]),
    ("I don't know.", []),
    ("", []),
    ("90 days of warranty", []),
])
def test_attribute_answer_finds_the_chunk_that_holds_the_answer(answer, expected):
    assert attribute_answer(answer, HITS) == expected


def test_attribution_ignores_words_restated_from_the_question():
    hits = [Hit("history-funding-rounds", "history-funding-rounds#3", "In 2024 Nordavik Bank granted a loan.", 1.0),
            Hit("policy-travel", "policy-travel#1", "Book trips with the agency.", 0.5)]
    answer = "The bank that lent Veltrona money in 2024 was Nordavik Bank."
    assert attribute_answer(answer, hits, question="Which bank lent Veltrona money in 2024?") == ["history-funding-rounds"]
    assert attribute_answer(answer, hits) == []  # without the question, its restated words dilute the match


def test_verify_citations_takes_already_parsed_sources_of_a_json_answer():
    from helpers.rag import doc_id_of, verify_citations
    from helpers.retrieval import Hit

    hits = [Hit("a", "a#0", "Return within 30 days.", 1.0), Hit("b", "b#1", "Other.", 0.5)]
    assert doc_id_of("a#0") == "a" and doc_id_of("a") == "a"
    check = verify_citations("30 days [x]", hits, ["a"], cited=["a", "a", "ghost"])
    assert check.cited == ("a", "ghost"), "brackets in the answer text are not citations when sources are given"
    assert check.correct == ("a",) and check.invented == ("ghost",) and check.precision == 0.5
