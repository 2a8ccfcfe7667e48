"""A real-browser check of the "ask the knowledge base" panel.

Starts JupyterLab on localhost with a random token, opens a small notebook in headless Chromium
(Debian's ``chromium`` driven by Playwright), runs it, checks that the panel rendered, types a
question, changes the retrieval method, checks that the answer and its sources update, and saves a
screenshot to ``results/screenshots/ask_panel.png`` (the README shows a copy of it).

Skipped when Chromium or Playwright is missing; ``.ci/run`` installs both so CI runs it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = next((p for p in (os.environ.get("CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"))
                 if p), None)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

NOTEBOOK_CELLS = [
    f"import sys\nsys.path.insert(0, {str(REPO)!r})\nfrom helpers.runtime.config import start_notebook\nsettings = start_notebook()",
    "from helpers.workbook.data import load_kb\n"
    "from helpers.runtime.models import load_embedder, load_llm\n"
    "from helpers.retrieval import build_retriever\n"
    "from helpers.workbook.widgets import AskPanel\n\n"
    "retriever = build_retriever(load_kb(), method='hybrid', embedder=load_embedder(), cache=True)\n"
    "panel = AskPanel(load_llm(), retriever, k=3)\n"
    "panel",
]
STARTED = """() => !!document.querySelector('.wb-ask-panel, .jp-Dialog')
    || [...document.querySelectorAll('.jp-Notebook .jp-InputPrompt')].some(e => e.textContent.includes('*'))"""
SETTLED = "() => !!document.querySelector('.wb-ask-panel, .jp-Dialog')"
QUESTIONS = ("How many days does a customer have to return a device?",
             "How frequently does the greenhouse node re-evaluate its own automation logic?")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_notebook(path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in NOTEBOOK_CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@contextmanager
def chromium_page(shot: Path, viewport: dict[str, int]) -> Iterator[Any]:
    """A page in headless Chromium (closed afterwards); if the block fails, the page is saved as
    ``<shot>_failure.png`` beside ``shot`` to see what went wrong."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    shot.parent.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport=viewport)
            try:
                yield page
            except Exception:
                page.screenshot(path=str(shot.with_name(f"{shot.stem}_failure.png")))
                raise
        finally:
            browser.close()


