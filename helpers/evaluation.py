"""Score answers and rankings, and write result tables: one evaluation for every notebook.

Answers (against a gold answer and its aliases):

* ``exact_match`` — the normalized prediction equals a normalized gold answer;
* ``contains_match`` — a normalized gold answer occurs in the prediction as whole words
  (lenient: a small model that says "The window is 45 days." is right);
* ``token_f1`` — word-overlap F1 with the best gold answer (SQuAD style);
* ``is_abstention`` — the model declined to answer ("I don't know", "not in the context" …);
  for unanswerable questions, abstaining *is* the correct answer.

Format: ``parse_json_object`` finds and validates a JSON object with required keys.

Rankings: ``recall_at_k``, ``mrr_at_k``, ``ndcg_at_k`` for a ranked list of ids against the set
of relevant ids, and ``retrieval_report`` for a table over many queries and systems.
"""

from __future__ import annotations

import json
import math
import re
import string
import subprocess
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from helpers.config import REPO_ROOT, get_settings

if TYPE_CHECKING:
    from helpers.data import Question
    from helpers.generation import Generation
    from helpers.models import LLM

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
)
_ABSTAIN = re.compile("|".join(ABSTENTION_PATTERNS), re.IGNORECASE)


def is_abstention(prediction: str) -> bool:
    """True if the answer declines ("I don't know", "not mentioned in the context", ...) or is empty."""
    return not prediction.strip() or bool(_ABSTAIN.search(prediction))


# --------------------------------------------------------------------------- JSON format
def parse_json_object(text: str, required_keys: Sequence[str] = ()) -> dict[str, Any] | None:
    """Find the first JSON object in ``text`` and check it has ``required_keys``.

    Tolerates text or a markdown code fence around the object (models often add them);
    returns ``None`` when there is no parseable object or a required key is missing.
    """
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
    """How one prediction scores against one question.

    ``correct`` is the headline: for answerable questions the gold answer is contained in the
    prediction (and the model did not abstain); for unanswerable ones the model abstained.
    """

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
    """One row per question: the prediction, its scores, format compliance, tokens and time.

    Args:
        questions: the questions, in the order of ``generations``.
        generations: the model outputs from :func:`helpers.generation.generate`.
        answers: the answer text to score if it is not the raw output (e.g. the ``"answer"``
            field extracted from JSON); default: each generation's text.
        required_keys: if given, the output must be a JSON object with these keys; adds the
            columns ``json_valid`` (object found) and ``json_strict`` (nothing but the object).
        updated: score against the answers after the knowledge update.
        system: a label stored in the ``system`` column (handy when concatenating runs).
    """
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


def evaluate_prompts(
    llm: LLM,
    questions: Sequence[Question],
    prompts: Sequence[Any],
    *,
    label: str,
    required_keys: Sequence[str] | None = None,
    extract: Callable[[str], str] | None = None,
    updated: bool = False,
    **generate_kwargs: Any,
) -> pd.DataFrame:
    """Generate one answer per prompt and score it: the one call behind every measured technique.

    Args:
        llm: the model.
        questions: the questions the prompts ask, same order.
        prompts: one prompt per question (string or chat messages).
        label: the technique's name, stored in the ``system`` column.
        required_keys: JSON keys the output must have (adds ``json_valid``/``json_strict``).
        extract: turns the raw output into the answer to score, e.g. ``json_field("answer")``
            or a function that keeps the text after "Answer:"; default: the raw text.
        updated: score against the post-update answers.
        **generate_kwargs: passed to :func:`helpers.generation.generate` (``system``,
            ``max_new_tokens``, ``temperature``, ``stop``, ...).
    """
    from helpers.generation import generate

    generations = generate(llm, list(prompts), desc=label, **generate_kwargs)
    answers = [extract(g.text) for g in generations] if extract is not None else None
    return score_generations(questions, generations, answers=answers, required_keys=required_keys,
                             updated=updated, system=label)


def summarize(scores: pd.DataFrame, by: str | list[str] | None = None) -> pd.DataFrame:
    """Aggregate :func:`score_generations` rows into the workbook's standard metrics.

    Columns: ``accuracy`` (correct on answerable questions), ``exact``, ``f1``,
    ``abstention_ok`` (abstained on unanswerable questions, if any), ``wrong_abstention``
    (abstained on answerable ones), ``json_valid`` (if measured), mean ``prompt_tokens`` /
    ``completion_tokens``, mean ``seconds`` per question, and ``n``.
    """
    def agg(df: pd.DataFrame) -> pd.Series:
        answerable = df[df["type"] != "unanswerable"]
        unanswerable = df[df["type"] == "unanswerable"]
        out = {
            "accuracy": answerable["correct"].mean() if len(answerable) else math.nan,
            "exact": answerable["exact"].mean() if len(answerable) else math.nan,
            "f1": answerable["f1"].mean() if len(answerable) else math.nan,
            "abstention_ok": unanswerable["abstained"].mean() if len(unanswerable) else math.nan,
            "wrong_abstention": answerable["abstained"].mean() if len(answerable) else math.nan,
        }
        if "json_valid" in df:
            out["json_valid"] = df["json_valid"].mean()
            out["json_strict"] = df["json_strict"].mean()
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


