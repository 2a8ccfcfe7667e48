"""The workbook's advice, computed from paired tests, not typed: one home for the recommendation logic.

:func:`recommendations` reads the per-question scores of the workbook's four systems (notebook 05, claims C1,
C3, C6, C7 and the knowledge update); :func:`summary_recommendations` reads the paired tests of a run on your
documents (:func:`helpers.workbook.your_data.summarize_results`: ``prompt``, ``rag``, ``lora+rag``). Every
sentence is chosen by a paired test on the same questions and says "not distinguishable" where it cannot tell.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from helpers.comparison import paired, paired_sentence
from helpers.uncertainty import rate_of


def recommendations(scores: pd.DataFrame, *, prompt_only: str, rag: str, lora: str, lora_rag: str,
                    rag_format: str | None = None, update: pd.DataFrame | None = None, retrained: str | None = None,
                    detect: float = 0.10) -> list[str]:
    """Plain-language conclusions from the per-question scores of :func:`helpers.systems.evaluate_systems`.

    Each sentence is chosen by a paired test on the same questions (exact McNemar, 5% level), and
    states the difference with its 95% CI and n; where the test cannot separate two systems it says
    "not distinguishable" and how many questions would detect a ``detect``-sized difference.
    ``prompt_only``, ``rag``, ``lora``, ``lora_rag``: the four systems' names; ``rag_format``: a RAG
    system asked for ``lora_rag``'s output format; ``update``: a :class:`helpers.systems.KnowledgeUpdate`
    table (``new after``, ``n``, ``update_seconds``); ``retrained``: its row measured after retraining ``lora``
    on the new facts, if any."""
    out = []
    c3 = paired(scores, rag, prompt_only)
    if c3.distinguishable and c3.difference > 0:
        out.append(f"Use RAG for questions about your own documents (claim C3 holds). "
                   f"{paired_sentence(c3, rag, prompt_only, 'Accuracy', detect)}.")
    else:
        out.append(f"RAG did not beat prompting alone here; check retrieval and the model's reading before building "
                   f"on it. {paired_sentence(c3, rag, prompt_only, 'Accuracy', detect)}.")
    c1 = paired(scores, rag, lora)
    if c1.distinguishable and c1.difference > 0:
        out.append(f"Do not fine-tune to add knowledge: the closed-book LoRA model does not know facts it was not "
                   f"trained on. {paired_sentence(c1, rag, lora, 'Accuracy', detect)}.")
    if rag_format:
        c6 = paired(scores, lora_rag, rag_format, "JSON valid")
        lead = ("Fine-tune for the output format (claim C6)" if c6.distinguishable and c6.difference > 0
                else "Fine-tuning did not improve the format over prompting for it here")
        out.append(f"{lead}. {paired_sentence(c6, lora_rag, rag_format, 'Valid JSON', detect)}.")
        c7 = paired(scores, lora_rag, rag_format, "correct source cited")
        lead = ("Combine both for answers that cite their source (claim C7)" if c7.distinguishable and c7.difference > 0
                else "The combination did not cite correct sources more often than prompted RAG")
        out.append(f"{lead}. {paired_sentence(c7, lora_rag, rag_format, 'Answers citing a correct, retrieved source', detect)}. "
                   f"{paired_sentence(paired(scores, lora_rag, rag), lora_rag, rag, 'Accuracy', detect)}.")
    if update is not None:
        rows = [name for name in (rag, lora, retrained) if name is not None and name in update.index]
        fresh = {name: rate_of(round(update.loc[name, "new after"] * update.loc[name, "n"]), update.loc[name, "n"])
                 for name in rows}
        after = f", and for {fresh[retrained]} once retrained" if retrained in fresh else ""
        out.append(f"When documents change, retrieval follows at once: after re-indexing "
                   f"({update.loc[rag, 'update_seconds']:.2f} s) {rag} gives the new answer for {fresh[rag]} of the changed "
                   f"facts, {lora} for {fresh[lora]} until it is retrained "
                   f"({update.loc[lora, 'update_seconds']:.0f} s of training){after}.")
    return out


def summary_recommendations(summary: Mapping[str, Any]) -> list[str]:
    """Plain-language advice from the paired tests of a run on your documents
    (:func:`helpers.workbook.your_data.summarize_results`: systems ``prompt``, ``rag``, ``lora+rag``): which approach the
    measurements support, and where they cannot tell (with the number of questions that would)."""
    if not summary["paired"]:
        ungraded = summary.get("graded", {}).get("not yet", 0)
        return [f"Nothing is scored yet: {ungraded} answers wait for a verdict. Fill in the 'verdict' column of "
                "results.csv (correct / wrong) and run `llm-workbook score results.csv`."]
    tests = {(t["a"], t["b"]): t for t in summary["paired"] if t["metric"] == "accuracy"}
    sources = next((t for t in summary["paired"] if t["metric"] == "correct source cited"), None)
    out = []
    rag = tests.get(("rag", "prompt"))
    if rag:
        if rag["verdict"] == "holds" and rag["difference"] > 0:
            out.append(f"Retrieve: RAG answers your questions better than the model alone. {rag['sentence']}.")
        else:
            out.append(f"RAG is not shown to beat the model alone on these questions; check retrieval (hit@k) and "
                       f"the answers before building on it. {rag['sentence']}.")
    reader = tests.get(("lora+rag", "rag"))
    if reader:
        if reader["verdict"] == "holds" and reader["difference"] > 0:
            out.append(f"Fine-tune the behaviour, retrieve the knowledge: the fine-tuned reader reads your retrieved "
                       f"documents better than the base model. {reader['sentence']}.")
        elif reader["verdict"] == "contradicted":  # distinguishably worse
            out.append(f"The fine-tuned reader does worse than plain RAG on your documents; stay with RAG. "
                       f"{reader['sentence']}.")
        else:
            out.append(f"The fine-tuned reader and plain RAG are not distinguishable on your questions; prefer the "
                       f"simpler RAG until more questions say otherwise. {reader['sentence']}.")
    memorized = tests.get(("lora", "rag"))
    if memorized:
        if memorized["verdict"] == "holds" and memorized["difference"] > 0:
            out.append(f"The adapter trained on your documents' facts answers more questions closed-book than RAG; "
                       f"it cannot show a source and must be retrained when a document changes. "
                       f"{memorized['sentence']}.")
        elif memorized["verdict"] == "contradicted":
            out.append(f"Retrieve, do not memorize: the adapter trained on your documents' facts answers fewer "
                       f"questions closed-book than RAG. {memorized['sentence']}.")
        else:
            out.append(f"The adapter trained on your documents' facts (closed-book) and RAG are not distinguishable "
                       f"on your questions; RAG also shows its sources and follows a changed document without "
                       f"retraining. {memorized['sentence']}.")
    both = tests.get(("facts+rag", "rag"))
    if both:
        shown = {"holds": "helps", "contradicted": "hurts"}.get(both["verdict"], "is not shown to change")
        out.append(f"Training on your documents' facts {shown} the model's reading of retrieved chunks "
                   f"(facts+rag vs rag). {both['sentence']}.")
    if sources and sources["verdict"] == "holds" and sources["difference"] > 0:
        out.append(f"Fine-tune for traceable answers: the reader cites the right source far more often. "
                   f"{sources['sentence']}.")
    retrieval = summary.get("retrieval")
    if retrieval and retrieval.get(f"answer in top-{retrieval['k']}"):
        found = retrieval[f"answer in top-{retrieval['k']}"]
        out.append(f"Retrieval puts the gold answer into the {retrieval['k']} chunks the RAG systems read for "
                   f"{found['k']}/{found['n']} answerable questions ({found['value']:.0%}, 95% CI {found['low']:.0%}-"
                   f"{found['high']:.0%}): that is the ceiling for any reader; answers below it are reading failures.")
    if retrieval and retrieval.get(f"hit@{retrieval['k']}"):
        hit = retrieval[f"hit@{retrieval['k']}"]
        if hit["value"] < 0.7:
            out.append(f"Retrieval finds a source document in the top {retrieval['k']} for only {hit['k']}/{hit['n']} "
                       f"questions ({hit['value']:.0%}, 95% CI {hit['low']:.0%}-{hit['high']:.0%}): no reader can "
                       "answer from chunks it is not given; try --method hybrid or more --k (notebook 03).")
    return out
