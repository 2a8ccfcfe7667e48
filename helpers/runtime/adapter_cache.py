"""Train an adapter once: the cache of trained adapters, keyed by what determines them.

``load_or_train_adapter(task, examples, lora=...)`` returns the adapter trained on exactly these examples,
settings, base model and training-recipe version (:data:`helpers.adapters.TRAINING_RECIPE_VERSION`) from
``<cache>/adapters/`` when it is there, and trains it with :func:`helpers.finetune.train_lora` otherwise, so
notebook 05 reuses notebook 04's adapters. Caching wraps training from outside: ``train_lora`` knows
nothing about it.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from helpers.adapters import (
    TRAINING_RECIPE_VERSION,
    AdapterError,
    LoraSettings,
    load_adapter,
    read_training_run,
)
from helpers.finetune import SFTExample, load_base_for_inference, load_base_for_training, train_lora
from helpers.runtime.config import get_settings
from helpers.runtime.models import resolve_dtype

if TYPE_CHECKING:
    from helpers.adapters import TrainingRun
    from helpers.runtime.models import LLM


def fingerprint(examples: Sequence[SFTExample], lora: LoraSettings, base_model: str) -> str:
    """A short hash of everything that determines an adapter: data, settings, base model and recipe version."""
    payload = json.dumps({"examples": [asdict(e) for e in examples], "lora": asdict(lora.resolved()),
                          "base": base_model, "recipe": TRAINING_RECIPE_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def adapter_dir_for(task: str, examples: Sequence[SFTExample], lora: LoraSettings, base_model: str) -> Path:
    """``<cache>/adapters/<task>-<base>-<fingerprint>``: one folder per distinct training run."""
    safe = base_model.replace("/", "--")
    return get_settings().cache_dir / "adapters" / f"{task}-{safe}-{fingerprint(examples, lora, base_model)}"


def load_or_train_adapter(task: str, examples: Sequence[SFTExample], *, lora: LoraSettings | None = None,
                          base_model: str | None = None, retrain: bool = False,
                          progress: bool = True) -> tuple[LLM, TrainingRun]:
    """The model with the adapter for ``task`` trained on ``examples``, loaded from the cache or trained
    now (always with ``retrain=True``), and its :class:`TrainingRun` (see ``loaded_from_cache``)."""
    lora = lora or LoraSettings()
    name = base_model or get_settings().llm
    folder = adapter_dir_for(task, examples, lora, name)
    if not retrain:
        try:
            run = read_training_run(folder)
            run.loaded_from_cache = True
            return load_adapter(folder, load_base_for_inference(name, lora)), run
        except AdapterError as err:
            if folder.exists():  # a damaged cache entry (not just a missing one): say so, then replace it
                warnings.warn(f"The cached adapter is unusable, so it is retrained and replaced: {err}",
                              UserWarning, stacklevel=2)
    base = load_base_for_training(name, lora)
    run = train_lora(base, examples, folder, lora=lora, progress=progress)
    if base.dtype != resolve_dtype(base.device, get_settings().dtype):  # trained in fp32: answer as a cache hit would
        return load_adapter(folder, load_base_for_inference(name, lora)), run
    return base, run
