"""The Colab path, without Colab: the badge of every notebook and what its bootstrap cell does."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((REPO_ROOT / "solutions").glob("[0-9][0-9]_solutions.ipynb"))
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def _bootstrap_source() -> str:
    cells = json.loads(NOTEBOOKS[0].read_text())["cells"]
    return "".join(next(c for c in cells if c["cell_type"] == "code")["source"])


def _pinned() -> tuple[str, str]:
    match = re.search(r'^REPO, REF = "([^"]+)", "([^"]+)"$', _bootstrap_source(), re.MULTILINE)
    assert match, "the bootstrap cell must pin the repository and ref in one line: REPO, REF = ..."
    return match.group(1), match.group(2)


def test_bootstrap_pins_the_release_of_this_version():
    repo, ref = _pinned()
    assert repo == PYPROJECT["project"]["urls"]["Repository"]
    assert ref == f"v{PYPROJECT['project']['version']}", "pin the tag of the version in pyproject.toml"


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.name)
def test_every_notebook_has_an_open_in_colab_badge_for_itself(path):
    repo, ref = _pinned()
    slug = repo.removeprefix("https://github.com/")
    intro = "".join(json.loads(path.read_text())["cells"][0]["source"])
    url = f"https://colab.research.google.com/github/{slug}/blob/{ref}/{path.parent.name}/{path.name}"
    assert f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})" in intro


def _run_bootstrap(monkeypatch, cwd: Path, *, colab: bool, cuda: bool = False) -> list[list[str]]:
    """Execute the bootstrap cell in ``cwd``; record (and fake) the commands it runs."""
    import helpers.runtime.config as config

    calls: list[list[str]] = []

    def fake_run(cmd, check=False, **kwargs):
        calls.append([str(c) for c in cmd])
        if cmd[:2] == ["git", "clone"]:  # "clone" this repository
            (cwd / cmd[-1]).symlink_to(REPO_ROOT)
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.chdir(cwd)
    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.delenv("WORKBOOK_PROFILE", raising=False)
    monkeypatch.setattr(config, "_cuda_available", lambda: cuda)
    if colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(sys, "path", list(sys.path))  # the cell prepends the repository; undone afterwards
    namespace: dict = {}
    exec(compile(_bootstrap_source(), "bootstrap", "exec"), namespace)  # our own cell
    calls.append(["profile", namespace["settings"].profile.name])
    return calls


def test_locally_the_bootstrap_only_finds_the_repository(monkeypatch):
    calls = _run_bootstrap(monkeypatch, REPO_ROOT / "notebooks", colab=False)
    assert calls == [["profile", "cpu"]], "outside Colab nothing may be cloned or installed"


def test_in_colab_with_a_gpu_it_clones_the_pinned_ref_installs_and_picks_the_gpu_profile(monkeypatch, tmp_path):
    repo, ref = _pinned()
    calls = _run_bootstrap(monkeypatch, tmp_path, colab=True, cuda=True)
    assert calls[0] == ["git", "clone", "--quiet", "--depth=1", repo, f"--branch={ref}", "llm-workbook"]
    assert calls[1][1:] == ["llm-workbook/scripts/setup_env.py", "--colab"]
    assert calls[2] == ["profile", "gpu"]


def test_in_colab_without_a_gpu_the_small_profile_stays(monkeypatch, tmp_path):
    assert _run_bootstrap(monkeypatch, tmp_path, colab=True, cuda=False)[-1] == ["profile", "cpu"]


def test_colab_setup_keeps_colabs_torch_and_installs_the_colab_extra():
    source = (REPO_ROOT / "scripts" / "setup_env.py").read_text()
    assert '"colab" if colab else "dev"' in source
    assert "bitsandbytes" in " ".join(PYPROJECT["project"]["optional-dependencies"]["colab"])
    # step 1 skips torch whenever one is installed, so Colab's CUDA build is never replaced
    assert 'version = installed("torch")\n    if version:' in source
