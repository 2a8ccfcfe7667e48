"""Tokens/s of the RAG workload: the helper's ``generate`` next to a plain ``model.generate`` loop, in fp32
and bf16, in one run (``make benchmark``).

Usage::

    python benchmarks/generation_throughput.py [--questions 24] [--batch-size 8] [--dtypes fp32,bf16]

The workload is what notebooks 03, 05 and 06 spend their time on: a dev question with the default
retriever's top-3 chunks (``helpers.prompts.rag_prompt``), ~500 prompt tokens for ~25 generated. The
raw loop tokenizes the same rendered prompts in batches of the same size (input order, no length
sorting) and calls ``model.generate`` with the same greedy settings; the helper adds chat rendering,
length-sorted batches, stop handling and bookkeeping, and must not be slower. The generation cache is
off throughout. Speed is (prompt + completion tokens) / wall seconds. Writes
``results/benchmarks/generation_throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from helpers.generation import generate, render_prompt
from helpers.prompts import rag_prompt
from helpers.retrieval import build_retriever
from helpers.runtime.config import seed_everything
from helpers.runtime.models import load_embedder, load_llm
from helpers.workbook.data import load_kb, load_kb_questions

OUT = Path(__file__).resolve().parent.parent / "results" / "benchmarks" / "generation_throughput.json"


def raw_loop(llm, texts: list[str], batch_size: int, max_new_tokens: int) -> tuple[float, int, list[str]]:
    """The plain library: tokenize each batch, ``model.generate`` greedily, decode. Returns seconds,
    prompt + completion tokens (no padding) and the texts."""
    tok, tokens, outputs = llm.tokenizer, 0, []
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            enc = tok(texts[i:i + batch_size], return_tensors="pt", padding=True, add_special_tokens=False)
            out = llm.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, top_p=None, top_k=None,
                                     temperature=None, pad_token_id=tok.pad_token_id)
            new = out[:, enc["input_ids"].shape[1]:]
            tokens += int(enc["attention_mask"].sum()) + int((new != tok.pad_token_id).sum())
            outputs += tok.batch_decode(new, skip_special_tokens=True)
    return time.perf_counter() - start, tokens, outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=24, help="dev questions in the workload")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--dtypes", default="fp32,bf16")
    args = parser.parse_args()

    seed_everything()
    retriever = build_retriever(load_kb(), embedder=load_embedder(), cache=True)
    questions = [q.question for q in load_kb_questions("dev")[: args.questions]]
    prompts = [rag_prompt(q, hits, instruction=None) for q, hits in zip(questions, retriever.search_many(questions, k=3))]
    rows = []
    for dtype in args.dtypes.split(","):
        llm = load_llm(dtype=dtype)
        texts = [render_prompt(llm, p) for p in prompts]
        generate(llm, prompts[:2], max_new_tokens=4, batch_size=2, cache=False, progress=False)  # warm-up
        start = time.perf_counter()
        gens = generate(llm, prompts, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size,
                        cache=False, progress=False)
        helper_s = time.perf_counter() - start
        helper_tokens = sum(g.prompt_tokens + g.completion_tokens for g in gens)
        raw_s, raw_tokens, raw_texts = raw_loop(llm, texts, args.batch_size, args.max_new_tokens)
        same = sum(g.text == r.strip() for g, r in zip(gens, raw_texts))
        for mode, seconds, tokens in (("helper generate()", helper_s, helper_tokens), ("plain model.generate loop", raw_s, raw_tokens)):
            rows.append({"dtype": dtype, "mode": mode, "seconds": round(seconds, 1), "tokens": tokens,
                         "tokens_per_s": round(tokens / seconds, 1)})
            print(f"{dtype:>5} {mode:<27} {tokens / seconds:7.1f} tokens/s ({tokens} tokens in {seconds:.1f} s)", flush=True)
        print(f"{dtype:>5} same answer from both: {same}/{len(gens)}", flush=True)
        rows[-1]["same_answers_as_helper"] = same
    speed = {(r["dtype"], r["mode"]): r["tokens_per_s"] for r in rows}
    record = {"workload": f"{len(prompts)} dev questions, top-3 chunks, batch {args.batch_size}, "
                          f"max {args.max_new_tokens} new tokens", "rows": rows,
              "cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
              "cpu_kernels": torch.backends.cpu.get_cpu_capability()}
    if ("bf16", "helper generate()") in speed and ("fp32", "helper generate()") in speed:
        record["bf16_speedup"] = round(speed[("bf16", "helper generate()")] / speed[("fp32", "helper generate()")], 2)
        print(f"bf16 / fp32 (helper): {record['bf16_speedup']}x")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
