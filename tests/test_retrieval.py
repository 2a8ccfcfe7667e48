"""Retrieval: BM25/dense/hybrid search, add/remove by id, save/load with embedder checks, folder loading.

Most tests use a tiny deterministic bag-of-words embedder so they run in milliseconds; the tests
marked ``slow`` use the real packaged embedder.
"""

from __future__ import annotations

import warnings

import pytest
from conftest import ToyEmbedder

from helpers.documents import load_documents
from helpers.retrieval import (
    build_retriever,
    build_retriever_from_folder,
    reciprocal_rank_fusion,
    unique_docs,
)
from helpers.runtime.persistence import IndexMismatchError, load_index, save_index
from helpers.workbook.ann import compare_faiss_indexes, synthetic_vectors

DOCS = {
    "returns": "Customers may return hardware within 30 days of delivery. A restocking fee applies.",
    "travel": "The hotel cap is 140 euros per night. Mileage is paid per kilometre driven.",
    "warranty": "The warranty covers manufacturing defects for two years from purchase.",
    "support": "Support answers tickets within one business day by email or phone.",
}


@pytest.mark.parametrize("method", ["dense", "bm25", "hybrid"])
def test_each_method_finds_the_right_document_first(method):
    r = build_retriever(DOCS, method=method, embedder=ToyEmbedder())
    hits = r.search("how many days to return hardware", k=3)
    assert hits[0].doc_id == "returns"
    assert hits[0].chunk_id == "returns#0" and "30 days" in hits[0].text
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert r.search_many(["hotel cap per night", "warranty defects"], k=1)[1][0].doc_id == "warranty"


def test_accepts_document_records_and_pairs():
    from helpers.documents import Document

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
    save_index(r, tmp_path / "idx")
    again = load_index(tmp_path / "idx", embedder=ToyEmbedder())
    assert [h.chunk_id for h in again.search("restocking fee", 3)] == [h.chunk_id for h in r.search("restocking fee", 3)]
    assert again.checksums == r.checksums  # the documents (id -> checksum) the saved index records
    with pytest.raises(IndexMismatchError, match="built with embedder 'toy'"):
        load_index(tmp_path / "idx", embedder=ToyEmbedder(name="other"))
    with pytest.raises(IndexMismatchError, match="64-d"):
        load_index(tmp_path / "idx", embedder=ToyEmbedder(dim=32))


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
    plain = build_retriever(DOCS, method="bm25")
    reranked = plain.view(reranker=PreferTravel(), candidates=5)
    assert (reranked.method, reranked.candidates, plain.reranker) == ("bm25", 5, None)
    assert reranked.search("return hardware within days or per night", k=2)[0].doc_id == "travel"
    assert plain.search("return hardware within days or per night", k=1)[0].doc_id == "returns"


def test_folder_loader_reads_md_txt_pdf_and_warns_about_unreadable_files(tmp_path):
    from pathlib import Path

    fixture = Path(__file__).resolve().parent.parent / "data" / "examples" / "warranty-summary.pdf"
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


def test_views_share_one_index_and_refuse_a_method_the_index_lacks():
    r = build_retriever(DOCS, method="hybrid", embedder=ToyEmbedder())
    dense, bm25 = r.view("dense"), r.view("bm25")
    assert (dense.method, bm25.method) == ("dense", "bm25") and r.methods == ["hybrid", "dense", "bm25"]
    dense.add({"parking": "Staff parking permits cost 12 euros per month at the garage."})
    bm25.add({"canteen": "The canteen serves vegetarian lunch from noon until two."})
    ids = list(r.chunks)
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == len(ids)
    assert r.store.vectors.ntotal == len(r.chunks) == len(dense.chunks) == len(bm25.chunks)
    assert r.store.next_id == max(ids) + 1
    for view in (dense, bm25, r):
        assert view.search("staff parking permits garage", k=1)[0].doc_id == "parking", view.method
        assert view.search("canteen vegetarian lunch", k=1)[0].doc_id == "canteen", view.method
    assert r.doc_ids == dense.doc_ids == bm25.doc_ids == sorted([*DOCS, "parking", "canteen"])
    only_bm25 = build_retriever(DOCS, method="bm25")
    assert only_bm25.methods == ["bm25"]
    with pytest.raises(ValueError, match="cannot search by 'dense'.*method='hybrid'"):
        only_bm25.view("dense")


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
    save_index(r, tmp_path / "idx")
    with pytest.raises(IndexMismatchError):
        load_index(tmp_path / "idx", embedder=ToyEmbedder(dim=384))
