"""Score answers and rankings: one evaluation for every notebook.

Answers, against a gold answer and its aliases: :func:`exact_match`, :func:`contains_match` (whole
words; lenient, so "The window is 45 days." is right), :func:`token_f1` (SQuAD style), :func:`is_abstention`
(for unanswerable questions, abstaining *is* correct). Format: :func:`parse_json_object`. Rankings:
:func:`recall_at_k`, :func:`mrr_at_k`, :func:`ndcg_at_k`, :func:`retrieval_report`; of a retriever:
:func:`evaluate_retrievers`, :func:`retrieval_per_query`. Evaluation scores; it
never generates (asking a model is :mod:`helpers.systems`).
"""

from __future__ import annotations

import json
import math
import re
import string
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from helpers.uncertainty import rate

if TYPE_CHECKING:
    from helpers.generation import Generation
    from helpers.retrieval import Retriever
    from helpers.workbook.data import Question

# --------------------------------------------------------------------------- normalization
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans({c: " " for c in string.punctuation if c not in "%.,€$£"})
_THOUSANDS = re.compile(r"(?<=\d)[,\u202f\u00a0 ](?=\d{3}\b)")


def normalize(text: str) -> str:
    """Lower-case, unify unicode and thousands separators, drop articles and most punctuation.

    >>> normalize("The  Rill-250's price: €1,299.")
    'rill 250 s price €1299'
    """
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("\u2013", "-").replace("\u2014", "-").replace("\u2212", "-")
    text = _THOUSANDS.sub("", text)
    text = text.translate(_PUNCT)
    text = re.sub(r"[.,](?!\d)", " ", text)  # keep decimal points/commas inside numbers
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, golds: Iterable[str]) -> bool:
    """True if the normalized prediction equals any normalized gold answer."""
    pred = normalize(prediction)
    return any(pred == normalize(g) for g in golds if g)


def contains_match(prediction: str, golds: Iterable[str]) -> bool:
    """True if any normalized gold answer occurs in the normalized prediction as whole words."""
    pred = f" {normalize(prediction)} "
    return any(f" {normalize(g)} " in pred for g in golds if normalize(g))


def token_f1(prediction: str, golds: Iterable[str]) -> float:
    """Best word-overlap F1 between the prediction and any gold answer (0 when there is none)."""
    pred_tokens = normalize(prediction).split()
    best = 0.0
    for gold in golds:
        gold_tokens = normalize(gold).split()
        common = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
        if not common:
            continue
        precision, recall = common / len(pred_tokens), common / len(gold_tokens)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


ABSTENTION_PATTERNS = (
    r"\bi (do not|don't|dont) know\b", r"\bnot (mentioned|stated|given|provided|specified|available|found)\b",
    r"\b(cannot|can't|can not|unable to) (answer|find|determine|tell|say)\b", r"\bno information\b",
    r"\bnot (in|part of) the (context|document|documents|text|sources)\b", r"\bunknown\b",
    r"\bdoes not (say|mention|contain|specify)\b", r"\bdoesn't (say|mention|contain|specify)\b",
    r"^\s*(n/?a|none)\s*\.?\s*$",
    r"\bi(?:'| a)?m (not sure|unsure|not certain)\b", r"\bi have no (idea|information)\b",
    r"\bi (do not|don't|dont) have (any |enough )?(information|details|data|access)\b",
    r"\b(could not|couldn't) (find|locate|determine)\b", r"\bnot enough (information|context|details)\b",
    r"\bno mention\b",
)
_ABSTAIN = re.compile("|".join(ABSTENTION_PATTERNS), re.IGNORECASE)


def is_abstention(prediction: str) -> bool:
    """True if the answer declines ("I don't know", "not mentioned in the context", ...) or is empty."""
    return not prediction.strip() or bool(_ABSTAIN.search(prediction))


