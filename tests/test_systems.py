"""Systems (prompt-only, RAG, LoRA, LoRA + RAG): building, answering, scoring, the knowledge update.

No model is loaded: ``generate`` is replaced by canned answers (the ``fake_generate`` fixture), so
these tests check the plumbing (prompts, parsing, rows, which answers are generated) in milliseconds.
"""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import pytest
from conftest import ToyEmbedder

from helpers.comparison import compare
from helpers.prompts import CLOSED_BOOK_INSTRUCTION, JSON_RAG_INSTRUCTION, json_answer
from helpers.retrieval import build_retriever
from helpers.systems import SYSTEMS, System, build_system, evaluate_systems, knowledge_update
from helpers.workbook.data import Question

DOCS = {
    "returns": "# Returns\n\nCustomers may return hardware within 30 days of delivery. A restocking fee applies.",
    "travel": "# Travel\n\nThe hotel cap is 140 euros per night in most cities.",
    "warranty": "# Warranty\n\nThe warranty covers manufacturing defects for two years.",
}
UPDATE = {"returns": "# Returns\n\nCustomers may return hardware within 45 days of delivery. A restocking fee applies."}
RETURNS = Question("q1", "How many days do customers have to return hardware?", "30 days", ("thirty days",),
                   ("returns",), "numeric", "dev", answer_after_update="45 days")
HOTEL = Question("q2", "What is the hotel cap per night?", "140 euros", (), ("travel",), "numeric", "dev")
MASCOT = Question("q3", "Who is the company mascot?", "", (), (), "unanswerable", "dev")
QUESTIONS = [RETURNS, HOTEL, MASCOT]
TEXTS = [q.question for q in QUESTIONS]

BASE = SimpleNamespace(name="fake-base", model=SimpleNamespace())
TUNED = SimpleNamespace(name="fake-base", model=SimpleNamespace(peft_config={"default": None}))


def reader(llm, prompt: str) -> str:
    """A model that remembers the old return window and otherwise reads its context: answers the
    first number of days or euros it finds, citing the passage's id (JSON when asked for JSON)."""
    if CLOSED_BOOK_INSTRUCTION in prompt:
        return "30 days" if "return" in prompt else "I don't know"
    question = prompt.rsplit("answer briefly: ", 1)[-1]
    topic = "days" if "days" in question else "euros" if "hotel" in question else None
    found = re.search(rf"\[([\w#-]+)\]\n[^\[]*?(\d+ {topic})", prompt) if topic else None
    if JSON_RAG_INSTRUCTION in prompt:
        return json_answer(found.group(2), [found.group(1)]) if found else json_answer("I don't know")
    return f"{found.group(2)} [{found.group(1)}]" if found else "I don't know"


@pytest.fixture(scope="module")
def bm25():
    return build_retriever(DOCS, method="bm25")


def test_build_system_refuses_what_does_not_fit(bm25):
    with pytest.raises(ValueError, match=r"Unknown system 'rag2'; choose one of \['prompt', 'rag', 'lora', 'lora\+rag'\]"):
        build_system("rag2", llm=BASE)
    for name in ("rag", "lora+rag"):
        with pytest.raises(ValueError, match=rf"build_system\('{re.escape(name)}'\) needs retriever=build_retriever"):
            build_system(name, llm=TUNED)
    for name in ("prompt", "lora"):
        with pytest.raises(ValueError, match=rf"The '{name}' system answers closed-book, so it takes no retriever"):
            build_system(name, llm=TUNED, retriever=bm25)
    for name, retriever, llms in (("lora", None, (BASE, None)), ("lora+rag", bm25, (BASE,))):
        for llm in llms:  # refused before any model is loaded (lora+rag without llm loads the shipped reader)
            with pytest.raises(ValueError, match=rf"build_system\('{re.escape(name)}'\) needs a fine-tuned model: "
                                                 r"adapter=<folder of a saved adapter> or llm="):
                build_system(name, llm=llm, retriever=retriever)
    with pytest.raises(ValueError, match=r"The 'rag' system uses the base model; pass adapter= to 'lora'"):
        build_system("rag", llm=BASE, retriever=bm25, adapter="some/folder")


