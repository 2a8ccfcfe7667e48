"""Structure checks for the notebooks (their execution is tested by `pytest --nbval-lax notebooks/`)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_solutions.ipynb"))
EVERY = NOTEBOOKS + SOLUTIONS  # what nbval runs: the hygiene rules hold for both


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_setup.ipynb"


def test_every_notebook_opens_with_the_same_bootstrap_cell():
    first_code = {p.name: next(_source(c) for c in _cells(p) if c["cell_type"] == "code") for p in EVERY}
    reference = first_code[NOTEBOOKS[0].name]
    assert "start_notebook()" in reference
    for name, source in first_code.items():
        assert source == reference, f"{name}: bootstrap cell differs from 00_setup.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_reads_like_a_tutorial(path):
    cells = _cells(path)
    intro = _source(cells[0])
    assert cells[0]["cell_type"] == "markdown" and intro.startswith("# ")
    assert "What you will learn" in intro and "Time:" in intro
    markdown = "\n".join(_source(c) for c in cells if c["cell_type"] == "markdown")
    assert "## Summary" in markdown and "## Exercises" in markdown


@pytest.mark.parametrize("path", EVERY, ids=lambda p: p.name)
def test_committed_outputs_come_from_one_clean_run(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code" and _source(c).strip()]
    counts = [c.get("execution_count") for c in code]
    assert all(n is None for n in counts) or counts == list(range(1, len(code) + 1)), \
        f"{path.name}: execution counts {counts} are not a clean top-to-bottom run"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name} has committed error outputs"
    # outputs belong to the run that numbered them: none without a count, none left in empty cells,
    # and an execute_result carries its own cell's count
    stale = [i for i, c in enumerate(_cells(path)) if c["cell_type"] == "code" and c.get("outputs")
             and (c.get("execution_count") is None or not _source(c).strip()
                  or any(o.get("execution_count", c["execution_count"]) != c["execution_count"]
                         for o in c["outputs"] if o.get("output_type") == "execute_result"))]
    assert not stale, f"{path.name}: cells {stale} have outputs that are not from the clean run"


# --------------------------------------------------------------------------- hygiene
MAX_NOTEBOOK_BYTES = 2_000_000
MAX_CELL_LINES = 40  # non-blank lines; longer code belongs in helpers/

# Absolute paths of the machine that ran the notebook. The look-behind skips URLs and
# repo-relative paths ("https://x.org/home/", "results/tmp/"): the path must start the token.
ABSOLUTE_PATH = re.compile(
    r"(?<![\w.~-])/(?:work|home|tmp|root|Users|private|mnt|opt|var/folders|usr/(?:local|lib))/[^\s'\"]*"
    r"|(?<!\w)[A-Za-z]:\\[^\s'\"]*"
    r"|[^\s'\"]*(?:site|dist)-packages[/\\][^\s'\"]*"
)
SECRET = re.compile(
    r"\bhf_[A-Za-z0-9]{30,}|\bsk-[A-Za-z0-9_-]{20,}|token=[0-9a-f]{20,}|\bAKIA[0-9A-Z]{16}\b"
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}|AWS_SECRET|BEGIN [A-Z ]*PRIVATE KEY"
)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _output_texts(cell: dict) -> list[str]:
    """The text of a code cell's outputs (streams, text/html/json data, tracebacks); images are skipped."""
    texts = []
    for out in cell.get("outputs", []):
        if "text" in out:
            texts.append(_text(out["text"]))
        for mime, value in out.get("data", {}).items():
            if not mime.startswith("image/"):
                texts.append(value if isinstance(value, str) else _text(value) if isinstance(value, list)
                             else json.dumps(value))
        texts += [out.get("ename", ""), out.get("evalue", ""), *out.get("traceback", [])]
    return [_ANSI.sub("", t) for t in texts if t]


def _text(value: str | list[str]) -> str:
    return value if isinstance(value, str) else "".join(value)


def _find(pattern: re.Pattern, texts: list[str], where: str) -> list[str]:
    found = []
    for text in texts:
        for m in pattern.finditer(text):
            snippet = text[max(0, m.start() - 40):m.end() + 20].replace("\n", " ")
            found.append(f"{where}: {m.group()!r} in …{snippet}…")
    return found