# --------------------------------------------------------------------------- JSON format
def parse_json_object(text: str, required_keys: Sequence[str] = ()) -> dict[str, Any] | None:
    """The first JSON object in ``text`` (text or a code fence around it is tolerated: models add them),
    or ``None`` when there is none or it lacks one of ``required_keys``."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            obj, _ = decoder.raw_decode(text[match.start():])
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            return obj if all(k in obj for k in required_keys) else None
    return None


def json_field(key: str) -> Callable[[str], str]:
    """An extractor for :func:`evaluate_prompts`: the ``key`` field of the output's JSON object,
    or the raw output when it has none (so accuracy is measured apart from format compliance)."""
    def extract(text: str) -> str:
        obj = parse_json_object(text, [key])
        return str(obj[key]) if obj is not None else text

    return extract


def is_strict_json(text: str, required_keys: Sequence[str] = ()) -> bool:
    """True only if the *whole* text (whitespace aside) is one JSON object with ``required_keys``."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return False
    return isinstance(obj, dict) and all(k in obj for k in required_keys)


# --------------------------------------------------------------------------- answer scoring
@dataclass(frozen=True)
class AnswerScore:
    """How one prediction scores against one question. ``correct`` is the headline: answerable, the
    gold answer is contained and the model did not abstain; unanswerable, the model abstained."""

    exact: bool
    contains: bool
    f1: float
    abstained: bool
    correct: bool


def score_answer(prediction: str, question: Question, updated: bool = False) -> AnswerScore:
    """Score ``prediction`` for ``question`` (``updated=True``: against the post-update answer)."""
    abstained = is_abstention(prediction)
    if not question.answerable:
        return AnswerScore(exact=abstained, contains=abstained, f1=float(abstained),
                           abstained=abstained, correct=abstained)
    golds = question.gold(updated)
    contains = contains_match(prediction, golds)
    return AnswerScore(exact=exact_match(prediction, golds), contains=contains,
                       f1=token_f1(prediction, golds), abstained=abstained,
                       correct=contains and not abstained)


def score_generations(
    questions: Sequence[Question],
    generations: Sequence[Generation],
    *,
    answers: Sequence[str] | None = None,
    required_keys: Sequence[str] | None = None,
    updated: bool = False,
    system: str | None = None,
) -> pd.DataFrame:
    """One row per question (in the order of ``generations``): the prediction, its scores, format
    compliance, tokens and time. ``answers``: the text to score if not the raw output (e.g. a JSON
    ``"answer"`` field). ``required_keys``: JSON keys the output must have; adds ``json_valid`` (object
    found) and ``json_strict`` (nothing but the object). ``updated``: score against the post-update
    answers; ``system``: a label for the ``system`` column (handy when concatenating runs)."""
    if len(questions) != len(generations):
        raise ValueError(f"{len(questions)} questions but {len(generations)} generations.")
    answers = [g.text for g in generations] if answers is None else list(answers)
    rows = []
    for q, g, a in zip(questions, generations, answers):
        row = {"id": q.id, "type": q.type, "split": q.split, "question": q.question,
               "gold": q.gold(updated)[0] if q.answerable else "", "prediction": a,
               **asdict(score_answer(a, q, updated)),
               "prompt_tokens": g.prompt_tokens, "completion_tokens": g.completion_tokens,
               "seconds": g.seconds, "batch_seconds": g.batch_seconds}
        if required_keys is not None:
            row["json_valid"] = parse_json_object(g.text, required_keys) is not None
            row["json_strict"] = is_strict_json(g.text, required_keys)
        if system is not None:
            row = {"system": system, **row}
        rows.append(row)
    return pd.DataFrame(rows)


