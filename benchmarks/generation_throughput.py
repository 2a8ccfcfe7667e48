"""Tokens/s of batched vs unbatched generation on the same prompts.

Usage::

    python benchmarks/generation_throughput.py [--batch-size 8] [--max-new-tokens 64] [--model NAME]

Greedy decoding gives the same completions in both modes (checked below), so both modes
generate exactly the same tokens and the speed-up is a like-for-like comparison.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from helpers.config import seed_everything
from helpers.generation import generate
from helpers.models import load_llm

PROMPTS = [
    "Explain in three sentences why the sky is blue.",
    "Write a short paragraph about the history of the bicycle.",
    "List five tips for writing clear emails.",
    "Describe how a refrigerator keeps food cold.",
    "What are the benefits of regular exercise? Answer in a few sentences.",
    "Summarize the plot of a typical detective story.",
    "Explain what a database index is to a beginner.",
    "Give three reasons to learn a second language.",
    "Describe a sunrise over the sea.",
    "How does a vaccine train the immune system?",
    "Explain the difference between weather and climate.",
    "Write a friendly note inviting a colleague to lunch.",
    "What is recursion in programming? Give an example.",
    "Describe the water cycle step by step.",
    "Why do leaves change colour in autumn?",
    "Give advice to someone starting to run.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--model", default=None, help="model name or Hub id (default: the profile's)")
    args = parser.parse_args()

    seed_everything()
    llm = load_llm(args.model)
    generate(llm, PROMPTS[:2], max_new_tokens=8, batch_size=2)  # warm-up
    rows = {}
    outputs = {}
    for label, bs in (("unbatched", 1), (f"batch {args.batch_size}", args.batch_size)):
        start = time.perf_counter()
        gens = generate(llm, PROMPTS, max_new_tokens=args.max_new_tokens, batch_size=bs, progress=False)
        wall = time.perf_counter() - start
        tokens = sum(g.completion_tokens for g in gens)
        rows[label] = {"seconds": round(wall, 2), "completion_tokens": tokens, "tokens_per_s": round(tokens / wall, 1)}
        outputs[label] = [g.text for g in gens]
    labels = list(rows)
    speedup = rows[labels[1]]["tokens_per_s"] / rows[labels[0]]["tokens_per_s"]
    same = outputs[labels[0]] == outputs[labels[1]]
    print(f"model={llm.name} device={llm.device} dtype={llm.dtype} threads={torch.get_num_threads()} "
          f"cpu={platform.processor() or platform.machine()} prompts={len(PROMPTS)} max_new_tokens={args.max_new_tokens}")
    for label, row in rows.items():
        print(f"{label:>10}: {row['tokens_per_s']:7.1f} tokens/s  ({row['completion_tokens']} tokens in {row['seconds']} s)")
    print(f"speed-up: {speedup:.2f}x   identical outputs: {same}")
    print(json.dumps({"rows": rows, "speedup": round(speedup, 2), "identical_outputs": same}))


if __name__ == "__main__":
    main()
