"""The head-to-head on *your* documents and questions: what ``llm-workbook compare`` and notebook 06 run.

::

    run = compare_on_documents("my_docs/", "questions.csv")   # prompt-only, RAG, LoRA + RAG
    run.summary["systems"]["rag"]["accuracy"]                 # {"k", "n", "value", "low", "high"}
    write_outputs(run.results, run.summary, "results/compare-1")  # report.html, results.csv, summary.json

The inputs are read by :mod:`helpers.workbook.question_sets` (its docstring gives the questions file's columns);
the report is drawn by :mod:`helpers.workbook.report`. Questions without an ``answer`` are answered and written
for a person to judge in the ``verdict`` column; :func:`rescore` recomputes everything after.

Every rate carries its n and 95% Wilson interval, every comparison is a paired test on the same
questions (:mod:`helpers.comparison`), and the recommendation is computed from those tests.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers.comparison import intervals, paired, paired_sentence
from helpers.documents import Document
from helpers.evaluation import contains_match, mrr_at_k, recall_at_k
from helpers.runtime.config import get_settings
from helpers.uncertainty import mean_interval, rate
from helpers.uncertainty import verdict as verdict_of
from helpers.workbook.advice import summary_recommendations
from helpers.workbook.data import Question
from helpers.workbook.folder_index import index_documents
from helpers.workbook.question_sets import (
    UNANSWERABLE,
    InputError,
    graded,
    load_question_file,
    read_documents,
    read_shots,
    read_system_prompt,
)
from helpers.workbook.report import METRICS, normalize_results

#: The systems ``compare`` runs unless told otherwise (``lora`` and ``facts+rag`` train an adapter on your
#: documents' facts first, :mod:`helpers.workbook.fact_adapter`, so they are asked for by name).
DEFAULT_SYSTEMS: tuple[str, ...] = ("prompt", "rag", "lora+rag")
#: Filled-in verdicts :func:`rescore` understands (case-insensitive).
VERDICTS = {"correct": True, "yes": True, "y": True, "1": True, "true": True, "right": True,
            "wrong": False, "no": False, "n": False, "0": False, "false": False, "incorrect": False}
#: Paired comparisons the recommendation rests on: (a, b, metric), each when both systems measured it.
PAIRS: tuple[tuple[str, str, str], ...] = (("rag", "prompt", "accuracy"), ("lora+rag", "rag", "accuracy"),
                                          ("lora+rag", "prompt", "accuracy"),
                                          ("lora+rag", "rag", "correct source cited"),
                                          ("lora", "rag", "accuracy"), ("lora", "prompt", "accuracy"),
                                          ("facts+rag", "rag", "accuracy"),
                                          ("prompt+shots", "prompt", "accuracy"), ("rag+shots", "rag", "accuracy"),
                                          ("prompt+system", "prompt", "accuracy"), ("rag+system", "rag", "accuracy"))
#: A team's own variants of prompt and rag: ``+shots`` shows your worked examples before every prompt
#: (``--shots FILE``), ``+system`` puts your system prompt first (``--system-prompt FILE``).
VARIANTS: tuple[str, ...] = ("prompt+shots", "rag+shots", "prompt+system", "rag+system")


# --------------------------------------------------------------------------- running the comparison
@dataclass
class Comparison:
    """What :func:`compare_on_documents` measured: ``results`` (one row per question x system, the columns
    of ``results.csv``), ``summary`` (per-system rates with intervals, paired tests, retrieval metrics, the
    recommendation and the settings: ``summary.json``), and the live objects for a notebook to reuse."""

    results: pd.DataFrame
    summary: dict[str, Any]
    questions: list[Question]
    docs: dict[str, Document]
    retriever: Any = None
    systems: dict[str, Any] = field(default_factory=dict)
    facts: pd.DataFrame | None = None  # the pairs the fact adapter of ``lora``/``facts+rag`` learned


def _retrieves(name: str) -> bool:
    from helpers.systems import SYSTEMS

    return name == "facts+rag" or SYSTEMS[name.split("+")[0] if name in VARIANTS else name][0]


def _rate_dict(r: Any) -> dict[str, float]:
    """A rate (:class:`helpers.uncertainty.Rate`, or a row of :func:`helpers.comparison.intervals`) as the
    plain dict of ``summary.json``: ``k``, ``n``, ``value``, ``low``, ``high``."""
    values = r if isinstance(r, pd.Series) else {"k": r.k, "n": r.n, "value": r.value, "low": r.low, "high": r.high}
    return {"k": int(values["k"]), "n": int(values["n"]), **{key: float(values[key]) for key in ("value", "low", "high")}}


def retrieval_metrics(retriever: Any, questions: Sequence[Question], k: int) -> dict[str, Any] | None:
    """Retrieval on its own. Document level, over the questions that name a ``source``: ``hit@1``,
    ``hit@k``, ``hit@10`` (a source document among the first k results) and ``MRR@10`` (mean, seeded 95%
    bootstrap interval). Chunk level, over the answerable questions with a gold answer: ``answer in top-k``
    (the gold answer or an alias appears in one of the k chunks the RAG systems read). Rates carry 95%
    Wilson intervals; ``None`` if no question names a source or has an answer."""
    with_source = [q for q in questions if q.doc_ids]
    with_answer = [q for q in questions if q.answerable and q.answer]
    if not with_source and not with_answer:
        return None
    out: dict[str, Any] = {"n": len(with_source), "k": k}
    if with_answer:
        found = [any(contains_match(h.text, q.gold()) for h in hits)
                 for q, hits in zip(with_answer, retriever.search_many([q.question for q in with_answer], k=k))]
        out[f"answer in top-{k}"] = _rate_dict(rate(found))
    if not with_source:
        return out
    ranked = retriever.search_documents_many([q.question for q in with_source], 10)
    relevant = [q.doc_ids for q in with_source]
    for cut in sorted({1, k, 10}):  # a hit: recall above 0, some source among the first ``cut``
        out[f"hit@{cut}"] = _rate_dict(rate([recall_at_k(ids, rel, cut) > 0 for ids, rel in zip(ranked, relevant)]))
    rr = [mrr_at_k(ids, rel, 10) for ids, rel in zip(ranked, relevant)]
    low, high = mean_interval(rr, seed=get_settings().seed)
    out["MRR@10"] = {"n": len(rr), "value": float(np.mean(rr)), "low": low, "high": high}
    out["ranked"] = {q.id: ids for q, ids in zip(with_source, ranked)}
    return out


def _results_rows(questions: Sequence[Question], scores: pd.DataFrame,
                  answers: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """The score table plus what a person needs to judge an answer: sources, retrieved chunks, verdict."""
    by_id = {q.id: q for q in questions}
    rows = []
    for (_, row), answer in zip(scores.iterrows(),
                                (a for name in scores["system"].unique() for a in answers[name])):
        q = by_id[row["id"]]
        hits = [{"doc": h.doc_id, "chunk": h.chunk_id, "text": h.text[:400]} for h in answer.hits]
        out = {"id": q.id, "system": row["system"], "question": q.question, "type": q.type,
               "gold": q.answer if q.answerable else UNANSWERABLE, "aliases": "|".join(q.aliases),
               "source": ";".join(q.doc_ids), "answer": answer.answer, "output": answer.text,
               "correct": bool(row["correct"]) if graded(q) else None, "verdict": "",
               "graded_by": "automatic" if graded(q) else "",
               "abstained": bool(row["abstained"]),
               "json_valid": row.get("json_valid", None) if answer.style == "json" else None,
               "cited": ";".join(dict.fromkeys(answer.citations)),
               "retrieved": ";".join(dict.fromkeys(h.doc_id for h in answer.hits)),
               "n_cited": row.get("n_cited", math.nan), "invented": row.get("invented", math.nan),
               "cit_precision": row.get("cit_precision", math.nan) if q.doc_ids else math.nan,
               "hits": json.dumps(hits, ensure_ascii=False),
               "prompt_tokens": row["prompt_tokens"], "completion_tokens": row["completion_tokens"],
               "seconds": row["seconds"]}
        rows.append(out)
    table = pd.DataFrame(rows)
    for column in ("json_valid", "n_cited", "invented", "cit_precision"):
        if table[column].isna().all():
            table[column] = math.nan
    return table


def compare_on_documents(
    docs_dir: str | Path,
    questions_file: str | Path,
    *,
    systems: Sequence[str] = DEFAULT_SYSTEMS,
    method: str = "dense",
    k: int = 3,
    progress: bool = True,
    llm: Any = None,
    embedder: Any = None,
    reader: Any = None,
    prices: str | Path | Mapping[str, Any] | None = None,
    shots: str | Path | Sequence[tuple[str, str]] | None = None,
    system_prompt: str | Path | None = None,
    split: str | None = None,
    tuning: Mapping[str, Any] | None = None,
    facts: str | Path | pd.DataFrame | None = None,
) -> Comparison:
    """Read the folder and the questions, build one retriever, let every system answer every question,
    score what can be scored, and summarize with intervals, paired tests and a recommendation.

    The model, embedder and profile come from the same settings as the notebooks (``WORKBOOK_LLM``,
    ``WORKBOOK_PROFILE``, ...); ``lora+rag`` uses the shipped reader adapter (:mod:`helpers.workbook.reader`).
    ``llm``/``embedder``: already loaded base model and embedder to reuse (default: load the configured ones);
    ``reader``: the model carrying the reader adapter for ``lora+rag`` (default: the shipped one, which fits
    the default model; :func:`helpers.workbook.reader_training.load_or_train_reader` trains one for another model);
    ``prices``: a price table (file or mapping, :func:`read_prices`) for the cost per 1,000 questions;
    ``shots``: worked examples for the ``+shots`` variants (file, :func:`read_shots`, or (question, answer)
    pairs); ``system_prompt``: the ``+system`` variants' system prompt (a file's path, or the text);
    ``split``: answer only the questions of this split (``"test"`` after :mod:`helpers.workbook.tuning`
    chose ``method`` and ``k`` on the dev rows, whose record ``tuning`` goes into the setup);
    ``facts``: the question/answer pairs the ``lora`` and ``facts+rag`` arms' adapter learns (a reviewed
    ``draft-questions`` file or table; default: pairs extracted from the documents,
    :func:`helpers.workbook.fact_adapter.training_facts`).

    Raises:
        InputError: bad documents, questions or options (one line that says what to fix).
    """
    from helpers.adapters import AdapterError
    from helpers.runtime.adapter_cache import load_or_train_adapter
    from helpers.runtime.endpoint import Endpoint
    from helpers.runtime.models import ModelNotAvailableError, load_llm
    from helpers.systems import SYSTEMS, build_system, evaluate_systems
    from helpers.workbook.fact_adapter import FACT_ARMS, FACTS_LORA, fact_examples, training_facts

    unknown = [s for s in systems if s not in SYSTEMS and s not in VARIANTS and s not in FACT_ARMS]
    if unknown or not systems:
        raise InputError(f"Unknown system(s) {', '.join(unknown) or '(none given)'}; choose from "
                         f"{', '.join([*(s for s in SYSTEMS if s != 'lora'), *FACT_ARMS, *VARIANTS])}.")
    for variant, given, option in (("+shots", shots, "--shots FILE"), ("+system", system_prompt, "--system-prompt FILE")):
        if any(s.endswith(variant) for s in systems) and given is None:
            raise InputError(f"{', '.join(s for s in systems if s.endswith(variant))} needs {option}.")
    if method not in ("dense", "bm25", "hybrid"):
        raise InputError(f"--method must be dense, bm25 or hybrid, not {method!r}.")
    if k < 1:
        raise InputError(f"--k must be at least 1, not {k}.")
    settings = get_settings()
    prices = read_prices(prices) if isinstance(prices, (str, Path)) else prices
    timings: dict[str, float] = {}
    start = time.perf_counter()
    docs = read_documents(docs_dir)
    questions = load_question_file(questions_file, docs, docs_dir)
    if split is not None:
        questions = [q for q in questions if q.split == split]
        if not questions:
            raise InputError(f"{questions_file} has no {split} rows (a 'split' column with dev and test).")
    trained = [s for s in systems if s in FACT_ARMS]  # checked before any model loads: a bad file fails fast
    fact_table = training_facts(docs, questions, facts, folder=docs_dir) if trained else None
    shots = read_shots(shots, questions) if isinstance(shots, (str, Path)) else shots
    system_prompt = read_system_prompt(system_prompt) if isinstance(system_prompt, (str, Path)) else system_prompt
    retriever = None
    if any(_retrieves(s) for s in systems):  # a variant retrieves as its base
        retriever = index_documents(docs, method=method, llm=llm, embedder=embedder, progress=progress)
    timings["index"] = time.perf_counter() - start
    try:
        base = llm or _endpoint_or_none() or load_llm()
        if trained and isinstance(base, Endpoint):
            raise InputError(f"{', '.join(trained)} train(s) an adapter on local weights; leave them out when "
                             "generating through an endpoint (draft the facts there: draft-questions --endpoint).")
        if fact_table is not None:
            t0 = time.perf_counter()
            fact_llm, run = load_or_train_adapter("facts", fact_examples(fact_table), lora=FACTS_LORA,
                                                  base_model=getattr(base, "name", None), progress=progress)
            own = build_system("lora", llm=fact_llm).answer(list(fact_table.table["question"]), progress=progress)
            fact_table.recalled = sum(contains_match(a.answer, [gold]) for a, gold in zip(own, fact_table.table["answer"]))
            fact_table.training = {"training seconds": round(run.seconds, 1), "loaded from cache": run.loaded_from_cache}
            timings["fact adapter"] = time.perf_counter() - t0
        built = {}
        for name in systems:
            if name == "lora":
                built[name] = build_system("lora", llm=fact_llm, k=k)
            elif name == "facts+rag":
                built[name] = build_system("lora+rag", llm=fact_llm, retriever=retriever, k=k, style="text",
                                           label="facts+rag")
            elif name == "lora+rag":
                built[name] = build_system(name, llm=reader, retriever=retriever, k=k)
            elif name in VARIANTS:
                kind, variant = name.split("+")
                built[name] = build_system(kind, llm=base, retriever=retriever if kind == "rag" else None, k=k,
                                           label=name, shots=shots if variant == "shots" else (),
                                           system=system_prompt if variant == "system" else None)
            else:
                built[name] = build_system(name, llm=base, retriever=retriever if SYSTEMS[name][0] else None, k=k)
    except (ModelNotAvailableError, AdapterError) as why:
        raise InputError(f"{why} (or leave lora+rag out: --systems prompt,rag)"
                         if isinstance(why, AdapterError) else str(why)) from None
    texts = [q.question for q in questions]
    answers = {}
    for name, system in built.items():
        t0 = time.perf_counter()
        answers[name] = system.answer(texts, progress=progress)
        timings[name] = time.perf_counter() - t0
    documents = {doc_id: d.text for doc_id, d in docs.items()}
    scoring = [q if graded(q) else Question(q.id, q.question, "-", (), q.doc_ids, q.type, q.split) for q in questions]
    scores = evaluate_systems(list(built.values()), scoring, answers=answers, documents=documents)
    results = _results_rows(questions, scores, answers)
    retrieval = retrieval_metrics(retriever, questions, k) if retriever is not None else None
    timings["total"] = time.perf_counter() - start
    setup = {"docs": str(docs_dir), "questions_file": str(questions_file), "documents": len(docs),
             "chunks": len(retriever) if retriever is not None else None, "questions": len(questions),
             "chunks trimmed": sum(a.trimmed for name in answers for a in answers[name]),
             "systems": list(systems), "method": method, "k": k,
             "chunk budget": f"{retriever.chunking.size} {retriever.chunking.tokenizer or 'word'} tokens" if retriever else None,
             "llm": getattr(base, "name", settings.llm), "embedder": settings.embedder,
             "profile": settings.profile.name, "seed": settings.seed, "prices": prices,
             "shots": len(shots or ()), "system_prompt": system_prompt, "split": split,
             "tuning": dict(tuning) if tuning else None,
             "facts": fact_table.record() if fact_table is not None else None, "seconds": {n: round(s, 1) for n, s in timings.items()}}
    summary = summarize_results(results, retrieval=retrieval, setup=setup)
    return Comparison(results=results, summary=summary, questions=questions, docs=docs, retriever=retriever,
                      systems=built, facts=fact_table.table if fact_table is not None else None)


def _endpoint_or_none() -> Any:
    """The server named by ``WORKBOOK_LLM_ENDPOINT`` (notebook 06 generates through it), or ``None``."""
    from helpers.runtime.endpoint import EndpointError, endpoint_from_settings

    try:
        return endpoint_from_settings()
    except EndpointError as why:
        raise InputError(str(why)) from None


# --------------------------------------------------------------------------- summarizing (also after review)
def summarize_results(results: pd.DataFrame, *, retrieval: Mapping[str, Any] | None = None,
                      setup: Mapping[str, Any] | None = None, detect: float = 0.10) -> dict[str, Any]:
    """Per-system rates with n and 95% intervals (:data:`METRICS`, over the graded questions), the paired
    tests of :data:`PAIRS` and the recommendation they support; the same whether the grades are automatic
    or a person's (:func:`rescore`)."""
    table = normalize_results(results)
    gradeable = table[table["correct"].notna()].copy()
    gradeable["type"] = np.where(gradeable["gold"] == UNANSWERABLE, "unanswerable", "answerable")
    gradeable["correct"] = gradeable["correct"].astype(bool)
    gradeable["abstained"] = gradeable["abstained"].fillna(False).astype(bool)
    systems = list(dict.fromkeys(table["system"]))
    out: dict[str, Any] = {"setup": dict(setup or {}), "systems": {}, "paired": [], "retrieval": None}
    per_system: dict[str, dict[str, Any]] = {s: {} for s in systems}
    if len(gradeable):
        def counted(metric: str) -> pd.DataFrame:  # citations are checked only where a source was named
            named = gradeable[gradeable["source"] != ""]
            if metric == "cited when correct":  # a right citation on a wrong answer earns nothing here
                return named[named["correct"]]
            return named if metric == "correct source cited" else gradeable

        for metric in METRICS:
            rows = counted(metric)
            if rows.empty or (metric == "JSON valid" and ("json_valid" not in rows or rows["json_valid"].isna().all())):
                continue
            measured = "correct source cited" if metric == "cited when correct" else metric
            for (system, _), row in intervals(rows, [measured]).iterrows():
                per_system[system][metric] = _rate_dict(row)
        for a, b, metric in PAIRS:
            if not (metric in per_system.get(a, {}) and metric in per_system.get(b, {})):
                continue
            test = paired(counted(metric), a, b, metric)
            what = "Accuracy" if metric == "accuracy" else "Answers citing a correct source"
            out["paired"].append({"a": a, "b": b, "metric": metric, "n": test.n,
                                  "a_rate": test.a.value, "b_rate": test.b.value,
                                  "difference": test.difference, "low": test.diff_low, "high": test.diff_high,
                                  "p": test.p_value, "verdict": verdict_of(test),
                                  "sentence": paired_sentence(test, a, b, what, detect)})
    for system in systems:
        rows = table[table["system"] == system]
        per_system[system].update({"questions": len(rows), "graded": int(rows["correct"].notna().sum()),
                                   "seconds_per_question": float(rows["seconds"].mean()),
                                   "prompt_tokens": float(rows["prompt_tokens"].mean())})
    out["systems"] = per_system
    out["costs"] = cost_per_1000(table, (setup or {}).get("prices"))
    out["graded"] = {"automatic": int((table["graded_by"] == "automatic").sum()),
                     "person": int((table["graded_by"] == "person").sum()),
                     "not yet": int(table["correct"].isna().sum())}
    if retrieval is not None:
        out["retrieval"] = dict(retrieval)
    out["recommendation"] = summary_recommendations(out)
    return out