#: Per-question outcomes behind every reported rate: name -> (questions counted, the column a system must
#: have measured, outcome). :func:`summarize`, :func:`helpers.comparison.system_metrics` and the
#: intervals and paired tests of :mod:`helpers.comparison` all count from this one table.
OUTCOMES: dict[str, tuple[str, str, Callable[[pd.DataFrame], pd.Series]]] = {
    "accuracy": ("answerable", "correct", lambda r: r["correct"]),
    "exact": ("answerable", "exact", lambda r: r["exact"]),
    "JSON strict": ("all", "json_strict", lambda r: r["json_strict"]),
    "wrong_abstention": ("answerable", "abstained", lambda r: r["abstained"]),
    "abstention_ok": ("unanswerable", "abstained", lambda r: r["abstained"]),
    "JSON valid": ("all", "json_valid", lambda r: r["json_valid"]),
    "cites": ("answerable", "n_cited", lambda r: r["n_cited"] > 0),
    "correct source cited": ("answerable", "n_cited",
                             lambda r: (r["n_cited"] > 0) & (r["invented"] == 0) & (r["cit_precision"] > 0)),
    "traceable": ("answerable", "attributed_support", lambda r: r["attributed_support"]),
}


def outcome_of(rows: pd.DataFrame, metric: str) -> pd.Series | None:
    """The per-question outcome (bool, on ``rows``' index) behind rate ``metric`` of :data:`OUTCOMES`, on the
    questions it counts; ``None`` when ``rows`` did not measure it (e.g. JSON for a text system)."""
    which, needed, outcome = OUTCOMES[metric]
    if needed not in rows or rows[needed].isna().all():
        return None
    if which != "all":
        rows = rows[(rows["type"] == "unanswerable") == (which == "unanswerable")]
    rows = rows[rows[needed].notna()]  # a table of several systems: count only the rows that measured it
    return outcome(rows).fillna(False).astype(bool)


def outcome_rate(rows: pd.DataFrame, metric: str) -> float:
    """Share of the counted questions with outcome ``metric`` (:func:`outcome_of`); NaN if not measured or none counted."""
    hits = outcome_of(rows, metric)
    return float(hits.mean()) if hits is not None and len(hits) else math.nan


def summarize(scores: pd.DataFrame, by: str | list[str] | None = None) -> pd.DataFrame:
    """Aggregate :func:`score_generations` rows: ``accuracy`` (correct on answerable questions) with its
    95% Wilson interval ``accuracy_low``/``accuracy_high`` over ``n_answerable`` questions, ``exact``, ``f1``, ``abstention_ok`` (abstained on unanswerable ones), ``wrong_abstention``
    (abstained on answerable ones), ``json_valid`` and ``json_strict`` (if measured), mean tokens and ``seconds``,
    ``n``. The rates count from :data:`OUTCOMES`."""
    def agg(df: pd.DataFrame) -> pd.Series:
        answerable = df[df["type"] != "unanswerable"]
        correct = outcome_of(df, "accuracy")
        ci = rate([] if correct is None else correct.tolist())
        out = {
            "accuracy": outcome_rate(df, "accuracy"),
            "accuracy_low": ci.low, "accuracy_high": ci.high, "n_answerable": len(answerable),
            "exact": outcome_rate(df, "exact"),
            "f1": answerable["f1"].mean() if len(answerable) else math.nan,
            "abstention_ok": outcome_rate(df, "abstention_ok"),
            "wrong_abstention": outcome_rate(df, "wrong_abstention"),
        }
        if "json_valid" in df:
            out["json_valid"] = outcome_rate(df, "JSON valid")
            out["json_strict"] = outcome_rate(df, "JSON strict")
        out.update(prompt_tokens=df["prompt_tokens"].mean(), completion_tokens=df["completion_tokens"].mean(),
                   seconds=df["seconds"].mean(), n=len(df))
        return pd.Series(out)

    if by is None:
        return agg(scores).to_frame().T
    groups = scores.groupby(by, sort=False)
    return pd.DataFrame({key: agg(group) for key, group in groups}).T.rename_axis(by)


