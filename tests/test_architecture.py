"""The package's shape: no import cycles, small modules, a light ``import helpers``, prompts in one place."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HELPERS = REPO / "helpers"


def _module_name(path: Path) -> str:
    """``helpers/runtime/config.py`` -> ``runtime.config``; ``helpers/runtime/__init__.py`` -> ``runtime``;
    ``helpers/__init__.py`` -> ``__init__`` (the package)."""
    parts = list(path.relative_to(HELPERS).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(HELPERS.rglob("*.py"))}
PACKAGE = "__init__"  # ``import helpers.x`` runs helpers/__init__.py first
SUBPACKAGES = ("runtime", "workbook")
#: The teaching core: the modules at the top of ``helpers/`` (pipeline order in docs/ARCHITECTURE.md).
CORE = sorted(name for name in MODULES if "." not in name and name not in SUBPACKAGES)
MAX_LINES = 500
MAX_CORE_LINES = 3500
MAX_CHAIN = 8
HEAVY = ("torch", "transformers", "sentence_transformers", "faiss")


def _is_type_checking(test: ast.expr) -> bool:
    """``if TYPE_CHECKING:`` or ``if typing.TYPE_CHECKING:``."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_nodes(node: ast.AST):
    """Every node below ``node``, skipping the bodies of ``if TYPE_CHECKING:`` blocks (never run)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield other
                yield from _runtime_nodes(other)
            continue
        yield child
        yield from _runtime_nodes(child)


def helpers_imports(path: Path, modules: dict[str, Path] | None = None) -> set[str]:
    """The ``helpers`` modules that ``path`` imports at run time (module level or inside a function), as names
    relative to ``helpers`` (``retrieval``, ``runtime.config``); ``from helpers import name`` of a non-module
    counts as the package (``__init__``), ``from helpers.runtime import name`` as ``runtime``."""
    modules = MODULES if modules is None else modules
    found = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "helpers":
                    found.add(".".join(parts[1:]) or PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            parts = (node.module or "").split(".")
            if node.level or parts[0] != "helpers":
                continue
            base = ".".join(parts[1:])
            for alias in node.names:
                child = f"{base}.{alias.name}" if base else alias.name
                found.add(child if child in modules else (base or PACKAGE))
    return found - ({_module_name(path)} if path.is_relative_to(HELPERS) else set())


def import_graph() -> dict[str, set[str]]:
    """Every helpers module and the helpers modules it imports at run time."""
    return {name: helpers_imports(path) for name, path in MODULES.items()}


def longest_chain(graph: dict[str, set[str]]) -> list[str]:
    """The longest import path ``[a, b, ...]`` (a imports b imports ...) of an acyclic ``graph``."""
    best: dict[str, list[str]] = {}

    def visit(node: str) -> list[str]:
        if node not in best:
            best[node] = [node] + max((visit(n) for n in sorted(graph.get(node, ())) if n in graph), key=len, default=[])
        return best[node]

    return max((visit(n) for n in sorted(graph)), key=len)


def reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module ``start`` imports, directly or through others."""
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path ``[a, b, ..., a]``, or ``None`` if it is acyclic."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_import_scanner_sees_local_imports_and_skips_type_checking(tmp_path):
    source = tmp_path / "demo.py"
    source.write_text("from typing import TYPE_CHECKING\nimport numpy\nfrom helpers.workbook.data import load_kb\n"
                      "import helpers.rag as rag\nif TYPE_CHECKING:\n    from helpers.runtime.models import LLM\n"
                      "def f():\n    from helpers.retrieval import Hit\n    from helpers import systems, Answer\n"
                      "    from helpers.runtime import config, something\n")
    assert helpers_imports(source) == {"workbook.data", "rag", "retrieval", "systems", PACKAGE, "runtime.config",
                                       "runtime"}
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
    assert longest_chain({"a": {"b", "c"}, "b": {"c"}, "c": set(), "d": {"c"}}) == ["a", "b", "c"]
    assert reaches({"a": {"b"}, "b": {"c"}, "c": set()}, "a") == {"b", "c"}


def test_helpers_modules_import_each_other_without_cycles():
    graph = import_graph()
    unknown = {name: sorted(deps - set(MODULES)) for name, deps in graph.items() if deps - set(MODULES)}
    assert not unknown, f"imports of helpers modules that do not exist: {unknown}"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle among helpers modules: " + " -> ".join(
        "helpers" if m == PACKAGE else f"helpers.{m}" for m in cycle)


def test_the_longest_import_chain_is_short():
    chain = longest_chain(import_graph())
    assert len(chain) <= MAX_CHAIN, f"an import chain of {len(chain)} modules (max {MAX_CHAIN}): {' -> '.join(chain)}"


