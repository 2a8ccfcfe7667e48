"""How the cost of a folder grows with its size: 10, 100, 1,000 and 10,000 documents (``make benchmark-scaling``).

**Documents.** The Python 3.11 documentation as Debian ships it (package ``python3.11-doc``, PSF licence, the
reStructuredText sources under ``/usr/share/doc/python3.11/html/_sources``; ``apt-get install python3.11-doc``),
every file cut into documents of consecutive paragraphs of at least ``--words`` words that never cross a section
heading. A size of N takes N of them spread evenly over the whole set, written as ``.md`` files into a folder.

**What is timed**, in a fresh process per size (so the peak memory is that size's): reading the folder
(:func:`helpers.documents.load_documents`) and building the default retriever over it with an empty embedding
cache (chunking, embedding, the exact FAISS index); then 50 questions (each document's first sentence, the
document it came from relevant) through :func:`helpers.evaluation.evaluate_retrievers` for recall@5 and the mean
search latency. The 1,000-document size also rebuilds with the cache warm and after changing 10 files.

Writes ``benchmarks/scaling.csv`` and prints the table README shows, with the growth factor per 10x.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = Path("/usr/share/doc/python3.11/html/_sources")
SIZES = (10, 100, 1000, 10000)
OUT = ROOT / "benchmarks" / "scaling.csv"


def documents(min_words: int) -> list[tuple[str, str]]:
    """``(doc_id, text)`` for every document cut from the Python docs: paragraphs packed until ``min_words``,
    never across a heading; the heading path of the section starts each document."""
    sys.path.insert(0, str(ROOT))
    from helpers.documents import rst_headings_to_markdown

    if not SOURCES.is_dir():
        raise SystemExit(f"{SOURCES} is missing: apt-get install python3.11-doc")
    out = []
    for path in sorted(SOURCES.rglob("*.rst.txt")):
        text = rst_headings_to_markdown(path.read_text(encoding="utf-8", errors="replace"))
        stem = path.relative_to(SOURCES).as_posix().removesuffix(".rst.txt").replace("/", "-")
        heading, pack = "", []
        for para in re.split(r"\n\s*\n", text):
            para = para.strip()
            if not para:
                continue
            if para.startswith("#"):
                heading, pack = para.splitlines()[0].lstrip("# ").strip(), []
                continue
            pack.append(para)
            if sum(len(p.split()) for p in pack) >= min_words:
                out.append((f"{stem}-{len(out)}", f"# {heading or stem}\n\n" + "\n\n".join(pack)))
                pack = []
    return out


def spread(items: list, n: int) -> list:
    """``n`` of ``items`` spread evenly over the list (deterministic)."""
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def first_sentence(text: str) -> str:
    body = text.split("\n\n", 1)[-1]
    return " ".join(re.split(r"(?<=[.!?])\s", body, maxsplit=1)[0].split()[:30])


def measure(folder: Path, cache: Path, queries: list[tuple[str, str]]) -> dict:
    """One size, in this process: build (timed) and query; peak RSS of the process."""
    sys.path.insert(0, str(ROOT))
    from helpers.documents import load_documents
    from helpers.embedding import EmbeddingCache
    from helpers.evaluation import evaluate_retrievers
    from helpers.retrieval import build_retriever
    from helpers.runtime.models import load_embedder

    embedder = load_embedder()
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    docs = load_documents(folder)
    retriever = build_retriever(docs, embedder=embedder, cache=EmbeddingCache(cache), progress=False)
    build = time.perf_counter() - start
    table = evaluate_retrievers({"r": retriever}, [q for q, _ in queries], [[d] for _, d in queries])
    return {"documents": len(docs), "chunks": len(retriever), "build_s": round(build, 2),
            "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "model_mb": round(baseline), "query_ms": round(float(table.loc["r", "ms/query"]), 2),
            "recall@5": round(float(table.loc["r", "recall@5"]), 3), "queries": len(queries)}


def run_size(n: int, docs: list[tuple[str, str]], work: Path) -> dict:
    folder, cache = work / f"docs-{n}", work / f"cache-{n}"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    folder.mkdir(parents=True)
    chosen = spread(docs, n)
    for doc_id, text in chosen:
        (folder / f"{doc_id}.md").write_text(text, encoding="utf-8")
    queries = [(first_sentence(text), doc_id) for doc_id, text in spread(chosen, min(50, n))]
    job = {"folder": str(folder), "cache": str(cache), "queries": queries}
    rows = [_child(job) | {"run": "cold"}]
    if n == 1000:  # the embedding cache: a re-run costs only what changed
        rows.append(_child(job) | {"run": "warm cache"})
        for doc_id, text in spread(chosen, 10):
            (folder / f"{doc_id}.md").write_text(text + "\n\nOne changed sentence.", encoding="utf-8")
        rows.append(_child(job) | {"run": "10 files changed"})
    return rows


def _child(job: dict) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", json.dumps(job)], capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def markdown(table) -> str:
    """A pandas table as a markdown table (without the optional ``tabulate`` dependency)."""
    rows = [list(map(str, table.columns))] + [["" if v != v else f"{v:,}" if isinstance(v, int) else str(v)
                                               for v in row] for row in table.itertuples(index=False)]
    return "\n".join("| " + " | ".join(r) + " |" for r in [rows[0], ["---"] * len(rows[0]), *rows[1:]])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--words", type=int, default=80, help="minimum words of a document (default 80)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        job = json.loads(args.child)
        print(json.dumps(measure(Path(job["folder"]), Path(job["cache"]), [tuple(q) for q in job["queries"]])))
        return 0
    import pandas as pd

    docs = documents(args.words)
    if max(args.sizes) > len(docs):
        raise SystemExit(f"only {len(docs)} documents at --words {args.words}: lower it")
    print(f"{len(docs)} documents of >= {args.words} words from {SOURCES}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            for row in run_size(n, docs, Path(tmp)):
                rows.append({"size": n, **row})
                print(json.dumps(rows[-1]), flush=True)
    table = pd.DataFrame(rows)
    cold = table[table["run"] == "cold"].set_index("size")
    for column in ("build_s", "peak_mb"):
        cold[f"{column} x per 10x"] = (cold[column] / cold[column].shift(1)).round(2)
    table.to_csv(OUT, index=False)
    print(markdown(cold.reset_index()))
    print(markdown(table[table["run"] != "cold"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