PRICE_KEYS = ("input_per_million", "output_per_million", "machine_per_hour")


def read_prices(path: str | Path) -> dict[str, Any]:
    """A price table you set (JSON): ``input_per_million`` and ``output_per_million`` (an API's price per
    million tokens), ``machine_per_hour`` (your machine's price per hour), ``currency`` (default USD).

    Raises:
        InputError: missing or unreadable file, no price, or a price that is not a number >= 0.
    """
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as why:
        raise InputError(f"Cannot read prices from {path}: {why}") from None
    if not isinstance(raw, dict) or not any(k in raw for k in PRICE_KEYS):
        raise InputError(f"{path} names no price: give one or more of {', '.join(PRICE_KEYS)} (and currency).")
    bad = [k for k in PRICE_KEYS if k in raw and (not isinstance(raw[k], (int, float)) or raw[k] < 0)]
    if bad:
        raise InputError(f"{path}: {', '.join(bad)} must be a number >= 0.")
    return {"currency": str(raw.get("currency", "USD")), **{k: float(raw[k]) for k in PRICE_KEYS if k in raw}}


def _column_mean(rows: pd.DataFrame, column: str) -> float:
    """The mean of a numeric column, NaN when an older results.csv lacks it."""
    return float(pd.to_numeric(rows[column], errors="coerce").mean()) if column in rows else math.nan


