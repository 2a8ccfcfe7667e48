"""Side-by-side metrics for whole systems (prompt-only, RAG, LoRA, LoRA + RAG): notebooks 04 and 05.

:func:`system_metrics` turns one system's rows (from :func:`helpers.systems.evaluate_systems`) into a
row of the comparison, :func:`compare` does it for all; :func:`recommendations` states which approach
the measurements support, so the advice is computed, not typed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from helpers.evaluation import summarize


def system_metrics(scores: pd.DataFrame, *, build_seconds: float = 0.0) -> pd.Series:
    """One comparison row from a per-question score table: ``accuracy``/``exact``/``f1`` (answerable
    questions), ``abstention_ok``, ``wrong_abstention``, ``JSON valid`` (NaN if not asked for JSON),
    ``cites`` (answers citing a source), ``sources ok`` (of those, citing retrieved *and* supporting
    documents), ``traceable`` (answer found in a supporting chunk, :func:`helpers.rag.attribute_answer`),
    mean tokens, per-question latency p50/p95 (batched, amortized) and ``build_seconds``."""
    row = summarize(scores).iloc[0]
    answerable = scores[scores["type"] != "unanswerable"]
    out = {k: row[k] for k in ["accuracy", "exact", "f1", "abstention_ok", "wrong_abstention"]}
    out["JSON valid"] = row["json_valid"] if "json_valid" in scores else math.nan
    if "n_cited" in scores:
        citing = answerable[answerable["n_cited"] > 0]
        out["cites"] = (answerable["n_cited"] > 0).mean()
        out["sources ok"] = ((citing["invented"] == 0) & (citing["cit_precision"] > 0)).mean() if len(citing) else 0.0
        out["traceable"] = answerable["attributed_support"].mean()
    else:
        out["cites"] = out["sources ok"] = out["traceable"] = math.nan
    out.update({"prompt_tokens": scores["prompt_tokens"].mean(), "completion_tokens": scores["completion_tokens"].mean(),
                "seconds": scores["seconds"].mean(), "latency_p50": scores["seconds"].quantile(0.5), "latency_p95": scores["seconds"].quantile(0.95),
                "build_seconds": build_seconds, "n": len(scores)})
    return pd.Series(out)


def compare(scores: pd.DataFrame, build_seconds: Mapping[str, float] | None = None) -> pd.DataFrame:
    """:func:`system_metrics` per system of a score table (column ``system``), in order of appearance."""
    build_seconds = build_seconds or {}
    return pd.DataFrame({name: system_metrics(rows.dropna(axis=1, how="all").infer_objects(), build_seconds=build_seconds.get(name, 0.0))
                         for name, rows in scores.groupby("system", sort=False)}).T.rename_axis("system")


def recommendations(table: pd.DataFrame, *, prompt_only: str, rag: str, lora: str, lora_rag: str,
                    rag_format: str | None = None, update: pd.DataFrame | None = None,
                    margin: float = 0.1) -> list[str]:
    """Plain-language conclusions from a :func:`compare` table, each chosen by comparing measured
    numbers with ``margin`` (the absolute difference that counts as clear); where the data do not
    separate two systems, it says so. ``prompt_only``, ``rag``, ``lora``, ``lora_rag``: the four
    systems' names; ``rag_format``: a RAG system asked for ``lora_rag``'s output format; ``update``: a
    :class:`helpers.systems.KnowledgeUpdate` table (``new after``, ``update_seconds``)."""
    t = table
    out = []
    acc = t["accuracy"]
    if acc[rag] > acc[prompt_only] + margin:
        out.append(f"Use RAG for questions about your own documents: it answers {acc[rag]:.0%} where the prompted "
                   f"model alone answers {acc[prompt_only]:.0%} (claim C3 holds here).")
    else:
        out.append(f"RAG did not clearly beat prompting alone here ({acc[rag]:.0%} vs {acc[prompt_only]:.0%}): "
                   "check retrieval quality and the model's reading ability before building on it.")
    if acc[lora] < acc[rag] - margin:
        out.append(f"Do not fine-tune to add knowledge: the closed-book LoRA model answers {acc[lora]:.0%} of questions "
                   f"whose facts it was not trained on, RAG {acc[rag]:.0%}.")
    fmt = t["JSON valid"]
    base_fmt = fmt[rag_format] if rag_format else math.nan
    if not math.isnan(fmt[lora_rag]) and (math.isnan(base_fmt) or fmt[lora_rag] > base_fmt + margin):
        out.append(f"Fine-tune for the output format: LoRA + RAG returns valid JSON {fmt[lora_rag]:.0%} of the time"
                   + (f" vs {base_fmt:.0%} when the base model is only asked to (claim C6)." if not math.isnan(base_fmt) else "."))
    elif not math.isnan(base_fmt):
        out.append(f"Prompting already gives the format ({base_fmt:.0%} valid JSON vs {fmt[lora_rag]:.0%} after LoRA): "
                   "fine-tuning is not needed for it here.")
    ok_lr, ok_rf = t.loc[lora_rag, "sources ok"], t.loc[rag_format, "sources ok"] if rag_format else math.nan
    cites_lr = t.loc[lora_rag, "cites"]
    if rag_format and cites_lr * ok_lr > t.loc[rag_format, "cites"] * ok_rf + margin:
        out.append(f"Combine both for a production system (claim C7): LoRA + RAG cites a correct, retrieved source in "
                   f"{cites_lr * ok_lr:.0%} of its answers vs {t.loc[rag_format, 'cites'] * ok_rf:.0%} for RAG prompted for "
                   f"the same format, at {acc[lora_rag]:.0%} accuracy vs {acc[rag]:.0%} for plain RAG.")
    else:
        out.append("The combination did not clearly improve cited answers over prompted RAG on this data.")
    if update is not None:
        fresh = update["new after"]
        best = fresh.idxmax()
        out.append(f"When documents change, retrieval-based systems follow at once: after re-indexing "
                   f"({update.loc[rag, 'update_seconds']:.2f} s) {rag} gives the new answer for {fresh[rag]:.0%} of the changed "
                   f"facts and {lora} for {fresh[lora]:.0%} until it is retrained "
                   f"({update.loc[lora, 'update_seconds']:.0f} s of training); best after the update: {best}.")
    return out
