"""Generating through an OpenAI-compatible server: a fake server for what a real one rarely does on purpose
(refuse the key, fail, count requests in flight), and a real ``llm-workbook serve`` (``transformers serve``)
on localhost for the whole path: compare --endpoint on the shipped example."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from helpers.runtime.config import REPO_ROOT
from helpers.runtime.endpoint import Endpoint, EndpointError, connect, normalize_url, wait_for_server

PLANTED_KEY = "sk-planted-3f9a1c77e0d24b55"


class FakeServer(BaseHTTPRequestHandler):
    """/v1/models lists ``tiny``; chat completions answer ``echo: <last user message>`` after a short wait,
    or fail with ``status`` when the class attribute says so."""

    status = 200
    in_flight = 0
    most_in_flight = 0
    requests: list[dict] = []
    lock = threading.Lock()

    def log_message(self, *args) -> None:  # quiet
        pass

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if type(self).status != 200:
            return self._reply(type(self).status, {"error": {"message": "no", "type": "error"}})
        self._reply(200, {"object": "list", "data": [{"id": "tiny", "object": "model", "owned_by": "test"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        cls = type(self)
        with cls.lock:
            cls.requests.append({"body": body, "auth": self.headers.get("authorization")})
            cls.in_flight += 1
            cls.most_in_flight = max(cls.most_in_flight, cls.in_flight)
        time.sleep(0.05)
        with cls.lock:
            cls.in_flight -= 1
        if cls.status != 200:
            return self._reply(cls.status, {"error": {"message": "server trouble", "type": "error"}})
        if body["model"] != "tiny":
            return self._reply(404, {"error": {"message": "model not found", "type": "error"}})
        text = "echo: " + body["messages"][-1]["content"]
        self._reply(200, {"id": "x", "object": "chat.completion", "created": 0, "model": "tiny",
                          "choices": [{"index": 0, "finish_reason": "stop",
                                       "message": {"role": "assistant", "content": text}}],
                          "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}})


@contextmanager
def fake_server(status: int = 200):
    FakeServer.status, FakeServer.requests, FakeServer.most_in_flight = status, [], 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_urls_get_their_v1_base():
    assert normalize_url("http://h:8000") == "http://h:8000/v1"
    assert normalize_url("http://h:8000/v1/") == "http://h:8000/v1"
    with pytest.raises(EndpointError, match="http"):
        normalize_url("localhost:8000")


def test_generate_through_a_server_in_flight_bounded_cached_and_keyless(monkeypatch, tmp_path):
    from helpers.generation import generate

    monkeypatch.setenv("WORKBOOK_CACHE", str(tmp_path))
    monkeypatch.setenv("WORKBOOK_GENERATION_CACHE", "1")
    monkeypatch.setenv("WORKBOOK_LLM_API_KEY", PLANTED_KEY)
    with fake_server() as url:
        endpoint = connect(url, max_in_flight=3)
        assert endpoint.model == "tiny" and endpoint.url == url + "/v1"
        prompts = [f"question {i}" for i in range(12)]
        answers = generate(endpoint, prompts, max_new_tokens=8, stop=["9"])
        assert [a.text for a in answers] == [f"echo: question {i}" if i != 9 else "echo: question" for i in range(12)]
        assert FakeServer.most_in_flight == 3  # bounded, and used
        assert all(r["auth"] == f"Bearer {PLANTED_KEY}" for r in FakeServer.requests)
        assert all(r["body"]["temperature"] == 0 and r["body"]["max_tokens"] == 8 for r in FakeServer.requests)
        sent = len(FakeServer.requests)
        again = generate(endpoint, prompts, max_new_tokens=8, stop=["9"])
        assert [a.text for a in again] == [a.text for a in answers] and all(a.cached for a in again)
        assert len(FakeServer.requests) == sent  # greedy answers come from the cache
        other = Endpoint(endpoint.url, "other-model")
        with pytest.raises(EndpointError, match="no model 'other-model'"):
            generate(other, prompts[:1], max_new_tokens=8)  # never replayed across models: it asks, and fails
    stored = "".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    assert stored and PLANTED_KEY not in stored


@pytest.mark.parametrize("status, message", [(401, "refused the request \\(HTTP 401\\)"), (500, "answered HTTP 500")])
def test_a_server_that_refuses_or_fails_is_one_sentence(status, message):
    with fake_server(status) as url, pytest.raises(EndpointError, match=message):
        connect(url)


def test_compare_with_bad_endpoint_inputs_exits_2_with_one_line(tmp_path):
    example = REPO_ROOT / "data" / "your_data"
    base = [sys.executable, "-m", "helpers", "compare", "--docs", str(example / "docs"), "--questions",
            str(example / "questions.csv"), "--systems", "prompt,rag", "--out", str(tmp_path / "out")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cases = {"unreachable": ["--endpoint", f"http://127.0.0.1:{free_port()}/v1"],
             "not a URL": ["--endpoint", "localhost:9"],
             "lora+rag": ["--endpoint", "http://127.0.0.1:9/v1", "--systems", "lora+rag"],
             "no URL": ["--llm", "tiny"]}
    with fake_server() as url:
        cases["wrong model"] = ["--endpoint", url, "--llm", "huge"]
        for name, extra in cases.items():
            done = subprocess.run(base + extra, capture_output=True, text=True, env=env, timeout=300)
            lines = done.stderr.strip().splitlines()
            assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("llm-workbook: error: "), \
                (name, done.stderr[-1500:])
    for status in (401, 500):
        with fake_server(status) as url:
            done = subprocess.run(base + ["--endpoint", url], capture_output=True, text=True, env=env, timeout=300)
            assert done.returncode == 2 and f"HTTP {status}" in done.stderr and "Traceback" not in done.stderr


def start_serve(port: int, log) -> subprocess.Popen:
    """``llm-workbook serve`` on ``port`` of localhost, its output into ``log``."""
    return subprocess.Popen([sys.executable, "-m", "helpers", "serve", "--port", str(port)], stdout=log,
                            stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})


@pytest.fixture(scope="module")
def served():
    """``llm-workbook serve`` on a free localhost port, stopped after the module."""
    port = free_port()
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"llm-workbook-serve-{port}.log", "w")
    process = start_serve(port, log)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        try:
            wait_for_server(url, alive=lambda: process.poll() is None)
        except EndpointError as why:
            pytest.fail(f"llm-workbook serve did not answer within 180 s ({why}): {Path(log.name).read_text()[-2000:]}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.mark.slow
def test_compare_through_a_real_served_model(served, tmp_path):
    import csv

    example = REPO_ROOT / "data" / "your_data"
    rows = list(csv.DictReader((example / "questions.csv").open(encoding="utf-8")))[:4]
    questions = tmp_path / "questions.csv"
    with questions.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WORKBOOK_LLM_API_KEY": PLANTED_KEY,
           "WORKBOOK_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "helpers", "compare", "--docs", str(example / "docs"),
                           "--questions", str(questions), "--systems", "prompt,rag", "--endpoint", served,
                           "--llm", "smollm2-135m-instruct", "--in-flight", "4", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    results = (tmp_path / "out" / "results.csv").read_text(encoding="utf-8")
    assert results.count("\n") >= 8  # 4 questions x 2 systems
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["setup"]["llm"] == f"smollm2-135m-instruct @ {served}"
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(PLANTED_KEY not in p.read_text(encoding="utf-8", errors="replace") for p in written)
    assert PLANTED_KEY not in done.stdout + done.stderr


@pytest.mark.slow
def test_stopping_llm_workbook_serve_stops_the_server():
    """The command becomes the server process, so terminating it leaves no server behind."""
    import psutil

    port = free_port()
    process = start_serve(port, subprocess.DEVNULL)
    try:
        wait_for_server(f"http://127.0.0.1:{port}/v1", alive=lambda: process.poll() is None)
        listening = [c.pid for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port
                     and c.status == psutil.CONN_LISTEN]
        assert listening == [process.pid]
    finally:
        process.terminate()
        process.wait(timeout=60)
    time.sleep(1)
    assert not [c for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port
                and c.status == psutil.CONN_LISTEN]


def test_draft_questions_through_an_endpoint(tmp_path, monkeypatch, capsys):
    """draft-questions --endpoint drafts with the server's model (a capable one drafts far better than 135M);
    each draft keeps its source file and whether its answer is in the passage."""
    from helpers.workbook.cli import main

    monkeypatch.setenv("WORKBOOK_CACHE", str(tmp_path / "cache"))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "returns.md").write_text("# Returns\n\n" + "Customers may return a device within 30 days. " * 8 + "\n")
    out = tmp_path / "drafts.csv"
    with fake_server() as url:
        assert main(["draft-questions", "--docs", str(docs), "--n", "1", "--endpoint", url, "--out", str(out)]) == 0
        (request,) = FakeServer.requests
        assert "Customers may return a device" in request["body"]["messages"][-1]["content"]
    assert "Drafted by tiny" in " ".join(capsys.readouterr().out.split())
    with fake_server() as url:
        assert main(["draft-questions", "--docs", str(docs), "--endpoint", url, "--llm", "huge"]) == 2
    assert out.is_file()  # the fake echoes the prompt: no usable "Question:/Answer:" lines, so no rows, but a file
