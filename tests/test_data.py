"""The shipped data is consistent: ids unique, references resolve, splits disjoint, answers findable."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from helpers.documents import parse_front_matter
from helpers.workbook.data import (
    QUESTION_TYPES,
    SPLITS,
    load_kb,
    load_kb_questions,
    load_kb_updates,
    load_python_faq,
)

KB = load_kb()
UPDATES = load_kb_updates()
QUESTIONS = load_kb_questions()


def test_front_matter_parsing():
    meta, body = parse_front_matter("---\nid: a-b\ntitle: T: x\n---\n# T\nbody\n")
    assert meta == {"id": "a-b", "title": "T: x"} and body.startswith("# T")
    assert parse_front_matter("# no front matter") == ({}, "# no front matter")
    with pytest.raises(ValueError, match="never closed"):
        parse_front_matter("---\nid: x\n")


def test_knowledge_base_size_and_fields():
    assert 50 <= len(KB) <= 80
    for doc in KB.values():
        assert doc.title and doc.category and doc.updated, doc.doc_id
        assert doc.doc_id.startswith(doc.category + "-"), doc.doc_id
        assert len(doc.text.split()) >= 80, doc.doc_id
    long_docs = [d for d in KB.values() if len(d.text.split()) >= 1200]
    assert len(long_docs) >= 4, "some documents must be long enough to need chunking"


def test_update_documents_replace_existing_v1_documents():
    assert {"policy-returns", "policy-travel"} <= set(UPDATES)
    for doc_id, v2 in UPDATES.items():
        assert doc_id in KB and KB[doc_id].text != v2.text
    updated = load_kb(updated=True)
    assert set(updated) == set(KB)
    assert updated["policy-returns"].text == UPDATES["policy-returns"].text


def test_question_ids_unique_and_fields_valid():
    assert len(QUESTIONS) >= 150
    assert len({q.id for q in QUESTIONS}) == len(QUESTIONS)
    for q in QUESTIONS:
        assert q.type in QUESTION_TYPES and q.split in SPLITS, q.id
        assert q.question.strip().endswith("?") or len(q.question) > 10, q.id
        if q.answerable:
            assert q.answer and 1 <= len(q.answer.split()) <= 8, q.id
            assert q.doc_ids, q.id
        else:
            assert q.answer == "" and not q.aliases, q.id


def test_supporting_documents_exist():
    for q in QUESTIONS:
        for doc_id in q.doc_ids:
            assert doc_id in KB, f"{q.id} cites unknown document {doc_id}"
    multi = [q for q in QUESTIONS if q.type == "multi-doc"]
    assert multi and all(len(set(q.doc_ids)) >= 2 for q in multi)


def test_splits_are_disjoint_and_each_has_every_type():
    texts = {s: {q.question.strip().lower() for q in QUESTIONS if q.split == s} for s in SPLITS}
    assert not (texts["train"] & texts["dev"]) and not (texts["train"] & texts["test"])
    assert not (texts["dev"] & texts["test"])
    counts = Counter((q.split, q.type) for q in QUESTIONS)
    for split in SPLITS:
        for qtype in QUESTION_TYPES:
            assert counts[(split, qtype)] >= 1, (split, qtype)
    assert load_kb_questions("test", types="unanswerable") == [
        q for q in QUESTIONS if q.split == "test" and q.type == "unanswerable"]


@pytest.mark.parametrize("qtype", ["single-fact", "numeric", "paraphrase"])
def test_extractive_answers_occur_in_their_document(qtype):
    for q in load_kb_questions(types=qtype):
        text = KB[q.doc_ids[0]].text.lower()
        assert any(g.lower() in text for g in q.gold()), f"{q.id}: no gold answer in {q.doc_ids[0]}"


def test_knowledge_update_questions():
    changing = [q for q in QUESTIONS if q.changes_on_update]
    assert len(changing) >= 6
    assert {q.split for q in changing} >= {"dev", "test"}
    for q in changing:
        doc_id = q.doc_ids[0]
        assert doc_id in UPDATES, q.id
        assert any(g.lower() in KB[doc_id].text.lower() for g in q.gold()), q.id
        assert any(g.lower() in UPDATES[doc_id].text.lower() for g in q.gold(updated=True)), q.id
        assert q.answer_after_update.lower() != q.answer.lower(), q.id


def test_python_faq_corpus():
    passages, questions = load_python_faq()
    ids = [p.id for p in passages]
    assert len(ids) == len(set(ids)) and 700 <= len(passages) <= 1000
    assert 150 <= len(questions) <= 220
    by_id = {p.id: p for p in passages}
    for q in questions:
        assert by_id[q.passage_id].kind == "faq-answer", q.id
        assert q.question.lower() not in by_id[q.passage_id].text.lower()[: len(q.question) + 5]
    assert {q.split for q in questions} == set(SPLITS)
    assert len({q.id for q in questions}) == len(questions)
    _, test = load_python_faq("test")
    assert 0 < len(test) < len(questions)


def test_heldout_faq_corpus_is_separate_from_everything_tuned_on():
    from helpers.workbook.data import load_heldout_faq

    passages, questions = load_heldout_faq()
    ids = [p.id for p in passages]
    assert len(ids) == len(set(ids)) and 200 <= len(passages) <= 300 and 40 <= len(questions) <= 60
    by_id = {p.id: p for p in passages}
    for q in questions:
        assert by_id[q.passage_id].kind == "faq-answer" and len(by_id[q.passage_id].text.split()) >= 20, q.id
    assert {q.split for q in questions} == {"heldout"}, "the held-out corpus has no train/dev split: nothing is tuned on it"
    tuned_on = {q.question.lower() for q in load_python_faq()[1]} | {q.question.lower() for q in load_kb_questions()}
    assert not tuned_on & {q.question.lower() for q in questions}
    root = Path(__file__).resolve().parent.parent / "data" / "heldout_faq"
    assert "GNU GENERAL PUBLIC LICENSE" in (root / "LICENSE-GPL-2-git.txt").read_text()[:200]


def test_general_questions():
    from helpers.workbook.data import load_general_questions

    general = load_general_questions()
    assert len({q.id for q in general}) == len(general) >= 20
    assert {q.type for q in general} == {"general", "reasoning"}
    assert all(q.answer and not q.doc_ids and q.split == "dev" for q in general)
    assert len(load_general_questions("reasoning")) >= 6


def test_sample_questions_is_deterministic_and_ordered():
    from helpers.workbook.data import sample_questions

    a, b = sample_questions(QUESTIONS, 10, seed=1), sample_questions(QUESTIONS, 10, seed=1)
    assert a == b and len(a) == 10 and [q.id for q in a] == sorted(q.id for q in a)
    assert sample_questions(QUESTIONS, 10, seed=2) != a
    assert sample_questions(QUESTIONS, None) == QUESTIONS


def test_gold_section_contains_the_answer():
    from helpers.chunking import markdown_sections
    from helpers.workbook.data import gold_section

    assert markdown_sections("intro\n## A\nx\n## B\ny") == ["intro", "## A\nx", "## B\ny"]
    for q in load_kb_questions(types=["single-fact", "numeric", "paraphrase"]):
        section = gold_section(q, KB).lower()
        assert any(g.lower() in section for g in q.gold()), q.id
        assert len(section.split()) < len(KB[q.doc_ids[0]].text.split()) + 1
    with pytest.raises(ValueError, match="no supporting"):
        gold_section(next(q for q in QUESTIONS if not q.answerable), KB)


def test_fact_paraphrases_reword_answerable_train_questions():
    from helpers.workbook.data import load_fact_paraphrases

    paraphrases = load_fact_paraphrases()
    source = {q.id: q for q in load_kb_questions("train")}
    assert len(paraphrases) == 20 and len({p.id for p in paraphrases}) == 20
    for p in paraphrases:
        original = next(q for q in source.values() if q.answer == p.answer and q.doc_ids == p.doc_ids)
        assert p.answerable and p.split == "paraphrase" and p.question != original.question
