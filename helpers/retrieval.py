"""Retrieve chunks for a question: dense (FAISS), lexical (BM25), hybrid (RRF), optionally re-ranked::

    retriever = build_retriever({"doc-a": "text ...", "doc-b": "..."}, method="hybrid")
    hits = retriever.search("my question", k=5)  # Hit: doc_id, chunk_id, text, score, section

Chunks (:mod:`helpers.chunking`) are embedded (:mod:`helpers.embedding`) into an exact FAISS index with
64-bit ids, so one document can be replaced without re-embedding the rest; BM25 (``bm25s``) has no
incremental update and is rebuilt after each change (milliseconds). ``hybrid`` fuses both rankings by
reciprocal rank fusion; a re-ranker (:mod:`helpers.rerank`) re-scores the candidates. Saving and
loading live beside this module, in :mod:`helpers.runtime.persistence`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from helpers.chunking import Chunk, ChunkingConfig, Hit, chunk_text
from helpers.documents import as_doc_triples, checksum, load_documents
from helpers.embedding import EmbeddingCache, default_cache, embed, embedder_name, embedding_dim, get_embedder
from helpers.runtime.checks import check_count, check_texts

if TYPE_CHECKING:

    from helpers.rerank import Reranker

Method = Literal["dense", "bm25", "hybrid"]
METHODS: tuple[str, ...] = ("dense", "bm25", "hybrid")


# --------------------------------------------------------------------------- fusion
def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = 60) -> list[tuple[int, float]]:
    """Fuse ranked id lists: score(id) = sum over lists of 1 / (k + rank). Best first; ties keep
    first-appearance order, so the result is deterministic."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])


def unique_docs(hits: Sequence[Hit]) -> list[str]:
    """Document ids of ``hits`` in order, each once (document-level ranking from chunk hits)."""
    return list(dict.fromkeys(hit.doc_id for hit in hits))


