"""LoRA adapters: their settings (:class:`LoraSettings`), saved adapters (write, check, load, merge) and the
record of how each was trained.

An adapter folder: peft's ``adapter_config.json`` and ``adapter_model.safetensors``, and ``training.json``
(a :class:`TrainingRun`). Reading checks every file and raises :class:`AdapterError` naming a missing,
truncated or edited one, never modifying the folder; :func:`save_adapter` writes atomically.
"""

from __future__ import annotations

import json
import resource
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helpers.runtime.config import get_settings
from helpers.runtime.models import load_llm
from helpers.runtime.storage import atomic_folder, check_target_folder

if TYPE_CHECKING:
    from helpers.runtime.models import LLM


#: The version of the training recipe (:func:`helpers.finetune.tokenize_example`'s loss mask and
#: :func:`helpers.finetune.train_lora`'s loop): part of every cached adapter's key and of the shipped reader's
#: fingerprint. Bump it when training on the same examples with the same settings would give another adapter;
#: a comment or a refactor changes nothing.
TRAINING_RECIPE_VERSION = 1


@dataclass
class LoraSettings:
    """What is trained and how. ``steps``/``batch_size`` default to the profile's settings."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    learning_rate: float = 1e-3
    steps: int | None = None
    batch_size: int | None = None
    max_length: int = 1024
    warmup_steps: int = 5
    seed: int | None = None
    qlora: bool | None = None  # 4-bit base (bitsandbytes), only on CUDA; default: the profile's
    group_by_length: bool = False  # batch examples of similar length (less padding when prompts vary in length)
    cpu_bf16: bool = False  # on a CPU with native bf16 (AVX-512 BF16/AMX), train under bf16 autocast (~1.7x faster)

    def resolved(self) -> LoraSettings:
        """A copy with every ``None`` replaced by the profile's value."""
        settings = get_settings()
        profile = settings.profile
        return LoraSettings(**{**asdict(self), "steps": self.steps or profile.train_steps,
                               "batch_size": self.batch_size or profile.train_batch_size,
                               "qlora": profile.qlora if self.qlora is None else self.qlora,
                               "seed": settings.seed if self.seed is None else self.seed,
                               "target_modules": tuple(self.target_modules)})


#: Every linear layer of a Llama/Qwen-style block (attention and MLP).
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class AdapterError(RuntimeError):
    """A saved adapter is missing, incomplete or does not fit the base model."""


@dataclass
class TrainingRun:
    """What :func:`train_lora` did: where the adapter is and what it cost."""

    adapter_dir: Path
    base_model: str
    steps: int
    examples: int
    skipped_too_long: int
    mean_tokens: float
    seconds: float
    losses: list[tuple[int, float]]
    trainable_parameters: int
    total_parameters: int
    peak_rss_gb: float
    peak_gpu_gb: float | None
    device: str
    lora: dict[str, Any] = field(default_factory=dict)
    loaded_from_cache: bool = False

    @property
    def trainable_share(self) -> float:
        return self.trainable_parameters / self.total_parameters

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["adapter_dir"] = str(self.adapter_dir)
        return out


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far, in GB (Linux/macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 ** 3 if sys.platform == "darwin" else 1024 ** 2)


#: What a saved adapter folder may hold; :func:`save_adapter` refuses to replace a folder with anything else.
ADAPTER_FILES = frozenset({"adapter_config.json", "adapter_model.safetensors", "adapter_model.bin", "training.json",
                           "README.md", "trainer", "manifest.json"})


def check_adapter_target(folder: str | Path) -> None:
    """Refuse (``FileExistsError``, nothing written) a file, or a folder holding files an adapter lacks."""
    check_target_folder(folder, "adapter", lambda f: all(p.name in ADAPTER_FILES for p in f.iterdir()))


def save_adapter(llm: LLM, run: TrainingRun) -> Path:
    """Write the adapter and ``training.json`` atomically (a temporary folder renamed into place), so a
    half-written adapter never replaces a good one.

    Raises:
        FileExistsError: ``run.adapter_dir`` is a file or holds non-adapter files (nothing is written).
    """
    final = Path(run.adapter_dir)
    check_adapter_target(final)
    with atomic_folder(final) as tmp:
        llm.model.save_pretrained(str(tmp))
        (tmp / "training.json").write_text(json.dumps(run.to_dict(), indent=2, default=str))
    return final


