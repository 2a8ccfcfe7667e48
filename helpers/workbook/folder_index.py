"""A team's folder indexed for retrieval (``llm-workbook compare``, its ``--tune-on dev`` and notebook 06)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from helpers.chunking import ChunkingConfig
from helpers.documents import Document
from helpers.retrieval import Retriever, build_retriever
from helpers.runtime.config import get_settings
from helpers.runtime.endpoint import Endpoint, endpoint_url
from helpers.runtime.models import ModelNotAvailableError
from helpers.workbook.question_sets import InputError


def index_documents(docs: Mapping[str, Document], *, method: str = "dense", llm: Any = None, embedder: Any = None,
                    progress: bool = True) -> Retriever:
    """A team's documents indexed for retrieval, in the default chunks with their budget counted in the tokens
    of the model that reads them (``llm``'s, else the configured model's), so text without spaces or structure
    cannot make a prompt long. Behind an endpoint, whose tokenizer is on the server, the budget is in words."""
    served = isinstance(llm, Endpoint) or (llm is None and endpoint_url())
    chunking = ChunkingConfig() if served else ChunkingConfig(tokenizer=getattr(llm, "name", None) or get_settings().llm)
    try:
        return build_retriever(docs, method=method, chunking=chunking, embedder=embedder, cache=True,  # type: ignore[arg-type]
                               progress=progress)
    except ModelNotAvailableError as why:
        raise InputError(str(why)) from None
