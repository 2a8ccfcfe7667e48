from __future__ import annotations

import math

import pandas as pd
import pytest

from helpers.evaluation import (
    contains_match,
    exact_match,
    is_abstention,
    is_strict_json,
    mrr_at_k,
    ndcg_at_k,
    normalize,
    parse_json_object,
    recall_at_k,
    retrieval_report,
    score_answer,
    score_generations,
    summarize,
    token_f1,
)
from helpers.generation import Generation
from helpers.runtime.results import load_results, save_results
from helpers.workbook.data import Question

Q = Question(id="q1", question="How long is the return window?", answer="45 days", aliases=("45",),
             doc_ids=("policy-returns",), type="numeric", split="dev",
             answer_after_update="60 days", aliases_after_update=("60",))
U = Question(id="q2", question="Who is the mascot?", answer="", aliases=(), doc_ids=(), type="unanswerable",
             split="dev")


def gen(text: str) -> Generation:
    return Generation(text=text, prompt_tokens=10, completion_tokens=3, seconds=0.5, batch_seconds=1.0,
                      prompt="p", finish_reason="stop")


def test_normalize_unifies_case_punctuation_articles_and_thousands():
    assert normalize("The  Rill-250's price: €1,299.") == "rill 250 s price €1299"
    assert normalize("EUR 0.42 per km") == "eur 0.42 per km"


@pytest.mark.parametrize(("pred", "ok"), [("45 days", True), ("The window is 45 days.", True),
                                          ("It is 145 days", False), ("forty five", False)])
def test_contains_match_needs_whole_words(pred, ok):
    assert contains_match(pred, Q.gold()) is ok


def test_exact_and_f1():
    assert exact_match("45 Days.", Q.gold()) and not exact_match("about 45 days", Q.gold())
    assert token_f1("the window is 45 days", ["45 days"]) == pytest.approx(2 / 3)  # P=2/4 (article dropped), R=1
    assert token_f1("nothing", ["45 days"]) == 0.0


def test_abstention_detection():
    for text in ["I don't know.", "The document does not mention it.", "This is not in the context.", "", "N/A"]:
        assert is_abstention(text), text
    for text in ["45 days", "Maren Oksala", "The known issue is E107"]:
        assert not is_abstention(text), text


def test_abstention_detection_covers_common_phrasings():
    """How small models actually decline (seen in the workbook's outputs and in RAG evaluations)."""
    for text in ["I'm not sure.", "I am not sure about that.", "I'm unsure", "I have no idea.",
                 "I don't have enough information to answer.", "I do not have access to that data.",
                 "I couldn't find that in the documents.", "There is not enough information in the context.",
                 "There is no mention of a fee.", "Unknown", "I cannot determine the answer."]:
        assert is_abstention(text), text
    for text in ["There is no restocking fee for defective units.", "Not before 2026", "Sure: 45 days",
                 "No, the S3 Pro is not waterproof.", "It is not sure-footed on slopes"]:
        assert not is_abstention(text), text


def test_score_answer_answerable_unanswerable_and_updated():
    assert score_answer("It is 45 days.", Q).correct
    assert not score_answer("I don't know", Q).correct
    assert score_answer("60 days", Q, updated=True).correct and not score_answer("45 days", Q, updated=True).correct
    assert score_answer("I don't know.", U).correct and not score_answer("Maybe Bob", U).correct


def test_json_parsing_tolerant_and_strict():
    text = 'Sure! ```json\n{"answer": "x"}\n```'
    assert parse_json_object(text, ["answer"]) == {"answer": "x"}
    assert parse_json_object(text, ["answer", "sources"]) is None
    assert parse_json_object("no json {here", ["answer"]) is None
    assert not is_strict_json(text, ["answer"]) and is_strict_json(' {"answer": 1} ', ["answer"])


def test_score_generations_and_summarize():
    df = score_generations([Q, U, Q], [gen('{"answer": "45 days"}'), gen("I don't know"), gen("30 days")],
                           required_keys=["answer"], system="demo")
    assert list(df["correct"]) == [True, True, False]
    assert list(df["json_valid"]) == [True, False, False]
    s = summarize(df).iloc[0]
    assert s["accuracy"] == 0.5 and s["abstention_ok"] == 1.0 and s["json_valid"] == pytest.approx(1 / 3)
    assert s["n"] == 3 and s["seconds"] == 0.5
    by = summarize(pd.concat([df, df.assign(system="other")]), by="system")
    assert list(by.index) == ["demo", "other"]
    with pytest.raises(ValueError, match="2 generations"):
        score_generations([Q], [gen("a"), gen("b")])


