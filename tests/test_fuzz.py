"""Fuzzed inputs (hypothesis): the document reader, the chunker, the retriever's inputs and the question loader
either work within their guarantees or raise one clear error that names the bad file, row or id — never an
``AttributeError``/``KeyError``/``IndexError`` from inside the helpers. Also the single-line folder that once
broke the size guarantees (one 2,600-word line per file)."""

from __future__ import annotations

import json
import os
import re
import warnings

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from helpers.chunking import STRATEGIES, ChunkingConfig, chunk_text, count_tokens
from helpers.documents import (
    MAX_TITLE_WORDS,
    UnreadableFileError,
    as_doc_triples,
    load_documents,
    read_document,
)
from helpers.retrieval import build_retriever
from helpers.workbook.question_sets import InputError, load_question_file

#: The same examples on every run (derandomized, no example database), so CI is deterministic; explore with
#: ``FUZZ_EXAMPLES=600 FUZZ_RANDOM=1 python -m pytest tests/test_fuzz.py`` (a new random draw each run).
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")), deadline=None, database=None,
                derandomize=os.environ.get("FUZZ_RANDOM") != "1",
                suppress_health_check=[HealthCheck.function_scoped_fixture])

words = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=12)
#: documents as people write them and as exports do: markdown, tables, code, one huge line, no whitespace
texts = st.one_of(
    st.text(max_size=400),
    st.lists(words, max_size=300).map(" ".join),  # often a single long line
    st.lists(st.sampled_from(["# Title", "## Part", "### Sub", "| a | b |", "|---|---|", "```", "x = 1",
                              "plain words here.", "", "Another sentence! And more?", "- item", "=====",
                              "word " * 60, "x" * 300]), max_size=40).map("\n".join),
    st.text(alphabet="abc", min_size=500, max_size=3000),  # one whitespace-free run
)


@FUZZ
@given(text=texts, strategy=st.sampled_from([s for s in STRATEGIES if s != "none"]),
       size=st.integers(1, 300), overlap_share=st.floats(0, 0.9), title=st.one_of(st.just(""), words, texts))
@example(text="0\n0", strategy="markdown", size=1, overlap_share=0.0, title="")  # a heading path fills size 1
def test_every_chunk_fits_its_budget_and_points_into_its_document(text, strategy, size, overlap_share, title):
    config = ChunkingConfig(strategy, size, min(int(size * overlap_share), size - 1))
    chunks = chunk_text(text, "doc", config, title=title)
    for chunk in chunks:
        assert count_tokens(chunk.text) <= size, (strategy, size, chunk.text[:200])
        assert 0 <= chunk.start < chunk.end <= len(text) and text[chunk.start:chunk.end].strip()
        assert chunk.text.endswith(text[chunk.start:chunk.end].strip())
    assert [c.position for c in chunks] == list(range(len(chunks)))


@pytest.fixture(scope="module")
def model_count():
    """The default model's name and a function counting its tokens (what a chunk's budget is in on a team's folder)."""
    from helpers.runtime.config import get_settings
    from helpers.runtime.models import load_tokenizer

    name = get_settings().llm
    tokenizer = load_tokenizer(name)
    return name, lambda s: len(tokenizer(s, add_special_tokens=False)["input_ids"])


def model_chunks(text, config, title=""):
    from helpers.runtime.models import model_tokens

    return chunk_text(text, "doc", config, title=title, model_tokens=lambda t: model_tokens(t, config.tokenizer))


#: the texts above and text with no spaces at all in other scripts (Chinese, Japanese, Thai, emoji)
any_script = st.one_of(texts, st.text(alphabet="東京都日本語のテキストภาษาไทย😀é", min_size=200, max_size=2000))


@FUZZ
@given(text=any_script, strategy=st.sampled_from([s for s in STRATEGIES if s != "none"]),
       size=st.integers(1, 300), title=st.one_of(st.just(""), words, texts))
