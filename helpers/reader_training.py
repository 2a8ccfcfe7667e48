"""The reader adapter: LoRA that teaches the model to *read* retrieved chunks (RAFT), shipped with the workbook.

The recipe (Zhang et al., 2024, "RAFT: Adapting Language Model to Domain Specific RAG"): train on a question
plus what the retriever really returns at question time, the chunk that holds the answer among distractors,
or, for a share of questions, distractors only; the target copies the answer verbatim from its chunk and names
the chunk (``{"answer": ..., "sources": [...]}``), or abstains. The questions (:func:`reader_questions`) are the
58 train questions plus 345 hand-written, paraphrased reading questions about facts no dev or test question
asks, so what the adapter learns is the skill, not the facts; notebook 05 checks that (closed-book control).
They replaced 545 templated questions, chosen on dev (notebook 04, "What else was tried").

Training takes 30-45 minutes on 2 CPU cores, so ``make adapters`` (``scripts/train_reader.py``) trains it
once and the repository ships it in ``adapters/reader/`` with ``manifest.json``: the base model, a fingerprint
of the data files, recipe versions and settings it was trained from, a hash of the rendered training examples,
the training log and cost, and its dev metrics. :func:`load_reader` refuses a stale adapter (its fingerprint no
longer matches). No source code is hashed: a comment or a refactor changes nothing, and a change that renders
other training examples fails the golden test (``tests/test_golden.py``), which says to bump
:data:`READER_RECIPE_VERSION` and run ``make adapters``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helpers.adapters import AdapterError, load_adapter, read_training_run
from helpers.chunking import ChunkingConfig
from helpers.config import get_settings
from helpers.data import load_kb, load_kb_questions, load_written_reading_questions
from helpers.finetune import ALL_LINEAR, TRAINING_RECIPE_VERSION, LoraSettings, SFTExample, task_a_examples
from helpers.models import PACKAGED_MODELS
from helpers.prompts import JSON_RAG_INSTRUCTION

if TYPE_CHECKING:
    import pandas as pd

    from helpers.data import Question
    from helpers.models import LLM
    from helpers.retrieval import Hit, Retriever

#: The shipped reader, trained by ``make adapters`` on the default base model.
READER_DIR = Path(__file__).resolve().parent.parent / "adapters" / "reader"
#: The version of the reader's recipe: which questions it trains on and how its RAFT examples are built (the
#: chunks, the retriever, the prompt, the target). Part of the shipped reader's fingerprint: bump it, and retrain
#: with ``make adapters``, when the rendered training examples change (``tests/test_golden.py`` says when).
READER_RECIPE_VERSION = 1
#: Chunks in the reader's prompt (the same ``k`` the RAG systems use).
READER_K = 3
#: Share of answerable training questions that also get a distractors-only example (target: abstain), chosen
#: on the 46 dev questions with the templated questions (``scripts/train_reader.py --abstain-share``): with 0.2 the
#: reader said "I don't know" to 20 of 40 answerable dev questions and handled 12 of 46 right; with 0.05, to 5 of
#: 40, and 15 of 46 right.
READER_ABSTAIN_SHARE = 0.05
#: LoRA on every linear layer (reading is a behaviour of the whole block, not a format); 110 steps of 4
#: examples (about one epoch of the written questions, 30-45 minutes on 2 CPU cores), batches of similar
#: length, bf16 autocast on CPUs that have it. With the templated questions, twice the steps (220,
#: ``--questions templated --steps 220``) tied on dev (notebook 04, "What else was tried").
READER_LORA = LoraSettings(r=16, alpha=32, dropout=0.05, target_modules=ALL_LINEAR, learning_rate=1e-3,
                           steps=110, batch_size=4, warmup_steps=10, max_length=1024, group_by_length=True,
                           cpu_bf16=True)


#: Per-question dev outcomes of the shipped reader and of every candidate tried against it, written by
#: ``benchmarks/reader_candidates.py``; :func:`reader_candidates` compares them.
READER_CANDIDATES = Path(__file__).resolve().parent.parent / "benchmarks" / "reader_candidates.csv"
#: The shipped reader's name in that file.
SHIPPED_READER = f"shipped reader (k = {READER_K})"


def reader_candidates(path: str | Path = READER_CANDIDATES) -> pd.DataFrame:
    """What was tried against the shipped reader on the dev questions (:func:`helpers.comparison.compare_candidates`
    of the candidates file against :data:`SHIPPED_READER`), with the command that made each (``made_by``) and
    whether it should replace the shipped reader (``replaces shipped``) by the rule fixed for its kind before it
    ran: a *trained* candidate (``scripts/train_reader.py``) if it handles more dev questions right; a change of
    ``k`` at question time (``--k``) only if it handles distinguishably more right (notebook 03's rule for ``k``,
    which the other systems share). Plain RAG is a reference, never a candidate."""
    import pandas as pd

    from helpers.comparison import compare_candidates

    rows = pd.read_csv(path)
    table = compare_candidates(rows, SHIPPED_READER).join(rows.groupby("system", sort=False)["made_by"].first())
    trained = table["made_by"].str.startswith("scripts/train_reader.py")
    at_question_time = table["made_by"].str.contains("--k ", regex=False)
    table["replaces shipped"] = ((trained & (table["difference"] > 0))
                                 | (at_question_time & (table["verdict"] == "better")))
    return table


def reader_questions() -> list[Question]:
    """What the reader trains on: the answerable and unanswerable train questions plus the written reading questions."""
    return load_kb_questions("train") + load_written_reading_questions()


def reader_retriever() -> Retriever:
    """The retriever the reader is trained with: the library default over the v1 knowledge base, as at question time."""
    from helpers.retrieval import build_retriever

    return build_retriever(load_kb())


def reader_examples(retriever: Retriever | None = None, *, abstain_share: float = READER_ABSTAIN_SHARE,
                    seed: int | None = None) -> list[SFTExample]:
    """RAFT examples (:func:`helpers.finetune.task_a_examples`) over :func:`reader_questions`."""
    return task_a_examples(reader_questions(), retriever or reader_retriever(), k=READER_K,
                           abstain_share=abstain_share, seed=seed)


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def reader_inputs(base_model: str | None = None, *, lora: LoraSettings = READER_LORA,
                  abstain_share: float = READER_ABSTAIN_SHARE) -> dict[str, Any]:
    """Everything the shipped reader is a function of: the data files (hashed, so the manifest stays short),
    the recipe versions, the settings and the base model. What the code does with them is pinned by the golden
    test of the rendered examples (:func:`examples_hash`), never by the code's text."""
    from helpers.retrieval import DEFAULT_METHOD

    data = get_settings().data_dir
    files = sorted([*(data / "kb").glob("*.md"), data / "kb_questions.jsonl", data / "kb_reading_questions_written.jsonl"])
    return {
        "base_model": base_model or get_settings().llm,
        "data": hashlib.sha256("".join(f"{p.name}:{_file_hash(p)}" for p in files).encode()).hexdigest()[:16],
        "recipe": {"reader": READER_RECIPE_VERSION, "training": TRAINING_RECIPE_VERSION},
        "settings": {"lora": asdict(lora.resolved()), "k": READER_K, "abstain_share": abstain_share,
                     "chunking": asdict(ChunkingConfig()),
                     "method": DEFAULT_METHOD, "instruction": JSON_RAG_INSTRUCTION,
                     "embedder": get_settings().embedder},
    }


