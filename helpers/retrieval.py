"""Retrieve chunks for a question: dense (FAISS), lexical (BM25), hybrid (RRF), optionally re-ranked.

The one call most users need::

    from helpers.retrieval import build_retriever
    retriever = build_retriever({"doc-a": "text ...", "doc-b": "..."}, method="hybrid")
    for hit in retriever.search("my question", k=5):
        print(hit.doc_id, hit.chunk_id, round(hit.score, 3), hit.text[:80])

* documents -> chunks (:mod:`helpers.chunking`, every chunk keeps its ``doc_id`` and position);
* chunks -> vectors (the embedder, L2-normalized so inner product = cosine similarity) in an exact
  FAISS inner-product index with 64-bit ids, so one document can be removed or replaced without
  re-embedding the others;
* chunks -> a BM25 index (``bm25s``); it has no incremental update, so it is rebuilt from the
  stored chunk texts after :meth:`Retriever.add` / :meth:`Retriever.remove` (milliseconds — the
  expensive part, embedding, is never redone for unchanged documents);
* ``hybrid`` fuses the dense and BM25 rankings with reciprocal rank fusion;
* ``rerank`` re-scores the first-stage candidates with a cross-encoder (:mod:`helpers.rerank`).

An index is saved with its metadata (embedder name and dimension, chunking settings, document
checksums); :func:`load` refuses an embedder that does not match (:class:`IndexMismatchError`) and
a truncated or edited index (:class:`IndexCorruptError`). Saving writes a temporary sibling folder
and renames it into place, and never replaces a folder that holds anything but a saved index.

:func:`make_faiss_index` / :func:`compare_faiss_indexes` measure exact vs HNSW vs IVF search.
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
import shutil
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from helpers.chunking import Chunk, ChunkingConfig, chunk_text

if TYPE_CHECKING:
    import pandas as pd
    from sentence_transformers import SentenceTransformer

    from helpers.rerank import Reranker

Method = Literal["dense", "bm25", "hybrid"]
METHODS: tuple[str, ...] = ("dense", "bm25", "hybrid")
FORMAT_VERSION = 1
DOC_SUFFIXES = (".md", ".markdown", ".txt", ".pdf")
INDEX_FILES = ("meta.json", "chunks.jsonl", "vectors.faiss")
_REBUILD = "Rebuild it with build_retriever(...) and save it again."


class IndexMismatchError(ValueError):
    """A saved index was built with a different embedder (or format) than the one offered."""


class IndexCorruptError(IndexMismatchError):
    """A saved index is incomplete or damaged (a truncated or edited file): rebuild it.

    A subclass of :class:`IndexMismatchError`, so code that rebuilds on a mismatch also rebuilds here.
    """


@dataclass(frozen=True)
class Hit:
    """One search result: which chunk of which document, its text and score (higher is better)."""

    doc_id: str
    chunk_id: str
    text: str
    score: float
    position: int = 0
    section: str = ""


# --------------------------------------------------------------------------- documents
def as_doc_triples(docs: Any) -> list[tuple[str, str, str]]:
    """Normalize the accepted document inputs to ``(doc_id, text, title)`` triples.

    Accepted: a mapping ``doc_id -> text`` or ``doc_id -> Document``; a sequence of records with
    ``doc_id`` (``helpers.data.Document``) or ``id`` (``helpers.data.Passage``) and ``text``;
    a sequence of ``(doc_id, text)`` pairs or ``(doc_id, text, title)`` triples.

    Raises:
        TypeError: a record of an unknown kind, or a text that is not a string.
        ValueError: the same document id appears more than once.
    """
    if isinstance(docs, Mapping):
        items: Iterable = docs.items()
        triples = []
        for key, value in items:
            if isinstance(value, str):
                triples.append((str(key), value, ""))
            else:
                triples.append((str(key), value.text, getattr(value, "title", "") or ""))
    else:
        triples = []
        for record in docs:
            if isinstance(record, tuple) and len(record) in (2, 3):
                triples.append((str(record[0]), record[1], record[2] if len(record) == 3 else ""))
            elif hasattr(record, "doc_id"):
                triples.append((record.doc_id, record.text, getattr(record, "title", "") or ""))
            elif hasattr(record, "id") and hasattr(record, "text"):
                triples.append((str(record.id), record.text, ""))  # a Passage: its title is the question
            else:
                raise TypeError(f"Cannot read a document from {type(record).__name__}; pass a mapping "
                                "doc_id -> text, Document records or (doc_id, text) pairs.")
    for doc_id, text, _ in triples:
        if not isinstance(text, str):
            raise TypeError(f"The text of document {doc_id!r} is a {type(text).__name__}, not a str; "
                            "pass each document's text as a string.")
    dupes = sorted(doc_id for doc_id, n in Counter(t[0] for t in triples).items() if n > 1)
    if dupes:
        raise ValueError(f"Duplicate document ids: {dupes[:5]}{' ...' if len(dupes) > 5 else ''} appear more "
                         "than once in the input. Give every document a unique id (to replace an indexed "
                         "document, pass only its new version to Retriever.add()).")
    return triples


def checksum(text: str) -> str:
    """SHA-256 of a document's text (stored in the index metadata)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_pdf_text(path: str | Path) -> str:
    """Text of a PDF, page by page (``pypdf``); raises if the file cannot be parsed.

    A PDF without a text layer (a scan) gives ``""``: it needs OCR first (e.g. ``ocrmypdf``).
    """
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages).strip()