def _answer_dialogs(page: Any) -> list[str]:
    """Answer every open JupyterLab dialog with its default button (Escape if it has none), then press
    Escape to close a menu left open; return the dialogs' texts so that a test which still fails can
    say what was in the way."""
    seen = []
    dialogs = page.locator(".jp-Dialog")
    for _ in range(5):
        if not dialogs.count():
            break
        dialog = dialogs.first
        seen.append(" ".join(dialog.inner_text().split()))
        accept = dialog.locator("button.jp-mod-accept")
        if accept.count():
            accept.first.click()
        else:
            page.keyboard.press("Escape")
        page.wait_for_timeout(500)
    page.keyboard.press("Escape")
    return seen


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server on 127.0.0.1 with a random token, its config and state kept in tmp_path."""
    pytest.importorskip("jupyterlab")
    root, config = tmp_path / "root", tmp_path / "config"
    root.mkdir()
    (config / "labconfig").mkdir(parents=True)
    # no "get Jupyter news?" pop-up over the notebook, and no fetch of news from the internet
    (config / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    _write_notebook(root / "ask_panel.ipynb")
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"), "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    log = (tmp_path / "jupyter.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False",
         "--LabApp.extension_manager=readonly", *(["--allow-root"] if os.geteuid() == 0 else [])],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start:\n" + (tmp_path / "jupyter.log").read_text()) from None
                time.sleep(0.5)
        yield base, token
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        log.close()


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_ask_panel_renders_and_reacts_in_a_real_browser(jupyterlab):
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    from helpers.runtime.config import get_settings

    base, token = jupyterlab
    shot = get_settings().results_dir / "screenshots" / "ask_panel.png"
    with chromium_page(shot, {"width": 1280, "height": 1000}) as page:
        page.goto(f"{base}/lab/tree/ask_panel.ipynb?token={token}")
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
        # Run all once the kernel is up. JupyterLab sometimes loses the first click while the page
        # settles, or opens a dialog (select a kernel, kernel restarting, ...) that blocks every click:
        # answer any dialog, then run all again. The dialogs seen are reported if it never works.
        panel = page.locator(".wb-ask-panel")
        dialogs: list[str] = []
        for _ in range(4):
            dialogs += _answer_dialogs(page)
            page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=120_000)
            try:
                page.get_by_role("menuitem", name="Run", exact=True).click(timeout=15_000)
                page.get_by_text("Run All Cells", exact=True).click(timeout=15_000)
                page.wait_for_function(STARTED, timeout=20_000)  # the click took
                page.wait_for_function(SETTLED, timeout=240_000)  # loads the embedder and the LLM first
            except sync_api.TimeoutError:
                continue
            if panel.count():
                break
        else:
            dialogs += _answer_dialogs(page)  # the one in the way of the last try, if any
            raise AssertionError(f"Run All never produced the panel in 4 tries; dialogs seen: {list(dict.fromkeys(dialogs))}")
        panel.wait_for(state="visible", timeout=10_000)
        assert panel.locator("select").count() == 1, "the retrieval-method dropdown is missing"
        assert panel.locator(".widget-slider").count() == 1, "the top-k slider is missing"

        ask = panel.get_by_role("button", name="Ask")
        panel.locator("select").select_option("bm25")
        panel.locator("input[type=text]").fill(QUESTIONS[0])
        ask.click()
        panel.locator(".wb-answer").wait_for(state="visible", timeout=120_000)
        rows = panel.locator("table.wb-sources tr")
        assert rows.count() == 1 + 3, "expected a header and the top-3 sources"
        assert "bm25, top-3" in panel.locator(".wb-meta").inner_text()
        assert "policy-returns" in panel.locator("table.wb-sources").inner_text()

        # react to input: another method, another question
        panel.locator("select").select_option("hybrid")
        panel.locator("input[type=text]").fill(QUESTIONS[1])
        ask.click()
        meta = panel.locator(".wb-meta", has_text="hybrid, top-3")
        meta.wait_for(timeout=120_000)
        assert "product-canopy-node-cn4" in panel.locator("table.wb-sources").inner_text()
        assert "answer traced to" in meta.inner_text() or "not found in any" in meta.inner_text()
        page.wait_for_timeout(300)
        panel.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000, "the screenshot is suspiciously small"


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_compare_report_opens_in_a_real_browser(tmp_path, monkeypatch):
    """`llm-workbook compare` on four of the shipped example's questions; the report renders offline in
    Chromium (figure decoded, every question's block present and expandable); screenshot for README."""
    pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    import pandas as pd

    from helpers.runtime.config import get_settings
    from helpers.workbook.cli import main

    monkeypatch.chdir(REPO)  # the report shows paths relative to where the command ran
    example = Path("data") / "your_data"
    # four questions with the mix of the full run: both RAG systems right, only the reader, none, unanswerable
    questions = pd.read_csv(example / "questions.csv", keep_default_na=False).iloc[[1, 11, 7, 36]]
    questions.to_csv(tmp_path / "questions.csv", index=False)
    out = tmp_path / "out"
    assert main(["compare", "--docs", str(example / "docs"), "--questions", str(tmp_path / "questions.csv"),
                 "--out", str(out)]) == 0
    shot = get_settings().results_dir / "screenshots" / "compare_report.png"
    with chromium_page(shot, {"width": 1100, "height": 1400}) as page:
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto((out / "report.html").as_uri())
        assert page.evaluate("() => document.querySelector('img').naturalWidth") > 300, "figure did not decode"
        blocks = page.locator("details")
        assert blocks.count() == len(questions)
        blocks.first.locator("summary").click()
        assert blocks.first.locator("table tr").count() == 1 + 3, "a header and one row per system"
        assert not [u for u in requests if not u.startswith(("file:", "data:"))], "the report fetched something"
        page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000, "the screenshot is suspiciously small"
