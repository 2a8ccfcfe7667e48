"""The shipped reader: the RAFT-trained LoRA adapter in ``adapters/reader/`` and the check that it is current.

``make adapters`` (``scripts/train_reader.py``, :mod:`helpers.workbook.reader_training`) trains it once, 30-45 minutes on
2 CPU cores, and writes ``manifest.json`` beside it: the base model, a fingerprint of the data files, recipe
versions and settings it was trained from (:func:`reader_inputs`), a hash of its rendered training examples,
the training log and cost, and its dev metrics. :func:`load_reader` refuses a stale adapter (its fingerprint no
longer matches). No source code is hashed: a comment or a refactor changes nothing, and a change that renders
other training examples fails the golden test (``tests/test_golden.py``), which says to bump
:data:`READER_RECIPE_VERSION` and run ``make adapters``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helpers.adapters import (
    ALL_LINEAR,
    TRAINING_RECIPE_VERSION,
    AdapterError,
    LoraSettings,
    load_adapter,
    read_training_run,
)
from helpers.chunking import ChunkingConfig
from helpers.prompts import JSON_RAG_INSTRUCTION
from helpers.runtime.config import REPO_ROOT, get_settings
from helpers.runtime.models import PACKAGED_MODELS

if TYPE_CHECKING:
    from helpers.runtime.models import LLM

#: The shipped reader, trained by ``make adapters`` on the default base model.
READER_DIR = REPO_ROOT / "adapters" / "reader"
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
#: The retrieval method the reader reads the chunks of (the library default when it was trained).
READER_METHOD = "dense"
#: LoRA on every linear layer (reading is a behaviour of the whole block, not a format); 110 steps of 4
#: examples (about one epoch of the written questions, 30-45 minutes on 2 CPU cores), batches of similar
#: length, bf16 autocast on CPUs that have it. With the templated questions, twice the steps (220,
#: ``--questions templated --steps 220``) tied on dev (notebook 04, "What else was tried").
READER_LORA = LoraSettings(r=16, alpha=32, dropout=0.05, target_modules=ALL_LINEAR, learning_rate=1e-3,
                           steps=110, batch_size=4, warmup_steps=10, max_length=1024, group_by_length=True,
                           cpu_bf16=True)


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def reader_inputs(base_model: str | None = None, *, lora: LoraSettings = READER_LORA,
                  abstain_share: float = READER_ABSTAIN_SHARE) -> dict[str, Any]:
    """Everything the shipped reader is a function of: the data files (hashed, so the manifest stays short),
    the recipe versions, the settings and the base model. What the code does with them is pinned by the golden
    test of the rendered examples (:func:`examples_hash`), never by the code's text."""
    data = get_settings().data_dir
    files = sorted([*(data / "kb").glob("*.md"), data / "kb_questions.jsonl", data / "kb_reading_questions_written.jsonl"])
    return {
        "base_model": base_model or get_settings().llm,
        "data": hashlib.sha256("".join(f"{p.name}:{_file_hash(p)}" for p in files).encode()).hexdigest()[:16],
        "recipe": {"reader": READER_RECIPE_VERSION, "training": TRAINING_RECIPE_VERSION},
        "settings": {"lora": asdict(lora.resolved()), "k": READER_K, "abstain_share": abstain_share,
                     "chunking": ChunkingConfig().to_dict(),
                     "method": READER_METHOD, "instruction": JSON_RAG_INSTRUCTION,
                     "embedder": get_settings().embedder},
    }


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
    from helpers.runtime.models import load_llm

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