@example(text="東京都" * 400, strategy="markdown", size=64, title="")  # no whitespace: one "word", 2,000+ tokens
def test_every_chunk_fits_its_budget_in_the_reading_models_tokens(model_count, text, strategy, size, title):
    from helpers.runtime.models import load_tokenizer, token_units

    name, count = model_count
    chunks = model_chunks(text, ChunkingConfig(strategy, size, size // 4, tokenizer=name), title)
    units = token_units(text, load_tokenizer(name))
    for chunk in chunks:
        body = text[chunk.start:chunk.end].strip()
        # the one exception: one unit of the document (a token, or a character's byte pieces) kept whole, which
        # read alone the model spells in more tokens than a budget this small
        single = chunk.text == body and len(list(units(text, chunk.start, chunk.end))) == 1
        assert count(chunk.text) <= size or single, (strategy, size, chunk.text[:200])
        assert chunk.text.endswith(body) and body
    assert [c.position for c in chunks] == list(range(len(chunks)))


class MergingTokenizer:
    """A stand-in for tokenizers (Qwen2, Llama 3) whose tokens cross a sentence or paragraph break (".\n\n")."""

    TOKEN = re.compile(r"[.!?。]\s+|\s?\w+|\s+|[^\w\s]")

    def __call__(self, text, add_special_tokens=False, return_offsets_mapping=False, verbose=True):
        spans = [m.span() for m in self.TOKEN.finditer(text)]
        return {"offset_mapping": spans, "input_ids": list(range(len(spans)))}


@FUZZ
@given(text=any_script, strategy=st.sampled_from(["fixed", "sentence"]), size=st.integers(1, 120),
       merging=st.booleans())
@example(text="One. Two.\n\nThree.\nFour.", strategy="sentence", size=3, merging=True)
def test_chunks_in_model_tokens_lose_no_text(model_count, text, strategy, size, merging):
    """Every non-space character lands in a chunk, also where a token crosses a sentence or paragraph break."""
    from helpers.runtime.models import load_tokenizer, token_units

    tokenizer = MergingTokenizer() if merging else load_tokenizer(model_count[0])
    count = (lambda s: len(tokenizer(s)["input_ids"])) if merging else model_count[1]
    chunks = chunk_text(text, "doc", ChunkingConfig(strategy, size, 0, tokenizer="stand-in"),
                        model_tokens=lambda t: (token_units(t, tokenizer), count))
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace()), (strategy, size)


def test_a_folder_in_a_language_without_spaces_is_chunked_in_model_tokens(model_count):
    name, count = model_count
    text = "東京都は日本の首都です。" * 500  # one 6,000-character "word"
    assert len(chunk_text(text, "doc")) == 1  # counted in words it is one token
    chunks = model_chunks(text, ChunkingConfig(tokenizer=name))
    assert len(chunks) > 10 and max(count(c.text) for c in chunks) <= ChunkingConfig().size
    assert "".join(c.text for c in chunks) == text  # nothing lost, nothing repeated


@FUZZ
@given(raw=st.one_of(texts.map(lambda t: t.encode("utf-8")), st.binary(max_size=300),
                     texts.map(lambda t: t.encode("latin-1", errors="replace"))),
       suffix=st.sampled_from([".txt", ".md", ".rst"]))
def test_any_file_is_read_or_refused_in_one_sentence(tmp_path_factory, raw, suffix):
    path = tmp_path_factory.mktemp("doc") / f"file{suffix}"
    path.write_bytes(raw)
    try:
        doc = read_document(path)
    except UnreadableFileError as why:
        assert str(why) and "\n" not in str(why)
        return
    assert doc.text.strip() and doc.doc_id == "file"
    assert len(doc.title.split()) <= MAX_TITLE_WORDS or doc.title == doc.doc_id


values = st.one_of(texts, st.none(), st.integers(), st.lists(st.text(max_size=5), max_size=2),
                   st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2))


@FUZZ
@given(docs=st.one_of(st.dictionaries(st.text(min_size=1, max_size=8), values, max_size=5),
                      st.lists(st.tuples(st.text(min_size=1, max_size=8), values), max_size=5)))
def test_bad_document_inputs_name_the_document(docs):
    try:
        triples = as_doc_triples(docs)
    except (TypeError, ValueError) as why:
        bad = [key for key, value in (docs.items() if isinstance(docs, dict) else docs) if not isinstance(value, str)]
        dupes = not isinstance(docs, dict) and len({k for k, _ in docs}) < len(docs)
        assert dupes or any(repr(key) in str(why) or str(key) in str(why) for key in bad), str(why)
        return
    assert all(isinstance(text, str) for _, text, _ in triples)


@FUZZ
@given(docs=st.dictionaries(st.text(alphabet="abcdef", min_size=1, max_size=6), texts, min_size=1, max_size=6),
       query=st.text(min_size=1, max_size=40), k=st.integers(1, 5))
def test_the_lexical_retriever_takes_any_text(docs, query, k):
    try:
        retriever = build_retriever(docs, method="bm25", chunking=ChunkingConfig("markdown", 50, 0))
    except ValueError as why:  # nothing to index: every document is blank
        assert "\n" not in str(why) and all(not t.strip() for t in docs.values()), str(why)
        return
    if not query.strip():
        return
    hits = retriever.search(query, k=k)
    assert len(hits) <= k and all(h.doc_id in docs for h in hits)


cells = st.one_of(st.none(), st.text(max_size=30), st.integers(), st.booleans(), st.lists(st.integers(), max_size=2))


@FUZZ
@given(rows=st.lists(st.dictionaries(st.sampled_from(["question", "answer", "source", "type", "id", "extra"]),
                                     cells, max_size=5), min_size=1, max_size=6))