# --------------------------------------------------------------------------- retrieval metrics
def recall_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Fraction of the relevant ids found in the top ``k`` (duplicates in ``ranked`` count once)."""
    relevant = set(relevant)
    if not relevant:
        raise ValueError("recall is undefined without relevant ids")
    return len(relevant & set(ranked[:k])) / len(relevant)


def mrr_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int = 10) -> float:
    """Reciprocal rank of the first relevant id in the top ``k`` (0 if none)."""
    relevant = set(relevant)
    for rank, item in enumerate(ranked[:k], start=1):
        if item in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int = 10) -> float:
    """Binary-relevance nDCG@k; an id repeated in ``ranked`` gains only at its first rank."""
    relevant = set(relevant)
    seen: set[str] = set()
    dcg = 0.0
    for rank, item in enumerate(ranked[:k], start=1):
        if item in relevant and item not in seen:
            dcg += 1.0 / math.log2(rank + 1)
        seen.add(item)
    ideal = sum(1.0 / math.log2(r + 1) for r in range(1, min(len(relevant), k) + 1))
    return dcg / ideal if ideal else 0.0


def per_query_scores(rankings: Sequence[Sequence[str]], relevant: Sequence[Iterable[str]]) -> pd.DataFrame:
    """recall@1, recall@5, MRR@10 and nDCG@10 of each query's document ranking (one row per query): the
    per-question scores behind the means of :func:`retrieval_report`, for intervals and paired tests."""
    rows = []
    for r, rel in zip(rankings, relevant):
        rel = set(rel)
        rows.append({"recall@1": recall_at_k(r, rel, 1), "recall@5": recall_at_k(r, rel, 5),
                     "MRR@10": mrr_at_k(r, rel), "nDCG@10": ndcg_at_k(r, rel)})
    return pd.DataFrame(rows, columns=["recall@1", "recall@5", "MRR@10", "nDCG@10"])


def retrieval_report(
    runs: Mapping[str, Sequence[Sequence[str]]],
    relevant: Sequence[Iterable[str]],
    ks: Sequence[int] = (1, 5, 10),
) -> pd.DataFrame:
    """Mean recall@k (for each of ``ks``), MRR@10 and nDCG@10 per system; ``runs`` maps a system name to
    its ranked ids per query, ``relevant`` gives each query's relevant ids, in the same order."""
    relevant = [set(r) for r in relevant]
    table = {}
    for name, ranked_lists in runs.items():
        if len(ranked_lists) != len(relevant):
            raise ValueError(f"{name}: {len(ranked_lists)} rankings for {len(relevant)} queries")
        row = {f"recall@{k}": sum(recall_at_k(r, rel, k) for r, rel in zip(ranked_lists, relevant)) / len(relevant)
               for k in ks}
        row["MRR@10"] = sum(mrr_at_k(r, rel) for r, rel in zip(ranked_lists, relevant)) / len(relevant)
        row["nDCG@10"] = sum(ndcg_at_k(r, rel) for r, rel in zip(ranked_lists, relevant)) / len(relevant)
        table[name] = row
    return pd.DataFrame(table).T


def evaluate_retrievers(
    retrievers: Mapping[str, Retriever],
    queries: Sequence[str],
    relevant: Sequence[Iterable[str]],
    *,
    k: int = 10,
    ks: Sequence[int] = (1, 5, 10),
) -> pd.DataFrame:
    """Document-level recall@k, MRR@10 and nDCG@10 per retriever (a document counts once however
    many of its chunks are hit), plus ``ms/query``, the mean search latency. ``table.attrs["rankings"]``
    keeps each retriever's document rankings, for per-question scores without searching again."""
    runs, latency = {}, {}
    for name, retriever in retrievers.items():
        t0 = time.perf_counter()
        runs[name] = retriever.search_documents_many(queries, k)
        latency[name] = 1000 * (time.perf_counter() - t0) / max(len(queries), 1)
    table = retrieval_report(runs, list(relevant), ks=ks)
    table["ms/query"] = [latency[n] for n in table.index]
    table.attrs["rankings"] = runs
    return table


def retrieval_per_query(retriever: Retriever, questions: Sequence[str], relevant: Sequence[Iterable[str]]) -> pd.DataFrame:
    """Each question's document-level recall@1/5, MRR@10 and nDCG@10 with ``retriever`` (one row per
    question, :func:`helpers.evaluation.per_query_scores`): for paired tests between two configurations."""
    return per_query_scores(retriever.search_documents_many(list(questions), 10), [set(r) for r in relevant])