def test_path_and_secret_patterns():
    for text in ("PosixPath('/work/main/results/x.csv')", "in /tmp/tmpab12: scan.pdf", r"C:\Users\me\x.csv",
                 "/usr/lib/python3/dist-packages/foo.py:12: UserWarning", "file:///home/me/x.html"):
        assert ABSOLUTE_PATH.search(text), text
    for text in ("https://example.org/home/page", "saved results/02_chunking_metrics.csv", "notebooks/tmp/x",
                 "Note:\\n", "ResultPath('results/x.csv')"):
        assert not ABSOLUTE_PATH.search(text), text
    for text in ("hf_" + "a1B2" * 9, "sk-proj-" + "x9" * 12, "?token=" + "0f" * 12, "-----BEGIN RSA PRIVATE KEY-----"):
        assert SECRET.search(text), text
    for text in ("hf_hub_download", "task-abcdefghijklmnopqrstuvwxyz", "max_new_tokens=16"):
        assert not SECRET.search(text), text


@pytest.mark.parametrize("path", EVERY, ids=lambda p: p.name)
def test_outputs_show_no_absolute_paths(path):
    found = [hit for i, c in enumerate(_cells(path)) if c["cell_type"] == "code"
             for hit in _find(ABSOLUTE_PATH, _output_texts(c), f"cell {i}")]
    assert not found, (f"{path.name}: outputs show absolute paths of the machine that ran it (print paths "
                       "relative to the repo root):\n  " + "\n  ".join(found))


@pytest.mark.parametrize("path", EVERY, ids=lambda p: p.name)
def test_no_tokens_or_secrets(path):
    found = []
    for i, cell in enumerate(_cells(path)):
        found += _find(SECRET, [_source(cell), *_output_texts(cell)], f"cell {i}")
    found += _find(SECRET, [json.dumps(json.loads(path.read_text(encoding="utf-8"))["metadata"])], "metadata")
    assert not found, f"{path.name}: looks like a token or secret:\n  " + "\n  ".join(found)


@pytest.mark.parametrize("path", EVERY, ids=lambda p: p.name)
def test_notebook_file_is_small(path):
    size = path.stat().st_size
    assert size < MAX_NOTEBOOK_BYTES, (f"{path.name} is {size / 1e6:.1f} MB (limit {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB): "
                                       "clear large outputs, plot fewer points or save figures smaller")


@pytest.mark.parametrize("path", EVERY, ids=lambda p: p.name)
def test_code_cells_are_short(path):
    long = {i: n for i, c in enumerate(_cells(path)) if c["cell_type"] == "code"
            if (n := sum(1 for line in _source(c).splitlines() if line.strip())) > MAX_CELL_LINES}
    assert not long, (f"{path.name}: code cells {long} (cell index: non-blank lines) are longer than "
                      f"{MAX_CELL_LINES} lines; move the code into helpers/ and call it from the notebook")


# Heuristic, not a proof: finds *direct* writes in the notebook's own code whose target is spelled
# from the data folder (data_dir, kb_dir, kb_updates_dir, DATA_DIR, "data/...", ROOT / "data"), or
# from a variable assigned such a path earlier in the notebook. It does not see writes made inside
# helpers or to paths computed in other ways.
DATA_PATH = re.compile(r"\b(?:data_dir|kb_dir|kb_updates_dir|DATA_DIR)\b|[\"'](?:\.\.?/)*data/|/\s*[\"']data[\"']"
                       r"|Path\(\s*[\"'](?:\.\.?/)*data[\"']")
WRITE_CALLS = {"write_text", "write_bytes", "to_csv", "to_json", "to_parquet", "to_pickle", "to_excel",
               "to_feather", "save", "save_pretrained", "savefig", "savez", "savetxt", "dump", "write_index",
               "mkdir", "touch", "unlink", "rmdir", "rmtree", "copy", "copy2", "copyfile", "copytree", "move",
               "symlink_to", "train_lora", "save_adapter", "save_index"}
PATH_CALLS = {"Path", "PurePath", "str", "join", "joinpath", "resolve", "expanduser", "absolute", "with_name",
              "with_suffix", "with_stem", "glob", "rglob", "iterdir"}