def retrieval_report(
    runs: Mapping[str, Sequence[Sequence[str]]],
    relevant: Sequence[Iterable[str]],
    ks: Sequence[int] = (1, 5, 10),
) -> pd.DataFrame:
    """Mean recall@k, MRR@10 and nDCG@10 per system.

    Args:
        runs: ``{system name: [ranked ids for query 0, query 1, ...]}``.
        relevant: the relevant ids of each query, in the same order.
        ks: cut-offs for recall.
    """
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


# --------------------------------------------------------------------------- results files
class ResultPath(type(Path())):  # the concrete PosixPath/WindowsPath: only the repr changes
    """The path of a results file: a normal absolute ``Path`` that *displays* relative to the repo.

    ``str()``, ``os.fspath()``, comparisons and every ``Path`` method see the absolute path; only
    the repr is short (``ResultPath('results/03_retrieval_metrics.csv')``), so a notebook that shows
    the return value of :func:`save_results` does not record the machine's folders. Paths outside
    the repository keep their absolute repr.
    """

    def __repr__(self) -> str:
        try:
            relative = self.relative_to(REPO_ROOT)
        except ValueError:
            return super().__repr__()
        return f"{type(self).__name__}({relative.as_posix()!r})"


def run_metadata(**extra: Any) -> dict[str, Any]:
    """Who/what/when of a run: models, profile, seed, key package versions, git commit."""
    import importlib.metadata as md

    settings = get_settings()
    versions = {}
    for pkg in ("torch", "transformers", "sentence-transformers", "peft", "faiss-cpu", "bm25s"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                                text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "profile": settings.profile.name,
            "llm": settings.llm, "embedder": settings.embedder, "seed": settings.seed,
            "git_commit": commit, "versions": versions, **extra}


def save_results(table: pd.DataFrame, name: str, **metadata: Any) -> Path:
    """Write ``table`` to ``results/<name>.csv`` and its run metadata to ``results/<name>.meta.json``.

    The CSV is overwritten by each run of the same profile and models; notebook 05 reads these
    files. Returns the CSV path (a :class:`ResultPath`: absolute, displayed relative to the repo).
    """
    folder = get_settings().results_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.csv"
    table.to_csv(path, index=True)
    (folder / f"{name}.meta.json").write_text(json.dumps(run_metadata(**metadata), indent=2, default=str))
    return ResultPath(path)


RUN_KEY = ("profile", "llm", "embedder", "seed", "git_commit")


def append_run(table: pd.DataFrame, name: str, **metadata: Any) -> Path:
    """Add ``table`` to ``results/<name>.runs.csv``, one block of rows per run configuration.

    Each row gets the run's metadata columns (``profile``, ``llm``, ``embedder``, ``seed``,
    ``git_commit``, ``time`` and any ``metadata`` given). Rows from an earlier run with the same
    configuration are replaced, so re-running a notebook never duplicates them; runs with other
    models or settings are kept side by side for :func:`load_runs`. Returns the path (a
    :class:`ResultPath`).
    """
    meta = run_metadata(**metadata)
    flat = {k: (json.dumps(v, default=str) if isinstance(v, dict | list) else v)
            for k, v in meta.items() if k != "versions"}
    flat["versions"] = json.dumps(meta["versions"])
    rows = table.reset_index() if table.index.name else table.copy()
    for key, value in flat.items():
        rows[key] = value
    folder = get_settings().results_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.runs.csv"
    if path.exists():
        old = pd.read_csv(path, dtype={"git_commit": str})
        same = pd.Series(True, index=old.index)
        for key in RUN_KEY:
            same &= old[key].astype(str) == str(flat[key])
        rows = pd.concat([old[~same], rows], ignore_index=True)
    tmp = path.with_suffix(".tmp")
    rows.to_csv(tmp, index=False)
    tmp.replace(path)
    return ResultPath(path)


def load_runs(name: str) -> pd.DataFrame:
    """Every run stored by :func:`append_run` under ``name`` (empty if there is none yet)."""
    path = get_settings().results_dir / f"{name}.runs.csv"
    return pd.read_csv(path, dtype={"git_commit": str}) if path.exists() else pd.DataFrame()
