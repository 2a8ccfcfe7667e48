"""In-process batched generation vs the same model behind ``llm-workbook serve`` (``transformers serve``),
side by side in one run (``make benchmark-endpoint``).

The same greedy prompts (closed-book questions of the knowledge base's dev split, each with the
workbook's closed-book instruction) are answered

1. in this process by :func:`helpers.generation.generate` in batches (the notebooks' path), and
2. through the server at 1, 4 and 16 requests in flight (:mod:`helpers.runtime.endpoint`), once as
   ``llm-workbook serve`` starts it and once with ``--continuous-batching``,

with every cache off. Reports answers per second for each, and how many endpoint answers are word for
word the in-process answer (k/n with a 95% Wilson interval). Writes ``benchmarks/endpoint_throughput.json``;
``make readme`` puts the table in README.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "benchmarks" / "endpoint_throughput.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=32, help="dev questions to answer (default 32)")
    parser.add_argument("--in-flight", type=int, nargs="*", default=[1, 4, 16])
    args = parser.parse_args()
    os.environ["WORKBOOK_GENERATION_CACHE"] = "0"
    from helpers.generation import generate
    from helpers.prompts import CLOSED_BOOK_INSTRUCTION
    from helpers.runtime.config import get_settings, machine_info
    from helpers.runtime.endpoint import EndpointError, connect, wait_for_server
    from helpers.runtime.models import load_llm
    from helpers.uncertainty import rate
    from helpers.workbook.data import load_kb_questions

    questions = load_kb_questions("dev")[: args.questions]
    prompts = [f"{q.question}\n{CLOSED_BOOK_INSTRUCTION}" for q in questions]
    max_new = 32
    llm = load_llm()
    start = time.perf_counter()
    local = generate(llm, prompts, max_new_tokens=max_new, cache=False, progress=False)
    runs = [{"how": f"in process, batches of {get_settings().profile.batch_size}",
             "seconds": round(time.perf_counter() - start, 1)}]
    print(f"in process: {runs[0]['seconds']} s for {len(prompts)} answers", flush=True)
    del llm
    differences = []
    for mode, flags in (("", []), (" (continuous batching)", ["--continuous-batching"])):
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "helpers", "serve", "--port", str(port), *flags],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/v1"
        try:
            wait_for_server(url, alive=lambda process=server: process.poll() is None)
            for n in args.in_flight:
                endpoint = connect(url, max_in_flight=n)
                start = time.perf_counter()
                try:
                    remote = generate(endpoint, prompts, max_new_tokens=max_new, cache=False, progress=False)
                except EndpointError as why:
                    runs.append({"how": f"endpoint{mode}, {n} in flight", "failed": str(why)})
                    print(f"endpoint{mode}, {n} in flight: failed: {why}", flush=True)
                    continue
                seconds = round(time.perf_counter() - start, 1)
                same = rate([r.text == g.text for r, g in zip(remote, local)])
                runs.append({"how": f"endpoint{mode}, {n} in flight", "seconds": seconds,
                             "identical": {"k": same.k, "n": same.n, "low": same.low, "high": same.high}})
                differences += [{"how": f"endpoint{mode}, {n} in flight", "question": q.question,
                                 "in_process": g.text, "endpoint": r.text}
                                for q, g, r in zip(questions, local, remote) if g.text != r.text]
                print(f"endpoint{mode}, {n} in flight: {seconds} s; identical to in-process: {same}", flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)
    for run in runs:
        if "seconds" in run:
            run["answers_per_second"] = round(len(prompts) / run["seconds"], 2)
    result = {"answers": len(prompts), "max_new_tokens": max_new, "runs": runs,
              "when": time.strftime("%Y-%m-%d"), "machine": machine_info(), "differences": differences}
    OUT.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