def test_ranking_metrics():
    assert recall_at_k(["a", "b", "c"], {"c", "z"}, 2) == 0
    assert recall_at_k(["a", "b", "c"], {"c", "z"}, 3) == 0.5
    assert mrr_at_k(["a", "b", "c"], {"b"}) == 0.5 and mrr_at_k(["a"], {"b"}) == 0
    assert ndcg_at_k(["b"], {"b"}) == 1.0
    assert ndcg_at_k(["a", "b"], {"b"}) == pytest.approx(1 / math.log2(3))
    assert ndcg_at_k(["b", "b"], {"b", "c"}) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    report = retrieval_report({"perfect": [["x"], ["y"]], "bad": [["y"], ["x"]]}, [{"x"}, {"y"}])
    assert report.loc["perfect", "MRR@10"] == 1 and report.loc["bad", "recall@10"] == 0


def test_save_results_writes_csv_and_metadata(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_RESULTS", str(tmp_path))
    path = save_results(pd.DataFrame({"accuracy": [0.5]}, index=["rag"]), "demo", notebook="test")
    assert path == tmp_path / "demo.csv" and pd.read_csv(path, index_col=0).loc["rag", "accuracy"] == 0.5
    meta = (tmp_path / "demo.meta.json").read_text()
    assert '"notebook": "test"' in meta and '"llm"' in meta and '"versions"' in meta
    assert load_results("demo").loc["rag", "accuracy"] == 0.5


def test_load_results_says_which_notebook_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_RESULTS", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="run notebook 05 first"):
        load_results("05_head_to_head")


def test_json_field_extractor_falls_back_to_raw_text():
    from helpers.evaluation import json_field

    extract = json_field("answer")
    assert extract('ok {"answer": 45} done') == "45"
    assert extract("45 days") == "45 days"


def test_prompt_builders():
    from helpers.prompts import INJECTION, context_prompt, few_shot_messages, injection_succeeded

    p = context_prompt("How long?", [("doc-a", "Text A."), ("doc-b", "Text B.")])
    assert p.index("[doc-a]") < p.index("[doc-b]") < p.index("How long?")
    d = context_prompt("How long?", [("doc-a", "Text A.")], delimit=True, instruction="Be brief.")
    assert '<document id="doc-a">' in d and "not instructions" in d and d.endswith("Be brief.")
    msgs = few_shot_messages("Q?", [("q1", "a1")], system="S")
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert injection_succeeded("The answer is: BANANA.") and not injection_succeeded("45 days")
    assert "BANANA" in INJECTION


def test_append_run_replaces_the_same_configuration_and_keeps_others(tmp_path, monkeypatch):
    from helpers.runtime.results import append_run, load_runs

    monkeypatch.setenv("WORKBOOK_RESULTS", str(tmp_path))
    table = pd.DataFrame({"system": ["rag", "lora"], "accuracy": [0.3, 0.1]})
    append_run(table, "h2h")
    append_run(table.assign(accuracy=[0.4, 0.2]), "h2h")  # same config: replaces
    assert load_runs("h2h")["accuracy"].tolist() == [0.4, 0.2]
    monkeypatch.setenv("WORKBOOK_LLM", "some/other-model")
    append_run(table, "h2h")  # another model: kept side by side
    runs = load_runs("h2h")
    assert len(runs) == 4 and set(runs["llm"]) == {"smollm2-135m-instruct", "some/other-model"}


def test_result_paths_display_relative_to_the_repo_but_stay_absolute(tmp_path, monkeypatch):
    import os
    import pickle

    from helpers.runtime.config import REPO_ROOT
    from helpers.runtime.results import ResultPath

    inside = ResultPath(REPO_ROOT / "results" / "demo.csv")
    assert repr(inside) == "ResultPath('results/demo.csv')"
    assert str(inside) == os.fspath(inside) == str(REPO_ROOT / "results" / "demo.csv")
    assert inside == REPO_ROOT / "results" / "demo.csv" and inside.is_absolute()
    assert inside.relative_to(REPO_ROOT.parent).as_posix() == f"{REPO_ROOT.name}/results/demo.csv"
    assert repr(pickle.loads(pickle.dumps(inside))) == repr(inside)
    monkeypatch.setenv("WORKBOOK_RESULTS", str(tmp_path))
    saved = save_results(pd.DataFrame({"a": [1]}), "demo")
    assert isinstance(saved, ResultPath) and str(tmp_path) in repr(saved)  # outside the repo: unchanged