#: Calls that only read their source and write their destination (``shutil.copy(src, dst)``, ``path.copy(dst)``).
COPY_CALLS = {"copy", "copy2", "copyfile", "copytree"}
OUTPUT_KEYWORDS = {"out", "output", "dest", "destination", "out_dir", "output_dir", "out_path", "output_path",
                   "save_to", "save_dir"}


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _is_path_expression(node: ast.AST) -> bool:
    """A path spelled out (names, attributes, ``/`` joins, Path(...)), not the result of reading it."""
    if isinstance(node, ast.Call):
        return _call_name(node) in PATH_CALLS
    return isinstance(node, ast.Name | ast.Attribute | ast.BinOp | ast.Constant | ast.JoinedStr | ast.Subscript)


def _opens_for_writing(node: ast.Call) -> bool:
    if _call_name(node) != "open":
        return False
    position = 0 if isinstance(node.func, ast.Attribute) else 1  # Path.open(mode) vs open(file, mode)
    modes = [a for a in node.args[position:position + 1]] + [k.value for k in node.keywords if k.arg == "mode"]
    return any(isinstance(m, ast.Constant) and isinstance(m.value, str) and set(m.value) & set("wax+")
               for m in modes)


def data_writes(sources: list[str]) -> list[tuple[int, str]]:
    """``(cell number, code)`` of the calls in ``sources`` (code cells, in order) that write under data/."""
    tainted: set[str] = set()
    found = []

    def mentions_data(node: ast.AST) -> bool:
        text = ast.unparse(node)
        return bool(DATA_PATH.search(text)) or any(re.search(rf"\b{re.escape(n)}\b", text) for n in tainted)

    for index, source in enumerate(sources):
        code = "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            value, targets = None, []
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.NamedExpr):
                value, targets = node.value, getattr(node, "targets", None) or [node.target]
            elif isinstance(node, ast.For):
                value, targets = node.iter, [node.target]
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                value, targets = node.context_expr, [node.optional_vars]
            if value is not None and _is_path_expression(value) and mentions_data(value):
                tainted |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            writes = _opens_for_writing(node) or _call_name(node) in WRITE_CALLS
            if _call_name(node) in COPY_CALLS:  # copying *from* data/ is a read: only the destination counts
                method = isinstance(node.func, ast.Attribute) and not (
                    isinstance(node.func.value, ast.Name) and node.func.value.id == "shutil")
                position = 0 if method else 1
                dst = [*node.args[position:position + 1], *(k.value for k in node.keywords if k.arg in ("dst", "target"))]
                if any(mentions_data(d) for d in dst):
                    found.append((index, ast.unparse(node)))
            elif writes and mentions_data(node):
                found.append((index, ast.unparse(node)))
            elif any(k.arg in OUTPUT_KEYWORDS and mentions_data(k.value) for k in node.keywords):
                found.append((index, ast.unparse(node)))
    return found


def test_data_write_heuristic_catches_direct_writes_and_ignores_reads():
    writes = data_writes([
        'settings = get_settings()\nkb = settings.kb_dir\ndocs = load_documents(kb)',
        'open(settings.data_dir / "x.txt", "w").write("x")\n(kb / "new.md").write_text("x")',
        'df.to_csv("data/out.csv")\nhybrid = build_retriever(docs)\nhybrid.save(folder)',
        'build_index(docs, output_dir=ROOT / "data" / "index")\nopen(kb / "a.md").read()',
        'for p in kb.glob("*.md"):\n    p.unlink()\ndocs.save(tmp)',
        'save_index(hybrid, settings.data_dir / "index")\nsave_index(hybrid, cache / "index")',
        'shutil.copy(settings.data_dir / "examples" / "a.pdf", mine)\nshutil.copytree(mine, kb / "mine")',
        'shutil.move(settings.data_dir / "examples" / "a.pdf", mine)\n(mine / "a.md").copy(kb / "a.md")',
    ])
    assert [i for i, _ in writes] == [1, 1, 2, 3, 4, 5, 6, 7, 7], writes


@pytest.mark.parametrize("path", EVERY, ids=lambda p: p.name)
def test_notebook_code_never_writes_into_data(path):
    code = [(i, c) for i, c in enumerate(_cells(path)) if c["cell_type"] == "code"]
    writes = data_writes([_source(c) for _, c in code])
    found = [f"cell {code[n][0]}: {call[:120]}" for n, call in writes]
    assert not found, (f"{path.name} writes into data/ (the shared inputs; write to results/ or the cache):"
                       "\n  " + "\n  ".join(found))