def cost_per_1000(results: pd.DataFrame, prices: Mapping[str, Any] | None = None, per: int = 1000) -> dict[str, Any]:
    """Per system, what ``per`` questions cost: prompt and completion tokens and machine hours (all measured:
    mean per question times ``per``), and money for the ``prices`` you set (:func:`read_prices`; none is
    assumed). Replayed or cached answers keep the seconds measured when they were generated."""
    from helpers.costs import HourlyPrice, TokenPrices, compute_cost, token_cost

    out: dict[str, Any] = {"per": per, "prices": dict(prices) if prices else None, "systems": {}}
    for system, rows in results.groupby("system", sort=False):
        prompt, completion, seconds = (_column_mean(rows, c) for c in ("prompt_tokens", "completion_tokens", "seconds"))
        row = {"prompt_tokens": prompt * per, "completion_tokens": completion * per, "machine_hours": seconds * per / 3600}
        if prices and "input_per_million" in prices and "output_per_million" in prices:
            api = TokenPrices(prices["input_per_million"], prices["output_per_million"], prices["currency"])
            row["api_cost"] = token_cost(prompt, completion, api) * per
        if prices and "machine_per_hour" in prices:
            row["machine_cost"] = compute_cost(seconds, HourlyPrice(prices["machine_per_hour"], prices["currency"])) * per
        out["systems"][str(system)] = row
    return out


