"""The teaching documents: every relative link in docs/ and every glossary link in a notebook resolves."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchor(heading: str) -> str:
    """GitHub's anchor for a markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_anchor(h) for h in re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), flags=re.M)}


def _check(link: str, base: Path) -> str | None:
    if link.startswith(("http://", "https://", "mailto:")):
        return None
    target, _, anchor = link.partition("#")
    path = (base / target).resolve() if target else None
    if path is not None and not path.exists():
        return f"{link}: no such file"
    if path is not None and not path.is_relative_to(ROOT):
        return f"{link}: points outside the repository"
    if anchor and (path or base).suffix == ".md" and anchor not in _anchors(path):
        return f"{link}: no heading with anchor #{anchor}"
    return None


def test_links_in_docs_resolve_inside_the_repository():
    problems = [f"{doc.name}: {p}" for doc in DOCS.glob("*.md") for link in LINK.findall(doc.read_text(encoding="utf-8"))
                if (p := _check(link, doc.parent))]
    assert not problems, problems


def test_notebooks_link_their_terms_to_the_glossary():
    for nb_path in sorted((ROOT / "notebooks").glob("0[0-5]_*.ipynb")):
        cells = json.loads(nb_path.read_text(encoding="utf-8"))["cells"]
        text = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        glossary = [link for link in LINK.findall(text) if "GLOSSARY.md" in link]
        assert glossary, f"{nb_path.name} links no glossary term"
        problems = [p for link in glossary if (p := _check(link, nb_path.parent))]
        assert not problems, (nb_path.name, problems)


def test_each_notebook_intro_states_the_time_in_readmes_runtime_table():
    """README's runtime table is written by `make readme` from benchmarks/workbook_time.py; each notebook's
    **Time:** line must give the same measured seconds (first column), so the two never disagree."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- runtimes:start -->")[1].split("<!-- runtimes:end -->")[0]
    rows = re.findall(r"^\| (\d\d_\w+) \| ([\d,]+) s \|", block, flags=re.M)
    assert len(rows) == len(list((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))), block
    for name, seconds in rows:
        intro = "".join(json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"][0]["source"])
        time_line = next(line for line in intro.splitlines() if line.startswith("**Time:**"))
        assert f"**Time:** {seconds} s" in time_line, (name, seconds, time_line)


def test_readmes_scaling_table_is_the_benchmarks_output():
    """README's 'How large a folder?' table retypes no number: each row is benchmarks/scaling.csv's."""
    import csv
    import re

    rows = {int(r["size"]): r for r in csv.DictReader((ROOT / "benchmarks" / "scaling.csv").open(encoding="utf-8"))
            if r["run"] == "cold"}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("**How large a folder?**", 1)[1].split("\n\n", 2)[1]
    found = 0
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        size = int(cells[0].replace(",", ""))
        row = rows[size]
        assert int(cells[1].replace(",", "")) == int(row["chunks"]), line
        assert float(re.sub(r"[^\d.]", "", cells[2])) == round(float(row["build_s"]), 1), line
        assert int(re.sub(r"\D", "", cells[4])) == int(row["peak_mb"]), line
        assert float(cells[5].split()[0]) == round(float(row["query_ms"]), 1), line
        found += 1
    assert found == len(rows) == 4


def test_readme_and_handout_timings_are_the_workbook_benchmarks():
    """README's runtime table and the timing tables of AGENDA and INSTRUCTOR are what `make readme` writes from
    benchmarks/workbook_time/, and the handouts type no compute time of their own outside that table."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("update_readme", ROOT / "scripts" / "update_readme.py")
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.split(m.TIMES_START)[1].split(m.TIMES_END)[0].strip() == m.runtime_markdown().strip(), \
        "README's runtime table is stale: run make readme"
    for path in m.HANDOUTS:
        text = path.read_text(encoding="utf-8")
        assert m.HANDOUT_START in text, f"{path.name} has no generated timing table"
        block = text.split(m.HANDOUT_START)[1].split(m.HANDOUT_END)[0]
        assert block.strip() == m.handout_markdown().strip(), f"{path.name}'s timing table is stale: run make readme"
        outside = text.split(m.HANDOUT_START)[0] + text.split(m.HANDOUT_END)[1]
        typed = re.findall(r"[^\n]{0,40}\b\d[\d,.]* ?(?:s|seconds|ms)\b[^\n]{0,20}", outside)
        assert not typed, f"{path.name} types compute times outside its generated table: {typed}"


def test_readmes_single_line_costs_are_the_benchmarks():
    """README's single-line folder sentence retypes no number: each is benchmarks/compare_time/'s."""
    shipped, flat = (json.loads((ROOT / "benchmarks" / "compare_time" / f"{name}.json").read_text(encoding="utf-8"))
                     for name in ("as_shipped", "single_line"))
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert (f"took {flat['seconds_per_question']:.1f} s per question against {shipped['seconds_per_question']:.1f} s "
            "as shipped") in readme
    assert f"({flat['chunks']} chunks instead of {shipped['chunks']}," in readme
    assert (f"RAG prompts of {flat['prompt_tokens_per_question']['rag']:,.0f} tokens instead of "
            f"{shipped['prompt_tokens_per_question']['rag']:,.0f})") in readme
    # issue 31's target: a folder of single-line files within 1.5x the shipped example's seconds per question
    assert flat["single_line"] and not shipped["single_line"] and flat["systems"] == shipped["systems"]
    assert flat["seconds_per_question"] <= 1.5 * shipped["seconds_per_question"], (flat, shipped)


def test_readmes_replay_sentence_holds_for_the_measured_agreement():
    """README says no sampled answer differs: true only while every variant of the benchmark agrees fully."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    results = json.loads((ROOT / "benchmarks" / "replay_agreement.json").read_text(encoding="utf-8"))
    if "No sampled answer differs on either setup" in readme:
        assert len(results) == 2 and all(r["identical"]["k"] == r["identical"]["n"] > 0 for r in results.values())


def test_readme_blocks_generated_from_benchmarks_are_current():
    """README's endpoint, replay and every-arm tables are what `make readme` writes from their committed JSON."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("update_readme", ROOT / "scripts" / "update_readme.py")
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for start, end, make in ((m.ENDPOINT_START, m.ENDPOINT_END, m.endpoint_markdown),
                             (m.REPLAY_START, m.REPLAY_END, m.replay_markdown),
                             (m.ARMS_START, m.ARMS_END, m.arms_markdown)):
        assert start in readme, f"README has no {start} block"
        assert readme.split(start)[1].split(end)[0].strip() == make().strip(), f"README's {start} block is stale: make readme"