# --------------------------------------------------------------------------- the retriever
def make_faiss_index(kind: str, vectors: np.ndarray, *, seed: int = 1234) -> Any:
    """A FAISS inner-product index over normalized ``vectors`` (float32, ``(n, dim)``; ``n`` may be 0 for an
    empty ``"flat"`` one): ``"flat"`` (exact), ``"hnsw"`` (graph, 32 links per node) or ``"ivf"``
    (``4 * sqrt(N)`` k-means lists of 39+ vectors); :func:`helpers.workbook.ann.set_search_param` tunes the last two.
    The one place a FAISS index is built: :class:`IndexStore`, :mod:`helpers.workbook.ann` and the plain baseline
    of :mod:`helpers.workbook.retrieval_defaults` all use it."""
    import faiss

    n, dim = vectors.shape
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
    elif kind == "ivf":
        nlist = max(1, min(int(4 * np.sqrt(n)), n // 39))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        index.train(vectors)
    else:
        raise ValueError(f"Unknown index kind {kind!r}; use 'flat', 'hnsw' or 'ivf'.")
    index.add(vectors)
    return index


@dataclass
class IndexStore:
    """What all views of one index share: chunks, vectors (a FAISS ``IndexIDMap2``, ``None`` without
    an embedder), the BM25 index (only when ``lexical``) and the id counter."""

    chunking: ChunkingConfig
    embedder: Any
    lexical: bool
    cache: EmbeddingCache | None = None
    dim: int = 0
    vectors: Any = None
    chunks: dict[int, Chunk] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    next_id: int = 0
    bm25: Any = None
    bm25_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int64"))
    timings: dict[str, float] = field(default_factory=lambda: {"chunk": 0.0, "embed": 0.0, "index": 0.0})

    def __post_init__(self) -> None:
        if self.embedder is not None and self.vectors is None:
            import faiss

            self.dim = embedding_dim(self.embedder)
            self.vectors = faiss.IndexIDMap2(make_faiss_index("flat", np.zeros((0, self.dim), dtype="float32")))

    @property
    def methods(self) -> list[str]:
        """The search methods this store supports."""
        dense, lexical = self.embedder is not None, self.lexical
        return [m for m, ok in (("hybrid", dense and lexical), ("dense", dense), ("bm25", lexical)) if ok]


class Retriever:
    """Chunks of documents, searchable by dense, BM25 or hybrid retrieval, optionally re-ranked; build it
    with :func:`build_retriever`. ``candidates``: first-stage hits per method (what the re-ranker sees);
    ``rrf_k``: the fusion constant; ``timings``: cumulative seconds spent chunking, embedding, indexing."""

    def __init__(self, method: Method = "dense", *, chunking: ChunkingConfig | None = None,
                 embedder: Any = None, reranker: Reranker | None = None, candidates: int = 30,
                 rrf_k: int = 60, cache: EmbeddingCache | bool | None = None, store: IndexStore | None = None) -> None:
        if method not in METHODS:
            raise ValueError(f"Unknown method {method!r}; choose one of {METHODS}.")
        check_count(candidates, "candidates")
        if store is None:
            store = IndexStore(chunking=chunking or ChunkingConfig(), lexical=method != "dense",
                               embedder=get_embedder(embedder) if method != "bm25" or embedder is not None else None,
                               cache=default_cache() if cache is True else (cache or None))
        if method not in store.methods:
            raise ValueError(f"This {store.methods[0]!r} index cannot search by {method!r}; it supports "
                             f"{store.methods}. Build it with method='hybrid' to compare all three.")
        self.method, self.reranker, self.candidates, self.rrf_k = method, reranker, candidates, rrf_k
        self.store = store
        s = store  # the same objects in every view: they are changed in place, never rebound
        self.chunks, self.checksums, self.titles, self.timings = s.chunks, s.checksums, s.titles, s.timings
        self.chunking, self.embedder, self.cache, self.dim = s.chunking, s.embedder, s.cache, s.dim

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
    def methods(self) -> list[str]:
        """The methods this index can be searched by (a ``hybrid`` index supports all three)."""
        return self.store.methods

    @property
    def doc_ids(self) -> list[str]:
        """Ids of the indexed documents, sorted."""
        return sorted(self.checksums)

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """The chunks of one document in order."""
        return sorted((c for c in self.chunks.values() if c.doc_id == doc_id), key=lambda c: c.position)

    def view(self, method: str | None = None, reranker: Reranker | None = None,
             candidates: int | None = None) -> Retriever:
        """The same index searched another way (``method=None``: this one's; ``reranker=None``: none);
        views share chunks, vectors, BM25 index and ids, so changes through one are seen by all.

        Raises:
            ValueError: the index lacks what ``method`` needs (a dense index has no BM25).
        """
        return Retriever(method or self.method, reranker=reranker, candidates=candidates or self.candidates,
                         rrf_k=self.rrf_k, store=self.store)

    # ----------------------------------------------------------------- updates
    def add(self, docs: Any, *, progress: bool = False) -> dict[str, int]:
        """Add documents, replacing any whose id is already indexed; only these are chunked and embedded.
        A document with no text is recorded but never found (``UserWarning``). Returns what changed.

        Raises:
            ValueError: the same document id appears twice in ``docs``.
            TypeError: ``docs`` is not one of the accepted forms (see :func:`build_retriever`).
        """
        s = self.store
        triples = as_doc_triples(docs)
        replaced = self.remove([t[0] for t in triples if t[0] in self.checksums], _rebuild_bm25=False)
        t0 = time.perf_counter()
        tokens = None
        if self.chunking.tokenizer is not None:  # a chunk's budget in the reading model's tokens
            from helpers.runtime.models import model_tokens

            tokens = partial(model_tokens, model=self.chunking.tokenizer)
        new_chunks = [c for doc_id, text, title in triples
                      for c in chunk_text(text, doc_id, self.chunking, title, model_tokens=tokens)]
        chunked = {c.doc_id for c in new_chunks}
        empty = [doc_id for doc_id, _, _ in triples if doc_id not in chunked]
        if empty:
            warnings.warn(f"{len(empty)} document(s) have no text to index and will never be found: "
                          f"{empty[:10]}{' ...' if len(empty) > 10 else ''}. Check how they were read.",
                          UserWarning, stacklevel=2)
        ids = np.arange(s.next_id, s.next_id + len(new_chunks), dtype="int64")
        s.next_id += len(new_chunks)
        t1 = time.perf_counter()
        if self.embedder is not None and new_chunks:
            s.vectors.add_with_ids(embed(self.embedder, [c.text for c in new_chunks], progress=progress,
                                         cache=self.cache), ids)
        t2 = time.perf_counter()
        self.chunks.update(zip(ids.tolist(), new_chunks))
        for doc_id, text, title in triples:
            self.checksums[doc_id] = checksum(text)
            self.titles[doc_id] = title
        self.rebuild_bm25()
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
        if self.store.vectors is not None and len(ids):
            self.store.vectors.remove_ids(ids)
        for i in ids.tolist():
            del self.chunks[i]
        for d in doc_ids:
            del self.checksums[d]
            self.titles.pop(d, None)
        if _rebuild_bm25:
            self.rebuild_bm25()
        return {"docs": len(doc_ids), "chunks_removed": int(len(ids))}

    def rebuild_bm25(self) -> None:
        """Re-index the stored chunk texts with BM25 (a no-op for a dense-only index)."""
        s = self.store
        if not s.lexical:
            return
        import bm25s

        s.bm25_ids = np.array(sorted(self.chunks), dtype="int64")
        s.bm25 = None
        if len(s.bm25_ids):
            tokens = bm25s.tokenize([self.chunks[i].text for i in s.bm25_ids.tolist()], stopwords="en",
                                    show_progress=False)
            if tokens.vocab:  # no indexable word anywhere (only stop words, digits, punctuation): nothing to match
                s.bm25 = bm25s.BM25()
                s.bm25.index(tokens, show_progress=False)

    # ----------------------------------------------------------------- search
    def _dense(self, queries: Sequence[str], n: int) -> list[list[tuple[int, float]]]:
        scores, ids = self.store.vectors.search(embed(self.embedder, queries), min(n, len(self.chunks)))
        return [[(int(i), float(s)) for i, s in zip(r, sr) if i >= 0] for r, sr in zip(ids, scores)]

    def _lexical(self, queries: Sequence[str], n: int) -> list[list[tuple[int, float]]]:
        import bm25s

        s = self.store
        if s.bm25 is None:
            return [[] for _ in queries]
        tokens = bm25s.tokenize(list(queries), stopwords="en", show_progress=False)
        docs, scores = s.bm25.retrieve(tokens, k=min(n, len(s.bm25_ids)), show_progress=False)
        return [[(int(s.bm25_ids[d]), float(x)) for d, x in zip(r, sr) if x > 0] for r, sr in zip(docs, scores)]

    def _first_stage(self, queries: Sequence[str], n: int) -> list[list[tuple[int, float]]]:
        if self.method == "dense":
            return self._dense(queries, n)
        if self.method == "bm25":
            return self._lexical(queries, n)
        depth = max(n, self.candidates)
        return [reciprocal_rank_fusion([[i for i, _ in d], [i for i, _ in lx]], self.rrf_k)[:n]
                for d, lx in zip(self._dense(queries, depth), self._lexical(queries, depth))]

    def search_many(self, queries: Sequence[str], k: int = 5) -> list[list[Hit]]:
        """Search many queries at once (embedded in one batch): per query at most ``k`` hits, best
        first; fewer if the index has fewer chunks (not an error) or, for BM25, fewer share a word.

        Raises:
            ValueError: a query is empty or whitespace only, or ``k < 1``.
            TypeError: ``queries`` is one string instead of a list, or ``k`` is not a whole number.
        """
        queries = check_texts(queries)
        k = check_count(k)
        if not self.chunks or not queries:
            return [[] for _ in queries]
        depth = max(k, self.candidates) if self.reranker is not None else k
        results = []
        for query, ranked in zip(queries, self._first_stage(list(queries), depth)):
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
        k, fetch = check_count(k), check_count(fetch, "fetch")
        return [unique_docs(hits)[:k] for hits in self.search_many(queries, k * fetch)]

    def _hit(self, i: int, score: float) -> Hit:
        c = self.chunks[i]
        return Hit(doc_id=c.doc_id, chunk_id=c.chunk_id, text=c.text, score=score, position=c.position,
                   section=c.section)


def build_retriever(
    docs: Any,
    method: Method = "dense",
    rerank: Reranker | None = None,
    chunking: ChunkingConfig | str | None = None,
    embedder: Any = None,
    *,
    candidates: int = 30,
    cache: EmbeddingCache | bool | None = None,
    progress: bool = False,
) -> Retriever:
    """Chunk, embed and index documents in one call; returns a :class:`Retriever`.

    Args:
        docs: a mapping ``doc_id -> text`` (or ``-> Document``), or a list of ``Document`` /
            :class:`helpers.workbook.data.Passage` records or ``(doc_id, text)`` pairs.
        method: ``"dense"`` (exact FAISS inner product), ``"bm25"`` or ``"hybrid"`` (RRF of both).
        chunking: a :class:`~helpers.chunking.ChunkingConfig`, a strategy name, or ``None`` (markdown,
            400 words). The defaults (dense, markdown 400, no re-ranking) were chosen across corpora and
            checked against a plain baseline on a held-out corpus: :mod:`helpers.workbook.retrieval_defaults`.
        embedder: a loaded SentenceTransformer or a model name (default: the configured one).
        candidates: first-stage depth for fusion and re-ranking.
        cache: ``True`` reuses chunk embeddings computed before (under ``<cache>/embeddings``).

    Raises:
        ValueError: ``docs`` is empty, all texts are blank, or a document id appears twice.
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
    retriever = Retriever(method, chunking=chunking, embedder=embedder, reranker=rerank, candidates=candidates,
                          cache=cache)
    retriever.add(triples, progress=progress)
    return retriever


def build_retriever_from_folder(folder: str | Path, method: Method = "dense", **kwargs: Any) -> Retriever:
    """A retriever over your own folder (:func:`~helpers.documents.load_documents`): unreadable files
    (broken or scanned PDFs, binary, non-UTF-8) are skipped with one warning naming them."""
    return build_retriever(load_documents(folder), method=method, **kwargs)
