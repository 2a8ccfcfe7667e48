"""Retrieval: BM25/dense/hybrid search, add/remove by id, save/load with embedder checks, folder loading.

Most tests use a tiny deterministic bag-of-words embedder so they run in milliseconds; the tests
marked ``slow`` use the real packaged embedder.
"""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pytest

from helpers.retrieval import (
    IndexMismatchError,
    Retriever,
    build_retriever,
    build_retriever_from_folder,
    compare_faiss_indexes,
    load,
    load_documents,
    reciprocal_rank_fusion,
    synthetic_vectors,
    unique_docs,
)

DOCS = {
    "returns": "Customers may return hardware within 30 days of delivery. A restocking fee applies.",
    "travel": "The hotel cap is 140 euros per night. Mileage is paid per kilometre driven.",
    "warranty": "The warranty covers manufacturing defects for two years from purchase.",
    "support": "Support answers tickets within one business day by email or phone.",
}


class ToyEmbedder:
    """Hashes words into 64 buckets: texts that share words get similar vectors."""

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
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
        return out


@pytest.mark.parametrize("method", ["dense", "bm25", "hybrid"])
def test_each_method_finds_the_right_document_first(method):
    r = build_retriever(DOCS, method=method, embedder=ToyEmbedder())
    hits = r.search("how many days to return hardware", k=3)
    assert hits[0].doc_id == "returns"
    assert hits[0].chunk_id == "returns#0" and "30 days" in hits[0].text
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert r.search_many(["hotel cap per night", "warranty defects"], k=1)[1][0].doc_id == "warranty"


def test_accepts_document_records_and_pairs():
    from helpers.data import Document

    records = [Document(doc_id=k, title=k, category="", updated="", text=v) for k, v in DOCS.items()]
    assert build_retriever(records, "bm25").doc_ids == sorted(DOCS)
    assert build_retriever(list(DOCS.items()), "bm25").doc_ids == sorted(DOCS)
    with pytest.raises(ValueError, match="Duplicate"):
        build_retriever([("a", "x"), ("a", "y")], "bm25")


def test_add_replace_and_remove_touch_only_the_given_documents():
    emb = ToyEmbedder()
    r = build_retriever(DOCS, method="hybrid", embedder=emb)
    embedded = emb.calls
    change = r.add({"returns": "Customers may return hardware within 45 days of delivery."})
    assert change["replaced_docs"] == 1 and emb.calls == embedded + change["chunks_added"]
    top = r.search("return hardware days", k=1)[0]
    assert top.doc_id == "returns" and "45 days" in top.text
    assert all("30 days" not in h.text for h in r.search("return hardware days", k=10))
    r.remove(["travel"])
    assert "travel" not in {h.doc_id for h in r.search("hotel cap per night", k=10)}
    assert r.doc_ids == ["returns", "support", "warranty"]
    with pytest.raises(KeyError):
        r.remove(["travel"])


def test_save_load_round_trip_and_refuses_another_embedder(tmp_path):
    r = build_retriever(DOCS, method="hybrid", embedder=ToyEmbedder())
    r.save(tmp_path / "idx")
    again = load(tmp_path / "idx", embedder=ToyEmbedder())
    assert [h.chunk_id for h in again.search("restocking fee", 3)] == [h.chunk_id for h in r.search("restocking fee", 3)]
    assert again.metadata()["documents"] == r.metadata()["documents"]
    with pytest.raises(IndexMismatchError, match="built with embedder 'toy'"):
        Retriever.load(tmp_path / "idx", embedder=ToyEmbedder(name="other"))
    with pytest.raises(IndexMismatchError, match="64-d"):
        Retriever.load(tmp_path / "idx", embedder=ToyEmbedder(dim=32))


def test_rrf_and_unique_docs():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1]], k=60)
    assert [i for i, _ in fused] == [1, 3, 2]
    from helpers.retrieval import Hit

    hits = [Hit("a", "a#0", "", 1.0), Hit("b", "b#0", "", 0.9), Hit("a", "a#1", "", 0.8)]
    assert unique_docs(hits) == ["a", "b"]


def test_reranker_reorders_candidates():
    class PreferTravel:
        def score(self, query, texts):
            return [float("hotel" in t) for t in texts]

    r = build_retriever(DOCS, method="bm25", rerank=PreferTravel())
    assert r.search("return hardware within days or per night", k=2)[0].doc_id == "travel"


def test_folder_loader_reads_md_txt_pdf_and_warns_about_unreadable_files(tmp_path):
    from pathlib import Path

    fixture = Path(__file__).parent / "fixtures" / "tiny.pdf"
    (tmp_path / "a.md").write_text("---\nid: doc-a\ntitle: A\n---\n# A\nHotel cap is 165 euros.\n")
    (tmp_path / "b.txt").write_text("Plain text about the warranty.")
    (tmp_path / "c.pdf").write_bytes(fixture.read_bytes())
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (tmp_path / "empty.txt").write_text("   ")
    (tmp_path / "ignored.csv").write_text("x,y")
    with pytest.warns(UserWarning, match=r"broken\.pdf.*empty\.txt"):
        docs = load_documents(tmp_path)
    assert sorted(docs) == ["b", "c", "doc-a"]
    assert "Veltrona" in docs["c"].text
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = build_retriever_from_folder(tmp_path, method="bm25")
    assert r.search("hotel cap euros", 1)[0].doc_id == "doc-a"


def test_faiss_index_comparison_reports_recall_against_exact():
    x = synthetic_vectors(2000, 32, clusters=20, seed=1)
    table = compare_faiss_indexes(x, x[:50], k=10, hnsw_ef=(64,), ivf_nprobe=(1, 50), repeats=1)
    assert table.loc[0, "recall@10"] == 1.0
    ivf = table[table["index"] == "ivf"].set_index("param")["recall@10"]
    assert ivf["nprobe=50"] >= ivf["nprobe=1"] and ivf["nprobe=50"] > 0.95


@pytest.mark.slow
def test_real_embedder_dense_search_and_mismatch(embedder, tmp_path):
    r = build_retriever(DOCS, method="dense", embedder=embedder)
    assert r.search("How long do I have to send a device back?", 1)[0].doc_id == "returns"
    r.save(tmp_path / "idx")
    with pytest.raises(IndexMismatchError):
        load(tmp_path / "idx", embedder=ToyEmbedder(dim=384))
