"""Shared fixtures and the toy embedder. Tests run offline: the Hub is never contacted."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # must be set before huggingface_hub is imported

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def load_script(path: Path):
    """Import a script of ``scripts/`` or ``benchmarks/`` by its path, as a module named after the file
    (registered in ``sys.modules`` while it executes: dataclasses look their module up then). Import it
    with ``from conftest import load_script``."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(spec.name, None)
    return module


class ToyEmbedder:
    """A tiny deterministic embedder: hashes words into ``dim`` buckets, so texts that share words
    get similar vectors. It reports the name it was given (``workbook_name``, what an index records)
    and counts the texts it embedded (``calls``). Import it with ``from conftest import ToyEmbedder``."""

    def __init__(self, name: str = "toy", dim: int = 64) -> None:
        self.workbook_name = name
        self.dim = dim
        self.calls = 0

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    def encode(self, texts, **kwargs):
        self.calls += len(texts)
        out = np.zeros((len(texts), self.dim), dtype="float32")
        for i, text in enumerate(texts):
            for word in text.lower().replace(".", " ").split():
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


@pytest.fixture(autouse=True)
def no_generation_cache(monkeypatch):
    """Tests generate for real: the generation cache and the recorded generations (``generations/``) are
    off unless a test turns them on (``monkeypatch.setenv("WORKBOOK_GENERATION_CACHE", "1")`` with a
    temporary ``WORKBOOK_CACHE``)."""
    monkeypatch.setenv("WORKBOOK_GENERATION_CACHE", "0")
    monkeypatch.setenv("WORKBOOK_RECORDED_GENERATIONS", "0")


@pytest.fixture
def fake_generate(monkeypatch):
    """Replace the model call of the systems and of RAG answering with canned answers.

    ``calls = fake_generate(respond)`` installs ``respond(llm, prompt) -> text``; every call of
    ``generate`` is recorded in ``calls`` as a dict (``llm``, ``prompts``, ``max_new_tokens``, ``desc``, ``system``).
    """
    import helpers.rag
    import helpers.systems
    from helpers.generation import Generation

    calls: list[dict] = []

    def install(respond):
        def generate(llm, prompts, *, max_new_tokens=32, progress=True, desc="", **kwargs):
            prompts = list(prompts)
            calls.append({"llm": llm, "prompts": prompts, "max_new_tokens": max_new_tokens, "desc": desc,
                          "system": kwargs.get("system")})
            def words(p):  # a prompt string, or a chat (few-shot messages)
                return len(p.split()) if isinstance(p, str) else sum(len(m["content"].split()) for m in p)

            return [Generation(text=(text := respond(llm, p)), prompt_tokens=words(p),
                               completion_tokens=len(text.split()) + 1, seconds=0.01, batch_seconds=0.01 * len(prompts),
                               prompt=p, finish_reason="stop") for p in prompts]

        monkeypatch.setattr(helpers.systems, "generate", generate)
        monkeypatch.setattr(helpers.rag, "generate", generate)
        return calls

    return install


@pytest.fixture(scope="session")
def llm():
    """The default packaged LLM, loaded once for the whole test session."""
    from helpers.runtime.models import load_llm

    return load_llm()


@pytest.fixture(scope="session")
def embedder():
    """The default packaged embedder, loaded once for the whole test session."""
    from helpers.runtime.models import load_embedder

    return load_embedder()
