"""Golden tests: what decides whether a shipped artifact is still valid is *behaviour*, pinned here on fixed
inputs, and an explicit version number, never the text of the code.

- the chunker on fixed documents (the reader trains on chunks, every RAG prompt holds them);
- the answer code (:func:`helpers.generation.cut_answer`) on fixed token ids (every cached and recorded
  answer went through it);
- the answer parser on fixed raw generations (every score in the notebooks reads its output);
- the reader's rendered training examples against the hash in the shipped reader's manifest.

A failure says which version to bump and which ``make`` target rebuilds. After an intended change,
``UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py`` rewrites the golden files in ``tests/golden/``
(review the diff); the reader's hash is rewritten only by ``make adapters``. ``test_a_comment_changes_nothing``
checks the other half: a comment in every helpers module leaves the reader loading and the recording replaying.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def check_golden(name: str, actual, bump: str) -> None:
    """Compare ``actual`` (JSON-able) with ``tests/golden/<name>.json``; with ``UPDATE_GOLDEN=1``, rewrite it."""
    path = GOLDEN / f"{name}.json"
    actual = json.loads(json.dumps(actual))
    if UPDATE or not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(actual, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"{path.name} did not exist and was written now: review and commit it")
        return
    expected = json.loads(path.read_text(encoding="utf-8"))
    if actual != expected:
        first = next((i for i, (a, e) in enumerate(zip(actual, expected)) if a != e), min(len(actual), len(expected)))
        pytest.fail(f"{name} changed its output (first difference at item {first}): {bump}; then rewrite the golden "
                    "file with UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py", pytrace=False)


# --------------------------------------------------------------------------- the chunker
def golden_documents() -> dict[str, str]:
    """Fixed documents: three of the knowledge base, one with deep headings and a long line, one plain."""
    kb = ROOT / "data" / "kb"
    docs = {p.stem: p.read_text(encoding="utf-8") for p in sorted(kb.glob("*.md"))[:3]}
    docs["deep"] = ("# Top\n\nIntro text here.\n\n## Middle\n\n" + "word " * 450 + "\n\n### Deep\n\nShort. Two sentences.\n"
                    "\n## Other\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nprint('x')\n```\n")
    docs["plain"] = "One paragraph without headings.\n\nAnother one, a little longer than the first one is."
    return docs


def test_the_chunker_gives_the_golden_chunks():
    from helpers.chunking import STRATEGIES, ChunkingConfig, chunk_text

    actual = [{"doc": doc_id, "strategy": strategy, "chunks": [asdict(c) for c in
                                                               chunk_text(text, doc_id, ChunkingConfig(strategy, 120, 16))]}
              for doc_id, text in golden_documents().items() for strategy in STRATEGIES]
    actual += [{"doc": doc_id, "strategy": "default", "chunks": [asdict(c) for c in chunk_text(text, doc_id)]}
               for doc_id, text in golden_documents().items()]
    # small chunks under long heading paths (notebook 02's sweep goes down to 64 words), and a 40-word title
    actual += [{"doc": doc_id, "strategy": f"markdown {size}, titled", "chunks": [
        asdict(c) for c in chunk_text(text, doc_id, ChunkingConfig("markdown", size, 0), title=title)]}
        for doc_id, text in golden_documents().items() for size in (16, 64)
        for title in ("A short title", " ".join(["long"] * 40))]
    check_golden("chunks", actual, "bump READER_RECIPE_VERSION in helpers/workbook/reader.py (the reader trains on "
                 "chunks) and run `make adapters` and `make generations` (prompts hold chunks)")


# --------------------------------------------------------------------------- the answer code
def test_the_answer_code_gives_the_golden_answers(llm):
    """:func:`cut_answer` on fixed token ids: end token mid-way, padding after it, a stop string, no end."""
    from helpers.generation import ANSWER_CODE_VERSION, _end_token_ids, cut_answer

    tok = llm.tokenizer
    end = _end_token_ids(llm)
    words = tok("The answer is [policy-returns#2] 30 days.\nQuestion: next", add_special_tokens=False)["input_ids"]
    cases = [
        (words + [end[0]] + [tok.pad_token_id] * 3, None),
        (words, None),
        (words + [end[0]], ["\nQuestion:"]),
        ([end[0]], None),
        (tok(" {\"answer\": \"I don't know\", \"sources\": []} ", add_special_tokens=False)["input_ids"], ["}"]),
    ]
    actual = []
    for ids, stop in cases:
        gen = cut_answer(list(ids), tok, end, stop, "prompt", 7, 2.0, 2)
        actual.append({"text": gen.text, "completion_tokens": gen.completion_tokens, "finish": gen.finish_reason,
                       "seconds": gen.seconds})
    check_golden("answer_code", actual, f"bump ANSWER_CODE_VERSION (now {ANSWER_CODE_VERSION}) in helpers/generation.py "
                 "and run `make generations`: every recorded answer went through this code")


# --------------------------------------------------------------------------- the answer parser
def golden_raw_answers() -> list[str]:
    """Raw answers of the recording (every 29th in the order of their prompts, a fixed sample of what the model
    really writes: it does not move when the recording's keys do) and edge cases."""
    from helpers.runtime.generation_cache import recorded_entries

    pairs = sorted((g["prompt"], g["text"]) for entry in recorded_entries() for g in entry["generations"])
    texts = [text for _, text in pairs][::29]
    return texts + ['{"answer": "x", "sources": ["a#1", "b"]}', '{"answer": 3, "sources": []}',
                    "See [1] and [doc-id], [a; b and c].", "no json {", '```json\n{"answer": "y", "sources": []}\n```']


def test_the_answer_parser_gives_the_golden_parses():
    from helpers.rag import parse_citations, parse_json_answer, strip_citations

    actual = [{"raw": text, "json": parse_json_answer(text), "citations": parse_citations(text),
               "stripped": strip_citations(text)} for text in golden_raw_answers()]
    check_golden("answer_parser", actual, "the scores of every notebook read this parser: re-run the notebooks "
                 "(`make run INPLACE=1`) and check their verdicts")


# --------------------------------------------------------------------------- the reader's training data
@pytest.mark.slow
def test_the_reader_trains_on_the_examples_its_manifest_records():
    """The shipped reader's manifest records the hash of the examples it was trained on; building them today
    must give the same examples (25 s: it embeds the knowledge base and retrieves for 403 questions)."""
    from helpers.workbook.reader import READER_RECIPE_VERSION, read_manifest
    from helpers.workbook.reader_training import examples_hash, reader_examples

    recorded = read_manifest()["examples"]["hash"]
    assert examples_hash(reader_examples()) == recorded, (
        "the reader's rendered training examples changed (its questions, the chunker, the retriever or the prompt): "
        f"bump READER_RECIPE_VERSION (now {READER_RECIPE_VERSION}) in helpers/workbook/reader.py and run "
        "`make adapters`; if the change was not meant to reach the reader, undo it")


# --------------------------------------------------------------------------- a comment changes nothing
COMMENT_CHECK = r"""
import json, sys
import helpers
assert helpers.__file__.startswith(sys.argv[1]), helpers.__file__
from helpers.generation import ANSWER_CODE_VERSION
from helpers.runtime.generation_cache import CallCache, load_batch, model_fingerprint, numerics, recorded_entries
from helpers.runtime.models import load_llm
from helpers.workbook.reader import load_reader

base = load_llm()
here, found, batches = numerics(), {}, {}
for name, llm in (("base", base), ("reader", load_reader(load_llm()))):  # load_reader raises if the reader is stale
    fingerprint = model_fingerprint(llm)
    mine = [e for e in recorded_entries() if e["context"]["model"] == fingerprint and e["context"]["numerics"] == here]
    batches[name], found[name] = len(mine), 0
    for entry in mine:
        cache = CallCache(llm, entry["context"]["decoding"], ANSWER_CODE_VERSION)
        found[name] += cache.get([g["prompt"] for g in entry["generations"]]) == entry["generations"]
print(json.dumps({"batches": batches, "replayed": found, "numerics": here}))
"""


@pytest.mark.slow
def test_a_comment_changes_nothing(tmp_path):
    """A comment added to every helpers module (in a copy of the repository) leaves the shipped reader loading and
    every recorded batch of the default model and of the reader found by the key the edited code computes."""
    copy = tmp_path / "repo"
    copy.mkdir()
    shutil.copytree(ROOT / "helpers", copy / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("data", "adapters", "generations", "benchmarks"):
        (copy / name).symlink_to(ROOT / name)
    edited = 0
    for path in sorted((copy / "helpers").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        path.write_text(source.replace("\n\n", "\n\n# a comment that changes nothing\n", 1) + "# and one more\n",
                        encoding="utf-8")
        edited += 1
    env = {**os.environ, "PYTHONPATH": str(copy), "WORKBOOK_GENERATION_CACHE": "1",
           "WORKBOOK_RECORDED_GENERATIONS": "1"}
    done = subprocess.run([sys.executable, "-c", COMMENT_CHECK, str(copy)], cwd=copy, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert edited > 20
    if not report["batches"]["base"]:
        pytest.skip(f"the recording was made on other numerics than this machine's ({report['numerics']})")
    assert report["batches"]["reader"] > 0 and report["replayed"] == report["batches"], report
