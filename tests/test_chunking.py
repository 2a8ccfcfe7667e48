"""Chunking: every strategy covers the document, respects the size, and keeps ids and positions."""

from __future__ import annotations

import pytest

from helpers.chunking import ChunkingConfig, chunk_text, count_tokens, fixed_size_spans

DOC = """# Return policy

Intro paragraph with a few words. It has two sentences.

## Window

Customers may return hardware within 30 days. The window starts at delivery. """ + " ".join(
    f"word{i}" for i in range(150)) + """

## Fees

A restocking fee of 15% applies. Refunds take 14 days.
"""


def test_fixed_size_windows_overlap_and_cover_everything():
    text = " ".join(f"w{i}" for i in range(100))
    spans = fixed_size_spans(text, size=30, overlap=10)
    words = [text[a:b].split() for a, b in spans]
    assert all(len(w) <= 30 for w in words)
    assert words[0][-10:] == words[1][:10]  # consecutive windows share `overlap` tokens
    assert words[-1][-1] == "w99" and words[0][0] == "w0"


@pytest.mark.parametrize("strategy", ["fixed", "sentence", "markdown"])
def test_chunks_fit_size_and_trace_back_to_the_document(strategy):
    config = ChunkingConfig(strategy=strategy, size=40, overlap=8)
    chunks = chunk_text(DOC, "policy-returns", config, title="Return policy")
    assert len(chunks) > 2
    for i, c in enumerate(chunks):
        assert c.doc_id == "policy-returns" and c.position == i and c.chunk_id == f"policy-returns#{i}"
        assert DOC[c.start:c.end] in c.text  # the span is the chunk's body
        assert count_tokens(DOC[c.start:c.end]) <= 40
    covered = {w for c in chunks for w in DOC[c.start:c.end].split()}
    body = {w for line in DOC.splitlines() if not line.startswith("#") for w in line.split()}
    assert body <= covered  # no text is lost (markdown chunks move headings into the prefix)


def test_markdown_chunks_carry_their_heading_path_and_do_not_cross_sections():
    chunks = chunk_text(DOC, "d", ChunkingConfig("markdown", size=40, overlap=0))
    fees = [c for c in chunks if "restocking" in c.text]
    assert len(fees) == 1 and fees[0].section == "Return policy > Fees"
    assert fees[0].text.startswith("Return policy > Fees\n")
    assert "30 days" not in fees[0].text


def test_sentence_strategy_never_cuts_a_short_sentence():
    chunks = chunk_text(DOC, "d", ChunkingConfig("sentence", size=40, overlap=0))
    assert any("A restocking fee of 15% applies." in c.text for c in chunks)


def test_none_keeps_the_document_whole_and_documents_keep_order():
    config = ChunkingConfig("none")
    chunks = [c for doc_id, text in (("a", "one two"), ("b", "three")) for c in chunk_text(text, doc_id, config)]
    assert [(c.doc_id, c.text) for c in chunks] == [("a", "one two"), ("b", "three")]


def test_invalid_configs_are_refused():
    with pytest.raises(ValueError, match="strategy"):
        ChunkingConfig(strategy="words")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="overlap"):
        ChunkingConfig(size=10, overlap=10)
