"""The third-party APIs the helpers call still exist, with the arguments the helpers pass.

An upgrade that renames or drops one of them fails here with the library, its version and the
missing piece named, instead of deep inside a notebook run. The keyword arguments to check are read
from the helpers' source (``ast``), so a helper that starts passing a new keyword is checked too;
a call the helpers no longer make fails as "out of date" (then drop it here). Nothing is downloaded
and no model is loaded: signatures, attributes, and a few tiny in-memory objects.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib.metadata
import inspect
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

HELPERS = Path(__file__).resolve().parent.parent / "helpers"


@functools.cache
def _tree(file: str) -> ast.Module:
    return ast.parse((HELPERS / file).read_text(encoding="utf-8"))


def _calls(file: str, callee: str) -> list[ast.Call]:
    """Calls in ``helpers/<file>`` whose function is ``callee`` or ends with ``.<callee>``."""
    return [node for node in ast.walk(_tree(file)) if isinstance(node, ast.Call)
            and ((text := ast.unparse(node.func)) == callee or text.endswith("." + callee))]


def _literal_kwargs(file: str, callee: str) -> dict[str, Any]:
    """The keyword arguments of those calls whose values are literals (``"linear"``, ``[]``, ``0``)."""
    out = {}
    for call in _calls(file, callee):
        for kw in call.keywords:
            try:
                out[kw.arg] = ast.literal_eval(kw.value)
            except ValueError:
                pass
    return out


def _parameters(obj: Any) -> tuple[set[str], bool]:
    """Names accepted by keyword (for dataclass configs: also their init fields), and whether
    ``**kwargs`` swallows others."""
    params = inspect.signature(obj).parameters.values()
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    if dataclasses.is_dataclass(obj):
        names |= {f.name for f in dataclasses.fields(obj) if f.init}
    return names, any(p.kind is p.VAR_KEYWORD for p in params)


class Drift:
    """Collects what one library no longer offers, for one assertion message."""

    def __init__(self, distribution: str) -> None:
        self.dist = distribution
        self.version = importlib.metadata.version(distribution)
        self.problems: list[str] = []

    def missing(self, what: str, file: str) -> None:
        self.problems.append(f"{self.dist} {self.version}: {what} (used in helpers/{file})")

    def has(self, obj: Any, dotted: str, file: str, label: str | None = None) -> Any:
        """``obj.<dotted>``, or ``None`` after recording the first missing part."""
        label = label or getattr(obj, "__name__", type(obj).__name__)
        for part in dotted.split("."):
            if not hasattr(obj, part):
                self.missing(f"{label}.{part} no longer exists", file)
                return None
            obj, label = getattr(obj, part), f"{label}.{part}"
        return obj

    def accepts(self, target: Any, label: str, file: str, callee: str, *, also: Iterable[str] = (),
                kwargs_source: str = "", positional: int = 0) -> None:
        """Every keyword the helper passes to ``callee`` (plus ``also``) is accepted by ``target``.

        ``kwargs_source``: source text of the code that consumes ``**kwargs``; a keyword that is not
        a named parameter counts as accepted when that code reads it by name (``kwargs.pop("x")``).
        ``positional``: how many positional arguments the helpers pass.
        """
        calls = _calls(file, callee)
        if not calls:
            self.problems.append(f"tests/test_drift.py is out of date: helpers/{file} no longer calls {callee}()")
            return
        names, var_kw = _parameters(target)
        params = [p for p in inspect.signature(target).parameters.values() if p.name not in ("self", "cls")]
        slots = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
        if slots < positional and not any(p.kind is p.VAR_POSITIONAL for p in params):
            self.missing(f"{label} no longer takes {positional} positional arguments", file)
        used = {kw.arg for call in calls for kw in call.keywords if kw.arg} | set(also)
        for name in sorted(used - names):
            if not (var_kw and re.search(rf"[\"']{re.escape(name)}[\"']", kwargs_source)):
                self.missing(f"{label} no longer accepts {name!r}", file)

    def attributes(self, obj: Any, label: str, names: Iterable[str], file: str, what: str = "attribute") -> None:
        for name in names:
            if not hasattr(obj, name):
                self.missing(f"{label} has no {what} {name!r}", file)

    def tries(self, what: str, file: str, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except Exception as err:  # noqa: BLE001 - any failure is the drift being reported
            self.missing(f"{what} fails: {type(err).__name__}: {err}", file)
            return None

    def check(self) -> None:
        assert not self.problems, "\n".join(self.problems)


def _keywords(file: str, callee: str) -> set[str]:
    return {kw.arg for call in _calls(file, callee) for kw in call.keywords if kw.arg}


# --------------------------------------------------------------------------- transformers
def test_transformers_api(tmp_path):
    import transformers
    import transformers.generation.utils as generation_utils
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        BitsAndBytesConfig,
        DataCollatorForSeq2Seq,
        GenerationConfig,
        PreTrainedModel,
        PreTrainedTokenizerBase,
        Trainer,
        TrainerState,
        TrainingArguments,
    )
    from transformers.quantizers import HfQuantizer
    from transformers.utils import logging as hf_logging

    d = Drift("transformers")
    # models.py: loading (packaged GGUF, local folders, Hub ids, 4-bit) and the GGUF -> safetensors cache
    d.has(AutoTokenizer, "from_pretrained", "runtime/models.py")
    d.accepts(PreTrainedTokenizerBase.from_pretrained, "AutoTokenizer.from_pretrained", "runtime/models.py",
              "AutoTokenizer.from_pretrained", positional=1,
              kwargs_source=inspect.getsource(AutoTokenizer.from_pretrained))
    d.has(AutoModelForCausalLM, "from_pretrained", "runtime/models.py")
    d.accepts(PreTrainedModel.from_pretrained, "AutoModelForCausalLM.from_pretrained", "runtime/models.py",
              "AutoModelForCausalLM.from_pretrained", positional=1,
              also=("quantization_config", "device_map"),  # passed as **extra for 4-bit loading
              kwargs_source=inspect.getsource(PreTrainedModel.from_pretrained))
    d.accepts(BitsAndBytesConfig, "BitsAndBytesConfig", "runtime/models.py", "BitsAndBytesConfig")
    d.attributes(PreTrainedModel, "PreTrainedModel", ["save_pretrained"], "runtime/models.py", "method")
    d.attributes(PreTrainedTokenizerBase, "PreTrainedTokenizerBase", ["save_pretrained", "padding_side"],
                 "runtime/models.py")
    d.attributes(HfQuantizer, "HfQuantizer", ["remove_quantization_config"], "runtime/models.py", "method")
    # tokenizers: chat templates and encoding (generation, fine-tuning, the re-ranker's training loop)
    for file in ("generation.py", "finetune.py"):
        d.accepts(PreTrainedTokenizerBase.apply_chat_template, "tokenizer.apply_chat_template", file,
                  "apply_chat_template", positional=1)
    for file, callee in (("runtime/models.py", "tokenizer"), ("finetune.py", "tokenizer"), ("generation.py", "tok"),
                         ("workbook/rerank_training.py", "tok")):
        d.accepts(PreTrainedTokenizerBase.__call__, "tokenizer(...)", file, callee, positional=2)
    # generation.py
    defaults = GenerationConfig()
    for name in sorted(_keywords("generation.py", "GenerationConfig")):
        if not hasattr(defaults, name):  # GenerationConfig(**kwargs) silently stores unknown names
            d.missing(f"GenerationConfig no longer has {name!r}", "generation.py")
    d.has(generation_utils, "GenerationMixin.generate", "generation.py", "transformers.generation.utils")
    d.accepts(generation_utils.GenerationMixin.generate, "model.generate", "generation.py", "model.generate",
              kwargs_source=inspect.getsource(generation_utils))
    # finetune.py: Trainer-based LoRA training
    d.accepts(TrainingArguments, "TrainingArguments", "finetune.py", "TrainingArguments")
    literal = {k: v for k, v in _literal_kwargs("finetune.py", "TrainingArguments").items()
               if k in _parameters(TrainingArguments)[0]}
    d.tries(f"TrainingArguments(use_cpu=True, **{literal})", "finetune.py",
            lambda: TrainingArguments(output_dir=str(tmp_path / "trainer"), **{"use_cpu": True, **literal}))
    d.accepts(Trainer, "Trainer", "finetune.py", "Trainer")
    d.attributes(Trainer, "Trainer", ["train"], "finetune.py", "method")
    if "log_history" not in _parameters(TrainerState)[0]:
        d.missing("TrainerState has no field 'log_history'", "finetune.py")
    d.accepts(DataCollatorForSeq2Seq, "DataCollatorForSeq2Seq", "finetune.py", "DataCollatorForSeq2Seq")
    if [f.name for f in dataclasses.fields(DataCollatorForSeq2Seq)][:1] != ["tokenizer"]:
        d.missing("DataCollatorForSeq2Seq no longer takes the tokenizer first", "finetune.py")
    for file, names in (("runtime/config.py", ["set_verbosity_error", "disable_progress_bar"]),
                        ("finetune.py", ["get_verbosity", "set_verbosity", "set_verbosity_error"])):
        d.attributes(hf_logging, "transformers.utils.logging", names, file, "function")
    assert transformers.__version__ == d.version
    d.check()


# --------------------------------------------------------------------------- peft
def test_peft_api():
    import peft
    from peft import LoraConfig, PeftModel, TaskType, get_peft_model, prepare_model_for_kbit_training
    from peft.tuners.lora import LoraModel

    d = Drift("peft")
    d.accepts(LoraConfig, "LoraConfig", "finetune.py", "LoraConfig")
    d.has(TaskType, "CAUSAL_LM", "finetune.py")
    d.tries("LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05, target_modules=['q_proj'], bias='none', "
            "task_type=TaskType.CAUSAL_LM)", "finetune.py",
            lambda: LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05, target_modules=["q_proj"],
                               **{**_literal_kwargs("finetune.py", "LoraConfig"), "task_type": TaskType.CAUSAL_LM}))
    d.accepts(get_peft_model, "get_peft_model", "finetune.py", "get_peft_model", positional=2)
    d.accepts(prepare_model_for_kbit_training, "prepare_model_for_kbit_training", "finetune.py",
              "prepare_model_for_kbit_training", positional=1)
    d.accepts(PeftModel.from_pretrained, "PeftModel.from_pretrained", "adapters.py", "PeftModel.from_pretrained",
              positional=2)
    d.attributes(PeftModel, "PeftModel", ["save_pretrained", "eval"], "adapters.py", "method")
    # PeftModel forwards merge_and_unload to its LoRA tuner
    d.attributes(LoraModel, "LoraModel", ["merge_and_unload"], "adapters.py", "method")
    assert peft.__version__ == d.version
    d.check()


# --------------------------------------------------------------------------- sentence-transformers
def test_sentence_transformers_api():
    from sentence_transformers import CrossEncoder, SentenceTransformer

    d = Drift("sentence-transformers")
    d.accepts(SentenceTransformer, "SentenceTransformer", "runtime/models.py", "SentenceTransformer", positional=1)
    d.accepts(SentenceTransformer.encode, "SentenceTransformer.encode", "embedding.py", "embedder.encode",
              positional=1)
    if not any(hasattr(SentenceTransformer, m) for m in ("get_embedding_dimension",
                                                         "get_sentence_embedding_dimension")):
        d.missing("SentenceTransformer has neither get_embedding_dimension nor get_sentence_embedding_dimension",
                  "embedding.py")
    for file in ("rerank.py", "workbook/rerank_training.py"):
        d.accepts(CrossEncoder, "CrossEncoder", file, "CrossEncoder", positional=1)
    d.accepts(CrossEncoder.predict, "CrossEncoder.predict", "rerank.py", "self.model.predict", positional=1)
    d.attributes(CrossEncoder, "CrossEncoder", ["save", "model", "tokenizer"], "workbook/rerank_training.py")
    d.check()


# --------------------------------------------------------------------------- faiss
def test_faiss_api(tmp_path):
    import faiss

    d = Drift("faiss-cpu")
    for file, names in (("retrieval.py", ["IndexFlatIP", "IndexIDMap2", "IndexHNSWFlat", "IndexIVFFlat",
                                          "METRIC_INNER_PRODUCT"]),
                        ("runtime/persistence.py", ["write_index", "read_index"])):
        d.attributes(faiss, "faiss", names, file)
    if not d.problems:
        vectors = np.eye(8, 4, dtype="float32")
        ids = np.arange(8, dtype="int64")

        def id_map():  # Retriever: an exact inner-product index with our own ids, saved and loaded
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(4))
            index.add_with_ids(vectors, ids)
            index.remove_ids(np.array([7], dtype="int64"))
            faiss.write_index(index, str(tmp_path / "v.faiss"))
            scores, found = faiss.read_index(str(tmp_path / "v.faiss")).search(vectors[:2], 2)
            assert scores.shape == found.shape == (2, 2)

        def hnsw():  # make_faiss_index("hnsw") and set_search_param
            index = faiss.IndexHNSWFlat(4, 8, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 16
            index.hnsw.efSearch = 16
            index.add(vectors)
            index.search(vectors[:1], 1)

        def ivf():  # make_faiss_index("ivf") and set_search_param
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(4), 4, 1, faiss.METRIC_INNER_PRODUCT)
            index.cp.seed = 1
            index.train(vectors)
            index.add(vectors)
            index.nprobe = 1
            index.search(vectors[:1], 1)

        d.tries("IndexIDMap2(IndexFlatIP) add_with_ids/remove_ids/write_index/read_index/search",
                "retrieval.py, persistence.py", id_map)
        d.tries("IndexHNSWFlat(dim, M, METRIC_INNER_PRODUCT) with hnsw.efConstruction/efSearch",
                "retrieval.py, ann.py", hnsw)
        d.tries("IndexIVFFlat(IndexFlatIP, dim, nlist, METRIC_INNER_PRODUCT) with cp.seed/train/nprobe",
                "retrieval.py, ann.py", ivf)
    d.check()


# --------------------------------------------------------------------------- bm25s
def test_bm25s_api():
    import bm25s

    d = Drift("bm25s")
    d.attributes(bm25s, "bm25s", ["tokenize", "BM25"], "retrieval.py")
    if not d.problems:
        d.accepts(bm25s.tokenize, "bm25s.tokenize", "retrieval.py", "bm25s.tokenize", positional=1)
        d.accepts(bm25s.BM25, "bm25s.BM25", "retrieval.py", "bm25s.BM25")
        d.accepts(bm25s.BM25.index, "BM25.index", "retrieval.py", "bm25.index", positional=1)
        d.accepts(bm25s.BM25.retrieve, "BM25.retrieve", "retrieval.py", "bm25.retrieve", positional=1)

        def search():  # the Retriever's lexical path, on three sentences
            model = bm25s.BM25()
            model.index(bm25s.tokenize(["the cat sat", "a dog ran", "the fish swam"], stopwords="en",
                                       show_progress=False), show_progress=False)
            docs, scores = model.retrieve(bm25s.tokenize(["dog"], stopwords="en", show_progress=False), k=2,
                                          show_progress=False)
            assert docs.shape == scores.shape == (1, 2) and docs[0][0] == 1

        d.tries("tokenize(stopwords='en') + BM25().index + retrieve(k=...) -> (docs, scores)", "retrieval.py",
                search)
    d.check()


# --------------------------------------------------------------------------- pypdf, torch
def test_pypdf_api():
    from pypdf import PageObject, PdfReader

    d = Drift("pypdf")
    d.accepts(PdfReader, "PdfReader", "documents.py", "PdfReader", positional=1)
    d.attributes(PdfReader, "PdfReader", ["pages"], "documents.py")
    d.attributes(PageObject, "PageObject", ["extract_text"], "documents.py", "method")
    d.check()


@pytest.mark.parametrize("file, names", [
    ("runtime/config.py", ["manual_seed", "cuda.is_available", "cuda.manual_seed_all"]),
    ("runtime/models.py", ["dtype", "float32", "float16", "bfloat16", "cuda.is_bf16_supported", "backends"]),
    ("generation.py", ["manual_seed", "inference_mode"]),
    ("finetune.py", ["manual_seed", "nn.Linear", "cuda.reset_peak_memory_stats", "cuda.max_memory_allocated"]),
    ("workbook/rerank_training.py", ["optim.AdamW", "optim.lr_scheduler.LambdaLR", "nn.BCEWithLogitsLoss",
                            "nn.utils.clip_grad_norm_", "tensor"]),
])
def test_torch_api(file, names):
    import torch

    d = Drift("torch")
    for name in names:
        d.has(torch, name, file, "torch")
    d.check()
