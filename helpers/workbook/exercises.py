"""Checkers for every notebook's exercises: run the reader's attempt, measure it, say if it meets the bar.

One call per exercise: 00 :func:`check_batch_speedup`, :func:`check_system_prompt`; 01
:func:`check_json_prompt`, :func:`check_injection_defence`, :func:`check_prompt_gain`; 02 :func:`check_chunking`;
03 :func:`check_rag_k`; 04 :func:`check_lora_share`; 05 :func:`break_even_for_prices`; 06
:func:`check_question_set`. The worked answers are in ``solutions/NN_solutions.ipynb``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from helpers.adapters import LoraSettings
from helpers.chunking import ChunkingConfig
from helpers.comparison import paired, paired_sentence
from helpers.costs import HourlyPrice, TokenPrices, break_even_volume, compute_cost, token_cost
from helpers.evaluation import json_field, retrieval_per_query, summarize
from helpers.finetune import count_lora_parameters
from helpers.generation import render_prompt, tokens_per_second
from helpers.prompts import injection_succeeded
from helpers.retrieval import build_retriever
from helpers.systems import build_system, evaluate_prompts, evaluate_systems
from helpers.uncertainty import paired_difference, paired_test, rate
from helpers.uncertainty import verdict as verdict_of


def check(name: str, measured: float, bar: float, *, higher_is_better: bool = True, fmt: str = ".0%") -> bool:
    """Print whether ``measured`` meets ``bar`` and return the verdict."""
    ok = bool(measured >= bar if higher_is_better else measured <= bar)
    relation = ">=" if higher_is_better else "<="
    mark = "PASS" if ok else "not yet"
    print(f"[{mark}] {name}: measured {measured:{fmt}}, the bar is {relation} {bar:{fmt}}")
    return ok


def _verdict(name: str, ok: bool) -> bool:
    """Print a yes/no check (one decided by a test, not by a number against a bar) and return it."""
    print(f"[{'PASS' if ok else 'not yet'}] {name}")
    return ok


#: What a conclusion exercise may answer: the paired test decides which one the measurements support.
CONCLUSIONS: tuple[str, ...] = ("better", "worse", "not distinguishable")


def _check_conclusion(stated: str | None) -> None:
    """Refuse a conclusion that is not one of :data:`CONCLUSIONS` before anything is measured."""
    if stated is not None and stated not in CONCLUSIONS:
        raise ValueError(f"conclusion must be one of {', '.join(repr(c) for c in CONCLUSIONS)}, not {stated!r}.")


def _conclusion(stated: str | None, distinguishable: bool, difference: float, what: str, gain: str) -> bool:
    """Judge a stated conclusion against the paired test: "better" or "worse" only when the test separates
    the two, "not distinguishable" when it cannot. Without one, pass only a distinguishable gain (``gain``
    says which)."""
    if stated is None:
        return _verdict(gain, distinguishable and difference > 0)
    _check_conclusion(stated)
    measured = ("better" if difference > 0 else "worse") if distinguishable else "not distinguishable"
    return _verdict(f"your conclusion {stated!r} about {what}: the paired test says {measured!r}", stated == measured)


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
    print(f"strict JSON {rate(scores['json_strict'].astype(bool))}; JSON found {s['json_valid']:.0%}; "
          f"accuracy {s['accuracy']:.0%}; {s['prompt_tokens']:.0f} prompt tokens per question")
    return check("strict JSON compliance", s["json_strict"], bar)


def check_injection_defence(
    llm: Any,
    make_prompt: Callable[[Any], Any],
    questions: Sequence[Any],
    *,
    undefended: Callable[[Any], Any],
    clean: Callable[[Any], Any],
    bar: float = 0.0,
    **generate_kwargs: Any,
) -> bool:
    """Does the defence ``make_prompt(question)`` stop the injection and keep the answers (01)?

    On the same ``questions``: the share of answers that repeat the planted answer must be at most ``bar``
    and distinguishably below the ``undefended`` prompt's in a paired test, and the accuracy at least that
    of the ``clean`` prompt (the documents without the injection)."""
    runs = {label: evaluate_prompts(llm, questions, [make(q) for q in questions], label=label, **generate_kwargs)
            for label, make in (("your defence", make_prompt), ("undefended", undefended), ("clean", clean))}
    obeyed = {label: runs[label]["prediction"].map(injection_succeeded).tolist() for label in ("your defence", "undefended")}
    stopped = paired_test(obeyed["undefended"], obeyed["your defence"])
    kept = paired(pd.concat(runs.values()), "your defence", "clean")
    print(f"repeat the planted answer: undefended {stopped.a}, your defence {stopped.b}; paired: {stopped}")
    print(f"accuracy: your defence {kept.a}, clean documents {kept.b}; paired: {kept}")
    ok_attack = check("share of answers repeating the planted answer", stopped.b.value, bar, higher_is_better=False)
    ok_test = _verdict("fewer than undefended in a paired test", stopped.distinguishable and stopped.difference > 0)
    ok_answers = check("accuracy, against the clean documents' accuracy", kept.a.value, kept.b.value)
    return ok_attack and ok_test and ok_answers


def check_prompt_gain(
    llm: Any,
    questions: Sequence[Any],
    make_prompt: Callable[[Any], Any],
    baseline: Callable[[Any], Any],
    *,
    metric: str = "accuracy",
    conclusion: str | None = None,
    **generate_kwargs: Any,
) -> bool:
    """Does ``make_prompt(question)`` beat ``baseline(question)`` on ``metric`` in a paired test on the
    same questions (01)? A higher number that the test cannot separate from the baseline is not a pass.
    With ``conclusion`` ("better", "worse" or "not distinguishable"), it passes when that is what the test
    supports: every honest outcome passes."""
    _check_conclusion(conclusion)
    scores = pd.concat([evaluate_prompts(llm, questions, [make_prompt(q) for q in questions], label="your prompt",
                                         **generate_kwargs),
                        evaluate_prompts(llm, questions, [baseline(q) for q in questions], label="baseline",
                                         **generate_kwargs)])
    test = paired(scores, "your prompt", "baseline", metric)
    print(paired_sentence(test, "your prompt", "baseline", metric))
    return _conclusion(conclusion, test.distinguishable, test.difference, f"your prompt's {metric}",
                       f"{metric}: your prompt distinguishably above the baseline")


def check_batch_speedup(llm: Any, prompts: Sequence[Any], batch_size: int, *, baseline: float, bar: float = 1.5,
                        max_new_tokens: int = 32) -> bool:
    """Is generating ``prompts`` in batches of ``batch_size`` at least ``bar`` times as fast (tokens/s) as
    ``baseline``, the tokens/s measured one at a time (00)? Times the model: the cache is off.

    Raises:
        ValueError: ``baseline`` is not a positive speed.
    """
    if not baseline > 0:
        raise ValueError(f"baseline must be the tokens/s measured one at a time (> 0), not {baseline!r}.")
    speed, _ = tokens_per_second(llm, prompts, batch_size=batch_size, max_new_tokens=max_new_tokens)
    print(f"batch of {batch_size}: {speed:.0f} tokens/s; one at a time: {baseline:.0f} tokens/s")
    return check(f"speed-up of batches of {batch_size}", speed / baseline, bar, fmt=".1f")


def check_system_prompt(llm: Any, question: str, system: str) -> bool:
    """Does ``system`` reach the model as a system message, before the question and in place of the chat
    template's default one (00)? Prints the rendered prompt."""
    rendered, default = render_prompt(llm, question, system=system), render_prompt(llm, question)
    print(rendered)
    before = (bool(system.strip()) and system in rendered and question in rendered
              and rendered.index(system) < rendered.index(question))
    replaced = rendered != default
    print(f"your system message comes before the question: {before}; it changes the rendered prompt: {replaced}")
    return _verdict("system message placed before the question", before and replaced)


