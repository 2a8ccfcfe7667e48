"""`llm-workbook compare`, `score` and `draft-questions`: input checks, scoring, report, end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import ToyEmbedder

from helpers.workbook.cli import main
from helpers.workbook.question_drafts import parse_draft, pick_passages
from helpers.workbook.question_sets import InputError, load_question_file, read_documents
from helpers.workbook.report import render_report
from helpers.workbook.your_data import (
    compare_on_documents,
    read_results,
    rescore,
    summarize_results,
    write_outputs,
)

REPO = Path(__file__).resolve().parent.parent
PDF = REPO / "data" / "examples" / "warranty-summary.pdf"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two markdown files, a reST-style text file and the example PDF."""
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "returns.md").write_text("# Returns\n\nCustomers may return a device within 30 days of delivery.\n")
    (docs / "sub" / "shipping.md").write_text("# Shipping\n\nStandard shipping takes 5 business days.\n")
    (docs / "guide.txt").write_text("Guide\n=====\n\nIntro text.\n\nSetup\n-----\n\nPress the blue button twice.\n")
    shutil.copy(PDF, docs / "warranty-summary.pdf")
    return docs


def write_csv(path: Path, rows: list[dict], encoding: str = "utf-8") -> Path:
    pd.DataFrame(rows).to_csv(path, index=False, encoding=encoding)
    return path


QUESTIONS = [
    {"question": "How many days do customers have to return a device?", "answer": "30 days", "aliases": "30|thirty days",
     "source": "returns.md"},
    {"question": "How long does standard shipping take?", "answer": "5 business days", "aliases": "",
     "source": "sub/shipping.md"},
    {"question": "Which button do I press during setup?", "answer": "blue", "aliases": "", "source": "guide.txt"},
    {"question": "What is the CEO's favourite colour?", "answer": "unanswerable", "aliases": "", "source": ""},
]


# --------------------------------------------------------------------------- reading the inputs
def test_question_file_csv_and_jsonl_give_the_same_questions(folder, tmp_path):
    docs = read_documents(folder)
    from_csv = load_question_file(write_csv(tmp_path / "q.csv", QUESTIONS), docs, folder)
    jsonl = tmp_path / "q.jsonl"
    jsonl.write_text("\n".join(json.dumps({**r, "aliases": r["aliases"].split("|") if r["aliases"] else []})
                               for r in QUESTIONS) + "\n")
    assert load_question_file(jsonl, docs, folder) == from_csv
    assert [q.id for q in from_csv] == ["q001", "q002", "q003", "q004"]
    assert from_csv[0].gold() == ["30 days", "30", "thirty days"]
    assert from_csv[1].doc_ids == ("sub/shipping",)
    assert not from_csv[3].answerable and from_csv[3].answer == ""


def test_csv_cells_may_span_lines(folder, tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('question,answer\n"How long is the window,\nin days?",30 days\nWhy?,x\n', encoding="utf-8")
    first, second = load_question_file(path, read_documents(folder), folder)
    assert first.question == "How long is the window,\nin days?" and second.question == "Why?"


def test_rest_titles_become_markdown_headings(folder):
    guide = read_documents(folder)["guide"]
    assert guide.text.splitlines()[0] == "# Guide" and "## Setup" in guide.text
    assert guide.title == "Guide"


def test_questions_without_answers_are_kept_ungraded(folder, tmp_path):
    path = write_csv(tmp_path / "q.csv", [{"question": "What is covered?"}])
    (q,) = load_question_file(path, read_documents(folder), folder)
    assert q.answer == "" and q.answerable and q.doc_ids == ()


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    (b"", "is empty"),
    (b"query,answer\nWhat?,x\n", "no 'question' column (found: answer, query)"),
    (b"question,answer\nWhat?,x\n  ,y\n", "1 blank question(s), on line(s) 3"),
    (b"question,source\nWhat?,retuns.md\n", "source 'retuns.md' is not a document in the folder; nearest: returns.md"),
    ("question\nQu'est-ce que c'est ? \u00e9t\u00e9\n".encode("latin-1"), "is not UTF-8"),
    (b"question,type\nWhat?,trick\n", "type 'trick' is not one of"),
    (b"question\n", "has a header but no questions"),
])
def test_bad_question_files_get_one_clear_line(folder, tmp_path, content, message):
    path = tmp_path / "q.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=None) as err:
        load_question_file(path, read_documents(folder), folder)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_duplicate_questions_warn(folder, tmp_path):
    path = write_csv(tmp_path / "q.csv", [{"question": "Why?"}, {"question": "why? "}])
    with pytest.warns(UserWarning, match="repeats 1 question"):
        assert len(load_question_file(path, read_documents(folder), folder)) == 2