def rescore(results: pd.DataFrame, previous: Mapping[str, Any] | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Apply a person's verdicts (column ``verdict``: correct/wrong, yes/no, 1/0; see :data:`VERDICTS`): a
    filled verdict replaces the automatic grade. Returns the updated results and a fresh summary (keeping
    ``previous``'s setup and retrieval metrics).

    Raises:
        InputError: a verdict that is not one of :data:`VERDICTS` (the message names its line).
    """
    table = normalize_results(results)
    for column in ("system", "correct", "verdict"):
        if column not in table:
            raise InputError(f"The results table has no {column!r} column; pass the results.csv that "
                             "`llm-workbook compare` wrote.")
    for i, verdict in table["verdict"].items():
        text = verdict.strip().lower()
        if not text:
            continue
        if text not in VERDICTS:
            raise InputError(f"results.csv line {int(i) + 2}: verdict {verdict!r} is not one of correct/wrong, "
                             "yes/no, 1/0 (or leave it empty).")
        table.at[i, "correct"] = VERDICTS[text]
        table.at[i, "graded_by"] = "person"
    previous = previous or {}
    summary = summarize_results(table, retrieval=previous.get("retrieval"), setup=previous.get("setup"))
    return table, summary


# --------------------------------------------------------------------------- writing the outputs
def write_outputs(results: pd.DataFrame, summary: Mapping[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write ``results.csv``, ``summary.json`` and the self-contained ``report.html`` into ``out_dir``
    (created); returns their paths."""
    from helpers.runtime.storage import atomic_file
    from helpers.workbook.report import render_report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"results": out / "results.csv", "summary": out / "summary.json", "report": out / "report.html"}
    texts = {"results": normalize_results(results).to_csv(index=False),
             "summary": json.dumps(summary, indent=2, default=_json_default) + "\n",
             "report": render_report(results, summary)}
    for key, text in texts.items():
        with atomic_file(paths[key]) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
    return paths


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.bool_):
        return bool(value)
    return str(value)