def adapter_size_mb(path: str | Path) -> float:
    """Size of the adapter weights on disk, in MB."""
    return sum(f.stat().st_size for f in Path(path).glob("adapter_model.*")) / 1e6


def _safetensors_problem(path: Path) -> str | None:
    """What is wrong with a ``.safetensors`` file (``None``: its header is intact and the file is as
    long as the header says). Reads only the header, not the weights."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            return f"it is only {size} bytes long"
        n = int.from_bytes(head, "little")
        if n > size - 8:
            return f"it is truncated ({size} bytes; its header alone should take {n + 8})"
        try:
            header = json.loads(fh.read(n))
            ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            return "its header is not valid safetensors metadata"
    expected = 8 + n + max(ends, default=0)
    if size < expected:
        return f"it is truncated ({size} of {expected} bytes)"
    return None


def _check_adapter_files(folder: Path) -> None:
    """Raise :class:`AdapterError` if ``adapter_config.json`` or the weights file is damaged."""
    config = folder / "adapter_config.json"
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise AdapterError(f"{config} is not valid JSON ({err}): the adapter is damaged. Retrain it with "
                           "train_lora() or restore the folder from a copy.") from None
    if not isinstance(data, dict) or "peft_type" not in data:
        raise AdapterError(f"{config} is not a peft adapter config (no 'peft_type' key): the adapter is damaged. "
                           "Retrain it with train_lora() or restore the folder from a copy.")
    weights = folder / "adapter_model.safetensors"
    problem = _safetensors_problem(weights) if weights.is_file() else None
    if problem:
        raise AdapterError(f"{weights} is damaged: {problem}. Retrain the adapter with train_lora() or restore "
                           "the folder from a copy.")


def read_training_run(adapter_dir: str | Path) -> TrainingRun:
    """The :class:`TrainingRun` saved next to an adapter, after checking its files (never modified).

    Raises:
        AdapterError: the folder is not a complete saved adapter, ``training.json`` or
            ``adapter_config.json`` is unreadable, or the weights file is truncated.
    """
    folder = Path(adapter_dir)
    needed = [folder / "adapter_config.json", folder / "training.json"]
    if not all(p.is_file() for p in needed) or not list(folder.glob("adapter_model.*")):
        raise AdapterError(f"{folder} is not a complete saved adapter (expected adapter_config.json, "
                           "adapter_model.safetensors and training.json); retrain it with train_lora().")
    try:
        data = json.loads((folder / "training.json").read_text())
        data["adapter_dir"] = folder
        data["losses"] = [tuple(x) for x in data["losses"]]
        run = TrainingRun(**data)
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, KeyError) as err:
        raise AdapterError(f"{folder / 'training.json'} is unreadable ({err}); retrain the adapter.") from None
    _check_adapter_files(folder)
    return run


def load_adapter(adapter_dir: str | Path, base: LLM | None = None) -> LLM:
    """A base model with the saved adapter (a :func:`train_lora` folder) on top, ready to generate;
    ``base`` is a freshly loaded model without adapters (default: load the one it was trained on).

    Raises:
        AdapterError: the adapter is damaged or incomplete (the message names the file) or for another base.
    """
    run = read_training_run(adapter_dir)  # checks the files before the (slow) imports

    from peft import PeftModel
    from safetensors import SafetensorError

    base = base or load_llm(run.base_model)
    if base.name != run.base_model:
        raise AdapterError(f"The adapter in {adapter_dir} was trained on {run.base_model!r}, not {base.name!r}.")
    try:
        base.model = PeftModel.from_pretrained(base.model, str(adapter_dir))
    except (OSError, ValueError, RuntimeError, KeyError, SafetensorError) as err:
        first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise AdapterError(f"Could not load the adapter in {adapter_dir} ({first_line}); retrain it with "
                           "train_lora() or restore the folder from a copy.") from None
    base.model.eval()
    return base


def merge_adapter(llm: LLM) -> LLM:
    """Fold the LoRA update into the base weights (``merge_and_unload``): same outputs, no adapter
    overhead at inference, but the result is a full-size model again."""
    llm.model = llm.model.merge_and_unload()
    llm.model.eval()
    return llm
