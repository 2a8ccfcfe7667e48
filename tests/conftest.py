"""Shared fixtures. Tests run offline: the Hub is never contacted."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # must be set before huggingface_hub is imported

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def llm():
    """The default packaged LLM, loaded once for the whole test session."""
    from helpers.models import load_llm

    return load_llm()


@pytest.fixture(scope="session")
def embedder():
    """The default packaged embedder, loaded once for the whole test session."""
    from helpers.models import load_embedder

    return load_embedder()