@pytest.mark.parametrize("path", EVERY, ids=lambda p: p.name)
def test_notebook_code_never_assumes_the_cache_or_results_live_in_the_repository(path):
    """WORKBOOK_CACHE and WORKBOOK_RESULTS may point anywhere (a cold benchmark run uses a temporary cache),
    so a path under them is shown relative to them, never to the repository root."""
    code = [(i, _source(c)) for i, c in enumerate(_cells(path)) if c["cell_type"] == "code"]
    found = [f"cell {i}" for i, src in code if "relative_to(ROOT)" in src]
    assert not found, f"{path.name} uses relative_to(ROOT) in {found}"


def test_notebook_04_trains_its_adapters_through_the_cache():
    """A warm run (make prewarm) must load task A and task B instead of training them again (issue 17's warm
    budget): both go through load_or_train_adapter with the notebook's one RETRAIN switch, and the only
    direct train_lora call is the short live demo into a temporary folder."""
    code = [_source(c) for c in _cells(ROOT / "notebooks" / "04_lora_finetuning.ipynb") if c["cell_type"] == "code"]
    cached = [src for src in code if "load_or_train_adapter(" in src]
    assert len(cached) == 2 and all("retrain=RETRAIN" in src for src in cached), cached
    assert sum("RETRAIN = False" in src for src in code) == 1
    direct = [src for src in code if re.search(r"\btrain_lora\(", src)]
    assert len(direct) == 1 and "TemporaryDirectory" in direct[0], direct


# --------------------------------------------------------------------------- exercises and solutions
CHECKER_CALL = re.compile(r"\b(check_\w+|break_even_for_prices)\(")


def _exercise_part(path: Path) -> tuple[str, list[str]]:
    """The numbered exercises (the Exercises section up to "Going further") and the code cells after it."""
    cells = _cells(path)
    start = next(i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and "## Exercises" in _source(c))
    text = _source(cells[start]).split("## Exercises", 1)[1].split("### Going further", 1)[0]
    return text, [_source(c) for c in cells[start + 1:] if c["cell_type"] == "code"]


def _checkers() -> set[str]:
    import inspect

    import helpers.workbook.exercises as exercises

    return {name for name, f in inspect.getmembers(exercises, inspect.isfunction) if f.__module__ == exercises.__name__
            and CHECKER_CALL.match(name + "(") and name != "check"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_exercise_has_a_checker_that_runs(path):
    text, code = _exercise_part(path)
    exercises = re.findall(r"^\d+\. \*\*", text, flags=re.MULTILINE)
    calls = [m.group(1) for source in code for line in source.splitlines()
             if not line.lstrip().startswith("#") for m in CHECKER_CALL.finditer(line)]
    assert exercises, f"{path.name}: no numbered exercises"
    assert len(calls) >= len(exercises), f"{path.name}: {len(exercises)} exercises but checker calls {calls}"
    assert set(calls) <= _checkers(), f"{path.name}: {set(calls) - _checkers()} is not a checker of helpers/workbook/exercises.py"
    commented = [line for source in code for line in source.splitlines()
                 if line.lstrip().startswith("#") and CHECKER_CALL.search(line)]
    assert not commented, f"{path.name}: commented-out checker calls {commented}: a checker must run"
    assert f"solutions/{path.name[:2]}_solutions.ipynb" in text, f"{path.name}: the exercises must point to their solutions"


def test_every_notebook_has_a_solutions_notebook_and_every_checker_is_used():
    assert [p.name[:2] for p in SOLUTIONS] == [p.name[:2] for p in NOTEBOOKS]
    used = {m.group(1) for p in NOTEBOOKS for source in _exercise_part(p)[1] for m in CHECKER_CALL.finditer(source)}
    solved = {m.group(1) for p in SOLUTIONS for c in _cells(p) if c["cell_type"] == "code"
              for m in CHECKER_CALL.finditer(_source(c))}
    assert used == _checkers() and solved == _checkers(), (used ^ _checkers(), solved ^ _checkers())


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solutions_name_their_notebook_and_run_under_nbval(path):
    intro = _source(_cells(path)[0])
    notebook = next(p for p in NOTEBOOKS if p.name[:2] == path.name[:2])
    assert intro.startswith("# Solutions") and f"../notebooks/{notebook.name}" in intro
    assert "SOLUTIONS" in (ROOT / "Makefile").read_text().split("\nnotebooks:", 1)[1].split("\n\n", 1)[0]