def examples_hash(examples: Sequence[SFTExample]) -> str:
    """A short hash of the rendered training examples (messages, target, kind, question): what the reader
    was made from, recorded in its manifest and checked by the golden test."""
    payload = json.dumps([asdict(e) for e in examples], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def reader_fingerprint(base_model: str | None = None, **kwargs: Any) -> str:
    """A short hash of :func:`reader_inputs`: what ``manifest.json`` must match for the adapter to be current."""
    payload = json.dumps(reader_inputs(base_model, **kwargs), sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def read_manifest(folder: str | Path = READER_DIR) -> dict[str, Any]:
    """The reader's ``manifest.json``.

    Raises:
        AdapterError: missing or unreadable (retrain with ``make adapters``).
    """
    path = Path(folder) / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise AdapterError(f"{path} is missing or unreadable ({err}); retrain the reader with `make adapters`.") from None


def check_reader(folder: str | Path = READER_DIR, base_model: str | None = None) -> dict[str, Any]:
    """The manifest, after checking the adapter's files and that it was trained from today's data, recipe
    versions and settings for ``base_model`` (default: the configured model).

    Raises:
        AdapterError: damaged, missing, for another base model, or stale (the message says how to retrain).
    """
    manifest = read_manifest(folder)
    read_training_run(folder)  # the files are complete
    base_model = base_model or get_settings().llm
    if manifest.get("base_model") != base_model:
        raise AdapterError(f"The shipped reader was trained on {manifest.get('base_model')!r}, not {base_model!r}: "
                           "train one for this model with `make adapters` (or the gpu profile of notebook 04).")
    expected = reader_fingerprint(base_model)
    if manifest.get("fingerprint") != expected:
        raise AdapterError(f"The reader in {folder} is stale: it was trained from other data, recipe versions or settings "
                           f"(fingerprint {manifest.get('fingerprint')} != {expected}). Retrain it with `make adapters`.")
    return manifest


def load_reader(base: LLM | None = None, folder: str | Path = READER_DIR) -> LLM:
    """The base model with the reader adapter on top, after :func:`check_reader`.

    Raises:
        AdapterError: the adapter is missing, damaged, stale or for another base model.
    """
    from helpers.models import load_llm

    base = base or load_llm()
    check_reader(folder, base.name)
    return load_adapter(folder, base)


def shipped_reader_manifest(base_model: str | None = None) -> dict[str, Any] | None:
    """The shipped reader's manifest if it fits ``base_model`` (default: the configured one) and is current,
    else ``None`` (one :func:`check_reader`, no exception)."""
    name = base_model or get_settings().llm
    if name not in PACKAGED_MODELS:
        return None
    try:
        return check_reader(READER_DIR, name)
    except AdapterError:
        return None


def reader_available(base_model: str | None = None) -> bool:
    """True if the shipped reader fits ``base_model`` (default: the configured one) and is current."""
    return shipped_reader_manifest(base_model) is not None


def load_or_train_reader(retriever: Retriever | None = None, *, progress: bool = True) -> tuple[LLM, dict[str, Any]]:
    """The reader for the configured model: the shipped one when it fits and is current (no training), else
    trained now on :func:`reader_examples` (cached under ``<cache>/adapters/``, as notebook 04's adapters;
    the ``gpu`` profile's larger model takes this path). Returns the model and what was done: ``source``
    (``"shipped"``, ``"cache"`` or ``"trained now"``), ``seconds`` (training time, whoever spent it) and, for the
    shipped reader, its ``manifest``."""
    from helpers.finetune import load_or_train_adapter
    from helpers.models import load_llm

    manifest = shipped_reader_manifest()
    if manifest is not None:  # checked once: load the adapter without checking it again
        return (load_adapter(READER_DIR, load_llm()),
                {"source": "shipped", "seconds": manifest["training"]["seconds"], "manifest": manifest})
    llm, run = load_or_train_adapter("reader", reader_examples(retriever), lora=READER_LORA, progress=progress)
    return llm, {"source": "cache" if run.loaded_from_cache else "trained now", "seconds": run.seconds, "run": run}


class OracleRetriever:
    """A perfect retriever for a control experiment: for each of ``questions`` it returns only the chunk of
    ``retriever``'s index that holds the gold answer (in a supporting document); for questions without one
    (unanswerable, or an answer spread over chunks) it falls back to ``retriever``'s hits."""

    def __init__(self, retriever: Retriever, questions: Sequence[Question]) -> None:
        from helpers.finetune import _support_chunks

        self.retriever = retriever
        self.gold = {q.question: _support_chunks(q, retriever)[:1] for q in questions if q.answerable}

    def search_many(self, questions: Sequence[str], k: int = 3) -> list[list[Hit]]:
        found = self.retriever.search_many(questions, k=k)
        return [self.gold.get(q) or hits for q, hits in zip(questions, found)]

    def search(self, question: str, k: int = 3) -> list[Hit]:
        return self.search_many([question], k=k)[0]
