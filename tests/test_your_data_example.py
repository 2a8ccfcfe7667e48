"""The "your own data" example is complete and consistent: seven HOWTOs, the licence beside them, and
40 hand-written questions whose answers occur in the file they name."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from conftest import load_script

from helpers.evaluation import normalize

ROOT = Path(__file__).resolve().parent.parent / "data" / "your_data"
DOCS = ROOT / "docs"
SOURCE_DIR = Path("/usr/share/doc/python3.11/html/_sources/howto")
SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "build_your_data_example.py"
EXPECTED_FILES = {f"{stem}.txt" for stem in
                  ("sorting", "ipaddress", "annotations", "argparse", "sockets", "urllib2", "unicode")}
COLUMNS = ["question", "answer", "aliases", "source", "type"]


def _rows() -> list[dict[str, str]]:
    with open(ROOT / "questions.csv", encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == COLUMNS
        return list(reader)


ROWS = _rows()


def test_folder_has_the_seven_howtos_and_the_licence_outside_docs():
    assert {p.name for p in DOCS.iterdir()} == EXPECTED_FILES
    assert (ROOT / "LICENSE-PSF.txt").is_file()
    assert "PSF" in (ROOT / "LICENSE-PSF.txt").read_text(encoding="utf-8")


def test_questions_shape():
    assert len(ROWS) == 40
    assert all(list(row) == COLUMNS for row in ROWS)
    assert Counter(row["type"] for row in ROWS) == {"single-fact": 26, "paraphrase": 8, "unanswerable": 6}
    questions = [normalize(row["question"]) for row in ROWS]
    assert len(set(questions)) == len(questions), "duplicate questions"
    assert all(row["question"].strip() and row["answer"].strip() for row in ROWS)


def test_sources_exist_and_unanswerable_rows_have_none():
    for row in ROWS:
        if row["type"] == "unanswerable":
            assert row["answer"] == "unanswerable" and row["source"] == "" and row["aliases"] == "", row
        else:
            assert row["source"] in EXPECTED_FILES, row
    per_file = Counter(row["source"] for row in ROWS if row["source"])
    assert set(per_file) == EXPECTED_FILES and min(per_file.values()) >= 3


def test_every_answer_occurs_in_its_source():
    texts = {name: f" {normalize((DOCS / name).read_text(encoding='utf-8'))} " for name in EXPECTED_FILES}
    for row in ROWS:
        if row["type"] == "unanswerable":
            continue
        golds = [row["answer"], *(a for a in row["aliases"].split("|") if a.strip())]
        assert 1 <= len(normalize(row["answer"]).split()) <= 6, row
        assert any(f" {normalize(g)} " in texts[row["source"]] for g in golds), row


@pytest.mark.skipif(not SOURCE_DIR.is_dir(), reason="python3.11-doc is not installed")
def test_documents_are_byte_for_byte_copies():
    for name in EXPECTED_FILES:
        original = SOURCE_DIR / name.replace(".txt", ".rst.txt")
        assert (DOCS / name).read_bytes() == original.read_bytes(), name


@pytest.mark.skipif(not SOURCE_DIR.is_dir(), reason="python3.11-doc is not installed")
def test_build_script_clears_stale_files(tmp_path):
    module = load_script(SCRIPT)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "stale.txt").write_text("old", encoding="utf-8")
    module.build(SOURCE_DIR, tmp_path)
    assert {p.name for p in (tmp_path / "docs").iterdir()} == EXPECTED_FILES
    assert (tmp_path / "LICENSE-PSF.txt").read_bytes() == (ROOT / "LICENSE-PSF.txt").read_bytes()