def test_a_questions_file_loads_or_names_its_bad_line(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("q") / "questions.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            questions = load_question_file(path)
    except InputError as why:
        assert "\n" not in str(why).strip(), str(why)
        return
    assert len(questions) == len(rows) and all(q.question.strip() for q in questions)


def single_line_folder(folder, n=6, words=2600):
    """Files as exports write them: one line each, thousands of words, no heading."""
    vocabulary = ["alpha", "beta", "gamma", "delta", "ticket", "order", "refund", "server", "policy", "customer"]
    for i in range(n):
        line = " ".join(f"{vocabulary[(i * 7 + j * 3) % len(vocabulary)]}{j % 97}" for j in range(words))
        (folder / f"export-{i}.txt").write_text(f"Record {i}: " + line + ".\n", encoding="utf-8")
    return folder


def test_a_folder_of_single_line_files_keeps_every_size_guarantee(tmp_path):
    from helpers.prompts import rag_prompt
    from helpers.rag import distinct_hits

    docs = load_documents(single_line_folder(tmp_path))
    assert all(doc.title == doc.doc_id for doc in docs.values()), "a 2,600-word first line is not a title"
    retriever = build_retriever(docs, method="bm25")
    size = ChunkingConfig().size
    assert all(count_tokens(c.text) <= size for c in retriever.chunks.values())
    hits = distinct_hits(retriever.search("refund policy for a customer order", k=3))
    prompt = rag_prompt("What is the refund policy?", hits)
    assert count_tokens(prompt) <= 3 * size + 40  # three chunks and the question: no copy of a whole document
    assert len({h.text for h in hits}) == len(hits)


def test_a_single_line_folder_for_compare_keeps_its_chunks_within_the_models_tokens(tmp_path, model_count):
    """What ``llm-workbook compare`` indexes: chunks counted in the reading model's tokens, so a RAG prompt of a
    single-line folder is about as long as the shipped example's (it once filled three 400-word chunks)."""
    from helpers.prompts import rag_prompt
    from helpers.rag import distinct_hits
    from helpers.workbook.folder_index import index_documents

    name, count = model_count
    retriever = index_documents(load_documents(single_line_folder(tmp_path)), method="bm25")
    size = ChunkingConfig().size
    assert retriever.chunking.tokenizer == name
    assert max(count(c.text) for c in retriever.chunks.values()) <= size
    assert count_tokens(next(iter(retriever.chunks.values())).text) < size  # fewer words than in word counting
    prompt = rag_prompt("What is the refund policy?", distinct_hits(retriever.search("refund policy", k=3)))
    assert count(prompt) <= 3 * size + 120


def test_draft_passages_are_cut_in_the_drafting_models_tokens(tmp_path, model_count):
    """draft-questions with a local model puts passages of at most 400 of its tokens into its prompts."""
    from helpers.workbook.question_drafts import pick_passages

    name, count = model_count
    (tmp_path / "zh.txt").write_text("東京都は日本の首都です。" * 500, encoding="utf-8")
    docs = load_documents(tmp_path)
    assert count(pick_passages(docs, 1)[0][1]) > 2000  # in words, the whole one-"word" document
    passages = pick_passages(docs, 5, model=name)
    assert passages and max(count(text) for _, text in passages) <= ChunkingConfig().size


def test_the_same_text_never_enters_one_prompt_twice():
    from helpers.rag import distinct_hits
    from helpers.retrieval import Hit

    hits = [Hit("a", "a#0", "Same  text.", 0.9), Hit("b", "b#0", "Same text.", 0.8), Hit("c", "c#0", "Other.", 0.7)]
    assert [h.chunk_id for h in distinct_hits(hits)] == ["a#0", "c#0"]


@pytest.mark.slow
def test_a_prompt_over_the_context_window_drops_its_lowest_ranked_chunks(llm):
    from helpers.prompts import rag_prompt
    from helpers.rag import context_window, fit_context
    from helpers.retrieval import Hit

    window = context_window(llm)
    assert window == 8192
    big = " ".join(["word"] * 3000)
    hits = [Hit(f"d{i}", f"d{i}#0", f"{i} {big}", 1.0 - i / 10) for i in range(5)]
    kept, dropped = fit_context(llm, rag_prompt, "What is it?", hits, (), 48)
    assert 0 < dropped < 5 and [h.doc_id for h in kept] == [f"d{i}" for i in range(5 - dropped)]
    text = llm.tokenizer.apply_chat_template([{"role": "user", "content": rag_prompt("What is it?", kept)}],
                                             tokenize=False, add_generation_prompt=True)
    assert len(llm.tokenizer(text, add_special_tokens=False)["input_ids"]) + 48 <= window
    assert fit_context(llm, rag_prompt, "What is it?", hits[:1], (), 48) == (hits[:1], 0)
