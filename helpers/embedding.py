"""Turn texts into vectors: the embedder (loaded once per process), encoding, and the disk cache.

Vectors are L2-normalized float32, so an inner product is a cosine similarity; :class:`EmbeddingCache`
keeps them on disk, so re-running or re-chunking does not repeat the slow step of indexing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from helpers.documents import checksum
from helpers.runtime.config import get_settings
from helpers.runtime.models import load_embedder
from helpers.runtime.storage import atomic_file

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

_EMBEDDERS: dict[str, SentenceTransformer] = {}


def get_embedder(embedder: SentenceTransformer | str | None = None) -> SentenceTransformer:
    """An embedder object; names are loaded once per process with :func:`helpers.runtime.models.load_embedder`."""
    if embedder is not None and not isinstance(embedder, str):
        return embedder
    name = embedder or get_settings().embedder
    if name not in _EMBEDDERS:
        _EMBEDDERS[name] = load_embedder(name)
    return _EMBEDDERS[name]


def embedder_name(embedder: Any) -> str:
    """The name an embedder was loaded under (``workbook_name``), else its model path."""
    name = getattr(embedder, "workbook_name", None)
    if name:
        return str(name)
    card = getattr(getattr(embedder, "model_card_data", None), "base_model", None)
    return str(card or type(embedder).__name__)


def embedding_dim(embedder: Any) -> int:
    """Output dimension of an embedder (sentence-transformers renamed the method in v6)."""
    method = getattr(embedder, "get_embedding_dimension", None) or embedder.get_sentence_embedding_dimension
    return int(method())


class EmbeddingCache:
    """Vectors already computed, in one ``.npz`` per embedder under ``<cache>/embeddings/``, keyed by
    SHA-256 of the text; ``hits``/``misses`` count texts served from disk and embedded now."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder else get_settings().cache_dir / "embeddings"
        self._store: dict[str, dict[str, np.ndarray]] = {}
        self.hits = 0
        self.misses = 0

    def _file(self, name: str) -> Path:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
        return self.folder / f"{safe}.npz"

    def _load(self, name: str) -> dict[str, np.ndarray]:
        if name not in self._store:
            store: dict[str, np.ndarray] = {}
            path = self._file(name)
            if path.exists():
                with np.load(path) as data:
                    store = {str(k): v for k, v in zip(data["keys"], data["vectors"])}
            self._store[name] = store
        return self._store[name]

    def embed(self, embedder: Any, texts: Sequence[str], **kwargs: Any) -> np.ndarray:
        """Like :func:`embed`, computing only the texts not cached yet (then saving them)."""
        name = embedder_name(embedder)
        store = self._load(name)
        keys = [checksum(t) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts) if k not in store}.items())
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        if missing:
            vectors = embed(embedder, [t for _, t in missing], **kwargs)
            store.update({k: v for (k, _), v in zip(missing, vectors)})
            with atomic_file(self._file(name)) as tmp:
                np.savez(tmp, keys=np.array(list(store)), vectors=np.stack(list(store.values())))
        if not keys:
            return embed(embedder, [])
        return np.ascontiguousarray(np.stack([store[k] for k in keys]), dtype="float32")


_DEFAULT_CACHE: EmbeddingCache | None = None


def default_cache() -> EmbeddingCache:
    """The process-wide :class:`EmbeddingCache` under ``<cache>/embeddings``."""
    global _DEFAULT_CACHE
    if _DEFAULT_CACHE is None:
        _DEFAULT_CACHE = EmbeddingCache()
    return _DEFAULT_CACHE


def embed(embedder: Any, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False,
          cache: EmbeddingCache | None = None) -> np.ndarray:
    """L2-normalized float32 embeddings, shape ``(len(texts), dim)``; ``cache`` reuses earlier ones."""
    if cache is not None:
        return cache.embed(embedder, texts, batch_size=batch_size, progress=progress)
    if not texts:
        return np.zeros((0, embedding_dim(embedder)), dtype="float32")
    vectors = embedder.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                              convert_to_numpy=True, show_progress_bar=progress)
    return np.ascontiguousarray(vectors, dtype="float32")