def test_bad_folders(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_documents(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="No readable"):
        read_documents(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.md").write_bytes(b"\xff\xfe\x00binary")
    with pytest.warns(UserWarning, match="x.md"), pytest.raises(InputError, match="all 1 were skipped"):
        read_documents(tmp_path / "bad")


@pytest.mark.parametrize("make_args, message", [
    (lambda f, q: ["compare", "--docs", str(f / "nope"), "--questions", str(q)], "does not exist"),
    (lambda f, q: ["compare", "--docs", str(f), "--questions", str(q.with_name("missing.csv"))], "does not exist"),
    (lambda f, q: ["compare", "--docs", str(f), "--questions", str(q), "--systems", "rag,magic"], "Unknown system(s) magic"),
    (lambda f, q: ["compare", "--docs", str(f), "--questions", str(q), "--method", "psychic"], "--method must be"),
    (lambda f, q: ["compare", "--docs", str(f), "--questions", str(q), "--k", "0"], "--k must be at least 1"),
    (lambda f, q: ["compare", "--docs", str(q), "--questions", str(q)], "is a file"),
    (lambda f, q: ["score", str(q.with_name("results.csv"))], "does not exist"),
    (lambda f, q: ["draft-questions", "--docs", str(f), "--n", "0"], "--n must be at least 1"),
])
def test_cli_bad_input_exits_2_with_one_line(folder, tmp_path, capsys, make_args, message):
    questions = write_csv(tmp_path / "q.csv", QUESTIONS)
    assert main(make_args(folder, questions)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("llm-workbook: error: ") and message in err[-1]
    assert not any("Traceback" in line for line in err)


# --------------------------------------------------------------------------- scoring and the report
def _fake_run(folder, tmp_path, fake_generate, monkeypatch, answers: dict[str, str]):
    """compare_on_documents with canned answers (prompt and rag) and the toy embedder: no model runs."""
    import helpers.runtime.models

    monkeypatch.setattr(helpers.runtime.models, "load_llm", lambda *a, **k: pytest.fail("no model should load"))

    def respond(llm, prompt):
        text = prompt if isinstance(prompt, str) else prompt[-1]["content"]
        rag = "Context" in text or "[" in text
        for needle, answer in answers.items():
            if needle in text:
                return answer.replace("{doc}", "returns") if rag else "I don't know."
        return "I don't know."

    fake_generate(respond)
    questions = write_csv(tmp_path / "q.csv", QUESTIONS)
    return compare_on_documents(folder, questions, systems=("prompt", "rag"), llm=object(), embedder=ToyEmbedder(),
                                progress=False)


def test_compare_scores_with_intervals_and_paired_tests(folder, tmp_path, fake_generate, monkeypatch):
    run = _fake_run(folder, tmp_path, fake_generate, monkeypatch,
                    {"customers have to return": "30 days [{doc}]", "How long does standard shipping":
                     "5 business days [sub/shipping]", "Which button do I press": "the red one",
                     "favourite colour": "I don't know."})
    s = run.summary
    assert s["systems"]["rag"]["accuracy"]["k"] == 2 and s["systems"]["rag"]["accuracy"]["n"] == 3
    assert s["systems"]["prompt"]["accuracy"]["k"] == 0
    assert s["systems"]["rag"]["abstention_ok"] == {**s["systems"]["rag"]["abstention_ok"], "k": 1, "n": 1}
    assert 0 < s["systems"]["rag"]["accuracy"]["low"] < 2 / 3 < s["systems"]["rag"]["accuracy"]["high"] <= 1
    (test,) = s["paired"]
    assert (test["a"], test["b"], test["n"], test["verdict"]) == ("rag", "prompt", 3, "not distinguishable")
    assert "not distinguishable" in s["recommendation"][0]
    assert s["retrieval"]["n"] == 3 and "hit@3" in s["retrieval"]
    assert s["systems"]["rag"]["correct source cited"]["k"] == 2  # returns and sub/shipping cited, both retrieved
    rows = run.results
    assert len(rows) == 8 and set(rows["system"]) == {"prompt", "rag"}
    assert rows.loc[(rows.system == "rag") & (rows.id == "q003"), "correct"].item() is False


def test_outputs_round_trip_and_person_verdicts_rescore(folder, tmp_path, fake_generate, monkeypatch):
    run = _fake_run(folder, tmp_path, fake_generate, monkeypatch, {"customers have to return": "30 days [{doc}]"})
    paths = write_outputs(run.results, run.summary, tmp_path / "out")
    html = paths["report"].read_text()
    assert "data:image/png;base64," in html and "http://" not in html and "https://" not in html
    assert all(q["question"].replace("'", "&#x27;") in html for q in QUESTIONS)
    table, previous = read_results(paths["results"])
    assert previous["systems"] == json.loads(json.dumps(run.summary["systems"]))
    again, summary = rescore(table, previous)
    assert summary["systems"]["rag"]["accuracy"] == run.summary["systems"]["rag"]["accuracy"]  # nothing filled in
    table.loc[(table.system == "rag") & (table.id == "q003"), "verdict"] = "correct"  # a person disagrees
    again, summary = rescore(table, previous)
    assert summary["systems"]["rag"]["accuracy"]["k"] == run.summary["systems"]["rag"]["accuracy"]["k"] + 1
    assert summary["graded"]["person"] == 1 and summary["retrieval"] == previous["retrieval"]
    table.loc[0, "verdict"] = "maybe"
    with pytest.raises(InputError, match="line 2: verdict 'maybe'"):
        rescore(table, previous)


def test_ungraded_questions_wait_for_a_person(folder, tmp_path, fake_generate, monkeypatch, capsys):
    import helpers.runtime.models

    monkeypatch.setattr(helpers.runtime.models, "load_llm", lambda *a, **k: pytest.fail("no model should load"))
    fake_generate(lambda llm, prompt: "30 days")
    questions = write_csv(tmp_path / "q.csv", [{"question": r["question"]} for r in QUESTIONS])
    run = compare_on_documents(folder, questions, systems=("prompt", "rag"), llm=object(), embedder=ToyEmbedder(),
                               progress=False)
    assert run.summary["paired"] == [] and run.summary["graded"]["not yet"] == 8
    assert "Nothing is scored yet" in run.summary["recommendation"][0]
    assert run.results["correct"].isna().all() and (run.results["verdict"] == "").all()
    paths = write_outputs(run.results, run.summary, tmp_path / "out")
    table = pd.read_csv(paths["results"], dtype=str, keep_default_na=False)
    table["verdict"] = ["yes", "no"] * 4
    table.to_csv(paths["results"], index=False)
    assert main(["score", str(paths["results"])]) == 0
    summary = json.loads(paths["summary"].read_text())
    assert summary["graded"]["person"] == 8 and summary["systems"]["rag"]["accuracy"]["n"] == 4
    assert "Re-scored 8 answers by a person" in capsys.readouterr().out


def test_report_renders_from_a_summary_alone():
    results = pd.DataFrame([{"id": "q001", "system": "rag", "question": "<b>Q</b>?", "type": "single-fact",
                             "gold": "x", "source": "", "answer": "<script>", "correct": True, "verdict": "",
                             "graded_by": "automatic", "abstained": False, "cited": "", "retrieved": "a",
                             "hits": "[]", "seconds": 0.1, "prompt_tokens": 3}])
    summary = summarize_results(results)
    html = render_report(results, summary)
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;Q&lt;/b&gt;?" in html


# --------------------------------------------------------------------------- drafting questions
def test_parse_draft():
    assert parse_draft("Question: How long is the window?\nAnswer: 30 days.") == ("How long is the window?", "30 days")
    assert parse_draft("question : Why?\n\nANSWER: \"Because\"") == ("Why?", "Because")
    assert parse_draft("I cannot do that.") is None
    assert parse_draft("Question: Why?\n\nAnswer:\n\nQuestion: Why?") is None  # no answer on its line
    assert parse_draft("Question: Why?\nAnswer: Why?") is None


def test_pick_passages_spreads_over_documents_and_is_seeded():
    from helpers.documents import Document

    docs = {name: Document(doc_id=name, title=name, category="", updated="",
                           text="\n\n".join(f"# S{i}\n\n" + " ".join(["word"] * 50) + f" {name}{i}" for i in range(4)))
            for name in ("a", "b", "c")}
    picked = pick_passages(docs, 5, seed=1)
    assert [d for d, _ in picked][:3] == ["a", "b", "c"] and len(picked) == 5
    assert picked == pick_passages(docs, 5, seed=1) != pick_passages(docs, 5, seed=2)
    assert len(pick_passages(docs, 100)) == 12


# --------------------------------------------------------------------------- end to end with the real models
@pytest.mark.slow
def test_compare_end_to_end_matches_a_direct_evaluation(folder, tmp_path, capsys):
    from helpers.retrieval import build_retriever
    from helpers.systems import build_system, evaluate_systems

    questions = write_csv(tmp_path / "q.csv", QUESTIONS)
    out = tmp_path / "out"
    assert main(["compare", "--docs", str(folder), "--questions", str(questions), "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"report.html", "results.csv", "summary.json"}
    assert "Wrote" in capsys.readouterr().out
    table, summary = read_results(out / "results.csv")
    assert summary["setup"]["documents"] == 4 and summary["setup"]["systems"] == ["prompt", "rag", "lora+rag"]
    # the same systems built by hand score the same answers the same way
    docs = read_documents(folder)
    retriever = build_retriever(docs, cache=True)
    systems = [build_system("prompt"), build_system("rag", retriever=retriever), build_system("lora+rag", retriever=retriever)]
    direct = evaluate_systems(systems, load_question_file(questions, docs, folder),
                              documents={d: doc.text for d, doc in docs.items()})
    for name, rates in summary["systems"].items():
        rows = direct[(direct.system == name) & (direct.type != "unanswerable")]
        assert rates["accuracy"]["k"] == int(rows["correct"].sum()), name
    assert (table[table.system == "lora+rag"]["json_valid"].isin(["True", "False"])).all()


@pytest.mark.slow
def test_draft_questions_writes_a_reviewable_csv(folder, tmp_path, capsys):
    out = tmp_path / "drafts.csv"
    assert main(["draft-questions", "--docs", str(folder), "--n", "2", "--out", str(out)]) == 0
    assert "Review every one" in capsys.readouterr().out
    drafts = pd.read_csv(out, keep_default_na=False)
    assert list(drafts.columns) == ["question", "answer", "aliases", "source", "type", "check"]
    assert set(drafts["source"]) <= {"returns.md", "sub/shipping.md", "guide.txt", "warranty-summary.pdf"}


def test_a_right_citation_on_a_wrong_answer_counts_only_in_the_lenient_rate(folder, tmp_path, fake_generate, monkeypatch):
    run = _fake_run(folder, tmp_path, fake_generate, monkeypatch,
                    {"customers have to return": "45 days [{doc}]", "How long does standard shipping":
                     "5 business days [sub/shipping]", "Which button do I press": "the red one",
                     "favourite colour": "I don't know."})
    rag = run.summary["systems"]["rag"]
    assert (rag["correct source cited"]["k"], rag["correct source cited"]["n"]) == (2, 3)  # 45 days cites right
    assert (rag["cited when correct"]["k"], rag["cited when correct"]["n"]) == (1, 1)  # only the right answer counts


def test_cost_per_1000_questions_from_measured_tokens_and_the_prices_you_set(tmp_path):
    from helpers.workbook.question_sets import InputError
    from helpers.workbook.your_data import cost_per_1000, read_prices

    results = pd.DataFrame({"system": ["rag", "rag", "prompt"], "prompt_tokens": [1000, 1200, 100],
                            "completion_tokens": [20, 30, 10], "seconds": [3.6, 3.6, 0.36]})
    unpriced = cost_per_1000(results)
    assert unpriced["prices"] is None and "api_cost" not in unpriced["systems"]["rag"]
    assert unpriced["systems"]["rag"]["prompt_tokens"] == 1_100_000 and unpriced["systems"]["rag"]["machine_hours"] == 1.0
    (tmp_path / "p.json").write_text('{"input_per_million": 3, "output_per_million": 15, "machine_per_hour": 2}')
    priced = cost_per_1000(results, read_prices(tmp_path / "p.json"))["systems"]["rag"]
    assert priced["api_cost"] == pytest.approx(1100 * 3 / 1e6 * 1000 + 25 * 15 / 1e6 * 1000)
    assert priced["machine_cost"] == pytest.approx(2.0)
    for bad, message in [('{"currency": "EUR"}', "names no price"), ('{"input_per_million": -1}', ">= 0"), ("{", "Cannot read")]:
        (tmp_path / "bad.json").write_text(bad)
        with pytest.raises(InputError, match=message):
            read_prices(tmp_path / "bad.json")


def test_few_shot_and_system_prompt_arms_are_compared_with_their_base(folder, tmp_path, fake_generate):
    from helpers.workbook.question_sets import InputError

    calls = fake_generate(lambda llm, p: "I don't know.")
    questions = write_csv(tmp_path / "q.csv", QUESTIONS)
    shots = write_csv(tmp_path / "shots.csv", [{"question": "How many legs has a spider?", "answer": "eight"}])
    (tmp_path / "system.txt").write_text("You answer in one word.", encoding="utf-8")
    run = compare_on_documents(folder, questions, systems=("prompt", "rag", "rag+shots", "prompt+system"),
                               llm=object(), embedder=ToyEmbedder(), progress=False, shots=shots,
                               system_prompt=tmp_path / "system.txt")
    by = {c["desc"]: c for c in calls}
    chat = by["rag+shots"]["prompts"][0]
    assert "spider" in chat[0]["content"] and chat[1] == {"role": "assistant", "content": "eight"}
    assert by["prompt+system"]["system"] == "You answer in one word." and by["rag"]["system"] is None
    assert by["rag"]["prompts"][0] == chat[-1]["content"]  # the same RAG prompt, with the examples before it
    pairs = {(t["a"], t["b"]) for t in run.summary["paired"]}
    assert {("rag+shots", "rag"), ("prompt+system", "prompt")} <= pairs
    leaked = write_csv(tmp_path / "leak.csv", [{"question": QUESTIONS[0]["question"], "answer": "30 days"}])
    with pytest.raises(InputError, match="must not be test questions"):
        compare_on_documents(folder, questions, systems=("rag+shots",), llm=object(), embedder=ToyEmbedder(),
                             progress=False, shots=leaked)
    with pytest.raises(InputError, match="needs --system-prompt FILE"):
        compare_on_documents(folder, questions, systems=("rag+system",), llm=object(), embedder=ToyEmbedder())


def test_tune_on_dev_chooses_on_dev_rows_and_reports_only_test_rows(folder, tmp_path, fake_generate):
    from helpers.workbook.question_sets import InputError
    from helpers.workbook.tuning import split_questions, tune_on_dev

    asked: list[str] = []

    def respond(llm, prompt):
        text = prompt if isinstance(prompt, str) else prompt[-1]["content"]
        asked.append(text)
        return "30 days [returns]" if "return" in text else "I don't know."

    fake_generate(respond)
    rows = [{**q, "split": split} for q, split in zip(QUESTIONS, ["dev", "test", "test", "test"])]
    questions = write_csv(tmp_path / "q.csv", rows)
    tuned = tune_on_dev(folder, questions, llm=object(), embedder=ToyEmbedder(), progress=False)
    assert tuned.dev_questions == 1 and set(tuned.mrr) == {"dense", "bm25", "hybrid"} and set(tuned.accuracy) == {1, 3, 5}
    assert tuned.k == 1  # every k answers the one dev question right: the smallest wins
    assert all(QUESTIONS[0]["question"] in text for text in asked)  # tuning asked the dev question only
    asked.clear()
    run = compare_on_documents(folder, questions, systems=("prompt", "rag"), llm=object(), embedder=ToyEmbedder(),
                               progress=False, method=tuned.method, k=tuned.k, split="test", tuning=tuned.record())
    assert set(run.results["id"]) == {"q002", "q003", "q004"} and not any(QUESTIONS[0]["question"] in t for t in asked)
    assert run.summary["setup"]["tuning"]["k"] == tuned.k
    with pytest.raises(InputError, match="needs a 'split' column"):
        split_questions([])
    bad = write_csv(tmp_path / "bad.csv", [{**QUESTIONS[0], "split": "train"}])
    with pytest.raises(InputError, match="split 'train' is not dev or test"):
        compare_on_documents(folder, bad, systems=("prompt",), llm=object(), embedder=ToyEmbedder())


def test_the_report_says_what_was_tuned_on_dev():
    from helpers.workbook.report import render_report

    summary = {"setup": {"tuning": {"method": "bm25", "k": 5, "dev questions": 12}}, "systems": {}, "paired": []}
    page = render_report(pd.DataFrame(columns=["id", "system"]), summary)
    assert "Retrieval bm25 top-5 was chosen on 12 dev questions; only the test rows are reported." in page