def test_imports_flow_one_way():
    """The index imports nothing about generation or evaluation; prompts nothing from retrieval or generation;
    evaluation scores and never generates; the machinery never imports the notebooks' panels or the CLI."""
    graph = import_graph()
    forbidden = {
        "retrieval": {"generation", "runtime.generation_cache", "evaluation", "rag", "prompts", "systems"},
        "embedding": {"generation", "runtime.generation_cache", "evaluation", "retrieval"},
        "chunking": {"retrieval", "embedding", "generation", "evaluation"},
        "prompts": {"retrieval", "generation", "runtime.generation_cache", "rag"},
        "evaluation": {"generation", "runtime.generation_cache", "rag", "systems", "retrieval", "runtime.models"},
        "generation": {"retrieval", "evaluation", "rag", "systems"},
    }
    climbs = {name: sorted(reaches(graph, name) & bad) for name, bad in forbidden.items() if reaches(graph, name) & bad}
    assert not climbs, f"imports that run uphill (directly or through another module): {climbs}"
    users_only = {"workbook.cli", "workbook.widgets", "workbook.exercises", PACKAGE}
    importers = {name: sorted(deps & users_only) for name, deps in graph.items() if deps & users_only
                 and name not in {"__main__"}}
    assert not importers, f"modules that import the panels, exercises, CLI or the package itself: {importers}"


def test_the_teaching_core_is_small():
    lines = {name: len(MODULES[name].read_text(encoding="utf-8").splitlines()) for name in CORE}
    assert sum(lines.values()) <= MAX_CORE_LINES, (
        f"the top level of helpers/ (the teaching core) has {sum(lines.values())} lines (max {MAX_CORE_LINES}): move "
        f"machinery into helpers/runtime or helpers/workbook ({lines})")
    assert {"documents", "chunking", "embedding", "retrieval", "prompts", "generation", "rag", "evaluation",
            "finetune", "adapters", "systems"} <= set(CORE)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_helpers_module_is_over_500_lines(name):
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name].relative_to(REPO)} has {lines} lines (max {MAX_LINES}): split it"


def test_import_helpers_is_light_and_every_public_name_resolves():
    code = ("import json, sys\nimport helpers\n"
            f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
            "missing = [n for n in helpers.__all__ if not hasattr(helpers, n)]\n"
            "print(json.dumps({'heavy': heavy, 'missing': missing, 'all': list(helpers.__all__)}))")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["heavy"] == [], f"`import helpers` imports {report['heavy']}; import them inside the functions"
    assert report["missing"] == [], f"helpers.__all__ names what helpers does not define: {report['missing']}"
    assert len(set(report["all"])) == len(report["all"]) and {"build_system", "build_retriever"} <= set(report["all"])


def _string_literals(path: Path) -> list[str]:
    """The string constants of a module (f-string parts included), docstrings excluded."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_every_prompt_string_lives_in_helpers_prompts():
    import helpers.prompts as prompts

    needles = {"Answer with a few words only", "I don't know", "Reply with JSON only", "Using the text above",
               "Using the documents above", "The answer to the question is"}
    needles |= {value for name, value in vars(prompts).items()  # every instruction the module defines
                if name.isupper() and isinstance(value, str) and len(value) >= 12}
    assert all(any(n in s for s in _string_literals(MODULES["prompts"])) or n in vars(prompts).values()
               for n in needles)
    offenders = sorted({(str(path.relative_to(REPO)), needle) for name, path in MODULES.items() if name != "prompts"
                        for literal in _string_literals(path) for needle in needles if needle in literal})
    assert not offenders, f"prompt text outside helpers/prompts.py (import it from there instead): {offenders}"


def test_the_product_refers_to_no_file_outside_its_repository():
    """A user's clone has only the repository: no tracked file may point at the shared folder beside it (the
    workbook's own claims list is ``docs/CLAIMS.md``)."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    outside = "../" + "shared"  # written in two parts so that this test does not find itself
    offenders = [name for name in tracked if (REPO / name).is_file() and not name.endswith((".png", ".pdf"))
                 and outside in (REPO / name).read_text(encoding="utf-8", errors="ignore")]
    assert not offenders, f"files that refer to {outside}, which a user's clone does not have: {offenders}"
    assert (REPO / "docs" / "CLAIMS.md").is_file()


def test_no_validity_key_hashes_source_code():
    """Validity is decided by explicit versions and the data an artifact was made from (tests/test_golden.py),
    never by the text of the code: no helpers module reads source or code objects."""
    found = [f"{path.relative_to(REPO)}:{number}" for path in sorted(HELPERS.rglob("*.py"))
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if any(word in line for word in ("getsource", "__code__", "co_code", "getsourcelines"))]
    assert not found, f"source text in a validity key: {found}"


def test_the_architecture_doc_names_every_module_and_the_chain():
    """docs/ARCHITECTURE.md matches the code: every module is in one of its tables, and the longest import
    chain it quotes is today's."""
    doc = (REPO / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    rows = {cell.strip("` ") for line in doc.splitlines() if line.startswith("|")
            for cell in line.split("|")[1:3] for cell in cell.split(",")}
    missing = sorted(name for name in MODULES if name not in rows and name not in {PACKAGE, "__main__", *SUBPACKAGES})
    assert not missing, f"modules docs/ARCHITECTURE.md does not describe: {missing}"
    chain = " → ".join(longest_chain(import_graph()))
    assert chain in " ".join(doc.split()), f"docs/ARCHITECTURE.md should quote the longest chain: {chain}"