def read_results(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A ``results.csv`` written by :func:`write_outputs` and the ``summary.json`` beside it (empty if gone).

    Raises:
        InputError: the file is missing, empty, not UTF-8 or lacks the columns :func:`rescore` needs.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist; pass the results.csv that `llm-workbook compare` wrote.")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8; save it as UTF-8 (in Excel: 'CSV UTF-8') and try again.") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path} is empty; pass the results.csv that `llm-workbook compare` wrote.") from None
    summary_path = path.with_name("summary.json")
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else {}
    return table, summary


#: How :func:`verdict_rows` names each paired test in the workbook's claim vocabulary (docs/CLAIMS.md).
CLAIM_NAMES = {("rag", "prompt", "accuracy"): "C3  accuracy, RAG vs prompt-only",
               ("lora+rag", "rag", "accuracy"): "C7  accuracy, LoRA + RAG vs RAG",
               ("lora+rag", "prompt", "accuracy"): "C7  accuracy, LoRA + RAG vs prompt-only",
               ("lora+rag", "rag", "correct source cited"): "C7  correct source cited, LoRA + RAG vs RAG"}


def verdict_rows(summary: Mapping[str, Any], label: str) -> pd.DataFrame:
    """The summary's paired tests as a :func:`helpers.uncertainty.verdict_table` (claim, effect, CI, n, p,
    verdict), each claim suffixed with ``label`` (e.g. the data set), for the README's verdict table."""
    rows = [{"claim": f"{CLAIM_NAMES.get((t['a'], t['b'], t['metric']), t['a'] + ' vs ' + t['b'])} ({label})",
             "effect": t["difference"], "CI low": t["low"], "CI high": t["high"], "n": t["n"], "p": t["p"],
             "verdict": t["verdict"]} for t in summary["paired"]]
    return pd.DataFrame(rows, columns=["claim", "effect", "CI low", "CI high", "n", "p", "verdict"]).set_index("claim")

