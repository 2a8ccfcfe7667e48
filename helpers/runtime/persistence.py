"""Save a retriever's index to a folder and load it back, refusing what does not fit.

A saved index is ``meta.json`` (embedder, dimension, chunking, document checksums), ``chunks.jsonl``
and ``vectors.faiss``. Loading refuses another embedder (:class:`IndexMismatchError`) and a truncated
or edited index (:class:`IndexCorruptError`).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helpers.chunking import Chunk, ChunkingConfig
from helpers.embedding import embedder_name, embedding_dim, get_embedder
from helpers.retrieval import METHODS, IndexStore, Retriever
from helpers.runtime.storage import atomic_folder, check_target_folder

if TYPE_CHECKING:
    from helpers.rerank import Reranker

FORMAT_VERSION = 1
INDEX_FILES = ("meta.json", "chunks.jsonl", "vectors.faiss")
_REBUILD = "Rebuild it with build_retriever(...) and save it again."
_META_KEYS = {"method": str, "embedder": (str, type(None)), "dim": int, "chunking": dict, "candidates": int,
              "rrf_k": int, "documents": dict, "n_chunks": int, "next_id": int}


class IndexMismatchError(ValueError):
    """A saved index was built with a different embedder (or format) than the one offered."""


class IndexCorruptError(IndexMismatchError):
    """A saved index is incomplete or damaged (a truncated or edited file): rebuild it. A subclass of
    :class:`IndexMismatchError`, so code that rebuilds on a mismatch also rebuilds here."""


def _is_saved_index(folder: Path) -> bool:
    """True if ``folder`` holds only index files and a ``meta.json`` that says it is an index."""
    if any(p.name not in INDEX_FILES for p in folder.iterdir()):
        return False
    try:
        return "format_version" in json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


def save_index(retriever: Retriever, path: str | Path) -> Path:
    """Write the index to the folder ``path`` via a temporary sibling renamed into place, so an
    interrupted save never leaves a half-written index; an existing saved index or an empty folder is
    replaced. The re-ranker is not saved (pass it again to :func:`load_index`).

    Raises:
        FileExistsError: ``path`` is a file or holds files other than a saved index (nothing is written).
    """
    folder = Path(path)
    check_target_folder(folder, "index", _is_saved_index)
    store = retriever.store
    meta = {"format_version": FORMAT_VERSION, "method": retriever.method, "embedder": retriever.embedder_name,
            "dim": store.dim, "chunking": store.chunking.to_dict(), "candidates": retriever.candidates,
            "rrf_k": retriever.rrf_k, "documents": dict(sorted(store.checksums.items())), "titles": store.titles,
            "n_chunks": len(store.chunks), "next_id": store.next_id}
    with atomic_folder(folder) as tmp:
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
        with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as fh:
            for i in sorted(store.chunks):
                fh.write(json.dumps({"id": i, **asdict(store.chunks[i])}) + "\n")
        if store.vectors is not None:
            import faiss

            faiss.write_index(store.vectors, str(tmp / "vectors.faiss"))
    return folder


def _read_meta(folder: Path) -> dict[str, Any]:
    """The checked ``meta.json`` of a saved index."""
    if not folder.is_dir():
        raise FileNotFoundError(f"No saved index at {folder}: the folder does not exist. Build one with "
                                "build_retriever(...) and write it with save_index(retriever, path).")
    path = folder / "meta.json"
    if not path.is_file():
        raise IndexCorruptError(f"{folder} is not a saved index: meta.json is missing. {_REBUILD}")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise IndexCorruptError(f"{path} is damaged (truncated or edited: {err}). {_REBUILD}") from None
    if not isinstance(meta, dict):
        raise IndexCorruptError(f"{path} is damaged (not a JSON object). {_REBUILD}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(f"{folder}: index format {meta.get('format_version')} is not "
                                 f"{FORMAT_VERSION}; rebuild the index.")
    bad = [key for key, kind in _META_KEYS.items() if key not in meta or not isinstance(meta[key], kind)]
    if bad or meta["method"] not in METHODS:
        raise IndexCorruptError(f"{path} is damaged (missing or invalid: {bad or ['method']}). {_REBUILD}")
    try:
        ChunkingConfig(**meta["chunking"])
    except (TypeError, ValueError) as err:
        raise IndexCorruptError(f"{path} is damaged (chunking settings: {err}). {_REBUILD}") from None
    return meta


def _read_chunks(folder: Path, meta: dict[str, Any]) -> dict[int, Chunk]:
    """The chunks of a saved index, checked against its metadata."""
    path = folder / "chunks.jsonl"
    if not path.is_file():
        raise IndexCorruptError(f"{folder} is incomplete: chunks.jsonl is missing. {_REBUILD}")
    chunks: dict[int, Chunk] = {}
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            try:
                row = json.loads(line)
                key = int(row.pop("id"))
                chunks[key] = Chunk(**row)
            except (ValueError, TypeError, KeyError, AttributeError) as err:
                raise IndexCorruptError(f"{path}, line {n} is damaged ({err}): the file was truncated or "
                                        f"edited. {_REBUILD}") from None
    if len(chunks) != meta["n_chunks"]:
        raise IndexCorruptError(f"{path} holds {len(chunks)} chunks but meta.json records {meta['n_chunks']}: "
                                f"a file was truncated or edited. {_REBUILD}")
    unknown = sorted({c.doc_id for c in chunks.values()} - set(meta["documents"]))
    if unknown:
        raise IndexCorruptError(f"{path} has chunks of documents that meta.json does not list ({unknown[:5]}). "
                                f"{_REBUILD}")
    return chunks


def _read_vectors(folder: Path, meta: dict[str, Any], chunks: dict[int, Chunk]) -> Any:
    """The FAISS index of a saved dense/hybrid index, checked against its chunks."""
    import faiss

    path = folder / "vectors.faiss"
    if not path.is_file():
        raise IndexCorruptError(f"{folder} is incomplete: vectors.faiss is missing. {_REBUILD}")
    try:
        index = faiss.read_index(str(path))
        ids = faiss.vector_to_array(index.id_map) if hasattr(index, "id_map") else None
    except RuntimeError:
        raise IndexCorruptError(f"{path} is damaged (FAISS cannot read it; truncated?). {_REBUILD}") from None
    if index.d != meta["dim"] or ids is None or sorted(ids.tolist()) != sorted(chunks):
        raise IndexCorruptError(f"{path} does not match chunks.jsonl ({index.ntotal} vectors of {index.d} dims "
                                f"for {len(chunks)} chunks of {meta['dim']} dims). {_REBUILD}")
    return index


def load_index(path: str | Path, *, embedder: Any = None, reranker: Reranker | None = None) -> Retriever:
    """Load an index written by :func:`save_index` (the folder is only read). ``embedder`` embeds the
    queries and must be the one the index was built with (default: load the one its metadata names).

    Raises:
        FileNotFoundError: there is no folder at ``path``.
        IndexMismatchError: the embedder's name or dimension, or the format version, differs from the index's.
        IndexCorruptError: a file of the index is missing, truncated or edited.
    """
    folder = Path(path)
    meta = _read_meta(folder)
    chunks = _read_chunks(folder, meta)
    vectors = _read_vectors(folder, meta, chunks) if meta["embedder"] is not None else None
    emb = None  # a BM25-only index has no embedder
    if meta["embedder"] is not None:
        emb = get_embedder(embedder if embedder is not None else meta["embedder"])
        name, dim = embedder_name(emb), embedding_dim(emb)
        if name != meta["embedder"] or dim != meta["dim"]:
            raise IndexMismatchError(
                f"The index in {folder} was built with embedder {meta['embedder']!r} ({meta['dim']}-d), "
                f"but you passed {name!r} ({dim}-d). Query vectors from a different embedder are not "
                f"comparable: load with the original embedder, or rebuild the index with build_retriever().")
    store = IndexStore(chunking=ChunkingConfig(**meta["chunking"]), embedder=emb, lexical=meta["method"] != "dense",
                       dim=meta["dim"] if vectors is not None else 0, vectors=vectors, chunks=chunks,
                       checksums=dict(meta["documents"]), titles=dict(meta.get("titles", {})), next_id=meta["next_id"])
    retriever = Retriever(meta["method"], reranker=reranker, candidates=meta["candidates"], rrf_k=meta["rrf_k"],
                          store=store)
    retriever.rebuild_bm25()
    return retriever