class _Unreadable(Exception):
    """Why a file of a documents folder is skipped (the message is shown to the user)."""


def _read_text_file(path: Path) -> tuple[str, dict[str, str]]:
    """``(text, front matter)`` of a markdown/text/PDF file; raises :class:`_Unreadable` saying why not."""
    from helpers.data import parse_front_matter

    if path.suffix.lower() == ".pdf":
        try:
            text = read_pdf_text(path)
        except Exception as err:  # noqa: BLE001 - pypdf raises many kinds; any of them means "unreadable"
            first_line = (str(err).strip().splitlines() or [""])[0][:80]
            raise _Unreadable(f"not a readable PDF, {type(err).__name__}: {first_line}".strip(" :")) from None
        if not text.strip():
            raise _Unreadable("PDF with no extractable text, probably a scan: run OCR on it first "
                              "(e.g. `ocrmypdf in.pdf out.pdf`)")
        return text, {}
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise _Unreadable("binary file (it contains NUL bytes), not text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise _Unreadable(f"not UTF-8 text (invalid byte at offset {err.start}): re-save it as UTF-8") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # as Path.read_text() does
    try:
        meta, text = parse_front_matter(text)
    except ValueError as err:
        raise _Unreadable(f"bad front matter: {err}") from None
    if not text.strip():
        raise _Unreadable("empty")
    return text, meta


def load_documents(folder: str | Path, *, recursive: bool = True) -> dict[str, Any]:
    """Read every ``.md``, ``.txt`` and ``.pdf`` file of a folder into ``{doc_id: Document}``.

    The doc id is the path relative to ``folder`` without suffix (``"sub/report"``), or the
    front-matter ``id`` of a markdown file. Files that cannot be read are skipped with one
    ``UserWarning`` that names each of them and says why: a broken PDF, a PDF with no text layer
    (a scan: it needs OCR), a binary or non-UTF-8 file, bad front matter, or no text at all.

    Raises:
        FileNotFoundError: ``folder`` does not exist or holds no readable document.
        ValueError: two files have the same doc id (e.g. ``a.md`` and ``a.txt``).
    """
    from helpers.data import Document

    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder.")
    paths = sorted(p for p in (root.rglob("*") if recursive else root.glob("*"))
                   if p.is_file() and p.suffix.lower() in DOC_SUFFIXES)
    docs: dict[str, Any] = {}
    skipped: list[str] = []
    for path in paths:
        rel = path.relative_to(root).with_suffix("").as_posix()
        try:
            text, meta = _read_text_file(path)
        except _Unreadable as why:
            skipped.append(f"{path.relative_to(root).as_posix()} ({why})")
            continue
        doc_id = meta.get("id", rel)
        if doc_id in docs:
            raise ValueError(f"{docs[doc_id].path} and {path} both have the document id {doc_id!r}; rename one "
                             "of them (or change the `id:` in its front matter).")
        title = meta.get("title") or next((ln.lstrip("# ").strip() for ln in text.splitlines() if ln.strip()), rel)
        docs[doc_id] = Document(doc_id=doc_id, title=title, category=meta.get("category", ""),
                                updated=meta.get("updated", ""), text=text, path=path, meta=meta)
    if skipped:
        warnings.warn(f"Skipped {len(skipped)} file(s) in {root} that could not be read: {'; '.join(skipped)}. "
                      f"Loaded the other {len(docs)}; fix or remove the skipped files to include them.",
                      UserWarning, stacklevel=2)
    if not docs:
        why = f" (all {len(skipped)} were skipped, see the warning)" if skipped else ""
        raise FileNotFoundError(f"No readable .md, .txt or .pdf documents in {root}{why}.")
    return docs


# --------------------------------------------------------------------------- embedding
_EMBEDDERS: dict[str, SentenceTransformer] = {}


def get_embedder(embedder: SentenceTransformer | str | None = None) -> SentenceTransformer:
    """An embedder object; names are loaded once per process with :func:`helpers.models.load_embedder`."""
    if embedder is not None and not isinstance(embedder, str):
        return embedder
    from helpers.config import get_settings
    from helpers.models import load_embedder

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


class EmbeddingCache:
    """Vectors already computed, on disk, keyed by embedder name and SHA-256 of the text.

    Embedding is the slow step of indexing (tens of seconds for the knowledge base on 2 CPU
    cores); re-running a notebook or re-chunking with a setting tried before reuses the vectors.
    One ``.npz`` file per embedder under ``<cache>/embeddings/``.
    """

    def __init__(self, folder: str | Path | None = None) -> None:
        from helpers.config import get_settings

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
                    keys, vectors = data["keys"], data["vectors"]
                store = {str(k): v for k, v in zip(keys, vectors)}
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
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self._file(name).with_suffix(f".tmp{os.getpid()}.npz")
            np.savez(tmp, keys=np.array(list(store)), vectors=np.stack(list(store.values())))
            tmp.replace(self._file(name))
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


def embedding_dim(embedder: Any) -> int:
    """Output dimension of an embedder (sentence-transformers renamed the method in v6)."""
    method = getattr(embedder, "get_embedding_dimension", None) or embedder.get_sentence_embedding_dimension
    return int(method())


def embed(embedder: Any, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False,
          cache: EmbeddingCache | None = None) -> np.ndarray:
    """L2-normalized float32 embeddings of ``texts``, shape ``(len(texts), dim)``.

    With ``cache`` (an :class:`EmbeddingCache`) texts embedded before are read from disk.
    """
    if cache is not None:
        return cache.embed(embedder, texts, batch_size=batch_size, progress=progress)
    if not texts:
        dim = embedding_dim(embedder)
        return np.zeros((0, dim), dtype="float32")
    vectors = embedder.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                              convert_to_numpy=True, show_progress_bar=progress)
    return np.ascontiguousarray(vectors, dtype="float32")


