"""Fine-tune or retrieve on your documents: the drafted facts, the ``lora`` and ``facts+rag`` arms of compare."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from conftest import ToyEmbedder
from test_your_data import QUESTIONS, folder, write_csv  # noqa: F401 (folder is a fixture)

import helpers.runtime.adapter_cache as adapter_cache
import helpers.workbook.fact_adapter as fact_adapter
from helpers.prompts import CLOSED_BOOK_INSTRUCTION, closed_book_prompt
from helpers.workbook.cli import main
from helpers.workbook.question_drafts import _plain, extract_facts
from helpers.workbook.question_sets import InputError, load_question_file, read_documents
from helpers.workbook.your_data import compare_on_documents

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "data" / "your_data"


def test_extracted_facts_are_deterministic_spread_and_found_in_their_document():
    docs = read_documents(EXAMPLE / "docs")
    facts = extract_facts(docs, 60, folder=EXAMPLE / "docs")
    assert facts.equals(extract_facts(docs, 60, folder=EXAMPLE / "docs")) and len(facts) == 60
    assert set(facts["source"]) == {p.name for p in (EXAMPLE / "docs").iterdir()}  # round-robin reaches every file
    for row in facts.itertuples():
        assert row.question.startswith("Fill in the blank (") and "___" in row.question
        filled = row.question.split("): ", 1)[1].replace("___", row.answer)
        text = _plain(docs[Path(row.source).stem].text)  # the document as read, markup removed
        assert filled in text, row  # the blanked sentence, filled in, is a sentence of the document


def test_training_facts_never_hold_an_evaluated_question_or_an_unchecked_answer(folder, tmp_path):  # noqa: F811
    docs = read_documents(folder)
    questions = load_question_file(write_csv(tmp_path / "q.csv", QUESTIONS), docs, folder)
    drafts = pd.DataFrame({"question": ["How long does the standard SHIPPING take? ", "Who returns devices?",
                                        "What colour is the button?"],
                           "answer": ["5 business days", "customers", "green"],
                           "check": ["answer found in the passage", "answer found in the passage",
                                     "answer NOT in the passage: fix or delete"]})
    facts = fact_adapter.training_facts(docs, questions, drafts)
    assert list(facts.table["question"]) == ["Who returns devices?"]
    assert (facts.dropped_questions, facts.dropped_unchecked) == (1, 1)
    assert facts.record()["pairs"] == 1
    with pytest.raises(InputError, match="No question/answer pair left"):
        fact_adapter.training_facts(docs, questions, drafts.iloc[[0, 2]])


def test_a_given_table_gets_the_same_checks_as_a_file(folder, tmp_path):  # noqa: F811
    docs = read_documents(folder)
    with pytest.raises(InputError, match="needs the columns question and answer"):
        fact_adapter.training_facts(docs, [], pd.DataFrame({"question": ["q"]}))
    table = pd.DataFrame({"question": ["q", None], "answer": ["a", "b"], "check": [None, None]})
    assert list(fact_adapter.training_facts(docs, [], table).table["question"]) == ["q"]


def test_read_facts_errors_are_one_line(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        fact_adapter.read_facts(tmp_path / "missing.csv")
    (tmp_path / "bad.csv").write_text("question,verdict\nq,x\n")
    with pytest.raises(InputError, match="missing: answer"):
        fact_adapter.read_facts(tmp_path / "bad.csv")


def test_the_fact_adapter_is_asked_exactly_as_it_was_trained(folder, tmp_path, fake_generate, monkeypatch):  # noqa: F811
    """lora differs from prompt only in its weights: the same closed-book prompt it learned its pairs with."""
    trained: list = []
    adapter = SimpleNamespace(model=SimpleNamespace(peft_config={"default": None}), name="fact adapter")

    def fake_training(task, examples, *, lora, **_):
        assert (task, lora) == ("facts", fact_adapter.FACTS_LORA)
        trained.extend(examples)
        return adapter, SimpleNamespace(seconds=1.0, loaded_from_cache=False)

    monkeypatch.setattr(adapter_cache, "load_or_train_adapter", fake_training)
    calls = fake_generate(lambda llm, p: "30 days [returns]" if llm is adapter else "I don't know.")
    drafts = write_csv(tmp_path / "facts.csv", [{"question": "How many days do customers have to return a device?",
                                                  "answer": "30 days"},
                                                 {"question": "Fill in the blank (Returns): Return within ___.",
                                                  "answer": "30 days"}])
    run = compare_on_documents(folder, write_csv(tmp_path / "q.csv", QUESTIONS),
                               systems=("prompt", "rag", "lora", "facts+rag"), llm=object(), embedder=ToyEmbedder(),
                               facts=drafts, progress=False)
    assert [e.target for e in trained] == ["30 days"]  # the evaluated question was dropped from the training pairs
    assert trained[0].messages[-1]["content"] == closed_book_prompt("Fill in the blank (Returns): Return within ___.",
                                                                    instruction=CLOSED_BOOK_INSTRUCTION)
    by_arm = {c["desc"]: c for c in calls}
    assert by_arm["lora"]["prompts"] == by_arm["prompt"]["prompts"]  # same prompts, other weights
    assert by_arm["lora"]["llm"] is adapter and by_arm["facts+rag"]["llm"] is adapter
    assert by_arm["facts+rag"]["prompts"] == by_arm["rag"]["prompts"]
    s = run.summary
    assert s["setup"]["facts"] == {"source": str(drafts), "pairs": 1, "dropped (an evaluated question)": 1,
                                   "dropped (answer not in its passage)": 0, "own pairs answered after training": 1,
                                   "training seconds": 1.0, "loaded from cache": False}
    assert s["systems"]["lora"]["accuracy"]["k"] == 1  # only the returns question is answered right
    assert {(t["a"], t["b"]) for t in s["paired"]} >= {("lora", "rag"), ("lora", "prompt"), ("facts+rag", "rag")}
    assert run.facts is not None and len(run.facts) == 1


@pytest.mark.parametrize("extra, message", [
    (["--systems", "prompt,lora", "--facts", "nope.csv"], "facts file nope.csv does not exist"),
    (["--systems", "prompt,lora", "--endpoint", "http://127.0.0.1:9/v1"], "lora need(s) adapter weights"),
    (["--systems", "prompt,lora,facts,rag"], "Unknown system(s) facts"),
])
def test_fact_arm_bad_input_exits_2_with_one_line(folder, tmp_path, capsys, monkeypatch, extra, message):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    questions = write_csv(tmp_path / "q.csv", QUESTIONS)
    assert main(["compare", "--docs", str(folder), "--questions", str(questions), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_draft_questions_extractive_needs_no_model(tmp_path, capsys):
    out = tmp_path / "facts.csv"
    assert main(["draft-questions", "--docs", str(EXAMPLE / "docs"), "--extractive", "--n", "20", "--out", str(out)]) == 0
    assert "20 draft questions" in capsys.readouterr().out
    drafts = pd.read_csv(out, keep_default_na=False)
    assert len(drafts) == 20 and (drafts["check"] == "answer found in the passage").all()
    assert main(["draft-questions", "--docs", str(EXAMPLE / "docs"), "--extractive", "--endpoint", "http://x"]) == 2