def test_build_system_defaults_follow_the_system(bm25):
    assert list(SYSTEMS) == ["prompt", "rag", "lora", "lora+rag"]
    prompt = build_system("prompt", llm=BASE)
    assert (prompt.name, prompt.retriever, prompt.style, prompt.instruction, prompt.max_new_tokens) == \
        ("prompt", None, "text", CLOSED_BOOK_INSTRUCTION, 32)
    rag = build_system("rag", llm=BASE, retriever=bm25, k=2, label="RAG, k=2")
    assert (rag.name, rag.retriever, rag.k, rag.style, rag.instruction) == ("RAG, k=2", bm25, 2, "text", None)
    combined = build_system("lora+rag", llm=TUNED, retriever=bm25)
    assert (combined.llm, combined.style, combined.instruction, combined.max_new_tokens) == \
        (TUNED, "json", JSON_RAG_INSTRUCTION, 48)
    assert build_system("rag", llm=BASE, retriever=bm25, style="json").instruction == JSON_RAG_INSTRUCTION
    assert build_system("lora", llm=TUNED, instruction=None).instruction is None


def test_a_prompt_system_answers_closed_book(fake_generate):
    calls = fake_generate(reader)
    answers = build_system("prompt", llm=BASE).answer(TEXTS, progress=False)
    assert len(calls) == 1 and calls[0]["llm"] is BASE and calls[0]["max_new_tokens"] == 32
    assert calls[0]["prompts"] == [f"{q}\n{CLOSED_BOOK_INSTRUCTION}" for q in TEXTS]
    for q, a in zip(TEXTS, answers):
        assert a.question == q and CLOSED_BOOK_INSTRUCTION in a.prompt and a.prompt == a.generation.prompt
        assert a.hits == [] and a.citations == [] and a.style == "text" and a.parsed is None
        assert a.answer == a.text == a.generation.text
    assert [a.answer for a in answers] == ["30 days", "I don't know", "I don't know"]
    with pytest.raises(TypeError, match=r"System\.answer\(\) takes a list of questions, not one string"):
        build_system("prompt", llm=BASE).answer(TEXTS[0])
    with pytest.raises(ValueError, match=r"Question 2 of 2 is empty"):
        build_system("prompt", llm=BASE).answer([TEXTS[0], "  "])
    assert len(calls) == 1, "bad questions are refused before the model is called"


def test_a_json_rag_system_parses_answers_and_sources(fake_generate, bm25):
    responses = {RETURNS.question: 'Sure! {"answer": "30 days", "sources": ["returns#0", "returns#0", "travel#0"]}',
                 HOTEL.question: json_answer("140 euros", ["travel#0"]),
                 MASCOT.question: "The mascot is probably a fox."}
    calls = fake_generate(lambda llm, prompt: responses[prompt.rsplit("answer briefly: ", 1)[1].split("\n")[0]])
    system = System("lora+rag", TUNED, retriever=bm25, k=2, style="json", instruction=JSON_RAG_INSTRUCTION,
                    max_new_tokens=48)
    answers = system.answer(TEXTS, progress=False)
    assert calls[0]["llm"] is TUNED and calls[0]["max_new_tokens"] == 48 and calls[0]["desc"] == "lora+rag"
    returns, hotel, mascot = answers
    assert all(a.style == "json" and len(a.hits) <= 2 and JSON_RAG_INSTRUCTION in a.prompt for a in answers)
    assert "[returns#0]" in returns.prompt, "JSON prompts label each passage with its chunk id"
    assert returns.parsed == {"answer": "30 days", "sources": ["returns#0", "returns#0", "travel#0"]}
    assert returns.answer == "30 days" and returns.citations == ["returns", "travel"]
    assert hotel.parsed == {"answer": "140 euros", "sources": ["travel#0"]} and hotel.citations == ["travel"]
    assert mascot.parsed is None and mascot.answer == mascot.text and mascot.citations == []
    table = system.score(QUESTIONS, answers)
    assert list(table["system"]) == ["lora+rag"] * 3 and list(table["json_valid"]) == [True, True, False]
    assert list(table["correct"]) == [True, True, False] and list(table["n_cited"]) == [2, 1, 0]