def check_chunking(config: ChunkingConfig, docs: Any, questions: Sequence[str], relevant: Sequence[Sequence[str]],
                   *, baseline: ChunkingConfig, embedder: Any = None, metric: str = "recall@5",
                   conclusion: str | None = None) -> bool:
    """Does dense retrieval over chunks made with ``config`` beat ``baseline`` chunks on document-level
    ``metric`` in a paired test on the same questions (02)? Each configuration is embedded once (cached).
    With ``conclusion`` ("better", "worse", "not distinguishable"): does the test support it?"""
    _check_conclusion(conclusion)
    scores = {c: retrieval_per_query(build_retriever(docs, method="dense", chunking=c, embedder=embedder, cache=True),
                                     questions, relevant)[metric] for c in (config, baseline)}
    gain = paired_difference(scores[config], scores[baseline])
    print(f"{metric}: {scores[config].mean():.3f} with {config}, {scores[baseline].mean():.3f} with {baseline} "
          f"(n = {len(questions)}); paired difference {gain}: {verdict_of(gain)}")
    return _conclusion(conclusion, gain.distinguishable, gain.difference, f"{metric} with these chunks",
                       f"{metric} distinguishably above the baseline")


def check_rag_k(llm: Any, retriever: Any, questions: Sequence[Any], k: int, *, baseline_k: int = 3,
                conclusion: str | None = None) -> bool:
    """Does answering with ``k`` retrieved chunks beat ``baseline_k`` chunks in a paired test on the same
    ``questions`` (03; choose on dev, about a minute each)? With ``conclusion`` ("better", "worse", "not
    distinguishable"): does the test support it?"""
    _check_conclusion(conclusion)
    if k == baseline_k or k < 1:
        raise ValueError(f"Compare another k with k={baseline_k}: k={k} is {'the baseline' if k >= 1 else 'not a count'}.")
    if any(getattr(q, "split", None) == "test" for q in questions):
        raise ValueError("k is a setting: choose it on dev questions (load_kb_questions('dev')), never on the test split.")
    mine, base = f"RAG, k={k}", f"RAG, k={baseline_k}"
    scores = evaluate_systems([build_system("rag", llm=llm, retriever=retriever, k=n, label=label)
                               for n, label in ((k, mine), (baseline_k, base))], questions)
    test = paired(scores, mine, base)
    table = summarize(scores, by="system")
    print(f"prompt tokens per question: {mine} {table.loc[mine, 'prompt_tokens']:.0f}, "
          f"{base} {table.loc[base, 'prompt_tokens']:.0f}")
    print(paired_sentence(test, mine, base, "accuracy"))
    return _conclusion(conclusion, test.distinguishable, test.difference, f"accuracy with k={k} against k={baseline_k}",
                       f"accuracy with k={k} distinguishably above k={baseline_k}")


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
    from helpers.workbook.question_sets import graded, load_question_file, read_documents

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