# --------------------------------------------------------------------------- fusion
def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = 60) -> list[tuple[int, float]]:
    """Fuse ranked id lists: score(id) = sum over lists of 1 / (k + rank). Best first.

    Ties are broken by the id's first appearance, so the result is deterministic.
    """
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])


def unique_docs(hits: Sequence[Hit]) -> list[str]:
    """Document ids of ``hits`` in order, each once (document-level ranking from chunk hits)."""
    seen: dict[str, None] = {}
    for hit in hits:
        seen.setdefault(hit.doc_id, None)
    return list(seen)


# --------------------------------------------------------------------------- input checks
def _check_count(value: Any, name: str = "k") -> int:
    """``value`` as an int >= 1, else a ``TypeError``/``ValueError`` that names ``name``."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be a whole number (how many results), got {type(value).__name__} "
                        f"{value!r}.") from None
    if number < 1:
        raise ValueError(f"{name} must be at least 1 (how many results to return), got {number}.")
    return number


def check_texts(texts: Any, *, noun: str = "query", caller: str = "search_many",
                one_string_fix: str = "use search(query) or search_many([query])",
                empty_fix: str = "there is nothing to search for. Pass a question or some keywords") -> list[str]:
    """``texts`` as a list of non-blank strings, else a ``TypeError``/``ValueError`` saying which one.

    Shared by the retriever (queries) and :mod:`helpers.rag` (questions): ``noun`` names the items
    in the messages, ``caller`` the function that was called, and the two ``*_fix`` texts say what to
    do instead.
    """
    if isinstance(texts, str):
        plural = "queries" if noun == "query" else f"{noun}s"
        raise TypeError(f"{caller}() takes a list of {plural}, not one string: {one_string_fix}.")
    texts = list(texts)
    for i, text in enumerate(texts, start=1):
        where = f"The {noun}" if len(texts) == 1 else f"{noun.capitalize()} {i} of {len(texts)}"
        if not isinstance(text, str):
            raise TypeError(f"{where} is a {type(text).__name__}, not a str: pass the question's text "
                            "(e.g. question.question for a Question record).")
        if not text.strip():
            raise ValueError(f"{where} is empty ({text!r}): {empty_fix}, or drop the empty rows.")
    return texts


# --------------------------------------------------------------------------- the retriever
class Retriever:
    """Chunks of documents, searchable by dense, BM25 or hybrid retrieval, optionally re-ranked.

    Build it with :func:`build_retriever`; see the module docstring for the moving parts.

    Attributes:
        method: ``"dense"``, ``"bm25"`` or ``"hybrid"``.
        chunking: the :class:`~helpers.chunking.ChunkingConfig` documents are split with.
        reranker: a :class:`~helpers.rerank.Reranker` or ``None``.
        candidates: how many first-stage candidates each method contributes (and the reranker sees).
        rrf_k: the constant of reciprocal rank fusion.
        cache: an :class:`EmbeddingCache` (``True``: the default one) for document chunks; queries
            are never cached.
        timings: seconds spent chunking, embedding and indexing (cumulative over ``add`` calls).
    """

    def __init__(self, method: Method = "dense", *, chunking: ChunkingConfig | None = None,
                 embedder: Any = None, reranker: Reranker | None = None, candidates: int = 30,
                 rrf_k: int = 60, cache: EmbeddingCache | bool | None = None) -> None:
        if method not in METHODS:
            raise ValueError(f"Unknown method {method!r}; choose one of {METHODS}.")
        _check_count(candidates, "candidates")
        self.method = method
        self.chunking = chunking or ChunkingConfig()
        self.embedder = get_embedder(embedder) if method != "bm25" or embedder is not None else None
        self.reranker = reranker
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.cache = default_cache() if cache is True else (cache or None)
        self.chunks: dict[int, Chunk] = {}
        self.checksums: dict[str, str] = {}
        self.titles: dict[str, str] = {}
        self._next_id = 0
        self._index = None
        self._bm25 = None
        self._bm25_ids: np.ndarray = np.zeros(0, dtype="int64")
        self.timings = {"chunk": 0.0, "embed": 0.0, "index": 0.0}
        if self.embedder is not None:
            import faiss

            self.dim = embedding_dim(self.embedder)
            self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        else:
            self.dim = 0

    # ----------------------------------------------------------------- contents
    def __len__(self) -> int:
        return len(self.chunks)

    def __repr__(self) -> str:
        rerank = type(self.reranker).__name__ if self.reranker else None
        return (f"Retriever(method={self.method!r}, docs={len(self.checksums)}, chunks={len(self.chunks)}, "
                f"chunking={self.chunking}, embedder={self.embedder_name!r}, rerank={rerank})")

    @property
    def embedder_name(self) -> str | None:
        """Name of the embedder, or ``None`` for a BM25-only retriever."""
        return embedder_name(self.embedder) if self.embedder is not None else None

    @property
    def doc_ids(self) -> list[str]:
        """Ids of the indexed documents, sorted."""
        return sorted(self.checksums)

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """The chunks of one document in order."""
        return sorted((c for c in self.chunks.values() if c.doc_id == doc_id), key=lambda c: c.position)

    def with_reranker(self, reranker: Reranker | None, depth: int | None = None) -> Retriever:
        """A view of the same index (shared chunks and vectors) with another second stage.

        ``depth`` sets how many first-stage candidates the re-ranker re-scores (default: unchanged).
        Updates made through one view are seen by the other.
        """
        twin = Retriever.__new__(Retriever)
        twin.__dict__.update(self.__dict__)
        twin.reranker = reranker
        if depth is not None:
            twin.candidates = depth
        return twin

    # ----------------------------------------------------------------- updates
    def add(self, docs: Any, *, progress: bool = False) -> dict[str, int]:
        """Add documents; a document whose id is already indexed is replaced (its old chunks removed).

        Only the given documents are chunked and embedded. Returns counts of what changed.
        A document with no text (empty or whitespace only) is recorded but cannot be found; it
        gets a ``UserWarning``.

        Raises:
            ValueError: the same document id appears twice in ``docs``.
            TypeError: ``docs`` is not one of the accepted forms (see :func:`build_retriever`).
        """
        triples = as_doc_triples(docs)
        replaced = self.remove([t[0] for t in triples if t[0] in self.checksums], _rebuild_bm25=False)
        t0 = time.perf_counter()
        new_chunks = [c for doc_id, text, title in triples for c in chunk_text(text, doc_id, self.chunking, title)]
        chunked = {c.doc_id for c in new_chunks}
        empty = [doc_id for doc_id, _, _ in triples if doc_id not in chunked]
        if empty:
            warnings.warn(f"{len(empty)} document(s) have no text to index and will never be found: "
                          f"{empty[:10]}{' ...' if len(empty) > 10 else ''}. Check how they were read.",
                          UserWarning, stacklevel=2)
        ids = np.arange(self._next_id, self._next_id + len(new_chunks), dtype="int64")
        self._next_id += len(new_chunks)
        t1 = time.perf_counter()
        if self.embedder is not None and new_chunks:
            vectors = embed(self.embedder, [c.text for c in new_chunks], progress=progress, cache=self.cache)
            t2 = time.perf_counter()
            self._index.add_with_ids(vectors, ids)
        else:
            t2 = time.perf_counter()
        for i, c in zip(ids.tolist(), new_chunks):
            self.chunks[i] = c
        for doc_id, text, title in triples:
            self.checksums[doc_id] = checksum(text)
            self.titles[doc_id] = title
        self._rebuild_bm25()
        t3 = time.perf_counter()
        for key, value in (("chunk", t1 - t0), ("embed", t2 - t1), ("index", t3 - t2)):
            self.timings[key] += value
        return {"docs": len(triples), "replaced_docs": replaced["docs"], "chunks_added": len(new_chunks),
                "chunks_removed": replaced["chunks_removed"]}

    def remove(self, doc_ids: Iterable[str], *, _rebuild_bm25: bool = True) -> dict[str, int]:
        """Remove documents (and all their chunks) by id. Unknown ids raise ``KeyError``."""
        doc_ids = list(doc_ids)
        unknown = [d for d in doc_ids if d not in self.checksums]
        if unknown:
            raise KeyError(f"Not in the index: {unknown[:5]}")
        drop = set(doc_ids)
        ids = np.array([i for i, c in self.chunks.items() if c.doc_id in drop], dtype="int64")
        if self._index is not None and len(ids):
            self._index.remove_ids(ids)
        for i in ids.tolist():
            del self.chunks[i]
        for d in doc_ids:
            del self.checksums[d]
            self.titles.pop(d, None)
        if _rebuild_bm25:
            self._rebuild_bm25()
        return {"docs": len(doc_ids), "chunks_removed": int(len(ids))}

    def _rebuild_bm25(self) -> None:
        if self.method == "dense":
            return
        import bm25s

        self._bm25_ids = np.array(sorted(self.chunks), dtype="int64")
        if not len(self._bm25_ids):
            self._bm25 = None
            return
        tokens = bm25s.tokenize([self.chunks[i].text for i in self._bm25_ids.tolist()], stopwords="en",
                                show_progress=False)
        self._bm25 = bm25s.BM25()
        self._bm25.index(tokens, show_progress=False)

    # ----------------------------------------------------------------- search
    def _dense(self, queries: Sequence[str], n: int) -> list[list[int]]:
        vectors = embed(self.embedder, queries)
        _, ids = self._index.search(vectors, min(n, len(self.chunks)))
        return [[int(i) for i in row if i >= 0] for row in ids]

    def _lexical(self, queries: Sequence[str], n: int) -> list[list[int]]:
        import bm25s

        if self._bm25 is None:
            return [[] for _ in queries]
        tokens = bm25s.tokenize(list(queries), stopwords="en", show_progress=False)
        docs, scores = self._bm25.retrieve(tokens, k=min(n, len(self._bm25_ids)), show_progress=False)
        return [[int(self._bm25_ids[d]) for d, s in zip(row, srow) if s > 0] for row, srow in zip(docs, scores)]

    def _first_stage(self, queries: Sequence[str], n: int) -> list[list[tuple[int, float]]]:
        if self.method == "dense":
            vectors = embed(self.embedder, queries)
            scores, ids = self._index.search(vectors, min(n, len(self.chunks)))
            return [[(int(i), float(s)) for i, s in zip(r, sr) if i >= 0] for r, sr in zip(ids, scores)]
        if self.method == "bm25":
            import bm25s

            if self._bm25 is None:
                return [[] for _ in queries]
            tokens = bm25s.tokenize(list(queries), stopwords="en", show_progress=False)
            docs, scores = self._bm25.retrieve(tokens, k=min(n, len(self._bm25_ids)), show_progress=False)
            return [[(int(self._bm25_ids[d]), float(s)) for d, s in zip(r, sr) if s > 0]
                    for r, sr in zip(docs, scores)]
        depth = max(n, self.candidates)
        fused = [reciprocal_rank_fusion([d, lx], self.rrf_k)
                 for d, lx in zip(self._dense(queries, depth), self._lexical(queries, depth))]
        return [f[:n] for f in fused]

    def search_many(self, queries: Sequence[str], k: int = 5) -> list[list[Hit]]:
        """Search many queries at once (queries are embedded in one batch). Best hit first.

        Each list holds at most ``k`` hits: fewer when the index has fewer than ``k`` chunks (then
        every chunk that matches is returned; a ``k`` larger than the index is not an error) or,
        for BM25, fewer chunks share a word with the query.

        Raises:
            ValueError: a query is empty or whitespace only, or ``k < 1``.
            TypeError: ``queries`` is one string instead of a list, or ``k`` is not a whole number.
        """
        queries = check_texts(queries)
        k = _check_count(k)
        if not self.chunks or not queries:
            return [[] for _ in queries]
        depth = max(k, self.candidates) if self.reranker is not None else k
        first = self._first_stage(list(queries), depth)
        results = []
        for query, ranked in zip(queries, first):
            if self.reranker is not None and ranked:
                head = ranked[: self.candidates]
                scores = self.reranker.score(query, [self.chunks[i].text for i, _ in head])
                reranked = sorted(zip([i for i, _ in head], scores), key=lambda x: -x[1])
                ranked = [(i, float(s)) for i, s in reranked] + ranked[self.candidates:]
            results.append([self._hit(i, s) for i, s in ranked[:k]])
        return results

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The ``k`` best chunks for ``query``, best first (all of them if the index has fewer).

        Raises:
            ValueError: ``query`` is empty or whitespace only, or ``k < 1``.
        """
        return self.search_many([query], k)[0]

    def search_documents_many(self, queries: Sequence[str], k: int = 10, *, fetch: int = 5) -> list[list[str]]:
        """Document-level rankings: search ``k * fetch`` chunks, keep each document's best chunk."""
        k, fetch = _check_count(k), _check_count(fetch, "fetch")
        return [unique_docs(hits)[:k] for hits in self.search_many(queries, k * fetch)]

    def _hit(self, i: int, score: float) -> Hit:
        c = self.chunks[i]
        return Hit(doc_id=c.doc_id, chunk_id=c.chunk_id, text=c.text, score=score, position=c.position,
                   section=c.section)

    # ----------------------------------------------------------------- persistence
    def metadata(self) -> dict[str, Any]:
        """What a saved index records about how it was built."""
        return {"format_version": FORMAT_VERSION, "method": self.method, "embedder": self.embedder_name,
                "dim": self.dim, "chunking": self.chunking.to_dict(), "candidates": self.candidates,
                "rrf_k": self.rrf_k, "documents": dict(sorted(self.checksums.items())),
                "titles": self.titles, "n_chunks": len(self.chunks), "next_id": self._next_id}

    def save(self, path: str | Path) -> Path:
        """Write the index to the folder ``path``: ``meta.json``, ``chunks.jsonl``, ``vectors.faiss``.

        The files are written to a temporary sibling folder that then replaces ``path`` in one
        rename, so an interrupted save never leaves a half-written index. An existing saved index
        (or an empty folder) at ``path`` is replaced; anything else is refused. The re-ranker is
        not saved (pass it again to :func:`load`).

        Raises:
            FileExistsError: ``path`` is a file, or a folder that holds files other than a saved
                index (they would be lost); nothing is written.
        """
        folder = Path(path)
        _check_index_target(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = folder.with_name(f".{folder.name}.saving-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            (tmp / "meta.json").write_text(json.dumps(self.metadata(), indent=2))
            with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as fh:
                for i in sorted(self.chunks):
                    fh.write(json.dumps({"id": i, **asdict(self.chunks[i])}) + "\n")
            if self._index is not None:
                import faiss

                faiss.write_index(self._index, str(tmp / "vectors.faiss"))
            _replace_folder(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return folder

    @classmethod
    def load(cls, path: str | Path, *, embedder: Any = None, reranker: Reranker | None = None) -> Retriever:
        """Load an index written by :meth:`save`. The folder is only read, never modified.

        Args:
            path: the folder.
            embedder: the embedder to use for queries (default: load the one named in the
                metadata). It must be the embedder the index was built with.
            reranker: optional re-ranker.

        Raises:
            FileNotFoundError: there is no folder at ``path``.
            IndexMismatchError: the embedder's name or dimension differs from the index's, or the
                index was written in another format version.
            IndexCorruptError: a file of the index is missing, truncated or edited.
        """
        folder = Path(path)
        meta = _read_index_meta(folder)
        chunks = _read_index_chunks(folder, meta)
        index = _read_index_vectors(folder, meta, chunks) if meta["embedder"] is not None else None
        if meta["embedder"] is not None:
            emb = get_embedder(embedder if embedder is not None else meta["embedder"])
            name, dim = embedder_name(emb), embedding_dim(emb)
            if name != meta["embedder"] or dim != meta["dim"]:
                raise IndexMismatchError(
                    f"The index in {folder} was built with embedder {meta['embedder']!r} ({meta['dim']}-d), "
                    f"but you passed {name!r} ({dim}-d). Query vectors from a different embedder are not "
                    f"comparable: load with the original embedder, or rebuild the index with build_retriever().")
        else:
            emb = embedder
        self = cls(meta["method"], chunking=ChunkingConfig(**meta["chunking"]), embedder=emb,
                   reranker=reranker, candidates=meta["candidates"], rrf_k=meta["rrf_k"])
        self.chunks = chunks
        self.checksums = dict(meta["documents"])
        self.titles = dict(meta.get("titles", {}))
        self._next_id = meta["next_id"]
        if index is not None:
            self._index = index
        self._rebuild_bm25()
        return self


# --------------------------------------------------------------------------- saved index files
def _is_saved_index(folder: Path) -> bool:
    """True if ``folder`` holds only index files and a ``meta.json`` that says it is an index."""
    if any(p.name not in INDEX_FILES for p in folder.iterdir()):
        return False
    try:
        return "format_version" in json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


def _check_index_target(folder: Path) -> None:
    """Refuse to save over a file, or over a folder that holds anything but a saved index."""
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder} is a file; save the index to a folder path instead. Nothing was written.")
    if folder.is_dir() and any(folder.iterdir()) and not _is_saved_index(folder):
        others = sorted(p.name for p in folder.iterdir())
        raise FileExistsError(
            f"Refusing to save the index into {folder}: the folder is not empty and is not a saved index "
            f"(it holds {', '.join(others[:5])}{', ...' if len(others) > 5 else ''}). Nothing was written; "
            f"save to a new or empty folder, e.g. {folder / 'index'}.")


def _replace_folder(new: Path, target: Path) -> None:
    """Move the folder ``new`` to ``target``, replacing ``target`` (if any) only once ``new`` is in place."""
    if not target.exists():
        new.rename(target)
        return
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    shutil.rmtree(old, ignore_errors=True)
    target.rename(old)
    try:
        new.rename(target)
    except BaseException:
        old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)


_META_KEYS = {"method": str, "embedder": (str, type(None)), "dim": int, "chunking": dict, "candidates": int,
              "rrf_k": int, "documents": dict, "n_chunks": int, "next_id": int}


def _read_index_meta(folder: Path) -> dict[str, Any]:
    """The checked ``meta.json`` of a saved index."""
    if not folder.is_dir():
        raise FileNotFoundError(f"No saved index at {folder}: the folder does not exist. Build one with "
                                "build_retriever(...) and write it with .save(path).")
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


def _read_index_chunks(folder: Path, meta: dict[str, Any]) -> dict[int, Chunk]:
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


def _read_index_vectors(folder: Path, meta: dict[str, Any], chunks: dict[int, Chunk]) -> Any:
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


def load(path: str | Path, *, embedder: Any = None, reranker: Reranker | None = None) -> Retriever:
    """Load a saved retriever (see :meth:`Retriever.load`)."""
    return Retriever.load(path, embedder=embedder, reranker=reranker)


def build_retriever(
    docs: Any,
    method: Method = "dense",
    rerank: Any = None,
    chunking: ChunkingConfig | str | None = None,
    embedder: Any = None,
    *,
    candidates: int = 30,
    cache: EmbeddingCache | bool | None = None,
    progress: bool = False,
) -> Retriever:
    """Chunk, embed and index documents in one call.

    Args:
        docs: a mapping ``doc_id -> text`` (or ``-> Document``), or a list of
            :class:`helpers.data.Document` / :class:`helpers.data.Passage` records or
            ``(doc_id, text)`` pairs.
        method: ``"dense"`` (embeddings, exact FAISS inner product), ``"bm25"`` or ``"hybrid"``
            (reciprocal rank fusion of both).
        rerank: ``None``; a re-ranker object; or a name understood by
            :func:`helpers.rerank.get_reranker` (``"auto"``, ``"trained"``, ``"hub"``, a model id).
        chunking: a :class:`~helpers.chunking.ChunkingConfig`, a strategy name, or ``None`` for
            the default (heading-aware markdown chunks of up to 128 tokens).
        embedder: a loaded SentenceTransformer or a model name (default: the configured one).
        candidates: first-stage depth for fusion and re-ranking.
        cache: reuse chunk embeddings computed before (``True``: an :class:`EmbeddingCache` under
            ``<cache>/embeddings``); off by default.
        progress: show the embedding progress bar.

    Returns:
        A :class:`Retriever` with ``search``, ``search_many``, ``add``, ``remove``, ``save``.

    Raises:
        ValueError: ``docs`` is empty, every document's text is empty or whitespace only, or a
            document id appears twice.
    """
    triples = as_doc_triples(docs)
    if not triples:
        raise ValueError("build_retriever() got no documents, so there is nothing to index. Pass a mapping "
                         "doc_id -> text (or Document records) with at least one document; if they come from "
                         "a file or folder, check that it is not empty.")
    if not any(text.strip() for _, text, _ in triples):
        ids = [t[0] for t in triples]
        raise ValueError(f"All {len(ids)} document(s) passed to build_retriever() are empty or whitespace only "
                         f"({ids[:5]}{' ...' if len(ids) > 5 else ''}), so there is nothing to index. Check how "
                         "the documents were read (wrong file, wrong field or column, or an encoding problem).")
    if isinstance(chunking, str):
        chunking = ChunkingConfig(strategy=chunking)  # type: ignore[arg-type]
    reranker = None
    if rerank is not None:
        from helpers.rerank import get_reranker

        reranker = get_reranker(rerank)
    retriever = Retriever(method, chunking=chunking, embedder=embedder, reranker=reranker, candidates=candidates,
                          cache=cache)
    retriever.add(triples, progress=progress)
    return retriever


def build_retriever_from_folder(folder: str | Path, method: Method = "hybrid", **kwargs: Any) -> Retriever:
    """:func:`load_documents` + :func:`build_retriever`: a retriever over your own folder of files.

    Unreadable files (broken or scanned PDFs, binary or non-UTF-8 files) are skipped with one
    warning that names each of them; the rest are indexed.
    """
    return build_retriever(load_documents(folder), method=method, **kwargs)


# --------------------------------------------------------------------------- evaluation
def evaluate_retrievers(
    retrievers: Mapping[str, Retriever],
    queries: Sequence[str],
    relevant: Sequence[Iterable[str]],
    *,
    k: int = 10,
    ks: Sequence[int] = (1, 5, 10),
) -> pd.DataFrame:
    """Document-level recall@k, MRR@10 and nDCG@10 of each retriever (via ``retrieval_report``).

    Chunk hits are deduplicated to documents, so a document counts once however many of its
    chunks are retrieved. Adds a ``ms/query`` column (mean search latency of the batch).
    """
    from helpers.evaluation import retrieval_report

    runs, latency = {}, {}
    for name, retriever in retrievers.items():
        t0 = time.perf_counter()
        runs[name] = retriever.search_documents_many(queries, k)
        latency[name] = 1000 * (time.perf_counter() - t0) / max(len(queries), 1)
    table = retrieval_report(runs, list(relevant), ks=ks)
    table["ms/query"] = [latency[n] for n in table.index]
    return table


# --------------------------------------------------------------------------- FAISS index types
def make_faiss_index(kind: str, vectors: np.ndarray, *, hnsw_m: int = 32, ef_construction: int = 80,
                     nlist: int | None = None, seed: int = 1234) -> Any:
    """Build a FAISS inner-product index over normalized ``vectors``.

    ``kind``: ``"flat"`` (exact), ``"hnsw"`` (graph, ``hnsw_m`` links per node) or ``"ivf"``
    (k-means into ``nlist`` lists, default ``4 * sqrt(N)``). Search-time knobs are set with
    :func:`set_search_param` (``efSearch`` for HNSW, ``nprobe`` for IVF).
    """
    import faiss

    n, dim = vectors.shape
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
    elif kind == "ivf":
        nlist = nlist or max(1, min(int(4 * np.sqrt(n)), n // 39))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        index.train(vectors)
    else:
        raise ValueError(f"Unknown index kind {kind!r}; use 'flat', 'hnsw' or 'ivf'.")
    index.add(vectors)
    return index


def set_search_param(index: Any, value: int) -> None:
    """``efSearch`` for an HNSW index, ``nprobe`` for an IVF index (no-op for flat)."""
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = value
    elif hasattr(index, "nprobe"):
        index.nprobe = value


def compare_faiss_indexes(
    vectors: np.ndarray,
    queries: np.ndarray,
    *,
    k: int = 10,
    hnsw_ef: Sequence[int] = (16, 32, 64, 128),
    ivf_nprobe: Sequence[int] = (1, 4, 16, 64),
    repeats: int = 3,
) -> pd.DataFrame:
    """Recall@k against exact search and search latency for flat, HNSW and IVF at several settings.

    Latency is the best of ``repeats`` batch searches, divided by the number of queries.
    Returns one row per (index, setting) with ``build_s``, ``ms/query`` and ``recall@k``.
    """
    import pandas as pd

    def timed_search(index: Any) -> tuple[float, np.ndarray]:
        best, ids = float("inf"), None
        for _ in range(repeats):
            t0 = time.perf_counter()
            _, ids = index.search(queries, k)
            best = min(best, time.perf_counter() - t0)
        return 1000 * best / len(queries), ids

    rows = []
    t0 = time.perf_counter()
    flat = make_faiss_index("flat", vectors)
    build = time.perf_counter() - t0
    ms, exact = timed_search(flat)
    rows.append({"index": "flat (exact)", "param": "-", "build_s": build, "ms/query": ms, f"recall@{k}": 1.0})
    for kind, settings, label in (("hnsw", hnsw_ef, "efSearch"), ("ivf", ivf_nprobe, "nprobe")):
        t0 = time.perf_counter()
        index = make_faiss_index(kind, vectors)
        build = time.perf_counter() - t0
        for value in settings:
            set_search_param(index, value)
            ms, ids = timed_search(index)
            recall = np.mean([len(set(a) & set(b)) / k for a, b in zip(ids.tolist(), exact.tolist())])
            rows.append({"index": kind, "param": f"{label}={value}", "build_s": build, "ms/query": ms,
                         f"recall@{k}": float(recall)})
    return pd.DataFrame(rows)


def synthetic_vectors(n: int, dim: int = 384, *, clusters: int = 100, spread: float = 0.5,
                      seed: int = 0) -> np.ndarray:
    """``n`` normalized float32 vectors drawn around ``clusters`` random centres (embedding-like)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype("float32")
    x = centres[rng.integers(0, clusters, n)] + spread * rng.standard_normal((n, dim)).astype("float32")
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x, dtype="float32")