def test_evaluate_systems_gives_one_row_per_question_and_system(fake_generate, bm25):
    calls = fake_generate(reader)
    prompt = build_system("prompt", llm=BASE)
    rag = build_system("rag", llm=BASE, retriever=bm25, k=1)
    combined = build_system("lora+rag", llm=TUNED, retriever=bm25, k=1)
    answered = prompt.answer(TEXTS, progress=False)
    table = evaluate_systems([prompt, rag, combined], QUESTIONS, answers={"prompt": answered})
    assert len(calls) == 3, "the given answers are scored, not generated again"
    assert len(table) == 3 * len(QUESTIONS) and list(table.index) == list(range(9))
    assert list(table["system"]) == ["prompt"] * 3 + ["rag"] * 3 + ["lora+rag"] * 3
    assert list(table["id"]) == [q.id for q in QUESTIONS] * 3
    assert list(table["correct"]) == [True, False, True] + [True] * 6, "closed-book, the hotel cap is unknown"
    summary = compare(table, {"rag": 0.5})
    assert list(summary.index) == ["prompt", "rag", "lora+rag"] and summary.loc["rag", "build_seconds"] == 0.5
    assert math.isnan(summary.loc["prompt", "JSON valid"]) and math.isnan(summary.loc["rag", "JSON valid"])
    assert summary.loc["lora+rag", "JSON valid"] == 1.0 and math.isnan(summary.loc["prompt", "cites"])
    assert summary.loc["rag", "cites"] == 1.0 and (summary["n"] == 3).all()
    with pytest.raises(ValueError, match=r"System names must differ .*\['rag', 'rag'\]; pass label="):
        evaluate_systems([rag, build_system("rag", llm=BASE, retriever=bm25, k=3)], QUESTIONS)


def test_knowledge_update_reindexes_each_index_once_and_keeps_closed_book_answers(fake_generate):
    calls = fake_generate(reader)
    embedder = ToyEmbedder()
    index = build_retriever(DOCS, method="hybrid", embedder=embedder)
    embedded = embedder.calls
    systems = [build_system("prompt", llm=BASE),
               build_system("rag", llm=BASE, retriever=index.view("dense"), k=1),
               build_system("rag", llm=BASE, retriever=index.view("bm25"), k=1, label="rag (bm25)")]
    result = knowledge_update(systems, UPDATE, [RETURNS])
    assert result.change == {"docs": 1, "replaced_docs": 1, "chunks_added": 1, "chunks_removed": 1}, \
        "two views of one index: the update is added once"
    assert embedder.calls - embedded == 1 + 2, "one new chunk, and the dense view's query before and after"
    assert len(index.doc_ids) == 3 and "45 days" in index.chunks_of("returns")[0].text
    assert len(calls) == 3 + 2, "closed-book answers are not generated again after the update"
    assert result.after["prompt"] is result.before["prompt"]
    table = result.table
    assert list(table.index) == ["prompt", "rag", "rag (bm25)"] and table.index.name == "system"
    assert {"new before", "old before", "context new before", "new after", "old after", "context new after",
            "update_seconds"} <= set(table.columns)
    assert table.loc["prompt", ["new before", "old before", "new after", "old after"]].tolist() == [0, 1, 0, 1]
    assert math.isnan(table.loc["prompt", "context new after"]) and math.isnan(table.loc["prompt", "update_seconds"])
    for name in ("rag", "rag (bm25)"):
        row = table.loc[name]
        assert [row["new before"], row["old before"], row["new after"], row["old after"]] == [0, 1, 1, 0], name
        assert (row["context new before"], row["context new after"]) == (0, 1), name
        assert row["update_seconds"] == result.seconds >= 0
        assert result.after[name][0].answer == "45 days" and result.after[name][0].citations == ["returns"]
        assert (result.gives(name, "before"), result.gives(name, "after")) == ([False], [True]), name
        assert (result.gives(name, "before", "old"), result.gives(name, "after", "old")) == ([True], [False]), name


def test_a_few_shot_system_shows_its_worked_examples_before_each_prompt(fake_generate, embedder):
    from helpers.retrieval import build_retriever
    from helpers.systems import build_system

    seen = []

    def respond(llm, prompt):
        seen.append(prompt)
        return '{"answer": "45 days", "sources": ["returns#0"]}'

    fake_generate(respond)
    retriever = build_retriever({"returns": "Customers may return hardware within 45 days."}, embedder=embedder)
    shots = [("Context ... How long is the warranty?", '{"answer": "2 years", "sources": ["warranty#0"]}')]
    system = build_system("rag", llm=object(), retriever=retriever, style="json", shots=shots, label="few-shot")
    (answer,) = system.answer(["How long can customers return hardware?"], progress=False)
    assert answer.answer == "45 days" and answer.citations == ["returns"]
    messages = seen[0]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"] and messages[1]["content"] == shots[0][1]
    assert "How long can customers return hardware?" in messages[-1]["content"] and answer.prompt == messages[-1]["content"]
    seen.clear()
    closed = build_system("prompt", llm=object(), shots=shots, system="Be brief.")  # closed-book few-shot too
    closed.answer(["How long can customers return hardware?"], progress=False)
    assert [m["role"] for m in seen[0]] == ["user", "assistant", "user"] and closed.system == "Be brief."
