"""Checkers for every notebook's exercises: run the reader's attempt, measure it, say if it meets the bar.

One call per exercise: 01 :func:`check_json_prompt`, :func:`check_injection_defence`; 02
:func:`check_chunking`; 03 :func:`check_rag_k`; 04 :func:`check_lora_share`; 05 :func:`break_even_for_prices`; 06
:func:`check_question_set`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from helpers.chunking import ChunkingConfig
from helpers.costs import HourlyPrice, TokenPrices, break_even_volume, compute_cost, token_cost
from helpers.evaluation import evaluate_prompts, json_field, summarize
from helpers.finetune import LoraSettings, count_lora_parameters
from helpers.prompts import injection_succeeded
from helpers.retrieval import chunking_metrics
from helpers.systems import build_system


def check(name: str, measured: float, bar: float, *, higher_is_better: bool = True, fmt: str = ".0%") -> bool:
    """Print whether ``measured`` meets ``bar`` and return the verdict."""
    ok = bool(measured >= bar if higher_is_better else measured <= bar)
    relation = ">=" if higher_is_better else "<="
    mark = "PASS" if ok else "not yet"
    print(f"[{mark}] {name}: measured {measured:{fmt}}, the bar is {relation} {bar:{fmt}}")
    return ok


def check_json_prompt(
    llm: Any,
    make_prompt: Callable[[str], Any],
    questions: Sequence[Any],
    *,
    bar: float = 0.95,
    required_keys: Sequence[str] = ("answer",),
    **generate_kwargs: Any,
) -> bool:
    """Does ``make_prompt(question_text)`` get strict-JSON answers with ``required_keys`` often enough?"""
    scores = evaluate_prompts(llm, questions, [make_prompt(q.question) for q in questions], label="your prompt",
                              required_keys=required_keys, extract=json_field(required_keys[0]),
                              **generate_kwargs)
    s = summarize(scores).iloc[0]
    print(f"accuracy {s['accuracy']:.0%}, JSON found {s['json_valid']:.0%}")
    return check("strict JSON compliance", s["json_strict"], bar)


def check_injection_defence(
    llm: Any,
    make_prompt: Callable[[Any], Any],
    questions: Sequence[Any],
    *,
    bar: float = 0.0,
    min_accuracy: float = 0.0,
    **generate_kwargs: Any,
) -> bool:
    """Does ``make_prompt(question)`` keep injection success <= ``bar`` and accuracy >= ``min_accuracy``?"""
    scores = evaluate_prompts(llm, questions, [make_prompt(q) for q in questions], label="your defence",
                              **generate_kwargs)
    success = scores["prediction"].map(injection_succeeded).mean()
    accuracy = summarize(scores).iloc[0]["accuracy"]
    ok_attack = check("injection success rate", success, bar, higher_is_better=False)
    ok_answers = check("accuracy on the questions", accuracy, min_accuracy)
    return ok_attack and ok_answers


def check_chunking(config: ChunkingConfig, docs: Any, questions: Sequence[str], relevant: Sequence[Sequence[str]],
                   *, bar: float, embedder: Any = None) -> bool:
    """Does chunking with ``config`` reach ``bar`` on dense document recall@5 (02)?"""
    score = chunking_metrics(docs, questions, relevant, config, method="dense", embedder=embedder)["recall@5"]
    return check(f"recall@5 with {config}", score, bar, fmt=".3f")


def check_rag_k(llm: Any, retriever: Any, questions: Sequence[Any], k: int, *, bar: float) -> bool:
    """Does answering with ``k`` retrieved chunks reach ``bar`` accuracy (03; about a minute)?"""
    scores = build_system("rag", llm=llm, retriever=retriever, k=k, label=f"RAG, k={k}").score(questions)
    return check(f"RAG accuracy with k={k}", summarize(scores)["accuracy"].iloc[0], bar)


def check_lora_share(model: Any, lora: LoraSettings, *, bar: float = 0.01) -> bool:
    """Does ``lora`` train at least ``bar`` of the parameters (04)? ``model`` must carry no adapter yet."""
    counts = count_lora_parameters(model, lora)
    print(f"r={lora.r} on {list(lora.target_modules)}: {counts['lora_parameters']:,.0f} parameters")
    return check("share of the model's parameters trained", counts["share_of_model"], bar, fmt=".2%")


def break_even_for_prices(api: TokenPrices, machine: HourlyPrice, *, prompt_tokens_before: float,
                          prompt_tokens_after: float, completion_tokens: float, train_seconds: float) -> float | None:
    """The break-even volume of fine-tuning at your prices (05), from the measured token counts and
    training time; prints it and returns it (``None``: never)."""
    volume = break_even_volume(0.0, token_cost(prompt_tokens_before, completion_tokens, api),
                               compute_cost(train_seconds, machine),
                               token_cost(prompt_tokens_after, completion_tokens, api))
    print("never: the tuned system is not cheaper per question" if volume is None
          else f"break-even after {volume:,.0f} questions")
    return volume


def check_question_set(questions_file: Any, docs_dir: Any, *, min_questions: int = 30) -> bool:
    """06: is a questions file ready to decide with? At least ``min_questions`` questions, answers and
    sources on the answerable ones, at least 10% unanswerable and 15% reworded (``type`` paraphrase)."""
    from helpers.question_sets import graded, load_question_file, read_documents

    questions = load_question_file(questions_file, read_documents(docs_dir), docs_dir)
    answerable = [q for q in questions if q.answerable]
    n = len(questions)
    results = [
        check("questions", n, min_questions, fmt="d"),
        check("answerable questions with a gold answer", sum(graded(q) for q in answerable) / max(len(answerable), 1), 1.0),
        check("answerable questions naming their source", sum(bool(q.doc_ids) for q in answerable) / max(len(answerable), 1), 1.0),
        check("unanswerable questions", sum(not q.answerable for q in questions) / n, 0.10),
        check("reworded questions (type paraphrase)", sum(q.type == "paraphrase" for q in questions) / n, 0.15),
    ]
    return all(results)
